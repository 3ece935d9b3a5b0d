#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif
#include <cmath>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <sys/mman.h>

#include "backend/cpu/attention_tiles.h"
#include "backend/cpu/thread_pool.h"
#include "backend/graph.h"
#include "backend/scratch_arena.h"
#include "gguf/tensor_type.h"
#include "quant/quant.h"

namespace latent::backend {
namespace {

[[noreturn]] void fail(Op op, const Tensor& t, const std::string& what) {
  throw Error(std::string("cpu backend: ") + std::string(op_name(op)) + " on '" + t.name + "': " + what);
}

// y += a * x
void axpy_f32(float* y, const float* x, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

#if defined(__GNUC__) && defined(__x86_64__)
#define LATENT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LATENT_CLONES
#endif

// F16 -> F32 with F16C where the CPU has it: the quant library's portable conversion is a
// branchy scalar function, too slow for the attention loop, which widens every cache row it
// reads. Both are exact, so the choice does not change results.
#if defined(__GNUC__) && defined(__x86_64__)
__attribute__((target("avx,f16c"))) void widen_f16_f16c(const char* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i))));
  if (i < n) quant::dequantize_row(TensorType::F16, src + 2 * i, dst + i, n - i);
}
bool has_f16c() {
  static const bool yes = [] {
    __builtin_cpu_init();  // may run before libgcc's own initializer during static init
    return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  }();
  return yes;
}
#endif

// BF16 -> F32 is a shift into the high half; written as a plain loop (the quant library's
// converts one value per call) so that it vectorizes.
LATENT_CLONES void widen_bf16(const char* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    const uint32_t bits = uint32_t(h) << 16;
    std::memcpy(dst + i, &bits, 4);
  }
}

// Widens the first n values of a cache row to f32 (n a multiple of the type's block). Exact for
// every cache type (a Q8_0 value fp16 * int8 has at most 19 significant bits).
void widen_row(TensorType t, const char* src, float* dst, int64_t n) {
#if defined(__GNUC__) && defined(__x86_64__)
  if (t == TensorType::F16 && has_f16c()) return widen_f16_f16c(src, dst, n);
#endif
  if (t == TensorType::BF16) return widen_bf16(src, dst, n);
  quant::dequantize_row(t, src, dst, n);
}

// ggml's softmax in place: max-subtracted expf, the sum accumulated in double, then one scale.
void softmax_inplace(float* x, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

class CpuBackend final : public Backend, private Kernels {
 public:
  explicit CpuBackend(const BackendOptions& o) : pool_(std::max(1, o.threads)) {
    thread_scratch_.resize(size_t(pool_.n_threads()));
    thread_rows_.resize(size_t(pool_.n_threads()));
    thread_tile_.resize(size_t(pool_.n_threads()));
  }

  std::string_view name() const override { return "cpu"; }

  bool supports_op(Op op, TensorType weight_type) const override {
    switch (op) {
      case Op::GetRows:
      case Op::MulMat:
      case Op::MulMatId: {
        auto traits = gguf::type_traits(uint32_t(weight_type));
        return traits && traits->supported;
      }
      case Op::RmsNorm:
      case Op::MoeRoute:
        return weight_type == TensorType::F32;
      case Op::StoreLatent:
      case Op::LoadLatent:
      case Op::AttentionLatent:
        return is_latent_cache_type(weight_type);
      default:
        return true;
    }
  }

  Tensor weight(TensorType type, std::array<int64_t, 4> ne, const void* data,
                const char* name) override {
    return make_tensor(type, ne, const_cast<void*>(data), name);
  }

  Tensor scratch(TensorType type, std::array<int64_t, 4> ne, const char* name) override {
    Tensor t = make_tensor(type, ne, nullptr, name);
    t.data = reinterpret_cast<void*>(scratch_.push(t.nb[3] * size_t(ne[3])));
    return t;
  }


  // An anonymous mapping: the kernel commits its pages as they are first written, so a page
  // pool sized for its budget costs only what it holds.
  Tensor allocate(TensorType type, std::array<int64_t, 4> ne, const char* name) override {
    Tensor t = make_tensor(type, ne, nullptr, name);
    const size_t bytes = std::max<size_t>(1, t.nb[3] * size_t(ne[3]));
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
      throw Error("cpu backend: cannot reserve " + std::to_string(bytes >> 20) + " MiB for '" + name +
                  "': " + std::strerror(errno));
    allocations_[p] = bytes;
    t.data = p;
    return t;
  }

  void deallocate(const Tensor& t) override {
    auto it = allocations_.find(t.data);
    if (it == allocations_.end()) throw Error(std::string("cpu backend: '") + t.name + "' was not allocate()d here");
    munmap(it->first, it->second);
    allocations_.erase(it);
  }

  uint64_t max_allocation_bytes() const override { return UINT64_MAX; }
  uint64_t memory_available() const override { return host_memory_available(); }

  void write(const Tensor& dst, const void* src, size_t bytes) override {
    check_transfer(dst, bytes);
    std::memcpy(dst.data, src, bytes);
  }
  void read(const Tensor& src, void* dst, size_t bytes) override {
    check_transfer(src, bytes);
    std::memcpy(dst, src.data, bytes);
  }

  // Nodes run in order, each split over the thread pool; intermediates live in one arena
  // planned once per graph, outputs are computed straight into the caller's memory and inputs
  // read from it.
  void compute(const Graph& g, const Bindings& b) override {
    g.check(b);
    const MemoryPlan& plan = plan_for(g);
    if (arena_size_ < plan.bytes) {
      arena_.reset(new char[plan.bytes + 64]);
      arena_size_ = plan.bytes;
    }
    char* arena = arena_.get() + (64 - reinterpret_cast<uintptr_t>(arena_.get()) % 64) % 64;
    const std::vector<Tensor> t = resolve_tensors(g, plan, arena, b.inputs, b.outputs);
    for (const Node& n : g.nodes()) run_node(n, t, b, *this);
  }

 private:
  const MemoryPlan& plan_for(const Graph& g) {
    for (auto& [id, plan] : plans_)
      if (id == g.id()) return plan;
    check_supported(*this, g);
    // Graphs run step after step are few; one-node graphs (single operations) are many and
    // never come back, so only the latest few plans are kept.
    if (plans_.size() == kMaxPlans) plans_.erase(plans_.begin());
    plans_.emplace_back(g.id(), plan_memory(g, 64, false));
    return plans_.back().second;
  }

  void get_rows(const Tensor& table, const Tensor& ids, const Tensor& out) override {
    const auto* id = static_cast<const int32_t*>(ids.data);
    pool_.run(ids.ne[0], [&](int64_t t, int) {
      quant::dequantize_row(table.type, table.row(id[t]), reinterpret_cast<float*>(out.row(t)), table.ne[0]);
    });
  }

  static void add_row(const float* a, const float* b, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
  }

  // yr = xr / sqrt(mean(xr^2) + eps) * w for one row of n.
  static void norm_row(const float* xr, const float* w, float eps, float* yr, int64_t n) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(xr[i] * xr[i]);
    const float mean = float(sum / double(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] * scale) * w[i];
  }

  void rms_norm(const Tensor& x, const Tensor& w, float eps, const Tensor& out) override {
    const float* wd = static_cast<const float*>(w.data);
    for_rows(x, [&](int64_t i1, int64_t i2, int64_t i3) {
      norm_row(reinterpret_cast<const float*>(x.row(i1, i2, i3)), wd, eps, reinterpret_cast<float*>(out.row(i1, i2, i3)),
               x.ne[0]);
    });
  }

  // The same additions and norm as add() then rms_norm(), with the row still in L1.
  void add_rms_norm(const Tensor& a, const Tensor& b, const Tensor& w, float eps, const Tensor& sum, const Tensor& out) override {
    const float* wd = static_cast<const float*>(w.data);
    const int64_t n = a.ne[0];
    for_rows(a, [&](int64_t i1, int64_t i2, int64_t i3) {
      float* sr = reinterpret_cast<float*>(sum.row(i1, i2, i3));
      add_row(reinterpret_cast<const float*>(a.row(i1, i2, i3)), reinterpret_cast<const float*>(b.row(i1, i2, i3)), sr, n);
      norm_row(sr, wd, eps, reinterpret_cast<float*>(out.row(i1, i2, i3)), n);
    });
  }

  void mul_mat(const Tensor& w, const Tensor& x, const Tensor& out) override {
    const int64_t K = w.ne[0], M = w.ne[1], N = x.ne[1];
    const int64_t B = std::max(w.ne[2], x.ne[2]);
    if (w.type == TensorType::F32 && N >= kF32TileTokens) return mul_mat_f32(w, x, out);
    const TensorType vt = quant::vec_dot_type(w.type);
    const size_t qrow = gguf::row_bytes(vt, K);
    const int64_t Bx = x.ne[2];
    act_.resize(size_t(Bx * N) * qrow);
    uint8_t* act = act_.data();
    pool_.run(Bx * N, [&](int64_t r, int) {
      const int64_t b = r / N, n = r % N;
      quant::quantize_activations(w.type, reinterpret_cast<const float*>(x.row(n, b)),
                                  act + size_t(r) * qrow, K);
    });
    const int64_t m_tile = row_tile(M * B, w.nb[1]);
    const int64_t n_mt = (M + m_tile - 1) / m_tile;
    // Each item owns a tile of weight rows small enough to stay in cache while every token's
    // activations stream past it, so each weight row is read from memory once per batch (and
    // vec_dot_tile decodes each weight block once for several tokens).
    pool_.run(B * n_mt, [&](int64_t item, int) {
      const int64_t b = item / n_mt, m0 = (item % n_mt) * m_tile, m1 = std::min(M, m0 + m_tile);
      const int64_t wb = w.ne[2] == 1 ? 0 : b, xb = Bx == 1 ? 0 : b;
      std::vector<const void*> xs(static_cast<size_t>(N));
      std::vector<float*> outs(static_cast<size_t>(N));
      for (int64_t n = 0; n < N; ++n) {
        xs[size_t(n)] = act + size_t(xb * N + n) * qrow;
        outs[size_t(n)] = reinterpret_cast<float*>(out.row(n, b)) + m0;
      }
      quant::vec_dot_tile(w.type, K, w.row(m0, wb), w.nb[1], m1 - m0, xs.data(), N, outs.data());
    });
  }

  // F32 weights times many tokens (the plain MLA form's K decompression, F32 models' prefill):
  // the activations need no conversion, and attention_tiles' score kernel computes a tile of
  // weight rows against a block of tokens with each operand loaded once for several
  // multiply-adds, where a row-by-row dot product is load-bound.
  static constexpr int64_t kF32TileTokens = 64;
  void mul_mat_f32(const Tensor& w, const Tensor& x, const Tensor& out) {
    const int64_t K = w.ne[0], M = w.ne[1], N = x.ne[1], B = std::max(w.ne[2], x.ne[2]);
    const int64_t m_tile = row_tile(M * B, w.nb[1]), n_mt = (M + m_tile - 1) / m_tile;
    const int64_t out_stride = int64_t(out.nb[1] / sizeof(float)), w_stride = int64_t(w.nb[1] / sizeof(float));
    pool_.run(B * n_mt, [&](int64_t item, int thread) {
      const int64_t b = item / n_mt, m0 = (item % n_mt) * m_tile, m1 = std::min(M, m0 + m_tile);
      const int64_t wb = w.ne[2] == 1 ? 0 : b, xb = x.ne[2] == 1 ? 0 : b;
      auto& xs = thread_rows_[size_t(thread)];
      xs.resize(size_t(N));
      for (int64_t n = 0; n < N; ++n) xs[size_t(n)] = reinterpret_cast<float*>(x.row(n, xb));
      float* o = reinterpret_cast<float*>(out.row(0, b)) + m0;
      // Blocks of tokens small enough to stay in L2 next to the tile of weights.
      for (int64_t n0 = 0; n0 < N; n0 += kF32TileTokens)
        cpu::score_tile(xs.data() + n0, std::min(kF32TileTokens, N - n0), reinterpret_cast<const float*>(w.row(m0, wb)),
                        w_stride, m1 - m0, K, o + n0 * out_stride, out_stride);
    });
  }

  void mul_mat_id(const Tensor& w, const Tensor& x, const Tensor& ids, const Tensor& out) override {
    const int64_t K = w.ne[0], M = w.ne[1], E = w.ne[2];
    const int64_t X = x.ne[1], T = x.ne[2], U = ids.ne[0];
    // Group (slot, token) pairs by expert, so each selected expert's rows are read once.
    std::vector<std::vector<int64_t>> by_expert(static_cast<size_t>(E));
    for (int64_t t = 0; t < T; ++t) {
      const int32_t* id = reinterpret_cast<const int32_t*>(ids.row(t));
      for (int64_t k = 0; k < U; ++k) {
        if (id[k] < 0 || id[k] >= E) fail(Op::MulMatId, ids, "expert id " + std::to_string(id[k]) + " out of range");
        by_expert[size_t(id[k])].push_back(t * U + k);
      }
    }
    const TensorType vt = quant::vec_dot_type(w.type);
    const size_t qrow = gguf::row_bytes(vt, K);
    act_.resize(size_t(X * T) * qrow);
    uint8_t* act = act_.data();
    pool_.run(X * T, [&](int64_t r, int) {
      quant::quantize_activations(w.type, reinterpret_cast<const float*>(x.row(r % X, r / X)),
                                  act + size_t(r) * qrow, K);
    });
    std::vector<int64_t> experts;
    for (int64_t e = 0; e < E; ++e)
      if (!by_expert[size_t(e)].empty()) experts.push_back(e);
    const int64_t m_tile = row_tile(M * int64_t(experts.size()), w.nb[1]);
    const int64_t n_mt = (M + m_tile - 1) / m_tile;
    pool_.run(int64_t(experts.size()) * n_mt, [&](int64_t item, int) {
      const int64_t e = experts[size_t(item / n_mt)];
      const int64_t m0 = (item % n_mt) * m_tile, m1 = std::min(M, m0 + m_tile);
      const std::vector<int64_t>& pairs = by_expert[size_t(e)];
      std::vector<const void*> xs(pairs.size());
      std::vector<float*> outs(pairs.size());
      for (size_t i = 0; i < pairs.size(); ++i) {
        const int64_t t = pairs[i] / U, k = pairs[i] % U;
        const int64_t xr = t * X + (X == 1 ? 0 : k);
        xs[i] = act + size_t(xr) * qrow;
        outs[i] = reinterpret_cast<float*>(out.row(k, t)) + m0;
      }
      quant::vec_dot_tile(w.type, K, w.row(m0, e), w.nb[1], m1 - m0, xs.data(), int64_t(pairs.size()), outs.data());
    });
  }

  void rope(const Tensor& x, const Tensor& pos, const RopeParams& p) override {
    const auto* positions = static_cast<const int32_t*>(pos.data);
    const float theta_scale = std::pow(p.freq_base, -2.0f / float(p.n_rot));
    const std::array<float, 2> corr = yarn_corr_dims(p);
    const float yarn_m = yarn_mscale(p.freq_scale);
    const int64_t n_head = x.ne[1];
    pool_.run(x.ne[2], [&](int64_t t, int thread) {
      auto& cs = thread_scratch_[size_t(thread)];
      cs.resize(size_t(p.n_rot));
      // theta advances by repeated multiplication in float, as ggml's rope cache does.
      float theta_extrap = float(positions[t]);
      for (int i0 = 0; i0 < p.n_rot; i0 += 2) {
        const float theta_interp = p.freq_scale * theta_extrap;
        float theta = theta_interp;
        float mscale = p.attn_factor;
        if (p.ext_factor != 0.0f) {
          // ggml's rope_yarn_ramp: where dimension pair i0 sits between the correction dims.
          const float y = (float(i0 / 2) - corr[0]) / std::max(0.001f, corr[1] - corr[0]);
          const float ramp_mix = (1 - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
          theta = theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix;
          mscale *= yarn_m;
        }
        cs[size_t(i0)] = std::cos(theta) * mscale;
        cs[size_t(i0) + 1] = std::sin(theta) * mscale;
        theta_extrap *= theta_scale;
      }
      for (int64_t h = 0; h < n_head; ++h) {
        float* r = reinterpret_cast<float*>(x.row(h, t));
        for (int i0 = 0; i0 < p.n_rot; i0 += 2) {
          const float c = cs[size_t(i0)], s = cs[size_t(i0) + 1];
          const float x0 = r[i0], x1 = r[i0 + 1];
          r[i0] = x0 * c - x1 * s;
          r[i0 + 1] = x0 * s + x1 * c;
        }
      }
    });
  }

  void add(const Tensor& a, const Tensor& b, const Tensor& out) override {
    for_rows(a, [&](int64_t i1, int64_t i2, int64_t i3) {
      add_row(reinterpret_cast<const float*>(a.row(i1, i2, i3)), reinterpret_cast<const float*>(b.row(i1, i2, i3)),
              reinterpret_cast<float*>(out.row(i1, i2, i3)), a.ne[0]);
    });
  }

  void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
    const int64_t n = gate.ne[0];
    for_rows(gate, [&](int64_t i1, int64_t i2, int64_t i3) {
      const float* g = reinterpret_cast<const float*>(gate.row(i1, i2, i3));
      const float* u = reinterpret_cast<const float*>(up.row(i1, i2, i3));
      float* o = reinterpret_cast<float*>(out.row(i1, i2, i3));
      for (int64_t i = 0; i < n; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    });
  }

  void copy(const Tensor& src, const Tensor& dst) override {
    const size_t bytes = gguf::row_bytes(src.type, src.ne[0]);
    for_rows(src, [&](int64_t i1, int64_t i2, int64_t i3) {
      std::memcpy(dst.row(i1, i2, i3), src.row(i1, i2, i3), bytes);
    });
  }

  void moe_route(const Tensor& logits, const Tensor& bias, const RouteParams& p, const Tensor& ids,
                 const Tensor& weights) override {
    const int64_t E = logits.ne[0], T = logits.ne[1], U = p.n_expert_used;
    const float* bd = bias.data ? static_cast<const float*>(bias.data) : nullptr;
    pool_.run(T, [&](int64_t t, int) {
      const float* z = reinterpret_cast<const float*>(logits.row(t));
      std::vector<float> prob(z, z + E), sel(static_cast<size_t>(E));
      if (p.gating == Gating::Softmax) {
        softmax_inplace(prob.data(), E);
      } else {
        for (auto& v : prob) v = 1.0f / (1.0f + std::exp(-v));
      }
      for (int64_t e = 0; e < E; ++e) sel[size_t(e)] = prob[size_t(e)] + (bd ? bd[e] : 0.0f);
      if (p.n_group > 1) {
        // Group-limited routing: a group's score is the sum of its two best selection scores.
        const int64_t per = E / p.n_group;
        std::vector<std::pair<float, int>> gs;
        for (int g = 0; g < p.n_group; ++g) {
          std::vector<float> v(sel.begin() + g * per, sel.begin() + (g + 1) * per);
          std::partial_sort(v.begin(), v.begin() + std::min<int64_t>(2, per), v.end(), std::greater<>());
          gs.push_back({per >= 2 ? v[0] + v[1] : v[0], g});
        }
        std::stable_sort(gs.begin(), gs.end(), [](auto& a, auto& b) { return a.first > b.first; });
        for (size_t i = size_t(p.n_group_used); i < gs.size(); ++i)
          for (int64_t e = 0; e < per; ++e)
            sel[size_t(gs[i].second * per + e)] = -std::numeric_limits<float>::infinity();
      }
      std::vector<int> order(static_cast<size_t>(E));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int a, int b) { return sel[size_t(a)] > sel[size_t(b)]; });
      int32_t* id = reinterpret_cast<int32_t*>(ids.row(t));
      float* wt = reinterpret_cast<float*>(weights.row(t));
      float sum = 0;
      for (int64_t k = 0; k < U; ++k) {
        id[k] = order[size_t(k)];
        wt[k] = prob[size_t(id[k])];
        sum += wt[k];
      }
      if (p.norm_weights) {
        sum = std::max(sum, 6.103515625e-5f);
        for (int64_t k = 0; k < U; ++k) wt[k] /= sum;
      }
      if (p.weights_scale != 0.0f && p.weights_scale != 1.0f)
        for (int64_t k = 0; k < U; ++k) wt[k] *= p.weights_scale;
    });
  }

  void moe_combine(const Tensor& experts, const Tensor& weights, const Tensor& out) override {
    const int64_t n = experts.ne[0], U = experts.ne[1], T = experts.ne[2];
    pool_.run(T, [&](int64_t t, int) {
      const float* wt = reinterpret_cast<const float*>(weights.row(t));
      float* o = reinterpret_cast<float*>(out.row(t));
      for (int64_t k = 0; k < U; ++k) {
        const float* e = reinterpret_cast<const float*>(experts.row(k, t));
        if (k == 0) {
          for (int64_t i = 0; i < n; ++i) o[i] = e[i] * wt[0];
        } else {
          for (int64_t i = 0; i < n; ++i) o[i] += e[i] * wt[k];
        }
      }
    });
  }

  void store_latent(const Tensor& src, int, const CacheBinding& c) override {
    const LatentRows& cache = c.rows;
    const int64_t first_row = c.first_pos;
    // quant::quantize_row is ggml's reference conversion: F16/BF16 round to nearest even, Q8_0
    // takes d = amax/127 per block of 32, stores fp16(d) and round(x/d).
    pool_.run(src.ne[1], [&](int64_t t, int) {
      quant::quantize_row(cache.type, reinterpret_cast<const float*>(src.row(t)), cache.row(first_row + t),
                          cache.width);
    });
  }

  void load_latent(int, const CacheBinding& c, int64_t first_row, const Tensor& dst) override {
    const LatentRows& cache = c.rows;
    pool_.run(dst.ne[1], [&](int64_t t, int) {
      widen_row(cache.type, cache.row(first_row + t), reinterpret_cast<float*>(dst.row(t)), cache.width);
    });
  }

  void attention_latent(const Tensor& q, int, const CacheBinding& c, float scale, const Tensor& out) override {
    const LatentRows& cache = c.rows;
    const int64_t first_pos = c.first_pos;
    const int64_t W = q.ne[0], H = q.ne[1], T = q.ne[2], L = out.ne[0];
    // Values widened for the V product: the first L, rounded up to whole blocks.
    const int64_t block = gguf::type_traits(uint32_t(cache.type))->block_elements;
    const int64_t v_width = std::min(W, (L + block - 1) / block * block);
    const int64_t threads = pool_.n_threads();
    if (T >= 2 * threads * kBlockTokens) return attention_latent_blocks(q, cache, first_pos, scale, out, v_width);
    // Decode and short batches: items are (token, chunk of its keys) covering all heads, so each
    // cache row is read once per token and used by every head while it is in L1; a token's keys
    // are split into chunks whose partial softmax results are combined afterwards (as flash
    // decoding does) when there are too few tokens to keep the threads busy.
    auto chunks_for = [&](int64_t S) -> int64_t {
      if (T >= 2 * threads) return 1;
      const int64_t want = (2 * threads + T - 1) / T;
      return std::clamp<int64_t>((S + 63) / 64, 1, want);
    };
    std::vector<int64_t> first_item(size_t(T) + 1, 0);
    for (int64_t t = 0; t < T; ++t)
      first_item[size_t(t) + 1] = first_item[size_t(t)] + chunks_for(first_pos + t + 1);
    const int64_t n_items = first_item[size_t(T)];
    const bool chunked = n_items > T;
    const int64_t P = L + 2;  // a partial result: max, sum, then the unnormalized output
    if (chunked) partial_.resize(size_t(n_items * H * P));
    pool_.run(n_items, [&](int64_t item, int thread) {
      const int64_t t = int64_t(std::upper_bound(first_item.begin(), first_item.end(), item) - first_item.begin()) - 1;
      const int64_t nc = first_item[size_t(t) + 1] - first_item[size_t(t)], c = item - first_item[size_t(t)];
      const int64_t S = first_pos + t + 1, len = (S + nc - 1) / nc;
      const int64_t s0 = c * len, s1 = std::min(S, s0 + len), n = s1 - s0;
      auto& sc = thread_scratch_[size_t(thread)];
      sc.resize(size_t(H * n));
      auto& ptrs = thread_rows_[size_t(thread)];
      ptrs.resize(size_t(2 * H));
      float** qs = ptrs.data();
      float** outs = ptrs.data() + H;
      for (int64_t h = 0; h < H; ++h) {
        qs[h] = reinterpret_cast<float*>(q.row(h, t));
        outs[h] = nc == 1 ? reinterpret_cast<float*>(out.row(h, t)) : &partial_[size_t((item * H + h) * P) + 2];
      }
      // Scores tile by tile, every head against the tile's rows at once. F32 tiles are the
      // cache's own rows; other types are widened into a per-thread buffer first.
      for (int64_t s = s0; s < s1;) {
        const auto [rows, stride, n_tile] = f32_tile(cache, s, s1, W, thread);
        cpu::score_tile(qs, H, reinterpret_cast<const float*>(rows), int64_t(stride / sizeof(float)), n_tile, W,
                        &sc[size_t(s - s0)], n);
        s += n_tile;
      }
      for (int64_t h = 0; h < H; ++h) {
        float* hs = &sc[size_t(h * n)];
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < n; ++i) mx = std::max(mx, hs[i] *= scale);
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += (hs[i] = std::exp(hs[i] - mx));
        if (nc == 1) {
          // Whole softmax here: normalize first, as ggml's soft_max does before the V product.
          const float inv = float(1.0 / sum);
          for (int64_t i = 0; i < n; ++i) hs[i] *= inv;
        } else {
          float* part = &partial_[size_t((item * H + h) * P)];
          part[0] = mx;
          part[1] = float(sum);
        }
        std::memset(outs[h], 0, size_t(L) * sizeof(float));
      }
      // The V product reads only the latent part: a second widening of the same rows (instead
      // of keeping a whole chunk widened) stays in cache and costs 1/H of the product itself.
      for (int64_t s = s0; s < s1;) {
        const auto [rows, stride, n_tile] = f32_tile(cache, s, s1, v_width, thread);
        cpu::accumulate_tile(sc.data() + (s - s0), n, H, reinterpret_cast<const float*>(rows),
                             int64_t(stride / sizeof(float)), n_tile, L, outs);
        s += n_tile;
      }
    });
    if (!chunked) return;
    pool_.run(T * H, [&](int64_t th, int) {
      const int64_t t = th / H, h = th % H;
      const int64_t i0 = first_item[size_t(t)], i1 = first_item[size_t(t) + 1];
      if (i1 - i0 == 1) return;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t i = i0; i < i1; ++i) mx = std::max(mx, partial_[size_t((i * H + h) * P)]);
      float* o = reinterpret_cast<float*>(out.row(h, t));
      std::memset(o, 0, size_t(L) * sizeof(float));
      double sum = 0;
      for (int64_t i = i0; i < i1; ++i) {
        const float* part = &partial_[size_t((i * H + h) * P)];
        const float w = std::exp(part[0] - mx);
        sum += double(w) * part[1];
        axpy_f32(o, part + 2, w, L);
      }
      const float inv = float(1.0 / sum);
      for (int64_t i = 0; i < L; ++i) o[i] *= inv;
    });
  }

  // Prefill: items are blocks of kBlockTokens tokens. A tile of cache rows is widened once per
  // block and every (token, head) row of the block is scored against it, then weighted into the
  // outputs, by attention_tiles' register-blocked kernels; the softmax between the two passes
  // is the exact one (all of a row's scores at once), as in the decode path.
  static constexpr int64_t kBlockTokens = 4;
  void attention_latent_blocks(const Tensor& q, const LatentRows& cache, int64_t first_pos, float scale,
                               const Tensor& out, int64_t v_width) {
    const int64_t W = q.ne[0], H = q.ne[1], T = q.ne[2], L = out.ne[0];
    pool_.run((T + kBlockTokens - 1) / kBlockTokens, [&](int64_t block, int thread) {
      const int64_t t0 = block * kBlockTokens, nt = std::min(T - t0, kBlockTokens), R = nt * H;
      const int64_t S = first_pos + t0 + nt;  // keys the block's last token sees
      auto& sc = thread_scratch_[size_t(thread)];
      sc.resize(size_t(R * S));
      auto& rows = thread_rows_[size_t(thread)];
      rows.resize(size_t(2 * R));
      float** qs = rows.data();  // row r = (token t0 + r / H, head r % H)
      float** os = rows.data() + R;
      for (int64_t r = 0; r < R; ++r) {
        qs[r] = reinterpret_cast<float*>(q.row(r % H, t0 + r / H));
        os[r] = reinterpret_cast<float*>(out.row(r % H, t0 + r / H));
      }
      for (int64_t s = 0; s < S;) {
        const auto [tile, stride, n_tile] = f32_tile(cache, s, S, W, thread);
        cpu::score_tile(qs, R, reinterpret_cast<const float*>(tile), int64_t(stride / sizeof(float)), n_tile, W,
                        sc.data() + s, S);
        s += n_tile;
      }
      // A row's softmax covers the keys its token sees; the block's later keys get weight 0.
      for (int64_t r = 0; r < R; ++r) {
        float* hs = sc.data() + r * S;
        const int64_t n = first_pos + t0 + r / H + 1;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < n; ++i) mx = std::max(mx, hs[i] *= scale);
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += (hs[i] = std::exp(hs[i] - mx));
        const float inv = float(1.0 / sum);
        for (int64_t i = 0; i < n; ++i) hs[i] *= inv;
        std::fill(hs + n, hs + S, 0.0f);
        std::memset(os[r], 0, size_t(L) * sizeof(float));
      }
      for (int64_t s = 0; s < S;) {
        const auto [tile, stride, n_tile] = f32_tile(cache, s, S, v_width, thread);
        cpu::accumulate_tile(sc.data() + s, S, R, reinterpret_cast<const float*>(tile),
                             int64_t(stride / sizeof(float)), n_tile, L, os);
        s += n_tile;
      }
    });
  }

  // Items are (head, block of kPlainBlock tokens): the block's query rows are scored against
  // the head's keys four at a time while those are in L1, then the head's values are weighted
  // into the block's outputs tile by tile; keys after the block's last token are never read.
  void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t first_pos, float scale,
                 const Tensor& out) override {
    constexpr int64_t kPlainBlock = 16, kTile = 64;
    const int64_t Dk = q.ne[0], H = q.ne[1], T = q.ne[2], Dv = v.ne[0];
    const int64_t n_blocks = (T + kPlainBlock - 1) / kPlainBlock;
    const int64_t k_stride = int64_t(k.nb[2] / sizeof(float)), v_stride = int64_t(v.nb[2] / sizeof(float));
    pool_.run(H * n_blocks, [&](int64_t item, int thread) {
      const int64_t h = item % H, t0 = (item / H) * kPlainBlock, nt = std::min(kPlainBlock, T - t0);
      const int64_t S = first_pos + t0 + nt;
      auto& sc = thread_scratch_[size_t(thread)];
      sc.resize(size_t(nt * S));
      auto& ptrs = thread_rows_[size_t(thread)];
      ptrs.resize(size_t(2 * nt));
      float** qs = ptrs.data();
      float** os = ptrs.data() + nt;
      for (int64_t r = 0; r < nt; ++r) {
        qs[r] = reinterpret_cast<float*>(q.row(h, t0 + r));
        os[r] = reinterpret_cast<float*>(out.row(h, t0 + r));
        std::memset(os[r], 0, size_t(Dv) * sizeof(float));
      }
      const float* k0 = reinterpret_cast<const float*>(k.row(h, 0));
      const float* v0 = reinterpret_cast<const float*>(v.row(h, 0));
      cpu::score_tile(qs, nt, k0, k_stride, S, Dk, sc.data(), S);
      for (int64_t r = 0; r < nt; ++r) {
        float* row = sc.data() + r * S;
        const int64_t n = first_pos + t0 + r + 1;
        for (int64_t i = 0; i < n; ++i) row[i] *= scale;
        softmax_inplace(row, n);
        std::fill(row + n, row + S, 0.0f);
      }
      for (int64_t s = 0; s < S; s += kTile)
        cpu::accumulate_tile(sc.data() + s, S, nt, v0 + s * v_stride, v_stride, std::min(kTile, S - s), Dv, os);
    });
  }

  void argmax(const Tensor& x, const Tensor& out) override {
    const int64_t n = x.ne[0];
    int32_t* o = static_cast<int32_t*>(out.data);
    // sample::argmax's scan (the backend library does not link the sampler): only a strictly
    // greater value moves `best`, so ties keep the lowest index and NaN never wins past index 0.
    pool_.run(x.ne[1], [&](int64_t r, int) {
      const float* xr = reinterpret_cast<const float*>(x.row(r));
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i)
        if (xr[i] > xr[best]) best = i;
      o[r] = int32_t(best);
    });
  }

  struct Tile {
    const char* rows;  // first row, f32
    size_t stride;     // bytes between rows
    int64_t n;         // rows in the tile
  };

  // Cache rows [s, s + n) as f32 with n <= s1 - s, within one page: the cache's own rows for
  // F32, else the first `width` values of at most kTileRows rows widened into this thread's
  // buffer. 16 rows of the real models' 576 values are 36 KiB, which stay in L1 while every head
  // reads them: typed caches then run as fast as F32 (32-row tiles measured ~25 % slower).
  Tile f32_tile(const LatentRows& cache, int64_t s, int64_t s1, int64_t width, int thread) {
    const int64_t in_page = std::min(cache.rows_per_page - s % cache.rows_per_page, s1 - s);
    if (cache.type == TensorType::F32) return {cache.row(s), cache.row_stride, in_page};
    constexpr int64_t kTileRows = 16;
    const int64_t n = std::min(in_page, kTileRows);
    auto& buf = thread_tile_[size_t(thread)];
    buf.resize(size_t(n * width));
    for (int64_t i = 0; i < n; ++i) widen_row(cache.type, cache.row(s + i), buf.data() + i * width, width);
    return {reinterpret_cast<const char*>(buf.data()), size_t(width) * sizeof(float), n};
  }

  // Rows per work item for a matmul with `rows` output rows in total: several items per thread
  // for balance, but not so small that scheduling dominates, and a tile's weights (row_bytes
  // each) small enough to stay in the core's L2 while the batch's tokens pass over them.
  int64_t row_tile(int64_t rows, size_t row_bytes) const {
    const int64_t target = 4 * int64_t(pool_.n_threads());
    const int64_t cache_rows = std::max<int64_t>(1, int64_t((size_t(256) << 10) / std::max<size_t>(row_bytes, 1)));
    return std::clamp<int64_t>((rows + target - 1) / target, 1, std::min<int64_t>(256, cache_rows));
  }

  static void check_transfer(const Tensor& t, size_t bytes) {
    const size_t size = t.nb[1] * size_t(t.ne[1] * t.ne[2] * t.ne[3]);
    if (!t.is_contiguous() || bytes > size)
      throw Error(std::string("cpu backend: copy of ") + std::to_string(bytes) + " bytes to/from '" + t.name +
                  "' needs a contiguous tensor of at least that size");
  }

  // Calls fn(i1, i2, i3) for every row of t, in parallel.
  template <class F>
  void for_rows(const Tensor& t, F&& fn) {
    const int64_t n1 = t.ne[1], n2 = t.ne[2], n3 = t.ne[3];
    pool_.run(n1 * n2 * n3, [&](int64_t r, int) { fn(r % n1, (r / n1) % n2, r / (n1 * n2)); });
  }

  static constexpr size_t kMaxPlans = 8;
  cpu::ThreadPool pool_;
  std::vector<std::pair<uint64_t, MemoryPlan>> plans_;  // by graph id, oldest first
  std::unique_ptr<char[]> arena_;                        // intermediates of the running graph
  size_t arena_size_ = 0;
  std::map<void*, size_t> allocations_;  // allocate()d mappings and their lengths
  // Scratch blocks by their 64-byte-aligned address; each owns its allocation.
  std::map<uintptr_t, std::unique_ptr<char[]>> scratch_blocks_;
  ScratchArena scratch_{64, size_t(1) << 22,
                        [this](size_t size) {
                          std::unique_ptr<char[]> raw(new char[size + 64]);
                          const auto addr = reinterpret_cast<uintptr_t>(raw.get());
                          const uintptr_t aligned = addr + (64 - addr % 64) % 64;
                          scratch_blocks_.emplace(aligned, std::move(raw));
                          return aligned;
                        },
                        [this](uintptr_t base) { scratch_blocks_.erase(base); }};
  std::vector<uint8_t> act_;                      // activations in the weight's vec_dot type
  std::vector<float> partial_;                    // chunked attention: per chunk max, sum, output
  std::vector<std::vector<float>> thread_scratch_;  // per worker: scores, rope tables
  std::vector<std::vector<float*>> thread_rows_;    // per worker: output row per head
  std::vector<std::vector<float>> thread_tile_;     // per worker: cache rows widened to f32
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace latent::backend
