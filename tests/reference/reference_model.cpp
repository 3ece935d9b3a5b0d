#include "reference/reference_model.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "reference/reference_numerics.h"

namespace latent::reference {

namespace {

constexpr const char* kArch = "deepseek2";

std::string key(const char* suffix) { return std::string(kArch) + "." + suffix; }

// A dequantized tensor: float values (exact), row-major with rows of ne[0].
struct Weight {
  std::string name;
  gguf::TensorType type = gguf::TensorType::F32;
  std::vector<int64_t> ne;
  std::vector<float> data;

  int64_t cols() const { return ne[0]; }
  const float* row(int64_t r) const { return data.data() + r * ne[0]; }
};

double dot(const float* w, const double* x, int64_t n) {
  // Four accumulators: a fixed summation order that still pipelines.
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    a0 += static_cast<double>(w[k]) * x[k];
    a1 += static_cast<double>(w[k + 1]) * x[k + 1];
    a2 += static_cast<double>(w[k + 2]) * x[k + 2];
    a3 += static_cast<double>(w[k + 3]) * x[k + 3];
  }
  for (; k < n; ++k) a0 += static_cast<double>(w[k]) * x[k];
  return (a0 + a1) + (a2 + a3);
}

double dot(const double* a, const double* b, int64_t n) {
  double s = 0;
  for (int64_t k = 0; k < n; ++k) s += a[k] * b[k];
  return s;
}

void rms_norm(double* x, int64_t n, const Weight& w, double eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * scale * static_cast<double>(w.data[i]);
}

double silu(double x) { return x / (1.0 + std::exp(-x)); }

}  // namespace

double Hparams::kq_scale() const {
  const double s = yarn ? rope_factor : 1.0;
  const double m = 1.0 + yarn_log_multiplier * std::log(s);
  return m * m / std::sqrt(static_cast<double>(qk_nope + qk_rope));
}

Hparams read_hparams(const gguf::File& f) {
  auto arch = f.require_string("general.architecture");
  if (arch != kArch)
    throw gguf::Error(f.path().string() + ": architecture '" + std::string(arch) +
                      "' is not deepseek2");
  Hparams h;
  h.n_embd = static_cast<int64_t>(f.require_uint(key("embedding_length")));
  h.n_layer = static_cast<int64_t>(f.require_uint(key("block_count")));
  h.n_head = static_cast<int64_t>(f.require_uint(key("attention.head_count")));
  h.qk_rope = static_cast<int64_t>(f.require_uint(key("rope.dimension_count")));
  h.kv_lora_rank = static_cast<int64_t>(f.require_uint(key("attention.kv_lora_rank")));
  h.rms_eps = f.require_float(key("attention.layer_norm_rms_epsilon"));
  h.rope_base = f.get_float(key("rope.freq_base")).value_or(10000.0);
  // Current files carry the per-head sizes in the *_mla keys; legacy files in key/value_length.
  if (auto k_mla = f.get_uint(key("attention.key_length_mla"))) {
    h.legacy_layout = false;
    h.qk_nope = static_cast<int64_t>(*k_mla) - h.qk_rope;
    h.v_head = static_cast<int64_t>(f.require_uint(key("attention.value_length_mla")));
  } else {
    h.legacy_layout = true;
    h.qk_nope = static_cast<int64_t>(f.require_uint(key("attention.key_length"))) - h.qk_rope;
    h.v_head = static_cast<int64_t>(f.require_uint(key("attention.value_length")));
  }
  // README: "absent" and 0 mean the same; the tensors decide (and give the rank).
  const gguf::TensorInfo* q_a = f.find_tensor("blk.0.attn_q_a.weight");
  h.q_lora_rank = q_a && q_a->ne.size() == 2 ? q_a->ne[1] : 0;
  h.n_ff = static_cast<int64_t>(f.get_uint(key("feed_forward_length")).value_or(0));
  h.n_dense_lead = static_cast<int64_t>(f.get_uint(key("leading_dense_block_count")).value_or(0));
  h.n_expert = static_cast<int64_t>(f.get_uint(key("expert_count")).value_or(0));
  if (h.n_expert > 0) {
    h.n_expert_used = static_cast<int64_t>(f.require_uint(key("expert_used_count")));
    h.n_ff_exp = static_cast<int64_t>(f.require_uint(key("expert_feed_forward_length")));
    h.n_expert_shared = static_cast<int64_t>(f.get_uint(key("expert_shared_count")).value_or(0));
    h.n_group = static_cast<int64_t>(f.get_uint(key("expert_group_count")).value_or(1));
    h.n_group_used = static_cast<int64_t>(f.get_uint(key("expert_group_used_count")).value_or(1));
    const uint64_t gating = f.get_uint(key("expert_gating_func")).value_or(1);
    if (gating == 1)
      h.gating = Gating::softmax;
    else if (gating == 2)
      h.gating = Gating::sigmoid;
    else
      throw gguf::Error(f.path().string() + ": expert_gating_func " + std::to_string(gating) +
                        " is neither softmax (1) nor sigmoid (2)");
    h.weights_norm = f.get_bool(key("expert_weights_norm")).value_or(false);
    h.weights_scale = f.get_float(key("expert_weights_scale")).value_or(0.0);
  }
  const std::string scaling(f.get_string(key("rope.scaling.type")).value_or("none"));
  if (scaling == "yarn") {
    h.yarn = true;
    h.rope_factor = f.require_float(key("rope.scaling.factor"));
    h.rope_orig_ctx = static_cast<double>(f.require_uint(key("rope.scaling.original_context_length")));
    h.yarn_log_multiplier = f.get_float(key("rope.scaling.yarn_log_multiplier")).value_or(0.0);
  } else if (scaling != "none") {
    throw gguf::Error(f.path().string() + ": rope.scaling.type '" + scaling +
                      "' is not supported by the reference (none or yarn)");
  }
  const gguf::TensorInfo& embd = f.require_tensor("token_embd.weight");
  if (embd.ne.size() != 2)
    throw gguf::Error(f.path().string() + ": token_embd.weight is not 2-D");
  h.n_vocab = embd.ne[1];
  return h;
}

int64_t argmax(std::span<const double> v) {
  return std::distance(v.begin(), std::max_element(v.begin(), v.end()));
}

struct Model::Impl {
  Hparams hp;
  Options opt;
  int threads = 1;
  std::map<std::string, Weight, std::less<>> weights;
  const Weight* token_embd = nullptr;
  const Weight* output_norm = nullptr;
  const Weight* output = nullptr;

  struct Layer {
    const Weight* attn_norm = nullptr;
    const Weight* attn_q = nullptr;
    const Weight* attn_q_a = nullptr;
    const Weight* attn_q_a_norm = nullptr;
    const Weight* attn_q_b = nullptr;
    const Weight* kv_a_mqa = nullptr;
    const Weight* kv_a_norm = nullptr;
    const Weight* k_b = nullptr;
    const Weight* v_b = nullptr;
    const Weight* kv_b = nullptr;
    const Weight* attn_output = nullptr;
    const Weight* ffn_norm = nullptr;
    const Weight* ffn_gate = nullptr;
    const Weight* ffn_up = nullptr;
    const Weight* ffn_down = nullptr;
    const Weight* gate_inp = nullptr;
    const Weight* exp_probs_b = nullptr;
    const Weight* gate_exps = nullptr;
    const Weight* up_exps = nullptr;
    const Weight* down_exps = nullptr;
    const Weight* gate_shexp = nullptr;
    const Weight* up_shexp = nullptr;
    const Weight* down_shexp = nullptr;
    bool moe = false;
    // Cache of every evaluated position: per head k_nope and v, the shared k_pe, the latent c.
    std::vector<double> k_nope, k_pe, v, c;
  };
  std::vector<Layer> layers;
  int64_t n_past = 0;

  const Weight* load_weight(const gguf::File& f, const std::string& name,
                            std::vector<int64_t> expect, bool required) {
    const gguf::TensorInfo* t = f.find_tensor(name);
    if (!t) {
      if (required)
        throw gguf::Error(f.path().string() + ": missing tensor '" + name + "'");
      return nullptr;
    }
    if (t->ne != expect) {
      auto shape = [](const std::vector<int64_t>& ne) {
        std::string s = "{";
        for (size_t i = 0; i < ne.size(); ++i) s += (i ? "," : "") + std::to_string(ne[i]);
        return s + "}";
      };
      throw gguf::Error(f.path().string() + ": tensor '" + name + "' has shape " + shape(t->ne) +
                        ", expected " + shape(expect) + " from the hyperparameters");
    }
    Weight w;
    w.name = name;
    w.type = t->type;
    w.ne = t->ne;
    try {
      w.data = dequantize(t->type, t->data, t->n_elements());
    } catch (const std::invalid_argument& e) {
      throw gguf::Error(f.path().string() + ": tensor '" + name + "': " + e.what());
    }
    auto [it, inserted] = weights.emplace(name, std::move(w));
    return &it->second;
  }

  void load(const gguf::File& f) {
    hp = read_hparams(f);
    const int64_t E = hp.n_embd, H = hp.n_head;
    const int64_t q_dim = H * (hp.qk_nope + hp.qk_rope);
    token_embd = load_weight(f, "token_embd.weight", {E, hp.n_vocab}, true);
    output_norm = load_weight(f, "output_norm.weight", {E}, true);
    output = load_weight(f, "output.weight", {E, hp.n_vocab}, false);
    if (!output) output = token_embd;
    layers.resize(static_cast<size_t>(hp.n_layer));
    for (int64_t il = 0; il < hp.n_layer; ++il) {
      Layer& L = layers[static_cast<size_t>(il)];
      auto n = [&](const char* s) { return "blk." + std::to_string(il) + "." + s; };
      L.attn_norm = load_weight(f, n("attn_norm.weight"), {E}, true);
      if (hp.q_lora_rank > 0) {
        L.attn_q_a = load_weight(f, n("attn_q_a.weight"), {E, hp.q_lora_rank}, true);
        L.attn_q_a_norm = load_weight(f, n("attn_q_a_norm.weight"), {hp.q_lora_rank}, true);
        L.attn_q_b = load_weight(f, n("attn_q_b.weight"), {hp.q_lora_rank, q_dim}, true);
      } else {
        L.attn_q = load_weight(f, n("attn_q.weight"), {E, q_dim}, true);
      }
      L.kv_a_mqa = load_weight(f, n("attn_kv_a_mqa.weight"), {E, hp.kv_lora_rank + hp.qk_rope}, true);
      L.kv_a_norm = load_weight(f, n("attn_kv_a_norm.weight"), {hp.kv_lora_rank}, true);
      if (hp.legacy_layout) {
        L.kv_b = load_weight(f, n("attn_kv_b.weight"), {hp.kv_lora_rank, H * (hp.qk_nope + hp.v_head)}, true);
      } else {
        L.k_b = load_weight(f, n("attn_k_b.weight"), {hp.qk_nope, hp.kv_lora_rank, H}, true);
        L.v_b = load_weight(f, n("attn_v_b.weight"), {hp.kv_lora_rank, hp.v_head, H}, true);
      }
      L.attn_output = load_weight(f, n("attn_output.weight"), {H * hp.v_head, E}, true);
      L.ffn_norm = load_weight(f, n("ffn_norm.weight"), {E}, true);
      L.moe = il >= hp.n_dense_lead && hp.n_expert > 0;
      if (!L.moe) {
        L.ffn_gate = load_weight(f, n("ffn_gate.weight"), {E, hp.n_ff}, true);
        L.ffn_up = load_weight(f, n("ffn_up.weight"), {E, hp.n_ff}, true);
        L.ffn_down = load_weight(f, n("ffn_down.weight"), {hp.n_ff, E}, true);
      } else {
        const int64_t X = hp.n_expert, F = hp.n_ff_exp;
        L.gate_inp = load_weight(f, n("ffn_gate_inp.weight"), {E, X}, true);
        L.exp_probs_b = load_weight(f, n("exp_probs_b.bias"), {X}, false);
        L.gate_exps = load_weight(f, n("ffn_gate_exps.weight"), {E, F, X}, true);
        L.up_exps = load_weight(f, n("ffn_up_exps.weight"), {E, F, X}, true);
        L.down_exps = load_weight(f, n("ffn_down_exps.weight"), {F, E, X}, true);
        if (hp.n_expert_shared > 0) {
          const int64_t S = F * hp.n_expert_shared;
          L.gate_shexp = load_weight(f, n("ffn_gate_shexp.weight"), {E, S}, true);
          L.up_shexp = load_weight(f, n("ffn_up_shexp.weight"), {E, S}, true);
          L.down_shexp = load_weight(f, n("ffn_down_shexp.weight"), {S, E}, true);
        }
      }
    }
    if (hp.n_expert > 0) {
      if (hp.n_expert_used < 1 || hp.n_expert_used > hp.n_expert)
        throw gguf::Error(f.path().string() + ": expert_used_count " +
                          std::to_string(hp.n_expert_used) + " outside 1.." +
                          std::to_string(hp.n_expert));
      if (hp.n_group > 1 && (hp.n_expert % hp.n_group != 0 || hp.n_group_used < 1 ||
                             hp.n_group_used > hp.n_group))
        throw gguf::Error(f.path().string() + ": expert groups " + std::to_string(hp.n_group) +
                          "/" + std::to_string(hp.n_group_used) + " do not divide " +
                          std::to_string(hp.n_expert) + " experts");
    }
  }

  // Runs fn(begin, end) over [0, n) on up to `threads` threads; small jobs stay inline.
  // Nested calls (a matmul inside a per-token job) run inline.
  void parallel_for(int64_t n, double work, const std::function<void(int64_t, int64_t)>& fn) const {
    static thread_local bool inside = false;
    int t = static_cast<int>(std::min<int64_t>(threads, n));
    if (inside || t <= 1 || work < 2e5) {
      fn(0, n);
      return;
    }
    auto job = [&fn](int64_t b, int64_t e) {
      inside = true;
      fn(b, e);
      inside = false;
    };
    std::vector<std::thread> pool;
    const int64_t chunk = (n + t - 1) / t;
    for (int i = 1; i < t; ++i) {
      int64_t b = i * chunk, e = std::min(n, b + chunk);
      if (b < e) pool.emplace_back(job, b, e);
    }
    job(0, std::min(n, chunk));
    for (auto& th : pool) th.join();
  }

  // The weight type whose activation format emulation applies to w's inputs.
  gguf::TensorType activation_type(const Weight& w) const {
    const bool widen = !opt.round_f16_activations &&
                       (w.type == gguf::TensorType::F16 || w.type == gguf::TensorType::BF16);
    return widen ? gguf::TensorType::F32 : w.type;
  }

  // Y[t][r] = Σ_k W[row0 + r][k] · X[t][k] for r < n_rows, t < n_tok; X rows have stride
  // x_stride, Y rows y_stride. With emulation, X is first converted as llama.cpp would.
  void matmul(const Weight& w, int64_t row0, int64_t n_rows, const double* x, int64_t x_stride,
              int64_t n_tok, double* y, int64_t y_stride) const {
    const int64_t K = w.cols();
    std::vector<double> xq;
    if (opt.emulate_activation_quant) {
      xq.resize(static_cast<size_t>(n_tok * K));
      for (int64_t t = 0; t < n_tok; ++t) {
        std::copy(x + t * x_stride, x + t * x_stride + K, xq.begin() + t * K);
        quantize_activations_roundtrip(activation_type(w), xq.data() + t * K, K);
      }
      x = xq.data();
      x_stride = K;
    }
    parallel_for(n_rows, static_cast<double>(n_rows) * n_tok * K, [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        const float* wr = w.row(row0 + r);
        for (int64_t t = 0; t < n_tok; ++t) y[t * y_stride + r] = dot(wr, x + t * x_stride, K);
      }
    });
  }

  std::vector<double> matmul(const Weight& w, const std::vector<double>& x, int64_t n_tok) const {
    const int64_t rows = w.ne[1];
    std::vector<double> y(static_cast<size_t>(n_tok * rows));
    matmul(w, 0, rows, x.data(), w.cols(), n_tok, y.data(), rows);
    return y;
  }

  // GGML "NORM" rope (interleaved pairs) with YaRN as the README states it.
  void rope(double* x, int64_t pos) const {
    const int64_t n_rot = hp.qk_rope;
    double low = 0, high = 0;
    if (hp.yarn) {
      auto corr = [&](double beta) {
        return static_cast<double>(n_rot) * std::log(hp.rope_orig_ctx / (2 * M_PI * beta)) /
               (2 * std::log(hp.rope_base));
      };
      low = std::max(0.0, std::floor(corr(32.0)));
      high = std::min(static_cast<double>(n_rot - 1), std::ceil(corr(1.0)));
    }
    for (int64_t i = 0; i < n_rot / 2; ++i) {
      const double theta_extrap =
          static_cast<double>(pos) * std::pow(hp.rope_base, -2.0 * static_cast<double>(i) / static_cast<double>(n_rot));
      double theta = theta_extrap;
      if (hp.yarn) {
        const double y = (static_cast<double>(i) - low) / std::max(0.001, high - low);
        const double r = 1.0 - std::clamp(y, 0.0, 1.0);
        theta = theta_extrap / hp.rope_factor * (1.0 - r) + theta_extrap * r;
      }
      const double c = std::cos(theta), s = std::sin(theta);
      const double x0 = x[2 * i], x1 = x[2 * i + 1];
      x[2 * i] = x0 * c - x1 * s;
      x[2 * i + 1] = x0 * s + x1 * c;
    }
  }

  void attention(Layer& L, std::vector<double>& cur, int64_t n) {
    const int64_t H = hp.n_head, NOPE = hp.qk_nope, ROPE = hp.qk_rope, VH = hp.v_head,
                  R = hp.kv_lora_rank, QH = NOPE + ROPE;
    // q: [n][H][NOPE + ROPE]
    std::vector<double> q;
    if (L.attn_q_a) {
      std::vector<double> qa = matmul(*L.attn_q_a, cur, n);  // [n][q_lora]
      for (int64_t t = 0; t < n; ++t) rms_norm(qa.data() + t * hp.q_lora_rank, hp.q_lora_rank, *L.attn_q_a_norm, hp.rms_eps);
      q = matmul(*L.attn_q_b, qa, n);
    } else {
      q = matmul(*L.attn_q, cur, n);
    }
    std::vector<double> kv = matmul(*L.kv_a_mqa, cur, n);  // [n][R + ROPE]
    const int64_t p0 = n_past;
    const auto total = static_cast<size_t>(p0 + n);
    L.c.resize(total * R);
    L.k_pe.resize(total * ROPE);
    L.k_nope.resize(total * H * NOPE);
    L.v.resize(total * H * VH);
    for (int64_t t = 0; t < n; ++t) {
      double* c = L.c.data() + (p0 + t) * R;
      std::copy(kv.begin() + t * (R + ROPE), kv.begin() + t * (R + ROPE) + R, c);
      rms_norm(c, R, *L.kv_a_norm, hp.rms_eps);
      double* kpe = L.k_pe.data() + (p0 + t) * ROPE;
      std::copy(kv.begin() + t * (R + ROPE) + R, kv.begin() + (t + 1) * (R + ROPE), kpe);
      rope(kpe, p0 + t);
      for (int64_t h = 0; h < H; ++h) rope(q.data() + t * H * QH + h * QH + NOPE, p0 + t);
    }
    // Plain MLA: expand the latent of the new positions into per-head k_nope and v.
    const double* c_new = L.c.data() + p0 * R;
    if (hp.legacy_layout) {
      std::vector<double> kvb(static_cast<size_t>(n * H * (NOPE + VH)));
      matmul(*L.kv_b, 0, H * (NOPE + VH), c_new, R, n, kvb.data(), H * (NOPE + VH));
      for (int64_t t = 0; t < n; ++t)
        for (int64_t h = 0; h < H; ++h) {
          const double* src = kvb.data() + t * H * (NOPE + VH) + h * (NOPE + VH);
          std::copy(src, src + NOPE, L.k_nope.data() + ((p0 + t) * H + h) * NOPE);
          std::copy(src + NOPE, src + NOPE + VH, L.v.data() + ((p0 + t) * H + h) * VH);
        }
    } else {
      // attn_k_b: per head [R][NOPE], k_nope[i] = Σ_j K_h[j][i]·c[j];
      // attn_v_b: per head [VH][R], v[d] = Σ_j V_h[d][j]·c[j].
      parallel_for(n, static_cast<double>(n) * H * R * (NOPE + VH), [&](int64_t tb, int64_t te) {
        for (int64_t t = tb; t < te; ++t) {
          const double* c = c_new + t * R;
          for (int64_t h = 0; h < H; ++h) {
            double* kn = L.k_nope.data() + ((p0 + t) * H + h) * NOPE;
            std::fill(kn, kn + NOPE, 0.0);
            for (int64_t j = 0; j < R; ++j) {
              const float* kr = L.k_b->row(h * R + j);
              for (int64_t i = 0; i < NOPE; ++i) kn[i] += static_cast<double>(kr[i]) * c[j];
            }
            double* vv = L.v.data() + ((p0 + t) * H + h) * VH;
            for (int64_t d = 0; d < VH; ++d) vv[d] = dot(L.v_b->row(h * VH + d), c, R);
          }
        }
      });
    }
    // Causal softmax attention of every new position over all cached ones.
    const double kq_scale = hp.kq_scale();
    const bool emulate_mla = opt.emulate_activation_quant && !hp.legacy_layout;
    std::vector<double> o(static_cast<size_t>(n * H * VH));
    parallel_for(n, static_cast<double>(n) * (p0 + n) * H * (QH + VH), [&](int64_t tb, int64_t te) {
      std::vector<double> scores, qn(static_cast<size_t>(NOPE)), olat(static_cast<size_t>(R));
      for (int64_t t = tb; t < te; ++t) {
        const int64_t pos = p0 + t;
        scores.assign(static_cast<size_t>(pos + 1), 0.0);
        for (int64_t h = 0; h < H; ++h) {
          const double* qh = q.data() + t * H * QH + h * QH;
          std::copy(qh, qh + NOPE, qn.begin());
          // llama.cpp multiplies q_nope by attn_k_b (absorbed); Q(q_nope)·(K_hᵀc) equals that.
          if (emulate_mla) quantize_activations_roundtrip(activation_type(*L.k_b), qn.data(), NOPE);
          double mx = -std::numeric_limits<double>::infinity();
          for (int64_t s = 0; s <= pos; ++s) {
            double sc = dot(qn.data(), L.k_nope.data() + (s * H + h) * NOPE, NOPE) +
                        dot(qh + NOPE, L.k_pe.data() + s * ROPE, ROPE);
            scores[static_cast<size_t>(s)] = sc * kq_scale;
            mx = std::max(mx, scores[static_cast<size_t>(s)]);
          }
          double sum = 0;
          for (auto& sc : scores) {
            sc = std::exp(sc - mx);
            sum += sc;
          }
          double* oh = o.data() + (t * H + h) * VH;
          if (emulate_mla) {
            // The absorbed form attends over the latent and multiplies by attn_v_b afterwards.
            std::fill(olat.begin(), olat.end(), 0.0);
            for (int64_t s = 0; s <= pos; ++s) {
              const double p = scores[static_cast<size_t>(s)] / sum;
              const double* cs = L.c.data() + s * R;
              for (int64_t j = 0; j < R; ++j) olat[static_cast<size_t>(j)] += p * cs[j];
            }
            quantize_activations_roundtrip(activation_type(*L.v_b), olat.data(), R);
            for (int64_t d = 0; d < VH; ++d) oh[d] = dot(L.v_b->row(h * VH + d), olat.data(), R);
          } else {
            std::fill(oh, oh + VH, 0.0);
            for (int64_t s = 0; s <= pos; ++s) {
              const double p = scores[static_cast<size_t>(s)] / sum;
              const double* vs = L.v.data() + (s * H + h) * VH;
              for (int64_t d = 0; d < VH; ++d) oh[d] += p * vs[d];
            }
          }
        }
      }
    });
    cur = matmul(*L.attn_output, o, n);
  }

  // One FFN h -> down(silu(gate·h) ⊙ up·h) for a single token, with rows [row0, row0+F) of
  // 3-D expert tensors (row0 = e·F) or of 2-D ones (row0 = 0).
  void ffn_token(const Weight& gate, const Weight& up, const Weight& down, int64_t expert,
                 int64_t F, const double* x, double* out) const {
    std::vector<double> g(static_cast<size_t>(F)), u(static_cast<size_t>(F));
    const int64_t E = hp.n_embd;
    matmul(gate, expert * F, F, x, E, 1, g.data(), F);
    matmul(up, expert * F, F, x, E, 1, u.data(), F);
    for (int64_t i = 0; i < F; ++i) g[static_cast<size_t>(i)] = silu(g[static_cast<size_t>(i)]) * u[static_cast<size_t>(i)];
    matmul(down, expert * E, E, g.data(), F, 1, out, E);
  }

  Routing route(const Layer& L, const double* logits) const {
    const int64_t X = hp.n_expert;
    std::vector<double> p(static_cast<size_t>(X));
    if (hp.gating == Gating::softmax) {
      const double mx = *std::max_element(logits, logits + X);
      double sum = 0;
      for (int64_t e = 0; e < X; ++e) sum += p[static_cast<size_t>(e)] = std::exp(logits[e] - mx);
      for (auto& v : p) v /= sum;
    } else {
      for (int64_t e = 0; e < X; ++e) p[static_cast<size_t>(e)] = 1.0 / (1.0 + std::exp(-logits[e]));
    }
    std::vector<double> sel = p;
    if (L.exp_probs_b)
      for (int64_t e = 0; e < X; ++e) sel[static_cast<size_t>(e)] += static_cast<double>(L.exp_probs_b->data[static_cast<size_t>(e)]);
    if (hp.n_group > 1) {
      const int64_t G = hp.n_group, per = X / G;
      std::vector<std::pair<double, int64_t>> group_score;
      for (int64_t g = 0; g < G; ++g) {
        std::vector<double> s(sel.begin() + g * per, sel.begin() + (g + 1) * per);
        std::sort(s.begin(), s.end(), std::greater<>());
        double score = s[0] + (per > 1 ? s[1] : 0.0);
        group_score.emplace_back(score, g);
      }
      std::stable_sort(group_score.begin(), group_score.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
      for (int64_t k = hp.n_group_used; k < G; ++k) {
        const int64_t g = group_score[static_cast<size_t>(k)].second;
        for (int64_t e = g * per; e < (g + 1) * per; ++e)
          sel[static_cast<size_t>(e)] = -std::numeric_limits<double>::infinity();
      }
    }
    std::vector<int32_t> order(static_cast<size_t>(X));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return sel[static_cast<size_t>(a)] > sel[static_cast<size_t>(b)];
    });
    Routing r;
    r.ids.assign(order.begin(), order.begin() + hp.n_expert_used);
    for (int32_t id : r.ids) r.weights.push_back(p[static_cast<size_t>(id)]);
    if (hp.weights_norm) {
      double sum = std::accumulate(r.weights.begin(), r.weights.end(), 0.0);
      sum = std::max(sum, 6.103515625e-5);
      for (auto& w : r.weights) w /= sum;
    }
    if (hp.weights_scale != 0.0 && hp.weights_scale != 1.0)
      for (auto& w : r.weights) w *= hp.weights_scale;
    return r;
  }

  void ffn(const Layer& L, int il, std::vector<double>& cur, int64_t n, Output& out) const {
    const int64_t E = hp.n_embd;
    std::vector<double> y(static_cast<size_t>(n * E), 0.0);
    if (!L.moe) {
      const int64_t F = hp.n_ff;
      std::vector<double> g = matmul(*L.ffn_gate, cur, n), u = matmul(*L.ffn_up, cur, n);
      for (size_t i = 0; i < g.size(); ++i) g[i] = silu(g[i]) * u[i];
      matmul(*L.ffn_down, 0, E, g.data(), F, n, y.data(), E);
      cur = std::move(y);
      return;
    }
    const int64_t X = hp.n_expert, F = hp.n_ff_exp;
    std::vector<double> logits = matmul(*L.gate_inp, cur, n);  // [n][X]
    std::vector<Routing> routes(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) routes[static_cast<size_t>(t)] = route(L, logits.data() + t * X);
    const double work = static_cast<double>(n) * 3 * E * F * (hp.n_expert_used + hp.n_expert_shared);
    parallel_for(n, work, [&](int64_t tb, int64_t te) {
      std::vector<double> tmp(static_cast<size_t>(E));
      for (int64_t t = tb; t < te; ++t) {
        const double* x = cur.data() + t * E;
        double* yt = y.data() + t * E;
        const Routing& r = routes[static_cast<size_t>(t)];
        for (size_t k = 0; k < r.ids.size(); ++k) {
          ffn_token(*L.gate_exps, *L.up_exps, *L.down_exps, r.ids[k], F, x, tmp.data());
          for (int64_t i = 0; i < E; ++i) yt[i] += r.weights[k] * tmp[static_cast<size_t>(i)];
        }
        if (L.gate_shexp) {
          ffn_token(*L.gate_shexp, *L.up_shexp, *L.down_shexp, 0, F * hp.n_expert_shared, x, tmp.data());
          for (int64_t i = 0; i < E; ++i) yt[i] += tmp[static_cast<size_t>(i)];
        }
      }
    });
    out.routing[il] = std::move(routes);
    cur = std::move(y);
  }

  Output eval(std::span<const int32_t> tokens) {
    const int64_t n = static_cast<int64_t>(tokens.size()), E = hp.n_embd;
    Output out;
    out.n_tokens = n;
    out.n_vocab = hp.n_vocab;
    out.n_embd = E;
    if (n == 0) return out;
    std::vector<double> x(static_cast<size_t>(n * E));
    for (int64_t t = 0; t < n; ++t) {
      const int32_t id = tokens[static_cast<size_t>(t)];
      if (id < 0 || id >= hp.n_vocab)
        throw std::out_of_range("reference eval: token id " + std::to_string(id) +
                                " outside the vocabulary of " + std::to_string(hp.n_vocab));
      const float* row = token_embd->row(id);
      for (int64_t i = 0; i < E; ++i) x[static_cast<size_t>(t * E + i)] = row[i];
    }
    for (int64_t il = 0; il < hp.n_layer; ++il) {
      Layer& L = layers[static_cast<size_t>(il)];
      std::vector<double> cur = x;
      for (int64_t t = 0; t < n; ++t) rms_norm(cur.data() + t * E, E, *L.attn_norm, hp.rms_eps);
      attention(L, cur, n);
      for (size_t i = 0; i < x.size(); ++i) x[i] += cur[i];
      cur = x;
      for (int64_t t = 0; t < n; ++t) rms_norm(cur.data() + t * E, E, *L.ffn_norm, hp.rms_eps);
      ffn(L, static_cast<int>(il), cur, n, out);
      for (size_t i = 0; i < x.size(); ++i) x[i] += cur[i];
    }
    for (int64_t t = 0; t < n; ++t) rms_norm(x.data() + t * E, E, *output_norm, hp.rms_eps);
    out.hidden = x;
    out.logits = matmul(*output, x, n);
    n_past += n;
    return out;
  }
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const gguf::File& file, Options options) {
  auto impl = std::make_unique<Impl>();
  impl->opt = options;
  impl->threads = options.threads > 0 ? options.threads
                                      : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  impl->load(file);
  return Model(std::move(impl));
}

const Hparams& Model::hparams() const { return impl_->hp; }
Output Model::eval(std::span<const int32_t> tokens) { return impl_->eval(tokens); }
int64_t Model::n_past() const { return impl_->n_past; }

void Model::reset() {
  impl_->n_past = 0;
  for (auto& L : impl_->layers) {
    L.k_nope.clear();
    L.k_pe.clear();
    L.v.clear();
    L.c.clear();
  }
}

}  // namespace latent::reference
