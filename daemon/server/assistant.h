// The protocol-free server API: workspaces and their indexes, inline completions, repository
// questions and status, in terms of paths, UTF-8 text and byte offsets. The LSP layer
// (lsp_session.h), the `latent` CLI and the tests all drive this class.
//
// Threads: every method is called on the event loop's thread and every callback runs there.
// Blocking work (opening the model, indexing, retrieval, context assembly) runs on
// Options::workers worker threads (0: inline on the loop thread, for deterministic tests); the
// engine streams on its own thread; results come back through EventLoop::post.
//
// Completions: a request waits Options::debounce_ms, then builds its prompt (repository
// context + the file around the cursor as FIM), runs the model under the stop rules
// (stop_rules.h) and answers with the text to insert at the cursor. A newer request for the
// same document supersedes the older one (answered ContentModified, its engine run cancelled).
// When the user types the start of the completion last shown for a document, the rest of it is
// returned at once without running the engine; when the typed characters extend a request whose
// generation is still running, that generation answers the newer request (less what was typed),
// and only if it turns out to disagree with the typing does a fresh one start.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>


#include "lsp/error_codes.h"
#include "lsp/protocol.h"
#include "server/event_loop.h"
#include "server/options.h"
#include "server/ports.h"

namespace latent::daemon {

struct CompletionRequest {
  std::string document;  // identity for supersession and reuse (the URI)
  std::filesystem::path path;  // file on disk; empty for unsaved buffers
  std::string language;
  std::string text;      // the whole document, UTF-8
  size_t cursor = 0;     // byte offset in text
};

struct Completion {
  std::string text;      // inserted at the cursor
  bool reused = false;   // the rest of the completion shown before, no engine run
};

struct AskRequest {
  std::string question;
  // A follow-up in this conversation (AskAnswer::conversation of an earlier answer): its turns
  // come first in the prompt, unchanged, so the engine reuses their cached prefix. Empty: new.
  std::string conversation;
  std::filesystem::path path;        // optional anchor: the current file
  std::optional<uint32_t> line;      // 1-based
};

struct Source {
  std::filesystem::path root;
  std::string path;  // relative to root
  uint32_t line = 0, end_line = 0;
  std::string symbol;
  double score = 0;
};

struct AskAnswer {
  std::string answer;
  bool model_used = false;
  std::vector<Source> sources;
  std::string conversation;  // for a follow-up; empty when no model answered
};

// Streamed while an answer is being produced: first the sources, then pieces of the answer.
struct AskPartial {
  std::vector<Source> sources;
  std::string text;
};

struct WorkspaceEvent {
  // Begin, Report, End: an indexing run. WatchLimited: latentd's own watch over the folder ran
  // into the watch limit, so the editor's file events are needed.
  enum class Kind { Begin, Report, End, WatchLimited };
  Kind kind = Kind::Begin;
  std::filesystem::path root;
  std::string message;
  std::optional<uint32_t> percentage;
};

struct CompletionStats {
  uint64_t requests = 0;
  uint64_t engine_runs = 0;  // generations started
  uint64_t reused = 0;       // answered from the completion already shown
  uint64_t superseded = 0;   // replaced by a newer request for the same document
  uint64_t continued = 0;    // took over a running generation that the typed text extends
  uint64_t cancelled = 0;    // cancelled by the client
  uint64_t empty = 0;        // answered with nothing (no model, language disabled, empty text)
  // Over every engine run (completions and questions):
  uint64_t prompt_tokens = 0;
  uint64_t cached_tokens = 0;  // prompt tokens served from the engine's KV store
  uint64_t generated_tokens = 0;
};

class Assistant {
 public:
  using CompletionCallback = std::function<void(lsp::Result<std::optional<Completion>>)>;
  // The first line of a multi-line completion, as soon as it is complete (at most once).
  using CompletionPartial = std::function<void(const Completion&)>;
  using AskCallback = std::function<void(lsp::Result<AskAnswer>)>;

  // Either factory may be empty: then there is no model, or no index, and status() says so.
  Assistant(EventLoop& loop, Options options, GeneratorFactory generators, IndexFactory indexes);
  ~Assistant();
  Assistant(const Assistant&) = delete;
  Assistant& operator=(const Assistant&) = delete;

  const Options& options() const { return options_; }
  // New settings; the model is (re)opened when its path, backend or threads changed.
  void configure(const Options& options);

  void add_workspace(const std::filesystem::path& root);
  void remove_workspace(const std::filesystem::path& root);
  std::vector<std::filesystem::path> workspaces() const;
  // Re-indexes one workspace (the one containing `root`), or all when empty.
  void reindex(const std::filesystem::path& root = {});
  // A file changed, appeared or vanished on disk, as the editor tells (didSave, and its watched
  // files: the fallback where latentd's own watch is limited, see folder_watcher.h).
  void file_changed(const std::filesystem::path& path);
  // Whether some workspace folder depends on the editor's file events (its watch is limited).
  bool needs_editor_file_events() const;
  int subscribe(std::function<void(const WorkspaceEvent&)> listener);
  void unsubscribe(int id);

  // Returns a ticket for cancel(). The callback runs once, on the loop thread, possibly
  // before complete() returns (reuse, disabled language).
  uint64_t complete(CompletionRequest request, CompletionCallback callback, CompletionPartial on_first_line = {});
  uint64_t ask(AskRequest request, std::function<void(const AskPartial&)> on_partial, AskCallback callback);
  // The request's callback gets RequestCancelled; unknown or finished tickets are ignored.
  void cancel(uint64_t ticket);

  // Runs fn on the loop thread once the model has finished opening and no workspace is opening
  // or indexing (the CLI waits for this before it asks).
  void when_ready(std::function<void()> fn);

  // latent/status without the session's part (LspSession adds it).
  lsp::StatusResult status() const;
  CompletionStats completion_stats() const { return stats_; }
  bool model_loaded() const { return generator_ != nullptr; }
  std::string model_problem() const { return model_problem_; }
  // Thread-safe: the model now loaded (null while none is), for transports serving from their
  // own threads (the HTTP API), and why there is none.
  std::shared_ptr<Generator> shared_generator(std::string* problem = nullptr) const;

  // Cancels everything, waits for the workers and closes the indexes (committing their
  // writes). Called on the loop thread; blocks only for work already running.
  void shutdown();

  // Test hooks, called from a thread other than the loop's: wait until no work is pending
  // (timers, workers, engine runs, posted results).
  void block_until_idle_for_test();

 private:
  struct Workspace;
  struct PendingCompletion;
  struct PendingAsk;
  struct Shown;
  struct Layout;
  struct EngineRun;
  struct Workers;
  struct Poster;
  Poster poster() const;

  void run_on_worker(std::function<void()> job);
  void open_model();
  void start_indexing(const std::shared_ptr<Workspace>& ws);
  void start_watching(const std::shared_ptr<Workspace>& ws);
  void apply_changes(const std::shared_ptr<Workspace>& ws, std::vector<std::string> rels);
  void watch_directories(const std::shared_ptr<Workspace>& ws, const std::vector<std::string>& dirs);
  void emit(const WorkspaceEvent& ev);
  void start_completion(uint64_t ticket);
  void resume_waiting_completions();  // the model finished opening (or failed to)
  void reload_if_the_model_changed();  // on disk since it was opened (truncated, replaced)
  void finish_completion(uint64_t ticket, lsp::Result<std::optional<Completion>> result);
  void finish_run(const std::shared_ptr<EngineRun>& run, lsp::Result<std::optional<Completion>> result);
  void first_line_of_run(const std::shared_ptr<EngineRun>& run, std::string line);
  void count_tokens(const GenerationEnd& end);
  void finish_ask(uint64_t ticket, lsp::Result<AskAnswer> result);
  std::shared_ptr<Workspace> workspace_for(const std::filesystem::path& path) const;

  EventLoop& loop_;
  Options options_;
  GeneratorFactory generator_factory_;
  IndexFactory index_factory_;
  std::shared_ptr<Generator> generator_;
  std::string model_problem_;
  // Guards generator_ and model_problem_ writes (loop thread) against shared_generator().
  mutable std::mutex generator_mutex_;
  void set_generator(std::shared_ptr<Generator> gen, std::string problem);
  bool model_opening_ = false;
  std::vector<uint64_t> waiting_for_model_;  // completion tickets held until the model is ready
  uint64_t model_generation_ = 0;

  std::vector<std::shared_ptr<Workspace>> workspaces_;
  std::map<int, std::function<void(const WorkspaceEvent&)>> listeners_;
  int next_listener_ = 1;

  uint64_t next_ticket_ = 1;
  std::map<uint64_t, std::unique_ptr<PendingCompletion>> completions_;
  std::map<std::string, uint64_t> completion_by_document_;
  std::map<std::string, Shown> shown_;
  // Per document: the window start and repository context of its last completion.
  std::map<std::string, Layout> layouts_;
  uint64_t index_epoch_ = 0;  // bumped whenever an index changes: a kept context is stale then
  std::map<uint64_t, std::unique_ptr<PendingAsk>> asks_;
  // latent/ask conversations by id, for follow-ups; the least recently used go beyond a cap.
  struct Conversation;
  std::map<std::string, std::shared_ptr<Conversation>> conversations_;
  uint64_t next_conversation_ = 1;
  uint64_t conversation_clock_ = 0;
  CompletionStats stats_;

  std::unique_ptr<Workers> workers_;
  std::unique_ptr<EventLoop::Timer> ready_timer_;
  std::vector<std::function<void()>> ready_waiters_;
  void check_ready();
  // Posted closures not yet run, engine runs not yet finished: for block_until_idle_for_test.
  std::shared_ptr<std::atomic<int64_t>> in_flight_;
  bool shut_down_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace latent::daemon
