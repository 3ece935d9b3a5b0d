// Internals of Index shared with the context builder: the writer thread with its job queue
// and batched transactions, and the pool of read connections.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "indexer/index.h"
#include "indexer/sqlite_db.h"

namespace latent::indexer {

inline constexpr int kSchemaVersion = 1;

// Reference kinds are stored as small integers; index = code.
inline constexpr std::string_view kReferenceKinds[] = {
    "use", "call", "type", "class", "implementation", "interface", "send", "module", "variable"};
int64_t reference_kind_code(std::string_view kind);

// An FTS5 MATCH expression OR-ing the first `max_terms` distinct identifiers of `text`, each
// quoted (FTS5 splits `snake_case` into a phrase); empty when there are none.
std::string fts_query(std::string_view text, size_t max_terms);

struct WriteContext {
  Connection& db;
  std::unordered_map<std::string, int64_t>& name_ids;  // names table cache, cleared on rollback
  // Prepared statements by SQL text (string literals), kept for the connection's lifetime.
  std::unordered_map<const char*, Statement>& statements;
  int64_t name_id(std::string_view name);
  Statement& stmt(const char* sql);
};

class Writer {
 public:
  Writer(std::string path, uint64_t max_pages, uint32_t batch);
  ~Writer();
  // Queues a write. `urgent`: commit without waiting for a fuller batch.
  std::future<void> submit(std::function<void(WriteContext&)> job, bool urgent);
  // Jobs queued and not yet committed (for back-pressure).
  size_t pending() const;
  void flush();

 private:
  struct Job {
    std::function<void(WriteContext&)> run;
    std::promise<void> done;
    bool urgent;
  };
  void loop();

  std::string path_;
  uint64_t max_pages_;
  uint32_t batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_, space_cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  size_t in_flight_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

struct Index::Impl {
  IndexOptions options;
  std::string db_path;
  std::unique_ptr<Writer> writer;

  std::mutex pool_mu;
  std::vector<std::unique_ptr<Connection>> pool;

  // A read connection for the caller's exclusive use until the lease ends.
  class Lease {
   public:
    Lease(Impl& impl, std::unique_ptr<Connection> c) : impl_(impl), conn_(std::move(c)) {}
    ~Lease();
    Lease(Lease&&) = default;
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    Impl& impl_;
    std::unique_ptr<Connection> conn_;
  };
  Lease read();

  std::string relative(const std::string& path) const;
};

}  // namespace latent::indexer
