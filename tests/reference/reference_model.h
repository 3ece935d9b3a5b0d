// A plain double-precision forward pass of llama.cpp's `deepseek2` architecture (DeepSeek-V2,
// V2-Lite, V3), written in straight loops as the independent truth the engine is tested against.
//
// It shares nothing with engine/model beyond the GGUF reader: weights are dequantized by
// reference_numerics (float values, exactly as ggml dequantizes them) and every product is
// accumulated in double. Attention is the plain (non-absorbed) MLA form: per head
// k = [K_hᵀ·c | k_pe], v = V_h·c from the latent c, for both the current attn_k_b/attn_v_b
// layout and the legacy attn_kv_b layout. YaRN, MoE routing and the rest follow the
// "deepseek2 forward pass as implemented by llama.cpp" section of shared/golden/README.md.
//
// The model keeps its per-layer K/V of every evaluated position, so eval() can be called again
// with further tokens (greedy decoding) without recomputing the prefix.
//
// With Options::emulate_activation_quant, every matmul input is first converted to the
// activation format llama.cpp feeds its kernels for that weight type (Q8_0/Q8_K/F16/BF16, see
// quantize_activations_roundtrip), including the absorbed attention's q_nope (for attn_k_b) and
// attention output latent (for attn_v_b). For Q4_1/Q5_1 weights the min term uses the exact sum
// of the Q8_1 activations (as engine/quant does); ggml rounds that sum to fp16 first.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace latent::reference {

enum class Gating { softmax, sigmoid };

struct Hparams {
  int64_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0;
  int64_t q_lora_rank = 0;  // 0: plain attn_q
  int64_t kv_lora_rank = 0, qk_nope = 0, qk_rope = 0, v_head = 0;
  bool legacy_layout = false;  // attn_kv_b instead of attn_k_b/attn_v_b
  int64_t n_ff = 0, n_ff_exp = 0, n_dense_lead = 0;
  int64_t n_expert = 0, n_expert_used = 0, n_expert_shared = 0;
  int64_t n_group = 1, n_group_used = 1;
  Gating gating = Gating::softmax;
  bool weights_norm = false;
  double weights_scale = 0;  // 0 or 1: no scaling
  double rms_eps = 1e-6;
  double rope_base = 10000;
  bool yarn = false;
  double rope_factor = 1;         // s
  double rope_orig_ctx = 0;       // L0
  double yarn_log_multiplier = 0; // 0.1 · mscale_all_dim

  // Derived (see the README's YaRN section).
  double kq_scale() const;
};

// Reads the hyperparameters of a deepseek2 GGUF. Throws gguf::Error naming the missing key.
Hparams read_hparams(const gguf::File& file);

struct Routing {
  std::vector<int32_t> ids;      // selection order (descending selection score)
  std::vector<double> weights;   // final multipliers (after normalisation and scale)
};

struct Output {
  int64_t n_tokens = 0, n_vocab = 0, n_embd = 0;
  std::vector<double> logits;  // [n_tokens][n_vocab]
  std::vector<double> hidden;  // [n_tokens][n_embd], output_norm output
  // layer index -> one Routing per token (MoE layers only)
  std::map<int, std::vector<Routing>> routing;

  std::span<const double> logits_row(int64_t t) const {
    return {logits.data() + t * n_vocab, static_cast<size_t>(n_vocab)};
  }
  std::span<const double> hidden_row(int64_t t) const {
    return {hidden.data() + t * n_embd, static_cast<size_t>(n_embd)};
  }
};

class Model {
 public:
  struct Options {
    bool emulate_activation_quant = false;  // see the file comment
    // With emulation: round inputs of F16/BF16-weight matmuls to F16/BF16 as llama.cpp does.
    // An engine that widens such weights to f32 instead is matched with false.
    bool round_f16_activations = true;
    int threads = 0;                        // 0: std::thread::hardware_concurrency()
  };

  // Dequantizes every weight of the file (kept as float; about 4 bytes per parameter).
  // Throws gguf::Error / std::invalid_argument naming the tensor on a missing tensor, a wrong
  // shape or an unsupported type.
  static Model load(const gguf::File& file, Options options);
  static Model load(const gguf::File& file) { return load(file, Options{}); }

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const Hparams& hparams() const;

  // Evaluates tokens at positions n_past() .. n_past()+n-1 and appends them to the cache.
  Output eval(std::span<const int32_t> tokens);
  int64_t n_past() const;
  void reset();

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Index of the largest value (the first on ties).
int64_t argmax(std::span<const double> v);

}  // namespace latent::reference
