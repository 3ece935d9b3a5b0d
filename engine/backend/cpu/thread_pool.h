// A fixed pool of worker threads for the CPU backend's operations. Each operation splits its
// work into items and run() hands them out to the workers and the calling thread until all are
// done; items must be independent. With 0 workers everything runs on the calling thread.
//
// A forward pass issues hundreds of short operations back to back, so idle workers poll the
// job counter briefly (yielding the core) before sleeping on a condition variable: waking a
// sleeping thread costs several microseconds per operation, which adds up in decode.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace latent::backend::cpu {

class ThreadPool {
 public:
  // threads: total threads taking part (the caller included); <= 1 means no workers.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return int(workers_.size()) + 1; }
  // Calls fn(item, thread) for every item in [0, n_items); thread is in [0, n_threads()) and is
  // unique among concurrent calls, so it can index per-thread scratch. Returns when all are done;
  // the first exception an item threw is rethrown here (remaining items are skipped).
  void run(int64_t n_items, const std::function<void(int64_t item, int thread)>& fn);

 private:
  void worker_loop(int thread);
  void drain(int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t, int)>* job_ = nullptr;
  int64_t n_items_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<uint64_t> generation_{0};  // bumped for each job so workers notice a new one
  std::atomic<int> pending_{0};          // workers still inside the current job
  std::atomic<bool> stop_{false};
  int sleepers_ = 0;                     // workers blocked on wake_ (guarded by mutex_)
  std::exception_ptr error_;             // first failure of the current job (guarded by mutex_)
  std::atomic<bool> failed_{false};
};

}  // namespace latent::backend::cpu
