// The engine's one public API: open a model, submit generation requests, stream their tokens,
// cancel them, read their statistics. Everything outside engine/ (latentd, the `latent` CLI)
// talks to inference only through this header.
//
// An Engine owns one scheduler thread. Each scheduler step evaluates one batch that holds the
// next token of every live request in its decode phase plus at most `prefill_chunk` prompt
// tokens of prefilling requests, highest priority first (continuous batching with chunked
// prefill), so a new prompt never stalls running decodes for longer than one chunk. Higher priorities go first: while a request of higher
// priority than others is prefilling, lower-priority decodes wait, so an editor completion gets
// its first token ahead of a running repository question; afterwards both decode together.
// When every slot (max_live_requests) is taken, a waiting request preempts the lowest-priority
// live one if it outranks it; the preempted request later resumes where it stopped.
//
// Callbacks run on the scheduler thread, in token order per request; they must return quickly
// (post to another thread, e.g. with uv_async_send); they may call cancel() and submit(), never
// wait_idle() or the destructor (the scheduler would wait for itself). Cancellation is a
// flag checked before every token: after cancel() returns, at most one more token of that
// request (one already being delivered) is streamed, and none when cancel() is called from that
// request's own on_token callback. Every accepted request gets exactly one on_done call; a
// submit() that throws never calls either callback.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sample/sample.h"

namespace latent::engine {

// A failure the caller can act on: a model that cannot be opened, an invalid request. The
// message names the file, the option or the request field and what to do.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct EngineOptions {
  std::filesystem::path model_path;  // a deepseek2 GGUF file
  std::string backend = "cpu";       // "cpu", "vulkan" (MachineInfo::backends lists the build's) or "auto"
  int device = -1;                   // GPU backends: device index of `latent devices`; -1 the best one
  int gpu_layers = -1;               // GPU backends: first layers on the device; -1 as many as fit
  int threads = 0;                   // backend worker threads; 0: all hardware threads
  // Latent KV cache element type: "f16" (half the bytes of f32; golden-model logit cost in
  // tests/model/model_cache_type_test.cpp), "f32", "bf16" or "q8_0".
  std::string cache_type = "f16";
  int32_t context_length = 0;        // tokens per sequence (prompt + reply); 0: the model's own
  int32_t max_live_requests = 8;     // decoded together; further requests wait in the queue
  int32_t prefill_chunk = 256;       // most prompt tokens evaluated in one scheduler step
  // Prefix reuse through the paged latent KV store (engine/kv): a prompt that starts like an
  // earlier one (same model) evaluates only the rest; RequestStats::cached_tokens says how much.
  bool prefix_cache = true;
  bool disk_cache = true;            // keep evicted pages on disk, so a restart reuses them
  std::filesystem::path cache_dir;   // empty: $XDG_CACHE_HOME/latent/kv, else ~/.cache/latent/kv
  uint64_t cache_memory_bytes = 0;   // in-memory pages; 0: a quarter of free memory, at most 8 GiB
  // Receives warnings (e.g. an unrecognised chat template); empty: they go to stderr.
  std::function<void(std::string_view)> log;
};

// Larger runs first (see the top of this file).
enum class Priority : int32_t { background = 0, question = 1, completion = 2 };

struct StopRules {
  // The reply ends before the first occurrence of any of these; the stop string itself and
  // anything after it are never streamed. Text that could still become a stop string is held
  // back until it is decided.
  std::vector<std::string> strings;
  // The reply ends when one of these tokens is sampled; the token is not streamed.
  std::vector<int32_t> tokens;
  // The model's end-of-sequence / end-of-turn tokens end the reply (off only for benchmarks).
  bool end_of_generation = true;
};

struct Request {
  // The prompt: `tokens` as given when non-empty; otherwise `text`, tokenized with special
  // tokens parsed and BOS added as the model's metadata says.
  std::vector<int32_t> tokens;
  std::string text;
  sample::SamplingParams sampling;  // defaults: greedy
  StopRules stop;
  int32_t max_tokens = 256;         // most tokens generated; the context length also ends a reply
  Priority priority = Priority::question;
};

using RequestId = uint64_t;

// One streamed token. `text` is the part of the reply that became final with this token: only
// whole UTF-8 characters (a character split across tokens arrives with the token completing
// it), with possible stop-string prefixes held back, so a piece may be empty. Concatenating the
// pieces of a request gives its reply. `token` is -1 for the final flush of held-back text.
// Special tokens (control and added ones) never contribute text (text_stream.h, reply_piece).
struct TokenPiece {
  int32_t token = -1;
  std::string text;
};

enum class FinishReason {
  length,     // max_tokens or the context length reached
  stop,       // a stop string, a stop token or the model's end of generation
  cancelled,  // cancel() or the engine shutting down
  error,      // see Finished::error
};
std::string_view finish_reason_name(FinishReason r);  // "length", "stop", "cancelled", "error"

struct RequestStats {
  int32_t prompt_tokens = 0;
  int32_t cached_tokens = 0;      // prompt tokens reused from the KV store instead of evaluated
  int32_t generated_tokens = 0;   // tokens sampled, including a final stop token
  double queue_s = 0;             // submit() to the first evaluation of this request
  double time_to_first_token_s = 0;  // submit() to the first sampled token
  double prefill_tokens_per_s = 0;   // evaluated prompt tokens / prefill wall time
  double decode_tokens_per_s = 0;    // tokens after the first / time from first to last token
  double total_s = 0;                // submit() to on_done
};

struct Finished {
  RequestId id = 0;
  FinishReason reason = FinishReason::stop;
  std::string error;           // for FinishReason::error: what failed and what to do
  std::string stop_string;     // the stop string that matched, if any
  std::vector<int32_t> tokens; // generated token ids (a final stop token included)
  RequestStats stats;
};

using OnToken = std::function<void(const TokenPiece&)>;
using OnDone = std::function<void(const Finished&)>;

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ModelInfo {
  std::string name;          // general.name, or the file name
  std::string architecture;  // "deepseek2"
  int32_t context_length = 0;  // tokens per sequence this engine serves
  int32_t vocab_size = 0;
  bool fim = false;            // the vocabulary has DeepSeek-Coder's FIM tokens
  std::string backend;         // the backend it runs on ("auto" resolved)
  std::string chat_format;     // recognised template: "deepseek-v2", "deepseek-v3",
                               // "deepseek-coder" or "plain" (unknown or absent template)
  // What the engine works around, e.g. the KV cache's disk tier turned off because its
  // directory cannot be created. Each is also passed to EngineOptions::log once.
  std::vector<std::string> warnings;
};

struct EngineStats {
  int32_t live_requests = 0;     // being prefilled or decoded
  int32_t queued_requests = 0;   // accepted, waiting for a slot
  uint64_t steps = 0;            // scheduler steps (batches evaluated)
  uint64_t prompt_tokens_evaluated = 0;
  uint64_t prompt_tokens_cached = 0;   // taken from the KV store instead of evaluated
  uint64_t tokens_generated = 0;
  uint64_t preemptions = 0;      // live requests sent back to the queue for a higher priority
};

class Engine {
 public:
  virtual ~Engine() = default;  // cancels live requests (their on_done runs) and joins

  virtual const ModelInfo& model_info() const = 0;

  // Queues a request. Thread-safe. Throws Error for an invalid request (empty prompt, prompt
  // longer than the context, bad sampling values, max_tokens < 1); then no callback runs.
  virtual RequestId submit(Request request, OnToken on_token, OnDone on_done) = 0;
  // Thread-safe; unknown or finished ids are ignored.
  virtual void cancel(RequestId id) = 0;
  virtual EngineStats stats() const = 0;
  // Blocks until no request is queued or live (tests, benchmarks, shutdown).
  virtual void wait_idle() = 0;
  // Why the model file can no longer be trusted: it was deleted, replaced, resized or modified
  // on disk since it was opened, or it shrank under a read (which then saw zeros instead of
  // crashing the process with SIGBUS); empty while intact. One stat() call, thread-safe. Once
  // it is not empty, submit() throws Error and replies already running may be garbage: open
  // the engine again. An engine without a local file (a remote server) never reports one.
  virtual std::string model_file_problem() const { return ""; }

  // Tokenizer access, thread-safe and independent of the scheduler.
  virtual std::vector<int32_t> tokenize(std::string_view text, bool add_bos, bool parse_special) const = 0;
  virtual std::string detokenize(std::span<const int32_t> tokens) const = 0;
  // Tokens of `text` without BOS, special tokens not parsed: the indexer's token counter.
  virtual size_t count_tokens(std::string_view text) const = 0;

  // Fill-in-the-middle prompt for DeepSeek-Coder models:
  //   [BOS] <｜fim▁begin｜>prefix<｜fim▁hole｜>suffix<｜fim▁end｜>
  // The reply is the middle; it ends with the model's end of sequence. Throws Error when the
  // vocabulary has no FIM tokens (ModelInfo::fim is false).
  virtual std::vector<int32_t> fim_tokens(std::string_view prefix, std::string_view suffix) const = 0;
  // The conversation rendered in the model's chat format (ModelInfo::chat_format), ending with
  // the assistant's turn opened so that the reply follows. Throws Error on an unknown role.
  virtual std::vector<int32_t> chat_tokens(std::span<const ChatMessage> messages) const = 0;
};

// What this build and machine offer for inference, for `latent doctor` and the "auto" backend.
struct GpuDevice {
  int index = 0;              // what EngineOptions::device takes (`latent devices`)
  std::string name;
  std::string type;           // "discrete", "integrated", "virtual", "cpu" (e.g. lavapipe), "other"
  uint64_t memory_bytes = 0;  // largest device-local heap
  uint64_t free_bytes = 0;    // the driver's budget left there; 0 where it does not say
};
struct MachineInfo {
  std::string cpu_kernels;         // quantized dot kernels chosen for this CPU: "avx512", "avx2", "scalar"
  std::string backends;            // backends built in: "cpu" or "cpu, vulkan"
  std::vector<GpuDevice> gpus;     // Vulkan devices (none without the Vulkan backend)
  std::string gpu_problem;         // why there are none, when Vulkan is built in
  uint64_t memory_available = 0;   // host memory available now (MemAvailable)
};
MachineInfo machine_info();
// The backend the name stands for: "auto" is "vulkan" when a discrete or integrated GPU is
// present (a CPU-emulated Vulkan device such as lavapipe does not count), else "cpu"; any other
// name is returned as it is.
std::string resolve_backend(std::string_view name);

// Opens the model and starts the scheduler thread. Throws Error naming the file and the reason
// (missing file, not a deepseek2 model, unsupported backend or cache type).
std::unique_ptr<Engine> open_engine(const EngineOptions& options);

}  // namespace latent::engine
