#include <algorithm>
#include <cmath>
#include <fstream>
#include <vector>

#include "backend/backend.h"
#include "backend/graph.h"

namespace latent::backend {

Tensor Tensor::view(std::array<int64_t, 4> ne_, std::array<size_t, 4> nb_, size_t offset,
                    const char* name_) const {
  Tensor t;
  t.type = type;
  t.ne = ne_;
  t.nb = nb_;
  t.data = static_cast<char*>(data) + offset;
  t.name = name_;
  return t;
}

bool Tensor::is_contiguous() const {
  size_t expect = nb[0] * size_t(ne[0] / gguf::type_traits(uint32_t(type))->block_elements);
  for (int i = 1; i < 4; ++i) {
    if (ne[i] > 1 && nb[i] != expect) return false;
    expect *= size_t(ne[i]);
  }
  return true;
}

Tensor make_tensor(TensorType type, std::array<int64_t, 4> ne, void* data, const char* name) {
  Tensor t;
  t.type = type;
  t.ne = ne;
  auto traits = gguf::type_traits(uint32_t(type));
  t.nb[0] = traits->block_bytes;
  t.nb[1] = gguf::row_bytes(type, ne[0]);
  t.nb[2] = t.nb[1] * size_t(ne[1]);
  t.nb[3] = t.nb[2] * size_t(ne[2]);
  t.data = data;
  t.name = name;
  return t;
}

std::string_view op_name(Op op) {
  switch (op) {
    case Op::GetRows: return "get_rows";
    case Op::RmsNorm: return "rms_norm";
    case Op::MulMat: return "mul_mat";
    case Op::MulMatId: return "mul_mat_id";
    case Op::Rope: return "rope";
    case Op::Add: return "add";
    case Op::SwiGlu: return "swiglu";
    case Op::Copy: return "copy";
    case Op::MoeRoute: return "moe_route";
    case Op::MoeCombine: return "moe_combine";
    case Op::StoreLatent: return "store_latent";
    case Op::LoadLatent: return "load_latent";
    case Op::AttentionLatent: return "attention_latent";
    case Op::Attention: return "attention";
    case Op::Argmax: return "argmax";
    case Op::AddRmsNorm: return "add_rms_norm";
  }
  return "?";
}

bool is_latent_cache_type(TensorType t) {
  return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16 || t == TensorType::Q8_0;
}

float yarn_mscale(float freq_scale, float mul) { return 1.0f + mul * std::log(1.0f / freq_scale); }

std::array<float, 2> yarn_corr_dims(const RopeParams& p) {
  auto corr_dim = [&](float n_rot) {
    return float(p.n_rot) * std::log(float(p.n_ctx_orig) / (n_rot * 2 * float(M_PI))) / (2 * std::log(p.freq_base));
  };
  return {std::max(0.0f, std::floor(corr_dim(p.beta_fast))), std::min(float(p.n_rot - 1), std::ceil(corr_dim(p.beta_slow)))};
}

// ---- single operations: a graph of one node over the caller's tensors ----

namespace {

// A one-node graph over externals, run on the backend at once.
struct OneNode {
  Graph g;
  std::vector<const void*> inputs;
  std::vector<CacheBinding> caches;
  TensorId ext(const Tensor& t) { return g.external(t); }
  TensorId ids(std::span<const int32_t> v, const char* name) {
    inputs.push_back(v.data());
    return g.input(TensorType::I32, {int64_t(v.size()), 1, 1, 1}, name);
  }
  int cache(const LatentRows& rows, int64_t first_pos) {
    caches.push_back({rows, first_pos});
    return g.cache(rows.width, 0, 0);
  }
  void run(Backend& be) {
    Bindings b;
    b.inputs = inputs;
    b.caches = caches;
    be.compute(g, b);
  }
};

}  // namespace

void Backend::get_rows(const Tensor& table, std::span<const int32_t> ids, const Tensor& out) {
  OneNode n;
  n.g.get_rows(n.ext(table), n.ids(ids, "ids"), n.ext(out));
  n.run(*this);
}

void Backend::rms_norm(const Tensor& x, const Tensor& w, float eps, const Tensor& out) {
  OneNode n;
  n.g.rms_norm(n.ext(x), n.ext(w), eps, n.ext(out));
  n.run(*this);
}

void Backend::add_rms_norm(const Tensor& a, const Tensor& b, const Tensor& w, float eps, const Tensor& sum,
                           const Tensor& out) {
  OneNode n;
  n.g.add_rms_norm(n.ext(a), n.ext(b), n.ext(w), eps, n.ext(sum), n.ext(out));
  n.run(*this);
}

void Backend::mul_mat(const Tensor& w, const Tensor& x, const Tensor& out) {
  OneNode n;
  n.g.mul_mat(n.ext(w), n.ext(x), n.ext(out));
  n.run(*this);
}

void Backend::mul_mat_id(const Tensor& w, const Tensor& x, const Tensor& ids, const Tensor& out) {
  OneNode n;
  n.g.mul_mat_id(n.ext(w), n.ext(x), n.ext(ids), n.ext(out));
  n.run(*this);
}

void Backend::rope(const Tensor& x, std::span<const int32_t> positions, const RopeParams& p) {
  OneNode n;
  n.g.rope(n.ext(x), n.ids(positions, "positions"), p);
  n.run(*this);
}

void Backend::add(const Tensor& a, const Tensor& b, const Tensor& out) {
  OneNode n;
  n.g.add(n.ext(a), n.ext(b), n.ext(out));
  n.run(*this);
}

void Backend::swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) {
  OneNode n;
  n.g.swiglu(n.ext(gate), n.ext(up), n.ext(out));
  n.run(*this);
}

void Backend::copy(const Tensor& src, const Tensor& dst) {
  OneNode n;
  n.g.copy(n.ext(src), n.ext(dst));
  n.run(*this);
}

void Backend::moe_route(const Tensor& logits, const Tensor& bias, const RouteParams& p, const Tensor& ids,
                        const Tensor& weights) {
  OneNode n;
  n.g.moe_route(n.ext(logits), bias.data ? n.ext(bias) : kNoTensor, p, n.ext(ids), n.ext(weights));
  n.run(*this);
}

void Backend::moe_combine(const Tensor& experts, const Tensor& weights, const Tensor& out) {
  OneNode n;
  n.g.moe_combine(n.ext(experts), n.ext(weights), n.ext(out));
  n.run(*this);
}

void Backend::store_latent(const Tensor& src, const LatentRows& cache, int64_t first_row) {
  OneNode n;
  n.g.store_latent(n.ext(src), n.cache(cache, first_row));
  n.run(*this);
}

void Backend::load_latent(const LatentRows& cache, int64_t first_row, const Tensor& dst) {
  OneNode n;
  n.g.load_latent(n.cache(cache, 0), first_row, n.ext(dst));
  n.run(*this);
}

void Backend::attention_latent(const Tensor& q, const LatentRows& cache, int64_t first_pos, float scale,
                               const Tensor& out) {
  OneNode n;
  n.g.attention_latent(n.ext(q), n.cache(cache, first_pos), scale, n.ext(out));
  n.run(*this);
}

void Backend::attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t first_pos, float scale,
                        const Tensor& out) {
  OneNode n;
  n.g.attention(n.ext(q), n.ext(k), n.ext(v), first_pos, scale, n.ext(out));
  n.run(*this);
}

void Backend::argmax(const Tensor& x, const Tensor& out) {
  OneNode n;
  n.g.argmax(n.ext(x), n.ext(out));
  n.run(*this);
}

uint64_t host_memory_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return uint64_t(2) << 30;
}

}  // namespace latent::backend
