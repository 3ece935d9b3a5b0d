// Model and Context: the DeepSeek-V2/V3 ("deepseek2" GGUF architecture) forward pass that the
// rest of the engine builds on.
//
// A Model is the loaded, validated weights (memory-mapped GGUF, used in place) plus the backend
// that runs them. A Context holds sequences and their latent attention caches; evaluate() runs
// one batch made of several sequences' new tokens (prefill chunks and single decode tokens mixed)
// and returns logits for the tokens that asked for them. Numerics follow llama.cpp's CPU backend
// (shared/golden/README.md): MLA in absorbed form over a latent cache `[c_kv | k_pe]`, YaRN rope,
// DeepSeekMoE routing with softmax or sigmoid gating, group limits, bias, normalisation, scale.
//
// Threading: evaluate() calls on Contexts of one Model are serialized (they share the backend's
// worker pool and scratch memory), and so are the calls that touch the latent store's pages
// (backend memory): free_sequence, reuse_prefix, truncate. A Context's calls must not race with
// each other.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"
#include "gguf/gguf.h"

namespace latent::model {

// Loading or evaluation failed; the message names the file, tensor, key or sequence.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Element type of the latent cache rows `[c_kv | k_pe]`. F32 reproduces llama.cpp's golden
// logits (they were computed with an F32 cache). F16 halves the cache at a logit cost like
// llama.cpp's default F16 KV cache (the serving default, chosen by engine/api). BF16 keeps F32's
// range with 8 mantissa bits. Q8_0 is ggml's block of 32 int8 with an fp16 scale (8.5 bits a
// value); like llama.cpp's quantized K cache it needs kv_lora_rank and qk_rope_head_dim to be
// multiples of 32, so that a block never mixes the normalized latent with the rope key.
// tests/model/model_cache_type_test.cpp measures each type's logit error on the golden models.
enum class CacheType { F32, F16, BF16, Q8_0 };

// "f32", "f16", "bf16", "q8_0" (llama.cpp's --cache-type-k spelling).
std::string_view cache_type_name(CacheType type);
// The inverse of cache_type_name; throws Error listing the accepted names.
CacheType parse_cache_type(std::string_view name);
// The ggml element type the cache rows are stored in.
gguf::TensorType cache_tensor_type(CacheType type);
// Bytes of one cache row of `width` values. Throws Error when width does not split into Q8_0's
// blocks of 32.
size_t cache_row_bytes(CacheType type, int64_t width);

// Attention form. Absorbed: attention against the latent cache (the fast decode path, what
// llama.cpp computes for MLA files). Plain: K and V decompressed per head from the same cache
// (fewer operations per query and key, but the decompression of every cached row is paid per
// step; keeps an F32 transposed copy of attn_k_b for MLA-layout files). Auto: per micro-batch
// segment, whichever costs fewer operations (use_plain_mla): plain for long prefill chunks,
// absorbed for decode; on the CPU backend only (other backends run Absorbed). Legacy files
// (attn_kv_b) keep an F32 per-head attn_k_b for the absorbed form instead.
enum class MlaMode { Absorbed, Plain, Auto };

using Gating = backend::Gating;

// Hardware threads of this machine (at least 1).
int default_thread_count();

struct Options {
  // CPU worker threads; 0 runs every operation on the calling thread (deterministic tests).
  int threads = default_thread_count();
  // "cpu" (the reference) or "vulkan" (backend::backend_names() lists this build's).
  std::string backend = "cpu";
  // GPU backends: the device index of `latent devices`; -1 picks the best device.
  int device = -1;
  // GPU backends: how many of the first layers run on the device, the rest (and the embeddings
  // and LM head) on the CPU: partial offload for a model the device cannot hold. -1 offloads as
  // many as fit in 90% of the device's free memory (all when they fit).
  int gpu_layers = -1;
  // Latent cache element type of the Context's private store (a shared store passed to Context
  // has its own). F32 here, the exact reference; the serving engine picks F16.
  CacheType cache_type = CacheType::F32;
  // Most tokens one sequence may hold; 0 = the model's context_length. Larger is an error.
  int64_t n_ctx = 0;
  MlaMode mla = MlaMode::Auto;
  // Tokens evaluated per internal step: evaluate() splits larger batches (bounds scratch memory).
  int64_t max_batch_tokens = 512;
};

// Hyperparameters as read from deepseek2.* metadata (names follow llama.cpp's llama_hparams).
struct HParams {
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;     // context_length
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_layer_dense_lead = 0;  // the first layers have a dense FFN, the others MoE
  int64_t n_ff = 0;                // dense FFN width
  float rms_eps = 1e-6f;

  // Multi-head latent attention.
  bool is_mla = true;           // key_length_mla present: attn_k_b/attn_v_b layout
  int64_t q_lora_rank = 0;      // 0: plain attn_q (V2-Lite); else attn_q_a/attn_q_b
  int64_t kv_lora_rank = 0;
  int64_t qk_nope = 0;          // per-head non-rotated query/key dims
  int64_t qk_rope = 0;          // rope dims (rope.dimension_count), one key head shared by all
  int64_t v_head = 0;           // per-head value dims
  float kq_scale = 0;           // mscale^2 / sqrt(qk_nope + qk_rope)

  // Rope and YaRN.
  float rope_freq_base = 10000;
  float rope_freq_scale = 1;    // 1 / rope.scaling.factor
  bool rope_yarn = false;
  int64_t rope_n_ctx_orig = 0;
  float rope_yarn_log_mul = 0;  // rope.scaling.yarn_log_multiplier (0.1 * mscale_all_dim)

  // DeepSeekMoE.
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_expert_shared = 0;
  int64_t n_ff_exp = 0;         // width of one routed expert; shared FFN is n_ff_exp * n_shared
  int64_t n_expert_groups = 1;
  int64_t n_group_used = 1;
  Gating gating = Gating::Softmax;
  bool expert_weights_norm = false;
  float expert_weights_scale = 1.0f;

  int64_t latent_width() const { return kv_lora_rank + qk_rope; }  // cache values per token and layer
  bool is_moe_layer(int64_t il) const { return il >= n_layer_dense_lead; }
  int64_t n_moe_layers() const { return n_layer - n_layer_dense_lead; }
};

class Weights;       // model/weights.h
class Placement;     // model/scheduler.h
class ForwardCache;  // model/forward.h
struct Architecture;  // model/arch.h

// The backend running a run of consecutive layers, whose memory holds their latent rows.
struct LayerPlacement {
  std::shared_ptr<backend::Backend> backend;
  int64_t n_layers = 0;
};

class Model {
 public:
  // Maps and validates the file. Throws Error naming the file and what is wrong (another
  // architecture, a missing key or tensor, a tensor of the wrong shape or an unsupported type).
  static std::shared_ptr<Model> load(const std::filesystem::path& path, const Options& options = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const HParams& hparams() const { return hp_; }
  int64_t n_vocab() const { return hp_.n_vocab; }
  int64_t n_embd() const { return hp_.n_embd; }
  int64_t n_ctx() const { return n_ctx_; }  // per-sequence limit (Options.n_ctx or the model's)
  const Options& options() const { return options_; }
  // The GGUF file: tokenizer metadata (tokenizer.ggml.*), general.name, and so on.
  const gguf::File& file() const { return *file_; }
  // The backend Options.backend named. With partial offload some layers, the embeddings and
  // the LM head run on a CPU backend instead (placement()).
  backend::Backend& backend() const { return *backend_; }
  // Which backend runs (and holds the weights and latent rows of) each layer.
  const Placement& placement() const { return *placement_; }
  const Weights& weights() const { return *weights_; }
  const Architecture& architecture() const { return *arch_; }
  // The forward graphs built so far, by micro-batch shape (used under the evaluation lock).
  ForwardCache& forward_cache() const { return *graphs_; }

 private:
  Model() = default;
  friend class Context;
  Options options_;
  HParams hp_;
  int64_t n_ctx_ = 0;
  std::unique_ptr<gguf::File> file_;
  std::shared_ptr<backend::Backend> backend_;
  std::shared_ptr<backend::Backend> host_;  // CPU backend of a partial offload, else null
  std::unique_ptr<Placement> placement_;
  const Architecture* arch_ = nullptr;
  std::unique_ptr<Weights> weights_;
  std::unique_ptr<ForwardCache> graphs_;
  std::mutex eval_mutex_;  // serializes the Contexts' use of the shared backends
};

using SeqId = int32_t;

// New tokens of one or more sequences. Each token is appended to its sequence's cache at the
// next position; a sequence's tokens keep their order within the batch.
struct Batch {
  struct Token {
    SeqId seq = 0;
    int32_t id = 0;
    bool logits = false;  // return this token's logits (and hidden state)
  };
  std::vector<Token> tokens;

  void add(SeqId seq, int32_t id, bool logits) { tokens.push_back({seq, id, logits}); }
  void clear() { tokens.clear(); }
  size_t size() const { return tokens.size(); }
};

struct EvalFlags {
  bool hidden = false;   // fill Outputs::hidden
  bool routing = false;  // fill Outputs::expert_ids / expert_weights
  // When > 0: fill Outputs::argmax with each row's argmax over logits [0, argmax_vocab) and
  // leave Outputs::logits empty. The backend reduces the rows where it computed them, so a
  // greedy step reads back one id per row instead of n_vocab floats. At most n_vocab (a
  // tokenizer's vocabulary may be shorter than the LM head's rows).
  int64_t argmax_vocab = 0;
};

struct Outputs {
  // Rows are the batch's tokens with logits = true, in batch order.
  int64_t n_rows = 0;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  std::vector<float> logits;   // [n_rows][n_vocab]; empty with EvalFlags::argmax_vocab
  // [n_rows]: the index of each row's largest logit below EvalFlags::argmax_vocab, as
  // sample::argmax picks it (lowest index among equals); empty without argmax_vocab.
  std::vector<int32_t> argmax;
  std::vector<float> hidden;   // [n_rows][n_embd], output_norm's output (EvalFlags::hidden)
  // MoE routing of every batch token (EvalFlags::routing), in selection order:
  int64_t n_tokens = 0;               // batch size
  std::vector<int32_t> expert_ids;    // [n_moe_layers][n_tokens][n_expert_used]
  std::vector<float> expert_weights;  // same shape; final multipliers (normalised, scaled)

  const float* logits_row(int64_t r) const { return logits.data() + r * n_vocab; }
};

class LatentStore;  // model/latent_cache.h

class Context {
 public:
  // The latent cache defaults to a private paged store; pass one to share pages (engine/kv).
  explicit Context(std::shared_ptr<Model> model, std::shared_ptr<LatentStore> store = nullptr);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const Model& model() const { return *model_; }

  SeqId create_sequence();
  void free_sequence(SeqId seq);
  // Tokens held in the sequence's cache (the position of its next token).
  int64_t sequence_length(SeqId seq) const;
  // Keeps the first n_tokens of the sequence's cache (prefix reuse); n_tokens <= length.
  void truncate(SeqId seq, int64_t n_tokens);
  // For an empty sequence: takes the longest prefix of `tokens` the latent store has cached
  // (evaluated before, by any sequence or an earlier process) and returns its length; evaluate
  // continues after it. Keep the last prompt token out of `tokens` to get its logits.
  int64_t reuse_prefix(SeqId seq, std::span<const int32_t> tokens);
  // The sequence's first tokens.size() cached rows are these tokens: lets later sequences reuse them.
  void publish(SeqId seq, std::span<const int32_t> tokens);

  // Runs the batch and appends its tokens to their sequences. Throws Error on an unknown
  // sequence, a token id outside the vocabulary, or a sequence that would exceed n_ctx; the
  // caches are unchanged then.
  void evaluate(const Batch& batch, Outputs& out, const EvalFlags& flags = {});

 private:
  void run_micro_batches(const Batch& batch, const std::vector<int64_t>& grouped,
                         const std::vector<int64_t>& out_row, const EvalFlags& flags, Outputs& out);

  struct Impl;
  std::shared_ptr<Model> model_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace latent::model
