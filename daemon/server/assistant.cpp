#include "server/assistant.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "server/completion_window.h"
#include "server/folder_watcher.h"
#include "server/log.h"
#include "server/settings.h"
#include "server/stop_rules.h"

namespace latent::daemon {

namespace fs = std::filesystem;
using lsp::Error;
using lsp::ErrorCode;

// ---------------------------------------------------------------------------------------------
// Worker pool: FIFO jobs on N threads; with N = 0 jobs run inline (synchronous mode).

struct Assistant::Workers {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  std::vector<std::thread> threads;
  bool stop = false;
  size_t busy = 0;

  explicit Workers(int n) {
    for (int i = 0; i < n; ++i) threads.emplace_back([this] { run(); });
  }
  ~Workers() { join(); }


  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stop || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
        ++busy;
      }
      try {
        job();
      } catch (const std::exception& e) {
        log_error(std::string("worker job failed: ") + e.what());
      }
      std::lock_guard lock(mu);
      --busy;
    }
  }
  bool push(std::function<void()> job) {
    if (threads.empty()) return false;
    {
      std::lock_guard lock(mu);
      jobs.push_back(std::move(job));
    }
    cv.notify_one();
    return true;
  }
  size_t queued() {
    std::lock_guard lock(mu);
    return jobs.size() + busy;
  }
  void join() {
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : threads)
      if (t.joinable()) t.join();
    threads.clear();
  }
};

// ---------------------------------------------------------------------------------------------

struct Assistant::Workspace {
  fs::path root;
  std::shared_ptr<WorkspaceIndex> index;
  enum class State { Opening, Indexing, Ready, Failed, Unavailable } state = State::Opening;
  std::string error;
  IndexProgress progress;
  std::optional<IndexRun> last_run;
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  bool reindex_requested = false;
  bool removed = false;
  std::unique_ptr<FolderWatcher> watcher;  // from the index's opening on
  uint64_t watch_batches = 0;
};

namespace {

const char* state_name(int s) {
  static const char* names[] = {"opening", "indexing", "ready", "failed", "unavailable"};
  return names[s];
}

// "12 files checked: 5 in the index (3 updated), 7 skipped (binary, generated or too large)":
// the same counts as the progress reports ("N/12 files checked") and latent/status.
std::string index_run_summary(const IndexRun& r) {
  std::string s = (r.cancelled ? "cancelled: " : "") + std::to_string(r.files_checked) + " files checked: " +
                  std::to_string(r.files_total) + " in the index (" + std::to_string(r.files_indexed) + " updated";
  if (r.files_removed) s += ", " + std::to_string(r.files_removed) + " removed";
  s += ")";
  if (r.files_skipped) s += ", " + std::to_string(r.files_skipped) + " skipped (binary, generated or too large)";
  if (r.problems) s += ", " + std::to_string(r.problems) + " with problems (latent index lists them)";
  return s;
}

// The characters typed at the cursor between two states of a document: `now` is `before` with
// them inserted at before_cursor and its cursor after them; nullopt otherwise.
std::optional<std::string_view> typed_at(std::string_view before, size_t before_cursor, std::string_view now,
                                         size_t now_cursor) {
  if (now.size() < before.size() || now_cursor != before_cursor + (now.size() - before.size())) return std::nullopt;
  if (now.substr(0, before_cursor) != before.substr(0, before_cursor) || now.substr(now_cursor) != before.substr(before_cursor))
    return std::nullopt;
  return now.substr(before_cursor, now_cursor - before_cursor);
}

bool path_within(const fs::path& path, const fs::path& root) {
  auto rel = path.lexically_normal().lexically_relative(root.lexically_normal());
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace

// Posts closures to the loop that run only while the Assistant lives (engine threads may
// deliver after it is gone) and counts them for block_until_idle_for_test.
struct Assistant::Poster {
  EventLoop* loop;
  std::weak_ptr<int> alive;
  std::shared_ptr<std::atomic<int64_t>> counter;
  void operator()(std::function<void()> fn) const {
    counter->fetch_add(1);
    loop->post([fn = std::move(fn), alive = alive, counter = counter] {
      if (!alive.expired()) fn();
      counter->fetch_sub(1);
    });
  }
};

// One engine run shared between the loop, the worker that starts it and the engine thread.
struct Assistant::EngineRun {
  std::mutex mu;
  // Weak: an engine thread dropping the last reference would destroy (and join) its own engine.
  std::weak_ptr<Generator> generator;
  uint64_t id = 0;
  bool started = false;
  bool cancel_requested = false;
  std::atomic<bool> answered{false};
  bool first_line_sent = false;  // engine thread only
  // Loop thread only: the completion request the run answers now, and what was typed at its
  // cursor since it started (a run is continued, not restarted, while typing extends it).
  uint64_t ticket = 0;
  std::string typed;

  void cancel() {
    std::lock_guard lock(mu);
    cancel_requested = true;
    if (!started) return;
    if (auto g = generator.lock()) g->cancel(id);
  }
};


struct Assistant::Shown {
  std::string text;
  size_t cursor = 0;
  std::string completion;
};

struct Assistant::Layout {
  std::optional<uint32_t> begin_line;  // 0-based first line of the last window
  std::optional<KeptContext> context;
};

struct Assistant::PendingCompletion {
  CompletionRequest request;
  CompletionCallback callback;
  CompletionPartial on_first_line;
  std::unique_ptr<EventLoop::Timer> debounce;  // also bounds the wait for a loading model
  std::shared_ptr<EngineRun> run;
};

struct Assistant::Conversation {
  // (the user message as sent, the answer), oldest first: resent unchanged so that the prompt
  // of a follow-up starts with the previous one and the engine reuses its cached latents.
  std::vector<std::pair<std::string, std::string>> turns;
  uint64_t last_used = 0;
};

namespace {
constexpr size_t kMaxConversations = 32;
}  // namespace

struct Assistant::PendingAsk {
  AskCallback callback;
  std::function<void(const AskPartial&)> on_partial;
  std::shared_ptr<EngineRun> run;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
};

Assistant::Assistant(EventLoop& loop, Options options, GeneratorFactory generators, IndexFactory indexes)
    : loop_(loop),
      options_(std::move(options)),
      generator_factory_(std::move(generators)),
      index_factory_(std::move(indexes)),
      workers_(std::make_unique<Workers>(std::max(0, options_.workers))),
      in_flight_(std::make_shared<std::atomic<int64_t>>(0)) {
  open_model();
}

Assistant::~Assistant() { shutdown(); }

Assistant::Poster Assistant::poster() const { return Poster{&loop_, alive_, in_flight_}; }

void Assistant::run_on_worker(std::function<void()> job) {
  in_flight_->fetch_add(1);
  auto counter = in_flight_;
  auto wrapped = [job = std::move(job), counter] {
    job();
    counter->fetch_sub(1);
  };
  if (!workers_->push(wrapped)) wrapped();
}


void Assistant::set_generator(std::shared_ptr<Generator> gen, std::string problem) {
  std::lock_guard lock(generator_mutex_);
  generator_ = std::move(gen);
  model_problem_ = std::move(problem);
}

std::shared_ptr<Generator> Assistant::shared_generator(std::string* problem) const {
  std::lock_guard lock(generator_mutex_);
  if (problem) *problem = model_problem_;
  return generator_;
}

void Assistant::configure(const Options& options) {
  bool reopen = options.model_path != options_.model_path || options.backend != options_.backend ||
                options.device != options_.device || options.gpu_layers != options_.gpu_layers ||
                options.engine_threads != options_.engine_threads || options.remote_url != options_.remote_url ||
                options.remote_model != options_.remote_model || options.remote_api_key_env != options_.remote_api_key_env ||
                options.fim_template != options_.fim_template || options.remote_timeout_ms != options_.remote_timeout_ms ||
                options.remote_connect_timeout_ms != options_.remote_connect_timeout_ms ||
                options.remote_retries != options_.remote_retries;
  bool index_now = options.index_on_startup && !options_.index_on_startup;
  int workers = options_.workers;
  options_ = options;
  options_.workers = workers;  // the pool is sized once
  if (reopen) open_model();
  if (index_now)
    for (auto& ws : workspaces_)
      if (ws->state == Workspace::State::Ready && !ws->last_run) start_indexing(ws);
}

void Assistant::open_model() {
  ++model_generation_;
  model_opening_ = false;  // a load still running for the previous settings is ignored
  if (options_.model_path.empty() && options_.remote_url.empty()) {
    set_generator(nullptr, "no model configured: set the model setting (VS Code: latent.model; Neovim: "
                           "setup({ server = { model = '/path/model.gguf' } }); latentd --model FILE), "
                           "or a remote engine (latentd --remote URL)");
    resume_waiting_completions();
    return;
  }
  if (!generator_factory_) {
    set_generator(nullptr, "this latentd was built without an inference engine");
    resume_waiting_completions();
    return;
  }
  set_generator(nullptr, "loading " + (options_.remote_url.empty() ? options_.model_path : options_.remote_url));
  model_opening_ = true;
  uint64_t generation = model_generation_;
  Options opts = options_;
  GeneratorFactory factory = generator_factory_;
  Poster post = poster();
  run_on_worker([this, opts, factory, generation, post] {
    std::shared_ptr<Generator> gen;
    std::string problem;
    try {
      gen = factory(opts);
    } catch (const std::exception& e) {
      problem = e.what();
    }
    post([this, gen, problem, generation] {
      if (generation == model_generation_ && !shut_down_) {
        model_opening_ = false;
        set_generator(gen, problem);
        resume_waiting_completions();
        if (gen) {
          log_info("model loaded: " + gen->model().name + " (" + gen->model().path + ", backend " + gen->model().backend +
                   ", context " + std::to_string(gen->model().context_length) + ")");
        } else {
          log_error("cannot load the model: " + problem);
        }
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Workspaces

void Assistant::add_workspace(const fs::path& root_in) {
  if (shut_down_) return;
  fs::path root = root_in.lexically_normal();
  for (auto& ws : workspaces_)
    if (ws->root == root) return;
  auto ws = std::make_shared<Workspace>();
  ws->root = root;
  workspaces_.push_back(ws);
  if (!index_factory_) {
    ws->state = Workspace::State::Unavailable;
    ws->error = "this latentd was built without the repository indexer";
    return;
  }
  log_info("workspace folder added: " + root.string());
  IndexFactory factory = index_factory_;
  std::shared_ptr<Generator> gen = generator_;
  TokenCounter counter;
  if (gen) counter = [gen](std::string_view s) { return gen->count_tokens(s); };
  Poster post = poster();
  run_on_worker([this, ws, factory, counter, post] {
    std::shared_ptr<WorkspaceIndex> index;
    std::string error;
    try {
      index = factory(ws->root, counter);
    } catch (const std::exception& e) {
      error = e.what();
    }
    post([this, ws, index, error] {
      if (!shut_down_ && !ws->removed) {
        if (index) {
          ws->index = index;
          ws->state = Workspace::State::Ready;
          start_watching(ws);
          if (options_.index_on_startup) start_indexing(ws);
        } else {
          ws->state = Workspace::State::Failed;
          ws->error = error;
          log_error("cannot open the index of " + ws->root.string() + ": " + error);
        }
      }
    });
  });
}

void Assistant::remove_workspace(const fs::path& root_in) {
  fs::path root = root_in.lexically_normal();
  auto it = std::find_if(workspaces_.begin(), workspaces_.end(), [&](auto& ws) { return ws->root == root; });
  if (it == workspaces_.end()) return;
  auto ws = *it;
  workspaces_.erase(it);
  ws->removed = true;
  ws->cancel->store(true);
  ws->watcher.reset();
  // The index's destructor commits pending writes: let a worker do it, not the loop.
  if (auto index = std::move(ws->index)) run_on_worker([index]() mutable { index.reset(); });
  log_info("workspace folder removed: " + root.string());
}

std::vector<fs::path> Assistant::workspaces() const {
  std::vector<fs::path> out;
  for (auto& ws : workspaces_) out.push_back(ws->root);
  return out;
}

void Assistant::reindex(const fs::path& root) {
  if (shut_down_) return;
  for (auto& ws : workspaces_) {
    if (!root.empty() && !(ws->root == root.lexically_normal() || path_within(root, ws->root))) continue;
    if (ws->state == Workspace::State::Indexing) ws->reindex_requested = true;
    else if (ws->state == Workspace::State::Ready) start_indexing(ws);
  }
}

void Assistant::file_changed(const fs::path& path) {
  if (shut_down_) return;
  auto ws = workspace_for(path);
  if (!ws || !ws->index || ws->state != Workspace::State::Ready) return;
  auto index = ws->index;
  fs::path p = path;
  Poster post = poster();
  run_on_worker([this, index, p, post] {
    try {
      index->update_file(p);
    } catch (const std::exception& e) {
      log_warn("cannot update the index for " + p.string() + ": " + e.what());
    }
    post([this] { ++index_epoch_; });
  });
}

int Assistant::subscribe(std::function<void(const WorkspaceEvent&)> listener) {
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void Assistant::unsubscribe(int id) { listeners_.erase(id); }

void Assistant::emit(const WorkspaceEvent& ev) {
  auto copy = listeners_;
  for (auto& [id, fn] : copy) fn(ev);
}

void Assistant::start_indexing(const std::shared_ptr<Workspace>& ws) {
  ws->state = Workspace::State::Indexing;
  ws->reindex_requested = false;
  ws->progress = {};
  ws->cancel->store(false);
  emit({WorkspaceEvent::Kind::Begin, ws->root, "indexing " + ws->root.filename().string(), 0});
  auto index = ws->index;
  auto cancel = ws->cancel;
  Poster post = poster();
  run_on_worker([this, ws, index, cancel, post] {
    auto last_report = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    auto on_progress = [&](const IndexProgress& p) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_report < std::chrono::milliseconds(100)) return;
      last_report = now;
      post([this, ws, p] {
        if (!shut_down_ && !ws->removed && ws->state == Workspace::State::Indexing) {
          ws->progress = p;
          std::optional<uint32_t> pct;
          if (p.walk_done && p.files_found > 0) pct = static_cast<uint32_t>(100 * p.files_done / p.files_found);
          emit({WorkspaceEvent::Kind::Report, ws->root,
                std::to_string(p.files_done) + "/" + std::to_string(p.files_found) + " files checked", pct});
        }
      });
    };
    std::optional<IndexRun> run;
    std::string error;
    try {
      run = index->index(on_progress, cancel.get());
    } catch (const std::exception& e) {
      error = e.what();
    }
    post([this, ws, run, error] {
      ++index_epoch_;
      if (!shut_down_ && !ws->removed) {
        std::string message;
        if (run) {
          ws->state = Workspace::State::Ready;
          ws->last_run = run;
          ws->error.clear();
          message = index_run_summary(*run);
          log_info("indexed " + ws->root.string() + ": " + message);
        } else {
          ws->state = Workspace::State::Ready;  // the index stays usable with what it holds
          ws->error = error;
          message = "indexing failed: " + error;
          log_error("indexing " + ws->root.string() + " failed: " + error);
        }
        emit({WorkspaceEvent::Kind::End, ws->root, message, std::nullopt});
        if (ws->reindex_requested) start_indexing(ws);
      }
    });
  });
}

void Assistant::start_watching(const std::shared_ptr<Workspace>& ws) {
  std::weak_ptr<Workspace> weak = ws;
  ws->watcher = std::make_unique<FolderWatcher>(loop_, ws->root, watch_limit_from_environment(), FolderWatcher::Timing{},
                                                [this, weak](std::vector<std::string> rels) {
                                                  if (auto w = weak.lock()) apply_changes(w, std::move(rels));
                                                });
  Poster post = poster();
  run_on_worker([this, ws, post] {
    auto dirs = watchable_directories(ws->root, "");
    post([this, ws, dirs] {
      if (shut_down_ || ws->removed || !ws->watcher) return;
      watch_directories(ws, dirs);
      log_info("watching " + ws->root.string() + " (directories: " + std::to_string(ws->watcher->directories()) + ")");
    });
  });
}

void Assistant::watch_directories(const std::shared_ptr<Workspace>& ws, const std::vector<std::string>& dirs) {
  bool was_limited = ws->watcher->state() == FolderWatcher::State::Limited;
  ws->watcher->watch(dirs);
  if (!was_limited && ws->watcher->state() == FolderWatcher::State::Limited)
    emit({WorkspaceEvent::Kind::WatchLimited, ws->root, "", std::nullopt});
}

bool Assistant::needs_editor_file_events() const {
  for (const auto& ws : workspaces_)
    if (ws->watcher && ws->watcher->state() == FolderWatcher::State::Limited) return true;
  return false;
}

// One batch from the folder's watcher: files are re-read one by one (update_file applies the
// walk's rules); new directories are watched and their files read; a vanished directory or a
// changed .gitignore needs the whole walk, so it asks for an incremental re-index.
void Assistant::apply_changes(const std::shared_ptr<Workspace>& ws, std::vector<std::string> rels) {
  if (shut_down_ || ws->removed || !ws->index || !ws->watcher) return;
  ++ws->watch_batches;
  if (ws->state == Workspace::State::Indexing) {
    ws->reindex_requested = true;  // the running walk may have passed these files already
    return;
  }
  if (ws->state != Workspace::State::Ready) return;
  std::vector<bool> was_dir;
  for (const auto& rel : rels) was_dir.push_back(ws->watcher->watches(rel));
  auto index = ws->index;
  Poster post = poster();
  run_on_worker([this, ws, index, rels, was_dir, post] {
    std::vector<std::string> new_dirs, gone_dirs;
    bool rewalk = false;
    size_t updated = 0;
    auto update = [&](const fs::path& p) {
      try {
        index->update_file(p);
        ++updated;
      } catch (const std::exception& e) {
        log_warn("cannot update the index for " + p.string() + ": " + e.what());
      }
    };
    for (size_t i = 0; i < rels.size(); ++i) {
      fs::path abs = ws->root / rels[i];
      std::error_code ec;
      fs::file_status st = fs::symlink_status(abs, ec);
      if (fs::is_directory(st)) {
        for (const auto& dir : watchable_directories(ws->root, rels[i])) {
          for (fs::directory_iterator it(ws->root / dir, ec), end; !ec && it != end; it.increment(ec))
            if (!it->is_directory(ec)) update(it->path());
          new_dirs.push_back(dir);
        }
      } else if (was_dir[i] && !fs::exists(st)) {
        gone_dirs.push_back(rels[i]);
      } else {
        update(abs);
        rewalk = rewalk || abs.filename() == ".gitignore";
      }
    }
    rewalk = rewalk || !gone_dirs.empty();
    post([this, ws, n = rels.size(), updated, new_dirs, gone_dirs, rewalk] {
      ++index_epoch_;
      if (shut_down_ || ws->removed || !ws->watcher) return;
      log_info("changes under " + ws->root.string() + ": " + std::to_string(n) + " in one batch, " +
               std::to_string(updated) + " files re-read" + (rewalk ? ", re-indexing for removed directories or .gitignore" : ""));
      // A re-created directory's old watch is on the vanished inode: start it afresh.
      for (const auto& dir : gone_dirs) ws->watcher->forget(dir);
      for (const auto& dir : new_dirs) ws->watcher->forget(dir);
      watch_directories(ws, new_dirs);
      if (rewalk) reindex(ws->root);
    });
  });
}

std::shared_ptr<Assistant::Workspace> Assistant::workspace_for(const fs::path& path) const {
  std::shared_ptr<Workspace> best;
  for (auto& ws : workspaces_)
    if (path_within(path, ws->root) && (!best || ws->root.string().size() > best->root.string().size())) best = ws;
  return best;
}

// ---------------------------------------------------------------------------------------------
// Completions

uint64_t Assistant::complete(CompletionRequest request, CompletionCallback callback, CompletionPartial on_first_line) {
  ++stats_.requests;
  uint64_t ticket = next_ticket_++;
  request.cursor = std::min(request.cursor, request.text.size());
  if (shut_down_) {
    callback(Error{ErrorCode::RequestFailed, "latentd is shutting down"});
    return ticket;
  }
  // A newer request for a document supersedes the older one; its engine run goes on for the
  // newer one when the newer text only adds characters typed at the cursor.
  std::shared_ptr<EngineRun> continued;
  if (auto it = completion_by_document_.find(request.document); it != completion_by_document_.end()) {
    uint64_t old = it->second;
    completion_by_document_.erase(it);
    if (auto o = completions_.find(old); o != completions_.end()) {
      PendingCompletion& op = *o->second;
      if (op.run && options_.language_enabled(request.language)) {
        if (auto typed = typed_at(op.request.text, op.request.cursor, request.text, request.cursor); typed && !typed->empty()) {
          continued = std::move(op.run);
          continued->typed += *typed;
        }
      }
      ++stats_.superseded;
      finish_completion(old, Error{ErrorCode::ContentModified,
                                   "superseded by a newer inline completion request for " + request.document});
    }
  }
  if (!options_.language_enabled(request.language)) {
    ++stats_.empty;
    callback(std::optional<Completion>{});
    return ticket;
  }
  // Typing through the completion shown last: hand out the rest of it.
  if (auto it = shown_.find(request.document); it != shown_.end()) {
    const Shown& s = it->second;
    auto typed = typed_at(s.text, s.cursor, request.text, request.cursor);
    if (typed && !typed->empty() && typed->size() < s.completion.size() && s.completion.starts_with(*typed)) {
      std::string rest = s.completion.substr(typed->size());
      shown_[request.document] = Shown{request.text, request.cursor, rest};
      ++stats_.reused;
      callback(std::optional<Completion>(Completion{rest, true}));
      return ticket;
    }
    shown_.erase(it);
  }
  if (continued) {
    ++stats_.continued;
    continued->ticket = ticket;
    auto pending = std::make_unique<PendingCompletion>();
    pending->request = std::move(request);
    pending->callback = std::move(callback);
    pending->on_first_line = std::move(on_first_line);
    pending->run = std::move(continued);
    completion_by_document_[pending->request.document] = ticket;
    completions_[ticket] = std::move(pending);
    return ticket;
  }
  auto pending = std::make_unique<PendingCompletion>();
  pending->request = std::move(request);
  pending->callback = std::move(callback);
  pending->on_first_line = std::move(on_first_line);
  completion_by_document_[pending->request.document] = ticket;
  PendingCompletion* p = pending.get();
  completions_[ticket] = std::move(pending);
  if (options_.debounce_ms > 0) p->debounce = loop_.after(static_cast<uint64_t>(options_.debounce_ms), [this, ticket] { start_completion(ticket); });
  else start_completion(ticket);
  return ticket;
}

void Assistant::start_completion(uint64_t ticket) {
  auto it = completions_.find(ticket);
  if (it == completions_.end()) return;
  PendingCompletion& p = *it->second;
  reload_if_the_model_changed();
  if (!generator_ && model_opening_) {
    // Answering empty now would leave the editor without a suggestion until the next
    // keystroke; hold the request until the model is ready (open_model resumes it).
    if (std::find(waiting_for_model_.begin(), waiting_for_model_.end(), ticket) == waiting_for_model_.end()) {
      waiting_for_model_.push_back(ticket);
      p.debounce = loop_.after(static_cast<uint64_t>(std::max(0, options_.model_wait_ms)), [this, ticket] {
        log_info("a completion waited " + std::to_string(options_.model_wait_ms) + " ms for the model to load; answered empty");
        finish_completion(ticket, std::optional<Completion>{});
      });
    }
    return;
  }
  if (!generator_) {
    ++stats_.empty;
    finish_completion(ticket, std::optional<Completion>{});
    return;
  }
  auto gen = generator_;
  if (!gen->model().fim) {
    ++stats_.empty;
    log_warn("inline completion needs a model with fill-in-the-middle tokens; " + gen->model().name + " has none");
    finish_completion(ticket, std::optional<Completion>{});
    return;
  }
  auto run = std::make_shared<EngineRun>();
  run->generator = gen;
  run->ticket = ticket;
  p.run = run;
  ++stats_.engine_runs;

  const CompletionRequest& r = p.request;
  size_t line_begin = r.text.rfind('\n', r.cursor == 0 ? 0 : r.cursor - 1);
  line_begin = (line_begin == std::string::npos || r.cursor == 0) ? 0 : line_begin + 1;
  if (r.cursor > 0 && r.text[r.cursor - 1] == '\n') line_begin = r.cursor;
  size_t line_end = r.text.find('\n', r.cursor);
  if (line_end == std::string::npos) line_end = r.text.size();
  std::string line_prefix = r.text.substr(line_begin, r.cursor - line_begin);
  std::string line_suffix = r.text.substr(r.cursor, line_end - r.cursor);
  if (!line_suffix.empty() && line_suffix.back() == '\r') line_suffix.pop_back();
  CompletionMode mode = choose_completion_mode(line_prefix, line_suffix);
  int max_lines = mode == CompletionMode::SingleLine ? 1 : options_.max_lines;
  auto stopper = std::make_shared<CompletionStopper>(line_prefix, line_suffix, mode, max_lines);

  std::shared_ptr<WorkspaceIndex> index;
  if (auto ws = workspace_for(r.path)) index = ws->index;
  uint32_t line = static_cast<uint32_t>(std::count(r.text.begin(), r.text.begin() + static_cast<long>(r.cursor), '\n') + 1);
  uint32_t column = static_cast<uint32_t>(r.cursor - line_begin + 1);
  const PromptBudget budget = fit_prompt_budget(
      {static_cast<size_t>(options_.prefix_tokens), static_cast<size_t>(options_.suffix_tokens),
       static_cast<size_t>(options_.context_budget)},
      gen->model().context_length, options_.max_tokens);
  // The document's layout so far: kept where it still holds, so the prompt's start is stable.
  Layout& layout = layouts_[r.document];
  std::optional<std::string> kept_context;
  if (layout.context && kept_context_holds(*layout.context, budget.context, index_epoch_))
    kept_context = layout.context->text;
  std::optional<uint32_t> keep_begin_line = layout.begin_line;
  const uint64_t epoch = index_epoch_;
  fs::path path = r.path;
  Poster post = poster();
  auto in_flight = in_flight_;

  run_on_worker([this, run, gen, stopper, index, line, column, budget, keep_begin_line, kept_context, epoch,
                 path, max_tokens = options_.max_tokens, post, in_flight, document = r.document, full_text = r.text,
                 cursor = r.cursor] {
    auto deliver = [this, run, post](lsp::Result<std::optional<Completion>> result) {
      post([this, run, result = std::move(result)]() mutable { finish_run(run, std::move(result)); });
    };
    {
      std::lock_guard lock(run->mu);
      if (run->cancel_requested) return;  // the loop has answered already
    }
    TokenCounter count = [&gen](std::string_view s) { return gen->count_tokens(s); };
    CompletionWindow window = choose_completion_window(full_text, cursor, budget, count, keep_begin_line);
    std::string prefix = full_text.substr(window.begin, cursor - window.begin);
    std::string suffix = full_text.substr(cursor, window.end - cursor);
    std::optional<KeptContext> chosen;
    if (kept_context) {
      prefix = *kept_context + prefix;
    } else if (index && budget.context > 32 && !path.empty()) {
      try {
        chosen = KeptContext{budget.context, epoch, index->completion_context(path, full_text, line, column, budget.context)};
        prefix = chosen->text + prefix;
      } catch (const std::exception& e) {
        log_warn("no repository context for " + path.string() + ": " + e.what());
      }
    }
    post([this, document, begin_line = window.begin_line, chosen = std::move(chosen)]() mutable {
      Layout& layout = layouts_[document];
      layout.begin_line = begin_line;
      if (chosen) layout.context = std::move(chosen);
    });
    GenerationRequest req;
    req.kind = GenerationRequest::Kind::Fim;
    req.prefix = std::move(prefix);
    req.suffix = std::move(suffix);
    req.max_tokens = max_tokens;
    req.interactive = true;
    auto on_text = [this, run, stopper, deliver, post](std::string_view piece) {
      if (run->answered.load()) return;
      if (!stopper->feed(piece)) {
        // A multi-line completion's first line, once a line break follows it.
        if (stopper->mode() == CompletionMode::MultiLine && !run->first_line_sent) {
          std::string so_far = stopper->result();
          if (size_t nl = so_far.find('\n'); nl != std::string::npos) {
            run->first_line_sent = true;
            so_far.resize(nl);
            post([this, run, line = std::move(so_far)]() mutable { first_line_of_run(run, std::move(line)); });
          }
        }
      } else {
        run->cancel();
        if (!run->answered.exchange(true)) {
          std::string text = stopper->result();
          deliver(text.empty() ? std::optional<Completion>{} : std::optional<Completion>(Completion{text, false}));
        }
      }
    };
    auto on_end = [this, run, stopper, deliver, in_flight, post](const GenerationEnd& end) {
      post([this, end] { count_tokens(end); });
      if (!run->answered.exchange(true)) {
        if (end.reason == GenerationEnd::Reason::Error) {
          deliver(Error{ErrorCode::RequestFailed, "completion failed: " + end.error});
        } else if (end.reason == GenerationEnd::Reason::Cancelled) {
          deliver(Error{ErrorCode::RequestCancelled, "completion cancelled"});
        } else {
          std::string text = stopper->result();
          deliver(text.empty() ? std::optional<Completion>{} : std::optional<Completion>(Completion{text, false}));
        }
      }
      in_flight->fetch_sub(1);
    };
    std::lock_guard lock(run->mu);
    if (run->cancel_requested) return;
    try {
      in_flight->fetch_add(1);
      run->id = gen->start(req, on_text, on_end);
      run->started = true;
    } catch (const std::exception& e) {
      in_flight->fetch_sub(1);
      run->answered = true;
      deliver(Error{ErrorCode::RequestFailed, std::string("cannot start the completion: ") + e.what()});
    }
  });
}

void Assistant::reload_if_the_model_changed() {
  if (!generator_) return;
  std::string problem = generator_->model_file_problem();
  if (problem.empty()) return;
  log_error("the model file changed under latentd: " + problem + "; loading it again");
  open_model();  // a file that no longer loads leaves latentd serving without a model
}

void Assistant::resume_waiting_completions() {
  auto tickets = std::move(waiting_for_model_);
  waiting_for_model_.clear();
  for (uint64_t ticket : tickets) {
    auto it = completions_.find(ticket);
    if (it == completions_.end()) continue;  // cancelled, superseded or timed out meanwhile
    if (it->second->debounce) it->second->debounce->cancel();
    start_completion(ticket);
  }
}

void Assistant::count_tokens(const GenerationEnd& end) {
  stats_.prompt_tokens += static_cast<uint64_t>(std::max(0, end.prompt_tokens));
  stats_.cached_tokens += static_cast<uint64_t>(std::max(0, end.cached_tokens));
  stats_.generated_tokens += static_cast<uint64_t>(std::max(0, end.generated_tokens));
}

void Assistant::finish_run(const std::shared_ptr<EngineRun>& run, lsp::Result<std::optional<Completion>> result) {
  const uint64_t ticket = run->ticket;
  if (result.ok() && !run->typed.empty()) {
    // A continued run: what was typed since it started must be how its completion begins.
    const std::string& typed = run->typed;
    const std::optional<Completion>& c = result.value();
    if (!c || !c->text.starts_with(typed)) {
      // It diverged (or had nothing): a fresh run at the cursor as it is now.
      if (auto it = completions_.find(ticket); it != completions_.end() && it->second->run == run) {
        it->second->run.reset();
        start_completion(ticket);
      }
      return;
    }
    result = c->text.size() == typed.size() ? std::optional<Completion>{}
                                            : std::optional<Completion>(Completion{c->text.substr(typed.size()), false});
  }
  finish_completion(ticket, std::move(result));
}

void Assistant::first_line_of_run(const std::shared_ptr<EngineRun>& run, std::string line) {
  auto it = completions_.find(run->ticket);
  if (it == completions_.end() || it->second->run != run || !it->second->on_first_line) return;
  if (!line.starts_with(run->typed) || line.size() == run->typed.size()) return;
  it->second->on_first_line(Completion{line.substr(run->typed.size()), false});
}

void Assistant::finish_completion(uint64_t ticket, lsp::Result<std::optional<Completion>> result) {
  auto it = completions_.find(ticket);
  if (it == completions_.end()) return;
  std::unique_ptr<PendingCompletion> p = std::move(it->second);
  completions_.erase(it);
  if (auto d = completion_by_document_.find(p->request.document); d != completion_by_document_.end() && d->second == ticket)
    completion_by_document_.erase(d);
  if (p->debounce) p->debounce->cancel();
  if (p->run && !result.ok()) p->run->cancel();
  if (result.ok() && result.value()) {
    shown_[p->request.document] = Shown{p->request.text, p->request.cursor, result.value()->text};
  } else if (result.ok()) {
    ++stats_.empty;
  }
  p->callback(std::move(result));
}

// ---------------------------------------------------------------------------------------------
// Questions

uint64_t Assistant::ask(AskRequest request, std::function<void(const AskPartial&)> on_partial, AskCallback callback) {
  uint64_t ticket = next_ticket_++;
  if (shut_down_) {
    callback(Error{ErrorCode::RequestFailed, "latentd is shutting down"});
    return ticket;
  }
  std::shared_ptr<Conversation> conversation;
  std::string conversation_id = request.conversation;
  if (!conversation_id.empty()) {
    auto it = conversations_.find(conversation_id);
    if (it == conversations_.end()) {
      callback(Error{ErrorCode::InvalidParams,
                     "unknown conversation '" + conversation_id + "' (latentd keeps the last " +
                         std::to_string(kMaxConversations) + ", and none across restarts); ask without it to start a new one"});
      return ticket;
    }
    conversation = it->second;
  }
  reload_if_the_model_changed();
  auto pending = std::make_unique<PendingAsk>();
  pending->callback = std::move(callback);
  pending->on_partial = std::move(on_partial);
  auto cancelled = pending->cancelled;
  std::shared_ptr<EngineRun> run;
  std::vector<std::pair<std::string, std::string>> history;
  if (generator_) {
    run = std::make_shared<EngineRun>();
    run->generator = generator_;
    pending->run = run;
    if (!conversation) {
      conversation_id = "c" + std::to_string(next_conversation_++);
      conversation = conversations_[conversation_id] = std::make_shared<Conversation>();
      if (conversations_.size() > kMaxConversations) {
        auto oldest = std::min_element(conversations_.begin(), conversations_.end(),
                                       [](auto& a, auto& b) { return a.second->last_used < b.second->last_used; });
        conversations_.erase(oldest);
      }
    }
    conversation->last_used = ++conversation_clock_;
    history = conversation->turns;
  }
  asks_[ticket] = std::move(pending);

  struct Scope {
    fs::path root;
    std::shared_ptr<WorkspaceIndex> index;
  };
  std::vector<Scope> scopes;
  auto anchor = request.path.empty() ? nullptr : workspace_for(request.path);
  for (auto& ws : workspaces_)
    if (ws->index && (!anchor || ws == anchor)) scopes.push_back({ws->root, ws->index});
  std::string no_model_reason = generator_ ? "" : model_problem_;
  std::string workspace_note;
  if (workspaces_.empty()) workspace_note = "No workspace folder is open, so no repository was searched.";
  else if (scopes.empty()) workspace_note = "No repository index is available yet (see latent/status).";
  Options opts = options_;
  Poster post = poster();
  auto in_flight = in_flight_;

  run_on_worker([this, ticket, request, scopes, run, cancelled, no_model_reason, workspace_note, opts, post, in_flight,
                 history = std::move(history), conversation_id]() mutable {
    std::vector<std::pair<Source, std::string>> hits;
    for (const auto& scope : scopes) {
      if (cancelled->load()) return;
      try {
        for (auto& h : scope.index->search(request.question, static_cast<size_t>(opts.ask_sources)))
          hits.push_back({Source{scope.root, h.path, h.line, h.end_line, h.symbol, h.score}, std::move(h.text)});
      } catch (const std::exception& e) {
        log_warn("search in " + scope.root.string() + " failed: " + e.what());
      }
    }
    std::stable_sort(hits.begin(), hits.end(), [](auto& a, auto& b) { return a.first.score > b.first.score; });
    if (hits.size() > static_cast<size_t>(opts.ask_sources)) hits.resize(static_cast<size_t>(opts.ask_sources));
    AskAnswer answer;
    for (auto& h : hits) answer.sources.push_back(h.first);
    post([this, ticket, sources = answer.sources] {
      auto it = asks_.find(ticket);
      if (it != asks_.end() && it->second->on_partial) it->second->on_partial(AskPartial{sources, {}});
    });

    if (!run) {
      std::string text = "No model is loaded (" + no_model_reason + "), so this is not an answer. ";
      if (!workspace_note.empty()) text += workspace_note;
      else if (hits.empty()) text += "The repository index has nothing that matches the question.";
      else text += "These are the places in the repository most relevant to the question, best first:";
      for (auto& s : answer.sources)
        text += "\n- " + s.path + ":" + std::to_string(s.line) + (s.symbol.empty() ? "" : " (" + s.symbol + ")");
      answer.answer = std::move(text);
      answer.model_used = false;
      post([this, ticket, answer] { finish_ask(ticket, answer); });
      return;
    }

    // The prompt: the retrieved excerpts, most relevant first, within the model's context.
    auto gen = run->generator.lock();
    if (!gen) {
      post([this, ticket] { finish_ask(ticket, Error{ErrorCode::RequestFailed, "the model was unloaded"}); });
      return;
    }
    int64_t budget = std::max<int64_t>(128, gen->model().context_length - opts.ask_max_tokens - 64);
    // Earlier turns of the conversation take at most half the budget, the oldest go first.
    auto turn_tokens = [&](const std::pair<std::string, std::string>& t) {
      return static_cast<int64_t>(gen->count_tokens(t.first) + gen->count_tokens(t.second)) + 16;
    };
    int64_t history_tokens = 0;
    for (const auto& t : history) history_tokens += turn_tokens(t);
    while (!history.empty() && history_tokens > budget / 2) {
      history_tokens -= turn_tokens(history.front());
      history.erase(history.begin());
    }
    std::string excerpts;
    int64_t used = static_cast<int64_t>(gen->count_tokens(request.question)) + 64 + history_tokens;
    for (auto& [src, text] : hits) {
      std::string piece = "### " + src.path + ":" + std::to_string(src.line) + "-" + std::to_string(src.end_line) + "\n" +
                          text + "\n\n";
      int64_t n = static_cast<int64_t>(gen->count_tokens(piece));
      if (used + n > budget) continue;
      used += n;
      excerpts += piece;
    }
    GenerationRequest req;
    req.kind = GenerationRequest::Kind::Chat;
    req.messages.push_back({"system",
                            "You are Latent, a coding assistant answering questions about the user's repository. "
                            "Answer from the excerpts; cite the places you use as path:line."});
    for (const auto& [question, reply] : history) {
      req.messages.push_back({"user", question});
      req.messages.push_back({"assistant", reply});
    }
    std::string user_message =
        (excerpts.empty() ? std::string() : "Repository excerpts:\n\n" + excerpts) + "Question: " + request.question;
    req.messages.push_back({"user", user_message});
    req.max_tokens = opts.ask_max_tokens;
    req.interactive = false;
    auto text = std::make_shared<std::string>();
    auto on_text = [text, post, this, ticket](std::string_view piece) {
      if (piece.empty()) return;
      text->append(piece);
      post([this, ticket, chunk = std::string(piece)] {
        auto it = asks_.find(ticket);
        if (it != asks_.end() && it->second->on_partial) it->second->on_partial(AskPartial{{}, chunk});
      });
    };
    auto on_end = [text, post, this, ticket, answer, in_flight, conversation_id,
                   user_message](const GenerationEnd& end) mutable {
      post([this, end] { count_tokens(end); });
      if (end.reason == GenerationEnd::Reason::Error) {
        post([this, ticket, msg = end.error] { finish_ask(ticket, Error{ErrorCode::RequestFailed, "the model failed: " + msg}); });
      } else if (end.reason == GenerationEnd::Reason::Cancelled) {
        post([this, ticket] { finish_ask(ticket, Error{ErrorCode::RequestCancelled, "question cancelled"}); });
      } else {
        answer.answer = *text;
        answer.model_used = true;
        answer.conversation = conversation_id;
        post([this, ticket, answer, user_message] {
          if (auto it = conversations_.find(answer.conversation); it != conversations_.end())
            it->second->turns.push_back({user_message, answer.answer});
          finish_ask(ticket, answer);
        });
      }
      in_flight->fetch_sub(1);
    };
    std::lock_guard lock(run->mu);
    if (run->cancel_requested) return;
    try {
      in_flight->fetch_add(1);
      run->id = gen->start(req, on_text, on_end);
      run->started = true;
    } catch (const std::exception& e) {
      in_flight->fetch_sub(1);
      post([this, ticket, msg = std::string(e.what())] {
        finish_ask(ticket, Error{ErrorCode::RequestFailed, "cannot ask the model: " + msg});
      });
    }
  });
  return ticket;
}

void Assistant::finish_ask(uint64_t ticket, lsp::Result<AskAnswer> result) {
  auto it = asks_.find(ticket);
  if (it == asks_.end()) return;
  std::unique_ptr<PendingAsk> p = std::move(it->second);
  asks_.erase(it);
  p->cancelled->store(true);
  if (p->run && !result.ok()) p->run->cancel();
  p->callback(std::move(result));
}

void Assistant::cancel(uint64_t ticket) {
  if (completions_.count(ticket)) {
    ++stats_.cancelled;
    finish_completion(ticket, Error{ErrorCode::RequestCancelled, "inline completion cancelled"});
  } else if (asks_.count(ticket)) {
    finish_ask(ticket, Error{ErrorCode::RequestCancelled, "question cancelled"});
  }
}

// ---------------------------------------------------------------------------------------------

lsp::StatusResult Assistant::status() const {
  lsp::StatusResult s;
  lsp::StatusModel& m = s.model;
  m.loaded = generator_ != nullptr;
  m.configuredPath = options_.model_path;
  m.backend = options_.backend;
  if (generator_) {
    const ModelDescription& d = generator_->model();
    m.name = d.name;
    m.path = d.path;
    m.backend = d.backend;
    m.contextLength = d.context_length;
    m.fim = d.fim;
    m.chatFormat = d.chat_format;
    m.warnings = d.warnings;
    if (std::string changed = generator_->model_file_problem(); !changed.empty())
      m.warnings.push_back("the model file changed on disk; it is loaded again at the next request: " + changed);
    if (auto r = generator_->remote())
      m.remote = lsp::StatusRemote{r->url, r->fim_template, static_cast<int64_t>(r->requests),
                                   static_cast<int64_t>(r->errors), r->last_latency_ms, r->last_error};
  } else {
    m.problem = model_problem_;
  }
  for (auto& ws : workspaces_) {
    lsp::StatusWorkspace w;
    w.root = ws->root.string();
    w.state = state_name(static_cast<int>(ws->state));
    w.error = ws->error;
    if (ws->index) w.files = static_cast<int64_t>(ws->index->file_count());
    if (ws->watcher) {
      w.watching = watch_state_name(ws->watcher->state());
      w.watchedDirectories = static_cast<int64_t>(ws->watcher->directories());
      w.watchBatches = static_cast<int64_t>(ws->watch_batches);
    }
    if (ws->state == Workspace::State::Indexing)
      w.progress = lsp::StatusIndexProgress{static_cast<int64_t>(ws->progress.files_found),
                                            static_cast<int64_t>(ws->progress.files_done), ws->progress.walk_done};
    if (const auto& r = ws->last_run)
      w.lastRun = lsp::StatusIndexRun{static_cast<int64_t>(r->files_checked), static_cast<int64_t>(r->files_total),
                                      static_cast<int64_t>(r->files_indexed), static_cast<int64_t>(r->files_skipped),
                                      static_cast<int64_t>(r->files_removed), static_cast<int64_t>(r->problems),
                                      r->cancelled, r->seconds};
    s.workspaces.push_back(std::move(w));
  }
  auto n = [](uint64_t v) { return static_cast<int64_t>(v); };
  s.completions = {n(stats_.requests), n(stats_.engine_runs), n(stats_.reused),
                   n(stats_.superseded), n(stats_.cancelled), n(stats_.empty)};
  GeneratorLoad load = generator_ ? generator_->load() : GeneratorLoad{};
  s.queue = {n(completions_.size()), n(asks_.size()), n(workers_ ? workers_->queued() : 0), load.live, load.queued};
  s.cache.promptTokens = n(stats_.prompt_tokens);
  s.cache.cachedPromptTokens = n(stats_.cached_tokens);
  s.cache.generatedTokens = n(stats_.generated_tokens);
  s.cache.hitRate = stats_.prompt_tokens ? static_cast<double>(stats_.cached_tokens) / static_cast<double>(stats_.prompt_tokens) : 0.0;
  for (const auto& setting : settings_schema())
    if (setting.scope == SettingScope::everywhere) s.settings[std::string(setting.key)] = setting.value(options_);
  s.conversations = n(conversations_.size());
  return s;
}

void Assistant::when_ready(std::function<void()> fn) {
  ready_waiters_.push_back(std::move(fn));
  if (!ready_timer_) check_ready();
}

void Assistant::check_ready() {
  ready_timer_.reset();
  bool busy = model_opening_;
  for (auto& ws : workspaces_)
    busy = busy || ws->state == Workspace::State::Opening || ws->state == Workspace::State::Indexing;
  if (busy && !shut_down_) {
    ready_timer_ = loop_.after(20, [this] { check_ready(); });
    return;
  }
  auto waiters = std::move(ready_waiters_);
  ready_waiters_.clear();
  for (auto& fn : waiters) fn();
}

void Assistant::shutdown() {
  if (shut_down_) return;
  std::vector<uint64_t> tickets;
  for (auto& [t, p] : completions_) tickets.push_back(t);
  for (auto& [t, p] : asks_) tickets.push_back(t);
  for (uint64_t t : tickets) {
    if (completions_.count(t)) finish_completion(t, Error{ErrorCode::RequestFailed, "latentd is shutting down"});
    else finish_ask(t, Error{ErrorCode::RequestFailed, "latentd is shutting down"});
  }
  shut_down_ = true;
  ready_timer_.reset();
  for (auto& ws : workspaces_) {
    ws->cancel->store(true);
    ws->watcher.reset();
  }
  workers_->join();
  // Closing the indexes commits their pending writes; the engine cancels what is still live.
  for (auto& ws : workspaces_) ws->index.reset();
  workspaces_.clear();
  set_generator(nullptr, "latentd is shutting down");
  log_info("assistant shut down; indexes closed");
}

void Assistant::block_until_idle_for_test() {
  for (;;) {
    std::promise<bool> idle;
    auto fut = idle.get_future();
    loop_.post([this, &idle] {
      bool busy = !completions_.empty() || !asks_.empty() || model_opening_ || in_flight_->load() > 0;
      for (auto& ws : workspaces_)
        busy = busy || ws->state == Workspace::State::Opening || ws->state == Workspace::State::Indexing;
      idle.set_value(!busy);
    });
    if (fut.get()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace latent::daemon
