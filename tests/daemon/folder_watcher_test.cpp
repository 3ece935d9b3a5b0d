// The folder watcher: what a batch keeps, which directories get watches, a burst of writes
// arriving as one batch, and the watch limit.
#include "server/folder_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

namespace latent::daemon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path temp_tree(const std::string& name) {
  fs::path root = fs::temp_directory_path() / ("latent-watch-test-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "src" / "deep");
  fs::create_directories(root / "build" / "obj");
  fs::create_directories(root / ".git" / "refs");
  fs::create_directories(root / ".latent");
  std::ofstream(root / ".gitignore") << "build/\n";
  return root;
}

TEST(ChangeBatch, KeepsEachPathOnceInOrderAndDropsVcsAndIndexDirectories) {
  ChangeBatch b;
  EXPECT_TRUE(b.add("src/b.py"));
  EXPECT_TRUE(b.add("src/a.py"));
  EXPECT_TRUE(b.add("src/b.py"));
  EXPECT_FALSE(b.add(".git/index"));
  EXPECT_FALSE(b.add(".git"));
  EXPECT_FALSE(b.add("sub/.hg/store"));
  EXPECT_FALSE(b.add(".latent/index.sqlite-wal"));
  EXPECT_TRUE(b.add(".gitignore"));
  EXPECT_TRUE(b.add("src/.latentrc"));
  EXPECT_EQ(b.size(), 4u);
  EXPECT_EQ(b.take(), (std::vector<std::string>{".gitignore", "src/.latentrc", "src/a.py", "src/b.py"}));
  EXPECT_TRUE(b.empty());
}

TEST(FolderWatcher, WatchesTheDirectoriesTheWalkEnters) {
  fs::path root = temp_tree("dirs");
  auto dirs = watchable_directories(root, "");
  std::sort(dirs.begin(), dirs.end());
  EXPECT_EQ(dirs, (std::vector<std::string>{"", "src", "src/deep"}));
  EXPECT_EQ(watchable_directories(root, "src"), (std::vector<std::string>{"src", "src/deep"}));
  EXPECT_TRUE(watchable_directories(root, "build").empty());
  fs::remove_all(root);
}

// Runs a loop on its own thread; calls go through post() and wait.
struct LoopThread {
  EventLoop loop;
  std::thread thread;
  LoopThread() : thread([this] { loop.run(); }) {}
  ~LoopThread() {
    loop.post([this] { loop.stop(); });
    thread.join();
  }
  template <typename F>
  auto call(F fn) {
    std::promise<decltype(fn())> done;
    auto fut = done.get_future();
    loop.post([&] {
      if constexpr (std::is_void_v<decltype(fn())>) {
        fn();
        done.set_value();
      } else {
        done.set_value(fn());
      }
    });
    return fut.get();
  }
};

TEST(FolderWatcher, ABurstOfWritesIsOneBatch) {
  fs::path root = temp_tree("burst");
  std::mutex mu;
  std::vector<std::vector<std::string>> batches;
  LoopThread t;
  std::unique_ptr<FolderWatcher> w;
  t.call([&] {
    w = std::make_unique<FolderWatcher>(t.loop, root, SIZE_MAX, FolderWatcher::Timing{}, [&](std::vector<std::string> rels) {
      std::lock_guard lock(mu);
      batches.push_back(std::move(rels));
    });
    w->watch(watchable_directories(root, ""));
  });
  EXPECT_EQ(t.call([&] { return w->state(); }), FolderWatcher::State::Watching);
  EXPECT_EQ(t.call([&] { return w->directories(); }), 3u);
  constexpr int kFiles = 400;
  for (int i = 0; i < kFiles; ++i) std::ofstream(root / "src" / ("f" + std::to_string(i) + ".py")) << "x = " << i << "\n";
  std::ofstream(root / "src" / "deep" / "d.py") << "y = 1\n";
  std::ofstream(root / ".git" / "index") << "git's own write\n";
  std::ofstream(root / "build" / "obj" / "out.o") << "ignored\n";
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(10ms);
    std::lock_guard lock(mu);
    if (!batches.empty()) break;
  }
  std::this_thread::sleep_for(700ms);  // a second batch would have closed by now
  t.call([&] { w.reset(); });
  std::lock_guard lock(mu);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].size(), kFiles + 1u);
  EXPECT_TRUE(std::binary_search(batches[0].begin(), batches[0].end(), "src/deep/d.py"));
  EXPECT_TRUE(std::binary_search(batches[0].begin(), batches[0].end(), "src/f399.py"));
  fs::remove_all(root);
}

TEST(FolderWatcher, TheWatchLimitLeavesItLimitedWithTheWatchesItHas) {
  fs::path root = temp_tree("limit");
  LoopThread t;
  std::unique_ptr<FolderWatcher> w;
  t.call([&] {
    w = std::make_unique<FolderWatcher>(t.loop, root, 2, FolderWatcher::Timing{}, [](std::vector<std::string>) {});
    w->watch(watchable_directories(root, ""));
  });
  EXPECT_EQ(t.call([&] { return w->state(); }), FolderWatcher::State::Limited);
  EXPECT_EQ(t.call([&] { return w->directories(); }), 2u);
  EXPECT_STREQ(watch_state_name(FolderWatcher::State::Limited), "limited");
  t.call([&] { w.reset(); });
  fs::remove_all(root);
}

TEST(FolderWatcher, ForgetDropsADirectoryAndEverythingUnderIt) {
  fs::path root = temp_tree("forget");
  LoopThread t;
  std::unique_ptr<FolderWatcher> w;
  t.call([&] {
    w = std::make_unique<FolderWatcher>(t.loop, root, SIZE_MAX, FolderWatcher::Timing{}, [](std::vector<std::string>) {});
    w->watch(watchable_directories(root, ""));
    w->forget("src");
  });
  EXPECT_EQ(t.call([&] { return w->directories(); }), 1u);
  EXPECT_TRUE(t.call([&] { return w->watches(""); }));
  EXPECT_FALSE(t.call([&] { return w->watches("src/deep"); }));
  t.call([&] { w.reset(); });
  fs::remove_all(root);
}

}  // namespace
}  // namespace latent::daemon
