// A Generator without a model for the HTTP and remote tests: each request streams the pieces it
// is scripted with from its own thread, then ends; with `hold`, it streams nothing and ends
// only when cancelled. Records the requests it got and the ids cancelled.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/ports.h"

namespace latent::daemon::testing {

class ScriptedGenerator final : public Generator {
 public:
  std::vector<std::string> pieces = {"Hello", ",", " world"};
  GenerationEnd::Reason reason = GenerationEnd::Reason::Stop;
  bool hold = false;

  ScriptedGenerator() {
    model_.name = "scripted-coder";
    model_.backend = "test";
    model_.chat_format = "plain";
    model_.fim = true;
    model_.context_length = 4096;
  }
  ~ScriptedGenerator() override {
    for (auto& t : threads_) t.join();
  }

  const ModelDescription& model() const override { return model_; }
  ModelDescription& mutable_model() { return model_; }

  uint64_t start(const GenerationRequest& request, std::function<void(std::string_view)> on_text,
                 std::function<void(const GenerationEnd&)> on_end) override {
    std::lock_guard lock(mu_);
    uint64_t id = next_++;
    requests_.push_back(request);
    threads_.emplace_back([this, id, on_text, on_end, pieces = pieces, reason = reason, hold = hold] {
      GenerationEnd end;
      end.prompt_tokens = 7;
      end.cached_tokens = 3;
      if (hold) {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return is_cancelled(id); });
        end.reason = GenerationEnd::Reason::Cancelled;
      } else {
        for (const auto& p : pieces) {
          if (cancelled(id)) break;
          on_text(p);
          end.generated_tokens++;
        }
        end.reason = cancelled(id) ? GenerationEnd::Reason::Cancelled : reason;
        if (reason == GenerationEnd::Reason::Error) end.error = "scripted failure";
      }
      on_end(end);
    });
    return id;
  }

  void cancel(uint64_t id) override {
    std::lock_guard lock(mu_);
    cancelled_.push_back(id);
    cv_.notify_all();
  }
  size_t count_tokens(std::string_view text) const override { return text.size(); }
  GeneratorLoad load() const override { return {}; }

  std::vector<GenerationRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  bool cancelled(uint64_t id) {
    std::lock_guard lock(mu_);
    return is_cancelled(id);
  }
  // Waits up to `timeout` for a cancel() of any request.
  bool wait_cancelled(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !cancelled_.empty(); });
  }

 private:
  bool is_cancelled(uint64_t id) const {
    for (auto c : cancelled_)
      if (c == id) return true;
    return false;
  }

  ModelDescription model_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_ = 1;
  std::vector<GenerationRequest> requests_;
  std::vector<uint64_t> cancelled_;
  std::vector<std::thread> threads_;
};

}  // namespace latent::daemon::testing
