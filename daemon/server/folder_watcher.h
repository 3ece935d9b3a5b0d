// latentd's own watch over one workspace folder, so that edits made outside the editor (git
// checkout, pull, code generators) reach the index. libuv fs_event is inotify on Linux, which is
// not recursive: every directory the walk would enter gets its own watch, new directories are
// added and removed ones dropped by the caller (Assistant) as batches reveal them.
//
// Changes are batched: a batch closes once the folder has been quiet for Timing::quiet_ms, or
// Timing::max_wait_ms after its first change, so a checkout touching 1,000 files is one batch
// and a lone save still arrives well within a second. The watcher only collects names on the
// loop thread; the caller hands each batch to a worker (stat, parse and SQLite happen there).
//
// When the system's watch limit runs out (ENOSPC) the watcher keeps the watches it has and
// reports State::Limited; the editor's workspace/didChangeWatchedFiles covers the rest.
#pragma once

#include <uv.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "server/event_loop.h"

namespace latent::daemon {

// The changed paths of one batch, relative to the root and '/'-separated, each once. Paths
// inside VCS or index directories are not changes to the workspace (git writes .git/ all
// through a checkout) and are dropped.
class ChangeBatch {
 public:
  // False when `rel` was dropped.
  bool add(std::string rel);
  bool empty() const { return paths_.empty(); }
  size_t size() const { return paths_.size(); }
  // The paths in sorted order; the batch is empty afterwards.
  std::vector<std::string> take();

 private:
  std::set<std::string> paths_;
};

// The directories at and under `rel` ("" is the root) that the walk would enter: not ignored by
// .gitignore, not VCS or index directories, not symlinks. Blocking: call on a worker.
std::vector<std::string> watchable_directories(const std::filesystem::path& root, const std::string& rel);

// The most directories one folder's watcher may watch: LATENT_WATCH_LIMIT when set (so tests
// and users can simulate or impose the limit), else no limit but the kernel's.
size_t watch_limit_from_environment();

class FolderWatcher {
 public:
  enum class State { Starting, Watching, Limited };
  struct Timing {
    uint64_t quiet_ms = 150;
    uint64_t max_wait_ms = 600;
  };
  using OnBatch = std::function<void(std::vector<std::string> rels)>;

  // Loop thread only, like every method. Watches nothing until watch() is called.
  FolderWatcher(EventLoop& loop, std::filesystem::path root, size_t limit, Timing timing, OnBatch on_batch);
  ~FolderWatcher();  // stops every watch; a pending batch is dropped
  FolderWatcher(const FolderWatcher&) = delete;
  FolderWatcher& operator=(const FolderWatcher&) = delete;

  // Starts watching these directories (relative to the root); already watched ones are skipped.
  void watch(const std::vector<std::string>& dirs);
  // Stops watching `dir` and every directory under it.
  void forget(const std::string& dir);
  bool watches(const std::string& dir) const { return handles_.count(dir) > 0; }

  State state() const { return state_; }
  size_t directories() const { return handles_.size(); }

  struct Handle;

 private:
  static void on_event(uv_fs_event_t* handle, const char* filename, int events, int status);
  void changed(const std::string& rel);
  void flush();
  void limited(const std::string& why);

  EventLoop& loop_;
  std::filesystem::path root_;
  size_t limit_;
  Timing timing_;
  OnBatch on_batch_;
  State state_ = State::Starting;
  std::map<std::string, Handle*> handles_;
  ChangeBatch batch_;
  std::unique_ptr<EventLoop::Timer> quiet_timer_, max_timer_;
};

const char* watch_state_name(FolderWatcher::State state);

}  // namespace latent::daemon
