// Test-model generator: writes valid `deepseek2` GGUF files of any shape with seeded random
// weights, for tests and benchmarks (`latent make-model`).
//
// Files follow llama.cpp's converter (convert_hf_to_gguf.py, DeepseekV2Model) key for key:
// the current MLA layout (attn_k_b / attn_v_b, key_length_mla) or the legacy attn_kv_b layout,
// plain attn_q or q-LoRA (attn_q_a / attn_q_a_norm / attn_q_b), softmax or sigmoid gating with
// exp_probs_b, expert groups, weight normalisation and scale, YaRN keys.
//
// Weights are generated as shared/golden/README.md describes for its models: every value is
// k·2^e with |k| ≤ 15 and one power-of-two step per tensor, roughly Gaussian with std
// 1/sqrt(fan_in) for projections, 1 for token_embd, logit_gain/sqrt(n_embd) for output (peaked
// logits), router_gain/sqrt(n_embd) for the router, norms 1 ± small steps, exp_probs_b 0.25.
// Such values are exact in F16 and BF16, so a seed gives identical weights in F32/F16/BF16.
// Each tensor's values depend only on (seed, tensor name, element index): the output is
// deterministic and independent of the thread count, and a legacy-layout file holds exactly the
// weights of its MLA-layout twin (attn_kv_b is assembled from the attn_k_b / attn_v_b values).
//
// Quantized files mirror llama-quantize: a plain type T (`Q8_0`, `Q4_K`, ...) is `--pure` T,
// a mix (`Q4_K_M`, `Q5_K_M`) follows llama.cpp's per-tensor choices (output Q6_K, more bits
// for ffn_down and attn_kv_b of the use_more_bits layers); tensors whose rows are not a
// multiple of the block size fall back as llama.cpp does (Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0,
// then F16). 1-D tensors, ffn_gate_inp and exp_probs_b stay F32.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace latent::testmodel {

struct Shape {
  std::string name = "test-model";  // general.name
  int64_t n_vocab = 32256;
  int64_t n_embd = 256;
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t q_lora_rank = 0;  // 0: plain attn_q (V2-Lite); > 0: attn_q_a / attn_q_b (V2, V3)
  int64_t kv_lora_rank = 128;
  int64_t qk_nope = 64;
  int64_t qk_rope = 32;
  int64_t v_head = 64;
  int64_t n_ff = 768;        // dense layers
  int64_t n_ff_exp = 192;    // each routed expert; shared experts are n_expert_shared times wider
  int64_t n_expert = 16;
  int64_t n_expert_used = 4;
  int64_t n_expert_shared = 2;
  int64_t n_dense_lead = 1;
  int64_t n_group = 1;
  int64_t n_group_used = 1;
  bool sigmoid_gating = false;  // false: softmax (expert_gating_func 1); true: sigmoid (2)
  bool exp_probs_b = false;     // selection bias tensor (V3)
  bool weights_norm = false;
  float weights_scale = 1.0f;
  uint32_t context_length = 1024;
  float rope_base = 10000.0f;
  float rms_eps = 1e-6f;
  float rope_factor = 4.0f;         // YaRN keys are written when > 1
  uint32_t rope_orig_ctx = 256;
  float yarn_log_multiplier = 0.0707f;  // 0.1 · mscale_all_dim
  bool legacy_layout = false;       // attn_kv_b instead of attn_k_b / attn_v_b
  float logit_gain = 6.0f;
  float router_gain = 2.0f;
};

// Built-in shapes: "deepseek-coder-v2-lite" (the real model's dimensions, 27 layers),
// "ds2-lite-tiny" and "ds3-tiny" (the golden models' hyperparameters). Throws
// std::invalid_argument listing the names for an unknown one.
Shape preset(std::string_view name);
std::vector<std::string> preset_names();

struct Progress {
  size_t tensor_index = 0, n_tensors = 0;
  std::string tensor;
  uint64_t params_done = 0, params_total = 0;
};

struct Options {
  Shape shape;
  // F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, or the mixes Q4_K_M, Q5_K_M.
  std::string type = "F32";
  uint64_t seed = 1;
  // Tokenizer metadata source: a .gguf (its tokenizer.* keys are copied verbatim) or a Hugging
  // Face tokenizer.json. Empty: no tokenizer keys (token ids only). With a source, n_vocab is
  // the source's vocabulary size.
  std::filesystem::path vocab_from;
  int threads = 0;  // 0: all cores
  std::function<void(const Progress&)> progress;  // called before each tensor
};

struct Summary {
  size_t n_tensors = 0;
  uint64_t n_bytes = 0;   // tensor data
  uint64_t n_params = 0;
  int64_t n_vocab = 0;
  std::map<std::string, size_t> tensors_per_type;  // "Q4_K" -> count
};

// The type a tensor gets in a file of `file_type` (see the file comment). n_layer is the
// model's block count; the layer is parsed from the name ("blk.<il>.").
gguf::TensorType tensor_type_for(std::string_view file_type, std::string_view name,
                                 std::span<const int64_t> ne, int64_t n_layer);

// Checks the shape and type; throws std::invalid_argument naming the bad field.
void validate(const Options& options);

// Builds the whole file in memory.
gguf::Writer build(const Options& options, Summary* summary = nullptr);
// build() + write (atomically). Throws gguf::Error / std::invalid_argument.
Summary write(const Options& options, const std::filesystem::path& out);

}  // namespace latent::testmodel
