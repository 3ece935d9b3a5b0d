// The two narrow interfaces the server needs from the rest of Latent, so that the server, its
// tests and the CLI depend on what they use and nothing more:
//  - Generator: text generation with a model (FIM prompts for completions, chat for questions),
//    streamed, cancellable. Implemented over engine/api (engine_generator.h); a remote
//    OpenAI-compatible implementation can sit behind the same interface.
//  - WorkspaceIndex: one workspace folder's repository index (indexing with progress,
//    retrieval, completion context). Implemented over indexer/ (indexer_workspace.h).
// Both are used from worker threads; their callbacks may run on any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/options.h"

namespace latent::daemon {

struct ModelDescription {
  std::string name;
  std::string path;
  std::string backend;      // the backend in use ("auto" resolved)
  std::string chat_format;  // "plain" when the model has no known chat template
  bool fim = false;         // has fill-in-the-middle tokens
  int32_t context_length = 0;
  std::vector<std::string> warnings;  // what the engine works around (engine::ModelInfo::warnings)
};

struct GenerationRequest {
  enum class Kind { Fim, Chat, Text };
  Kind kind = Kind::Fim;
  std::string prefix, suffix;                                 // Fim
  std::vector<std::pair<std::string, std::string>> messages;  // Chat: (role, content)
  std::string text;  // Text: the prompt as given (special tokens parsed, BOS as the model says)
  int32_t max_tokens = 64;
  bool interactive = true;  // an editor completion: runs ahead of questions
  // Sampling; temperature 0 is greedy (the editor's completions and questions).
  float temperature = 0;
  float top_p = 1;
  uint64_t seed = 0;
  std::vector<std::string> stop;  // the reply ends before the first of these (never included)
};

// Requests the model is running and holding back, for latent/status.
struct GeneratorLoad {
  int64_t live = 0;
  int64_t queued = 0;
};

struct GenerationEnd {
  enum class Reason { Stop, Length, Cancelled, Error };
  Reason reason = Reason::Stop;
  std::string error;
  int32_t prompt_tokens = 0;
  int32_t cached_tokens = 0;
  int32_t generated_tokens = 0;
};

// A remote engine's state for latent/status (daemon/remote).
struct RemoteHealth {
  std::string url;
  std::string fim_template;      // the prompt layout in use for completions
  uint64_t requests = 0;
  uint64_t errors = 0;           // requests that ended in an error
  double last_latency_ms = 0;    // request sent to first text, of the latest request that had text
  std::string last_error;
};

class Generator {
 public:
  virtual ~Generator() = default;
  virtual const ModelDescription& model() const = 0;
  // Starts a generation. on_text receives the reply in order and on_end runs exactly once,
  // both on an engine thread. Throws std::runtime_error (naming what to fix) for a request the
  // model cannot run; then neither callback runs.
  virtual uint64_t start(const GenerationRequest& request, std::function<void(std::string_view)> on_text,
                         std::function<void(const GenerationEnd&)> on_end) = 0;
  // Thread-safe, also from inside on_text; unknown ids are ignored.
  virtual void cancel(uint64_t id) = 0;
  virtual size_t count_tokens(std::string_view text) const = 0;
  virtual GeneratorLoad load() const = 0;
  // Why the model's file can no longer be used (changed on disk since it was opened); empty
  // while it is intact. Thread-safe and cheap (one stat()).
  virtual std::string model_file_problem() const { return ""; }
  // Set for a remote engine.
  virtual std::optional<RemoteHealth> remote() const { return std::nullopt; }
};

// Opens the model that the options name. Throws std::runtime_error with an actionable message.
using GeneratorFactory = std::function<std::unique_ptr<Generator>(const Options& options)>;

struct RetrievedSource {
  std::string path;  // relative to the workspace root
  uint32_t line = 0, end_line = 0;  // 1-based, inclusive
  std::string symbol;
  double score = 0;
  std::string text;
};

struct IndexProgress {
  uint64_t files_found = 0;
  uint64_t files_done = 0;
  bool walk_done = false;
};

struct IndexRun {
  uint64_t files_checked = 0;  // files the walk found
  uint64_t files_total = 0;    // in the index after the run
  uint64_t files_indexed = 0;
  uint64_t files_skipped = 0;  // left out by rule (binary, generated, minified, too large)
  uint64_t files_removed = 0;
  uint64_t problems = 0;       // could not be read or parsed cleanly
  bool cancelled = false;
  double seconds = 0;
};

class WorkspaceIndex {
 public:
  virtual ~WorkspaceIndex() = default;  // commits pending writes
  // Brings the index up to date (blocking; call on a worker). Throws std::runtime_error.
  virtual IndexRun index(const std::function<void(const IndexProgress&)>& progress, const std::atomic<bool>* cancel) = 0;
  // Re-reads one file (absolute path inside the root) after it changed or vanished on disk.
  virtual void update_file(const std::filesystem::path& path) = 0;
  virtual std::vector<RetrievedSource> search(std::string_view query, size_t limit) const = 0;
  // Repository context for a completion at (line, column), 1-based, in `path` whose unsaved
  // text is `content`, within `budget_tokens`; the current file itself is not included.
  virtual std::string completion_context(const std::filesystem::path& path, std::string_view content, uint32_t line,
                                         uint32_t column, size_t budget_tokens) const = 0;
  virtual uint64_t file_count() const = 0;
};

using TokenCounter = std::function<size_t(std::string_view)>;
// Opens (creating) the index of a workspace folder. Throws std::runtime_error.
using IndexFactory = std::function<std::unique_ptr<WorkspaceIndex>(const std::filesystem::path& root, TokenCounter count)>;

}  // namespace latent::daemon
