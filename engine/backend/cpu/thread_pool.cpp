#include "backend/cpu/thread_pool.h"

#include <utility>


namespace latent::backend::cpu {
namespace {

// Polling yields rather than pauses: on an idle core yield returns at once, so a worker picks
// up the next operation within a microsecond; on a machine busy with other processes it gives
// the core away instead of burning it. About a millisecond of polling in all: longer than the
// gap between two operations of a forward pass, shorter than a human notices.
constexpr int kSpinIterations = 1 << 10;

inline void cpu_relax() { std::this_thread::yield(); }

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::drain(int thread) {
  for (;;) {
    int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= n_items_ || failed_.load(std::memory_order_relaxed)) break;
    try {
      (*job_)(i, thread);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
}

void ThreadPool::worker_loop(int thread) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load(std::memory_order_relaxed)) {
      if (++spins < kSpinIterations) {
        cpu_relax();
        continue;
      }
      std::unique_lock lock(mutex_);
      ++sleepers_;
      wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      --sleepers_;
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    drain(thread);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mutex_);
      done_.notify_one();
    }
  }
}

void ThreadPool::run(int64_t n_items, const std::function<void(int64_t, int)>& fn) {
  if (n_items <= 0) return;
  // A single item, or no workers: waking threads would cost more than it saves.
  if (workers_.empty() || n_items == 1) {
    for (int64_t i = 0; i < n_items; ++i) fn(i, 0);
    return;
  }
  job_ = &fn;
  n_items_ = n_items;
  error_ = nullptr;
  failed_.store(false, std::memory_order_relaxed);
  next_.store(0, std::memory_order_relaxed);
  pending_.store(int(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);  // publishes the job to spinning workers
  {
    std::lock_guard lock(mutex_);
    if (sleepers_ > 0) wake_.notify_all();
  }
  drain(0);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0;) {
    if (++spins < kSpinIterations) {
      cpu_relax();
      continue;
    }
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return pending_.load() == 0; });
  }
  job_ = nullptr;
  std::exception_ptr error;
  {
    std::lock_guard lock(mutex_);
    error = std::exchange(error_, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace latent::backend::cpu
