// The daemon's event loop: one libuv loop on one thread owns all I/O and all LSP state. Other
// threads hand it work with post(), which queues the closure and wakes the loop with
// uv_async_send; since libuv coalesces wake-ups, the async callback drains the whole queue.
// Timers (debounce) are loop-thread objects.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace latent::daemon {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  uv_loop_t* uv() { return &loop_; }

  // Thread-safe: runs fn on the loop thread. Closures posted after stop() are dropped.
  void post(std::function<void()> fn);
  // Runs until stop() is called and every handle has closed. Called on the owning thread.
  void run();
  // Thread-safe: ends run() after the current callbacks (handles are closed first).
  void stop();
  bool on_loop_thread() const;

  // A one-shot timer on the loop thread; the returned handle cancels it (also on destruction).
  class Timer {
   public:
    struct State;
    ~Timer();
    void cancel();

   private:
    friend class EventLoop;
    Timer() = default;
    std::shared_ptr<State> state_;
  };
  std::unique_ptr<Timer> after(uint64_t ms, std::function<void()> fn);

  // Closures that stop() runs on the loop thread before closing the loop's own handles; the
  // transports use it to close their streams.
  void on_stop(std::function<void()> fn);

 private:
  static void on_async(uv_async_t* handle);
  void drain();
  void stop_requested_and_close();

  uv_loop_t loop_;
  uv_async_t async_;
  std::mutex mu_;
  std::vector<std::function<void()>> queue_;
  std::vector<std::function<void()>> stop_hooks_;
  std::atomic<bool> stopping_{false};
  bool stopped_handles_ = false;        // loop thread: handles are closing
  bool stopped_handles_flag_ = false;   // under mu_: post() drops closures from now on
  std::thread::id owner_;
};

}  // namespace latent::daemon
