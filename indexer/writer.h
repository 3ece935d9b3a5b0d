// The index's one writer: a thread with a job queue that commits jobs in batched transactions
// (a savepoint per job, so one bad file does not cost the batch), and the writes it runs for
// one file: replacing its rows with a freshly parsed record, or deleting it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "indexer/index.h"
#include "indexer/parse.h"
#include "indexer/sqlite_db.h"

namespace latent::indexer {

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

// What the pipeline hands the writer for one file.
struct FileRecord {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t hash = 0;
  bool from_buffer = false;
  ParsedFile parsed;
};

// Replaces the file's rows (creating it when new).
void write_record(WriteContext& w, const FileRecord& r);
// Removes the file and everything recorded for it; nothing when it is not indexed.
void write_delete(WriteContext& w, const std::string& path);
// Only the stat data moves: the file was touched but its content is what the index holds.
void write_touch(WriteContext& w, const std::string& path, uint64_t size, int64_t mtime_ns);

// A failed write as a message a user can act on (e.g. free disk space).
IndexError write_error(const std::string& db_path, const std::exception& e);

}  // namespace latent::indexer
