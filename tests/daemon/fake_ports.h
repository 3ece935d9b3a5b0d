// Test doubles of the server's ports (ports.h): a generator whose runs the test finishes by
// hand, and an index that counts the repository contexts asked of it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/ports.h"

namespace latent::daemon::testing {

// The runs a FakeGenerator started, shared with the test (the server owns the generator).
struct FakeRuns {
  struct Run {
    GenerationRequest request;
    std::function<void(std::string_view)> on_text;
    std::function<void(const GenerationEnd&)> on_end;
    bool ended = false;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Run> runs;

  // Waits until at least n runs have started; false after the timeout.
  bool wait_started(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return runs.size() >= n; });
  }

  size_t size() {
    std::lock_guard lock(mu);
    return runs.size();
  }
  GenerationRequest request(size_t i) {
    std::lock_guard lock(mu);
    return runs.at(i).request;
  }
  // Streams a piece of run i's reply.
  void stream(size_t i, const std::string& piece) {
    std::function<void(std::string_view)> on_text;
    {
      std::lock_guard lock(mu);
      on_text = runs.at(i).on_text;
    }
    on_text(piece);
  }
  // Streams `text` as run i's reply and ends it.
  void finish(size_t i, const std::string& text) {
    std::function<void(std::string_view)> on_text;
    std::function<void(const GenerationEnd&)> on_end;
    {
      std::lock_guard lock(mu);
      Run& r = runs.at(i);
      if (r.ended) return;
      r.ended = true;
      on_text = r.on_text;
      on_end = r.on_end;
    }
    if (!text.empty()) on_text(text);
    on_end(GenerationEnd{GenerationEnd::Reason::Stop, "", 0, 0, 0});
  }
  void cancel(size_t i) {
    std::function<void(const GenerationEnd&)> on_end;
    {
      std::lock_guard lock(mu);
      if (i >= runs.size() || runs[i].ended) return;
      runs[i].ended = true;
      on_end = runs[i].on_end;
    }
    on_end(GenerationEnd{GenerationEnd::Reason::Cancelled, "", 0, 0, 0});
  }
};

// A FIM model with a large context; a token is four bytes.
class FakeGenerator : public Generator {
 public:
  explicit FakeGenerator(std::shared_ptr<FakeRuns> runs) : runs_(std::move(runs)) {
    model_.name = "fake";
    model_.fim = true;
    model_.context_length = 1 << 17;
  }
  const ModelDescription& model() const override { return model_; }
  uint64_t start(const GenerationRequest& request, std::function<void(std::string_view)> on_text,
                 std::function<void(const GenerationEnd&)> on_end) override {
    std::lock_guard lock(runs_->mu);
    runs_->runs.push_back({request, std::move(on_text), std::move(on_end), false});
    runs_->cv.notify_all();
    return runs_->runs.size() - 1;
  }
  void cancel(uint64_t id) override { runs_->cancel(id); }
  size_t count_tokens(std::string_view text) const override { return (text.size() + 3) / 4; }
  GeneratorLoad load() const override { return {}; }

 private:
  std::shared_ptr<FakeRuns> runs_;
  ModelDescription model_;
};

inline GeneratorFactory fake_generators(std::shared_ptr<FakeRuns> runs) {
  return [runs](const Options&) { return std::make_unique<FakeGenerator>(runs); };
}

// An empty index whose completion context names the line it was asked for.
class FakeIndex : public WorkspaceIndex {
 public:
  explicit FakeIndex(std::shared_ptr<std::atomic<int>> contexts) : contexts_(std::move(contexts)) {}
  IndexRun index(const std::function<void(const IndexProgress&)>&, const std::atomic<bool>*) override { return {}; }
  void update_file(const std::filesystem::path&) override {}
  std::vector<RetrievedSource> search(std::string_view, size_t) const override { return {}; }
  std::string completion_context(const std::filesystem::path&, std::string_view, uint32_t line, uint32_t,
                                 size_t) const override {
    ++*contexts_;
    return "// repository context chosen at line " + std::to_string(line) + "\n";
  }
  uint64_t file_count() const override { return 0; }

 private:
  std::shared_ptr<std::atomic<int>> contexts_;
};

inline IndexFactory fake_indexes(std::shared_ptr<std::atomic<int>> contexts) {
  return [contexts](const std::filesystem::path&, TokenCounter) { return std::make_unique<FakeIndex>(contexts); };
}

}  // namespace latent::daemon::testing
