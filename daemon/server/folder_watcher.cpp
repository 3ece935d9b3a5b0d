#include "server/folder_watcher.h"

#include <cstdlib>
#include <string_view>
#include <system_error>

#include "indexer/walk.h"
#include "server/log.h"

namespace latent::daemon {

namespace fs = std::filesystem;

bool ChangeBatch::add(std::string rel) {
  for (size_t start = 0; start <= rel.size();) {
    size_t slash = rel.find('/', start);
    size_t end = slash == std::string::npos ? rel.size() : slash;
    if (indexer::is_vcs_or_index_dir(std::string_view(rel).substr(start, end - start))) return false;
    start = end + 1;
  }
  paths_.insert(std::move(rel));
  return true;
}

std::vector<std::string> ChangeBatch::take() {
  std::vector<std::string> out(paths_.begin(), paths_.end());
  paths_.clear();
  return out;
}

std::vector<std::string> watchable_directories(const fs::path& root, const std::string& rel) {
  std::vector<std::string> out;
  if (!rel.empty() && indexer::is_ignored(root, rel, true)) return out;
  std::vector<std::string> stack{rel};
  while (!stack.empty()) {
    std::string dir = std::move(stack.back());
    stack.pop_back();
    out.push_back(dir);
    std::error_code ec;
    for (fs::directory_iterator it(dir.empty() ? root : root / dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
      std::string child = dir.empty() ? it->path().filename().string() : dir + "/" + it->path().filename().string();
      if (!indexer::is_ignored(root, child, true)) stack.push_back(std::move(child));
    }
  }
  return out;
}

size_t watch_limit_from_environment() {
  const char* v = std::getenv("LATENT_WATCH_LIMIT");
  if (!v || !*v) return SIZE_MAX;
  return static_cast<size_t>(std::strtoull(v, nullptr, 10));
}

const char* watch_state_name(FolderWatcher::State state) {
  switch (state) {
    case FolderWatcher::State::Starting: return "starting";
    case FolderWatcher::State::Watching: return "watching";
    case FolderWatcher::State::Limited: return "limited";
  }
  return "";
}

struct FolderWatcher::Handle {
  uv_fs_event_t event;
  FolderWatcher* owner;
  std::string rel;
};

namespace {

void close_handle(FolderWatcher::Handle* h) {
  uv_fs_event_stop(&h->event);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->event), [](uv_handle_t* u) { delete static_cast<FolderWatcher::Handle*>(u->data); });
}

}  // namespace

FolderWatcher::FolderWatcher(EventLoop& loop, fs::path root, size_t limit, Timing timing, OnBatch on_batch)
    : loop_(loop), root_(std::move(root)), limit_(limit), timing_(timing), on_batch_(std::move(on_batch)) {}

FolderWatcher::~FolderWatcher() {
  for (auto& [rel, h] : handles_) {
    close_handle(h);
  }
}

void FolderWatcher::watch(const std::vector<std::string>& dirs) {
  for (const auto& rel : dirs) {
    if (state_ == State::Limited) return;
    if (handles_.count(rel)) continue;
    if (handles_.size() >= limit_) {
      limited("LATENT_WATCH_LIMIT=" + std::to_string(limit_) + " is reached");
      return;
    }
    auto* h = new Handle{{}, this, rel};
    uv_fs_event_init(loop_.uv(), &h->event);
    h->event.data = h;
    std::string abs = rel.empty() ? root_.string() : (root_ / rel).string();
    int rc = uv_fs_event_start(&h->event, &FolderWatcher::on_event, abs.c_str(), 0);
    if (rc != 0) {
      close_handle(h);
      if (rc == UV_ENOSPC) {
        limited("the system's inotify watch limit is reached (raise fs.inotify.max_user_watches)");
        return;
      }
      // Gone between listing and watching, or unreadable: the walk reports such directories.
      continue;
    }
    handles_.emplace(rel, h);
  }
  if (state_ == State::Starting) state_ = State::Watching;
}

void FolderWatcher::limited(const std::string& why) {
  state_ = State::Limited;
  log_warn("watching " + root_.string() + ": " + why + " (directories watched: " + std::to_string(handles_.size()) +
           "); changes elsewhere reach the index through the editor's file events "
           "(workspace/didChangeWatchedFiles) or `latent index`");
}

void FolderWatcher::forget(const std::string& dir) {
  for (auto it = handles_.begin(); it != handles_.end();) {
    const std::string& rel = it->first;
    bool under = dir.empty() || rel == dir || (rel.size() > dir.size() && rel.compare(0, dir.size(), dir) == 0 && rel[dir.size()] == '/');
    if (!under) {
      ++it;
      continue;
    }
    close_handle(it->second);
    it = handles_.erase(it);
  }
}

void FolderWatcher::on_event(uv_fs_event_t* event, const char* filename, int, int status) {
  auto* h = static_cast<Handle*>(event->data);
  if (status != 0 || !filename || !*filename) return;
  h->owner->changed(h->rel.empty() ? std::string(filename) : h->rel + "/" + filename);
}

void FolderWatcher::changed(const std::string& rel) {
  if (!batch_.add(rel)) return;
  quiet_timer_ = loop_.after(timing_.quiet_ms, [this] { flush(); });
  if (!max_timer_) max_timer_ = loop_.after(timing_.max_wait_ms, [this] { flush(); });
}

void FolderWatcher::flush() {
  // Safe inside either timer's callback: EventLoop keeps a firing timer's state alive.
  quiet_timer_.reset();
  max_timer_.reset();
  if (batch_.empty()) return;
  on_batch_(batch_.take());
}

}  // namespace latent::daemon
