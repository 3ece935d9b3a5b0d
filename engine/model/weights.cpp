#include "model/weights.h"

#include <cmath>
#include <optional>
#include <sstream>
#include <string>

#include "model/arch.h"
#include "model/scheduler.h"
#include "quant/quant.h"

namespace latent::model {
namespace {

std::string where(const gguf::File& f) { return f.path().empty() ? std::string("<memory>") : f.path().string(); }

[[noreturn]] void fail(const gguf::File& f, const std::string& what) { throw Error(where(f) + ": " + what); }

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "{";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "}";
}

class MetaReader {
 public:
  explicit MetaReader(const gguf::File& f) : f_(f) {}

  int64_t required(Key k) const {
    const std::string name = key_name(k);
    auto v = get(name);
    if (!v) fail(f_, "missing required key '" + name + "' (is this a complete deepseek2 GGUF?)");
    return *v;
  }
  int64_t optional(Key k, int64_t fallback) const { return get(key_name(k)).value_or(fallback); }
  // Float hyperparameters must be finite and within [lo, hi] (lo itself excluded when
  // lo_open): a NaN rope base loads fine and then turns every logit into NaN.
  struct Range {
    double lo, hi;
    bool lo_open = false;
  };
  double required_float(Key k, Range r) const {
    const std::string name = key_name(k);
    std::optional<double> v;
    try {
      v = f_.get_float(name);
    } catch (const gguf::Error& e) {
      fail(f_, e.what());
    }
    if (!v) fail(f_, "missing required key '" + name + "'");
    return in_range(name, *v, r);
  }
  double optional_float(Key k, double fallback, Range r) const {
    if (!has(k)) return fallback;
    return required_float(k, r);
  }
  bool optional_bool(Key k, bool fallback) const {
    try {
      return f_.get_bool(key_name(k)).value_or(fallback);
    } catch (const gguf::Error& e) {
      fail(f_, e.what());
    }
  }
  bool has(Key k) const { return f_.find(key_name(k)) != nullptr; }

 private:
  double in_range(const std::string& name, double v, Range r) const {
    bool ok = std::isfinite(v) && v <= r.hi && (r.lo_open ? v > r.lo : v >= r.lo);
    if (!ok) {
      std::ostringstream msg;
      msg << "key '" << name << "' is " << v << "; expected a finite number in " << (r.lo_open ? "(" : "[") << r.lo
          << ", " << r.hi << "] (is the file damaged?)";
      fail(f_, msg.str());
    }
    return v;
  }

  std::optional<int64_t> get(const std::string& name) const {
    try {
      auto v = f_.get_uint(name);
      if (!v) return std::nullopt;
      return int64_t(*v);
    } catch (const gguf::Error& e) {
      fail(f_, e.what());
    }
  }
  const gguf::File& f_;
};

class Binder {
 public:
  Binder(const gguf::File& f, backend::Backend& be) : f_(f), be_(be) {}

  const gguf::TensorInfo* find(TensorName t, int layer = -1) const {
    return f_.find_tensor(tensor_name(t, layer));
  }

  // The tensor, which must exist with exactly `ne` and a type the backend runs for `op`.
  backend::Tensor bind(TensorName t, int layer, std::vector<int64_t> ne,
                       backend::Op op = backend::Op::MulMat) {
    const std::string name = tensor_name(t, layer);
    const gguf::TensorInfo* info = f_.find_tensor(name);
    if (!info) fail(f_, "missing tensor '" + name + "' (expected shape " + shape_str(ne) + ")");
    return bind_info(*info, ne, op);
  }

  backend::Tensor bind_info(const gguf::TensorInfo& info, std::vector<int64_t> ne, backend::Op op) {
    std::vector<int64_t> found = info.ne;
    while (found.size() < ne.size()) found.push_back(1);
    while (ne.size() < found.size()) ne.push_back(1);
    if (found != ne)
      fail(f_, "tensor '" + info.name + "' has shape " + shape_str(info.ne) + ", expected " +
                   shape_str(ne) + " from the model's hyperparameters");
    if (!be_.supports_op(op, info.type))
      fail(f_, "tensor '" + info.name + "' has type " + std::string(gguf::type_name(info.type)) +
                   ", which the " + std::string(be_.name()) + " backend cannot run in " +
                   std::string(backend::op_name(op)));
    std::array<int64_t, 4> a{1, 1, 1, 1};
    for (size_t i = 0; i < info.ne.size() && i < 4; ++i) a[i] = info.ne[i];
    return be_.weight(info.type, a, info.data, info.name.c_str());
  }

  // A bound weight's values in F32 (for small derived matrices), read from the file's mapped
  // bytes: the bound tensor may live in device memory.
  std::vector<float> dequantize(TensorName t, int layer) const {
    const gguf::TensorInfo& info = *find(t, layer);
    std::array<int64_t, 4> ne{1, 1, 1, 1};
    for (size_t i = 0; i < info.ne.size() && i < 4; ++i) ne[i] = info.ne[i];
    const backend::Tensor w = backend::make_tensor(info.type, ne, const_cast<uint8_t*>(info.data));
    const int64_t rows = w.ne[1] * w.ne[2] * w.ne[3];
    std::vector<float> out(size_t(rows * w.ne[0]));
    for (int64_t r = 0; r < rows; ++r)
      quant::dequantize_row(w.type, static_cast<const char*>(w.data) + size_t(r) * w.nb[1],
                            out.data() + r * w.ne[0], w.ne[0]);
    return out;
  }

 private:
  const gguf::File& f_;
  backend::Backend& be_;
};

}  // namespace

HParams read_hparams(const gguf::File& file) {
  HParams hp;
  MetaReader m(file);
  hp.n_ctx_train = m.required(Key::ContextLength);
  hp.n_embd = m.required(Key::EmbeddingLength);
  hp.n_layer = m.required(Key::BlockCount);
  hp.n_ff = m.required(Key::FeedForwardLength);
  hp.n_head = m.required(Key::HeadCount);
  hp.rms_eps = float(m.required_float(Key::RmsEps, {0, 1, true}));
  hp.n_layer_dense_lead = m.optional(Key::LeadingDenseBlockCount, 0);
  // Real Lite models have no q_lora_rank key; absent and 0 both mean plain attn_q (the tensors
  // decide, see load_weights).
  hp.q_lora_rank = m.optional(Key::QLoraRank, 0);
  hp.kv_lora_rank = m.required(Key::KvLoraRank);
  hp.qk_rope = m.required(Key::RopeDimensionCount);
  hp.is_mla = m.has(Key::KeyLengthMla) && m.has(Key::ValueLengthMla);
  const int64_t key_len = hp.is_mla ? m.required(Key::KeyLengthMla) : m.required(Key::KeyLength);
  hp.v_head = hp.is_mla ? m.required(Key::ValueLengthMla) : m.required(Key::ValueLength);
  if (key_len <= hp.qk_rope)
    fail(file, "key length " + std::to_string(key_len) + " is not larger than the rope dimension " +
                   std::to_string(hp.qk_rope));
  hp.qk_nope = key_len - hp.qk_rope;
  if (hp.qk_rope % 2 != 0) fail(file, "rope.dimension_count must be even");

  hp.rope_freq_base = float(m.optional_float(Key::RopeFreqBase, 10000.0, {1, 1e12, true}));
  std::string scaling = "none";
  if (auto s = file.get_string(key_name(Key::RopeScalingType))) scaling = std::string(*s);
  const double factor = m.optional_float(Key::RopeScalingFactor, 1.0, {0, 1e6, true});
  if (scaling == "yarn") {
    hp.rope_yarn = true;
    hp.rope_freq_scale = float(1.0 / factor);
    hp.rope_n_ctx_orig = m.optional(Key::RopeScalingOrigCtx, hp.n_ctx_train);
    hp.rope_yarn_log_mul = float(m.optional_float(Key::RopeYarnLogMul, 0.0, {0, 100}));
  } else if (scaling == "linear") {
    hp.rope_freq_scale = float(1.0 / factor);
    hp.rope_n_ctx_orig = hp.n_ctx_train;
  } else if (scaling == "none") {
    hp.rope_n_ctx_orig = hp.n_ctx_train;
  } else {
    fail(file, "rope scaling type '" + scaling + "' is not supported (none, linear, yarn)");
  }
  // YaRN's attention temperature: the converter stores 0.1 * mscale_all_dim as
  // yarn_log_multiplier, and llama.cpp scales kq by m^2 with m = 1 + 0.1 * mscale_all_dim * ln s
  // at every position (shared/golden/README.md, "YaRN").
  float m_scale = 1.0f;
  if (hp.rope_yarn && hp.rope_yarn_log_mul != 0.0f)
    m_scale = backend::yarn_mscale(hp.rope_freq_scale, hp.rope_yarn_log_mul);
  hp.kq_scale = m_scale * m_scale / std::sqrt(float(hp.qk_nope + hp.qk_rope));

  hp.n_expert = m.optional(Key::ExpertCount, 0);
  if (hp.n_layer_dense_lead < hp.n_layer) {
    hp.n_expert_used = m.required(Key::ExpertUsedCount);
    hp.n_expert_shared = m.optional(Key::ExpertSharedCount, 0);
    hp.n_ff_exp = m.required(Key::ExpertFeedForwardLength);
    hp.n_expert_groups = m.optional(Key::ExpertGroupCount, 1);
    hp.n_group_used = m.optional(Key::ExpertGroupUsedCount, 1);
    const int64_t gating = m.optional(Key::ExpertGatingFunc, 1);
    if (gating != 1 && gating != 2)
      fail(file, "expert_gating_func " + std::to_string(gating) + " is not supported (1 softmax, 2 sigmoid)");
    hp.gating = Gating(gating);
    hp.expert_weights_norm = m.optional_bool(Key::ExpertWeightsNorm, false);
    hp.expert_weights_scale = float(m.optional_float(Key::ExpertWeightsScale, 1.0, {0, 1e6, true}));
    if (hp.n_expert < 1 || hp.n_expert_used < 1 || hp.n_expert_used > hp.n_expert)
      fail(file, "expert_used_count " + std::to_string(hp.n_expert_used) + " does not fit " +
                     std::to_string(hp.n_expert) + " experts");
    if (hp.n_expert_groups < 1 || hp.n_expert % hp.n_expert_groups != 0 || hp.n_group_used < 1 ||
        hp.n_group_used > hp.n_expert_groups)
      fail(file, "expert groups (" + std::to_string(hp.n_expert_groups) + ", used " +
                     std::to_string(hp.n_group_used) + ") do not divide " +
                     std::to_string(hp.n_expert) + " experts");
  }
  if (hp.n_embd <= 0 || hp.n_layer <= 0 || hp.n_head <= 0 || hp.kv_lora_rank <= 0 || hp.v_head <= 0)
    fail(file, "hyperparameters must be positive (embedding_length, block_count, head_count, "
               "kv_lora_rank, value length)");
  const gguf::TensorInfo* embd = file.find_tensor(tensor_name(TensorName::TokenEmbd));
  if (!embd) fail(file, "missing tensor 'token_embd.weight'");
  if (embd->ne.size() < 2) fail(file, "tensor 'token_embd.weight' must have two dimensions");
  hp.n_vocab = embd->ne[1];
  return hp;
}

std::unique_ptr<Weights> load_weights(const gguf::File& file, const HParams& hp, MlaMode mla,
                                      const Placement& placement) {
  using backend::Op;
  auto w = std::make_unique<Weights>();
  Binder io(file, placement.of(-1));
  const int64_t E = hp.n_embd, H = hp.n_head, nope = hp.qk_nope, rope = hp.qk_rope;
  const int64_t L = hp.kv_lora_rank, V = hp.v_head;
  w->tok_embd = io.bind(TensorName::TokenEmbd, -1, {E, hp.n_vocab}, Op::GetRows);
  w->output_norm = io.bind(TensorName::OutputNorm, -1, {E}, Op::RmsNorm);
  if (io.find(TensorName::Output))
    w->output = io.bind(TensorName::Output, -1, {E, hp.n_vocab});
  else
    w->output = io.bind(TensorName::TokenEmbd, -1, {E, hp.n_vocab});

  for (int il = 0; il < int(hp.n_layer); ++il) {
    backend::Backend& be = placement.of(il);
    Binder b(file, be);
    auto own = [&](std::vector<float> v, std::array<int64_t, 4> ne, const char* name) {
      w->owned.emplace_back(new float[v.size()]);
      std::copy(v.begin(), v.end(), w->owned.back().get());
      return be.weight(gguf::TensorType::F32, ne, w->owned.back().get(), name);
    };
    LayerWeights l;
    l.attn_norm = b.bind(TensorName::AttnNorm, il, {E}, Op::RmsNorm);
    if (b.find(TensorName::AttnQ, il)) {
      l.wq = b.bind(TensorName::AttnQ, il, {E, H * (nope + rope)});
    } else {
      if (hp.q_lora_rank <= 0)
        fail(file, "layer " + std::to_string(il) + " has no '" + tensor_name(TensorName::AttnQ, il) +
                       "' and attention.q_lora_rank is absent or 0, so there is no query projection");
      l.wq_a = b.bind(TensorName::AttnQA, il, {E, hp.q_lora_rank});
      l.q_a_norm = b.bind(TensorName::AttnQANorm, il, {hp.q_lora_rank}, Op::RmsNorm);
      l.wq_b = b.bind(TensorName::AttnQB, il, {hp.q_lora_rank, H * (nope + rope)});
    }
    l.wkv_a_mqa = b.bind(TensorName::AttnKvAMqa, il, {E, L + rope});
    l.kv_a_norm = b.bind(TensorName::AttnKvANorm, il, {L}, Op::RmsNorm);
    if (hp.is_mla) {
      l.wk_b = b.bind(TensorName::AttnKB, il, {nope, L, H});
      l.wv_b = b.bind(TensorName::AttnVB, il, {L, V, H});
      if (mla != MlaMode::Absorbed) {
        // k_nope = K_h^T c needs K_h with kv_lora contiguous: transpose each head once.
        std::vector<float> kb = b.dequantize(TensorName::AttnKB, il), kt(kb.size());
        for (int64_t h = 0; h < H; ++h)
          for (int64_t j = 0; j < L; ++j)
            for (int64_t d = 0; d < nope; ++d) kt[size_t((h * nope + d) * L + j)] = kb[size_t((h * L + j) * nope + d)];
        l.wk_b_t = own(std::move(kt), {L, nope, H, 1}, l.wk_b.name);
      }
    } else {
      // Legacy attn_kv_b: rows per head [k_nope (nope rows) | v (V rows)], each of kv_lora.
      backend::Tensor kvb = b.bind(TensorName::AttnKvB, il, {L, H * (nope + V)});
      const size_t rb = kvb.nb[1];
      l.wk_b_t = kvb.view({L, nope, H, 1}, {kvb.nb[0], rb, rb * size_t(nope + V), rb * size_t(H * (nope + V))},
                          0, kvb.name);
      l.wv_b = kvb.view({L, V, H, 1}, {kvb.nb[0], rb, rb * size_t(nope + V), rb * size_t(H * (nope + V))},
                        rb * size_t(nope), kvb.name);
      std::vector<float> kv = b.dequantize(TensorName::AttnKvB, il), kb(size_t(H * L * nope));
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < nope; ++d)
          for (int64_t j = 0; j < L; ++j)
            kb[size_t((h * L + j) * nope + d)] = kv[size_t((h * (nope + V) + d) * L + j)];
      l.wk_b = own(std::move(kb), {nope, L, H, 1}, kvb.name);
    }
    l.wo = b.bind(TensorName::AttnOutput, il, {H * V, E});
    l.ffn_norm = b.bind(TensorName::FfnNorm, il, {E}, Op::RmsNorm);
    if (!hp.is_moe_layer(il)) {
      l.ffn_gate = b.bind(TensorName::FfnGate, il, {E, hp.n_ff});
      l.ffn_up = b.bind(TensorName::FfnUp, il, {E, hp.n_ff});
      l.ffn_down = b.bind(TensorName::FfnDown, il, {hp.n_ff, E});
    } else {
      const int64_t X = hp.n_expert, F = hp.n_ff_exp, S = hp.n_ff_exp * hp.n_expert_shared;
      l.gate_inp = b.bind(TensorName::FfnGateInp, il, {E, X}, Op::MoeRoute);
      if (b.find(TensorName::FfnExpProbsB, il))
        l.exp_probs_b = b.bind(TensorName::FfnExpProbsB, il, {X}, Op::MoeRoute);
      else
        l.exp_probs_b = backend::Tensor{};
      l.gate_exps = b.bind(TensorName::FfnGateExps, il, {E, F, X}, Op::MulMatId);
      l.up_exps = b.bind(TensorName::FfnUpExps, il, {E, F, X}, Op::MulMatId);
      l.down_exps = b.bind(TensorName::FfnDownExps, il, {F, E, X}, Op::MulMatId);
      if (hp.n_expert_shared > 0) {
        l.gate_shexp = b.bind(TensorName::FfnGateShexp, il, {E, S});
        l.up_shexp = b.bind(TensorName::FfnUpShexp, il, {E, S});
        l.down_shexp = b.bind(TensorName::FfnDownShexp, il, {S, E});
      }
    }
    w->layers.push_back(l);
  }
  return w;
}

}  // namespace latent::model
