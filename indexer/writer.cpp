#include "indexer/writer.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "indexer/postings.h"
#include "indexer/schema.h"

namespace latent::indexer {

namespace {

void delete_file_rows(WriteContext& w, int64_t file_id) {
  for (const char* sql : {"DELETE FROM symbols WHERE file_id = ?", "DELETE FROM refs WHERE file_id = ?",
                          "DELETE FROM imports WHERE file_id = ?", "DELETE FROM chunks WHERE file_id = ?"}) {
    w.stmt(sql).bind(1, file_id).run();
  }
}

}  // namespace

void write_delete(WriteContext& w, const std::string& path) {
  Statement& q = w.stmt("SELECT id FROM files WHERE path = ?");
  q.bind(1, path);
  if (!q.step()) {
    q.reset();
    return;
  }
  int64_t id = q.int64(0);
  q.reset();
  delete_file_rows(w, id);
  w.stmt("DELETE FROM file_rank WHERE file_id = ?").bind(1, id).run();
  w.stmt("DELETE FROM files WHERE id = ?").bind(1, id).run();
}

void write_record(WriteContext& w, const FileRecord& r) {
  int64_t id = 0;
  {
    Statement& q = w.stmt("SELECT id FROM files WHERE path = ?");
    q.bind(1, r.path);
    if (q.step()) id = q.int64(0);
    q.reset();
  }
  if (id) {
    delete_file_rows(w, id);
    w.stmt("UPDATE files SET language=?, size=?, mtime_ns=?, hash=?, lines=?, from_buffer=? WHERE id=?")
        .bind(1, r.parsed.language).bind(2, int64_t(r.size)).bind(3, r.mtime_ns).bind(4, int64_t(r.hash))
        .bind(5, int64_t(r.parsed.lines)).bind(6, int64_t(r.from_buffer)).bind(7, id).run();
  } else {
    Statement& ins = w.stmt(
        "INSERT INTO files(path, language, size, mtime_ns, hash, lines, from_buffer) VALUES (?,?,?,?,?,?,?)");
    ins.bind(1, r.path).bind(2, r.parsed.language).bind(3, int64_t(r.size)).bind(4, r.mtime_ns)
        .bind(5, int64_t(r.hash)).bind(6, int64_t(r.parsed.lines)).bind(7, int64_t(r.from_buffer)).run();
    id = sqlite3_last_insert_rowid(w.db.get());
  }
  Statement& sym = w.stmt(
      "INSERT INTO symbols(file_id, name_id, kind, line, end_line, col, top_level, scope, signature) "
      "VALUES (?,?,?,?,?,?,?,?,?)");
  for (const auto& s : r.parsed.symbols) {
    sym.bind(1, id).bind(2, w.name_id(s.name)).bind(3, int64_t(s.kind)).bind(4, int64_t(s.line))
        .bind(5, int64_t(s.end_line)).bind(6, int64_t(s.column)).bind(7, int64_t(s.top_level))
        .bind(8, s.scope).bind(9, s.signature).run();
  }
  // Grouped by name: one packed row per name (postings.h).
  std::unordered_map<std::string_view, std::vector<Position>> by_name;
  for (const auto& x : r.parsed.references)
    by_name[x.name].push_back({x.line, x.column, uint32_t(reference_kind_code(x.kind))});
  Statement& ref = w.stmt("INSERT INTO refs(name_id, file_id, positions) VALUES (?,?,?)");
  for (auto& [name, positions] : by_name)
    ref.bind(1, w.name_id(name)).bind(2, id).bind_blob(3, pack_positions(std::move(positions))).run();
  Statement& imp = w.stmt("INSERT INTO imports(file_id, module) VALUES (?,?)");
  for (const auto& m : r.parsed.imports) imp.bind(1, id).bind(2, m).run();
  Statement& ch = w.stmt(
      "INSERT INTO chunks(file_id, start_line, end_line, tokens, symbol, text) VALUES (?,?,?,?,?,?)");
  for (const auto& c : r.parsed.chunks) {
    ch.bind(1, id).bind(2, int64_t(c.start_line)).bind(3, int64_t(c.end_line)).bind(4, int64_t(c.tokens))
        .bind(5, c.symbol).bind(6, c.text).run();
  }
}

void write_touch(WriteContext& w, const std::string& path, uint64_t size, int64_t mtime_ns) {
  w.stmt("UPDATE files SET size=?, mtime_ns=?, from_buffer=0 WHERE path=?")
      .bind(1, int64_t(size)).bind(2, mtime_ns).bind(3, path).run();
}

IndexError write_error(const std::string& db_path, const std::exception& e) {
  std::string msg = "writing the index " + db_path + " failed: " + e.what();
  if (auto* se = dynamic_cast<const SqliteError*>(&e); se && (se->code & 0xff) == SQLITE_FULL)
    msg += "; free disk space and re-run `latent index` (files written before this point are kept)";
  return IndexError(msg);
}

int64_t WriteContext::name_id(std::string_view name) {
  std::string key(name);
  if (auto it = name_ids.find(key); it != name_ids.end()) return it->second;
  stmt("INSERT INTO names(name) VALUES (?) ON CONFLICT(name) DO NOTHING").bind(1, name).run();
  Statement& q = stmt("SELECT id FROM names WHERE name = ?");
  q.bind(1, name);
  int64_t id = q.step() ? q.int64(0) : 0;
  q.reset();
  name_ids.emplace(std::move(key), id);
  return id;
}

Statement& WriteContext::stmt(const char* sql) {
  auto it = statements.find(sql);
  if (it == statements.end()) it = statements.emplace(sql, db.prepare(sql)).first;
  return it->second;
}

Writer::Writer(std::string path, uint64_t max_pages, uint32_t batch)
    : path_(std::move(path)), max_pages_(max_pages), batch_(std::max<uint32_t>(batch, 1)) {
  thread_ = std::thread([this] { loop(); });
}

Writer::~Writer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::future<void> Writer::submit(std::function<void(WriteContext&)> job, bool urgent) {
  auto j = std::make_unique<Job>();
  j->run = std::move(job);
  j->urgent = urgent;
  std::future<void> f = j->done.get_future();
  {
    std::unique_lock<std::mutex> lock(mu_);
    // Back-pressure: parsed files wait in memory, so keep the queue bounded.
    if (!urgent) space_cv_.wait(lock, [&] { return queue_.size() < size_t(batch_) * 4; });
    queue_.push_back(std::move(j));
  }
  cv_.notify_all();
  return f;
}

size_t Writer::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + in_flight_;
}

void Writer::flush() { submit([](WriteContext&) {}, true).get(); }

void Writer::loop() {
  std::unique_ptr<Connection> db;
  std::string open_error;
  try {
    db = std::make_unique<Connection>(path_, false);
    configure_writer(*db, max_pages_);
  } catch (const std::exception& e) {
    open_error = e.what();
  }
  std::unordered_map<std::string, int64_t> name_ids;
  std::unordered_map<const char*, Statement> statements;
  while (true) {
    std::vector<std::unique_ptr<Job>> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) break;
      auto urgent_queued = [&] {
        return std::any_of(queue_.begin(), queue_.end(), [](const auto& j) { return j->urgent; });
      };
      // Gather a fuller batch unless someone waits for this write.
      if (!stop_ && queue_.size() < batch_ && !urgent_queued())
        cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stop_ || queue_.size() >= batch_ || urgent_queued(); });
      while (!queue_.empty() && batch.size() < batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      in_flight_ = batch.size();
    }
    space_cv_.notify_all();
    if (!db) {
      for (auto& j : batch) j->done.set_exception(std::make_exception_ptr(IndexError(open_error)));
    } else {
      WriteContext ctx{*db, name_ids, statements};
      std::vector<std::exception_ptr> errors(batch.size());
      std::exception_ptr fatal;
      try {
        db->exec("BEGIN IMMEDIATE");
        for (size_t i = 0; i < batch.size() && !fatal; ++i) {
          // A savepoint per job: one bad file does not cost the batch.
          db->exec("SAVEPOINT job");
          try {
            batch[i]->run(ctx);
            db->exec("RELEASE job");
          } catch (const SqliteError& e) {
            if (e.fatal()) throw;
            errors[i] = std::current_exception();
            db->exec("ROLLBACK TO job");
            db->exec("RELEASE job");
            name_ids.clear();
          } catch (...) {
            errors[i] = std::current_exception();
            db->exec("ROLLBACK TO job");
            db->exec("RELEASE job");
            name_ids.clear();
          }
        }
        db->exec("COMMIT");
      } catch (...) {
        fatal = std::current_exception();
        sqlite3_exec(db->get(), "ROLLBACK", nullptr, nullptr, nullptr);
        name_ids.clear();
      }
      for (size_t i = 0; i < batch.size(); ++i) {
        if (fatal) batch[i]->done.set_exception(fatal);
        else if (errors[i]) batch[i]->done.set_exception(errors[i]);
        else batch[i]->done.set_value();
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ = 0;
  }
  statements.clear();
  if (db) sqlite3_exec(db->get(), "PRAGMA optimize", nullptr, nullptr, nullptr);
}

}  // namespace latent::indexer
