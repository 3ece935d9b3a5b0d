#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_set>

#include "indexer/index.h"
#include "indexer/index_impl.h"
#include "indexer/language.h"
#include "indexer/parse.h"
#include "indexer/walk.h"

namespace latent::indexer {

namespace {

// Version 1: files, names, symbols, refs, imports, chunks + chunks_fts (FTS5, external
// content kept in sync by triggers), file_rank. Each entry migrates from the version before.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE files(
  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, language TEXT NOT NULL,
  size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash INTEGER NOT NULL,
  lines INTEGER NOT NULL, from_buffer INTEGER NOT NULL DEFAULT 0);
CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE symbols(
  file_id INTEGER NOT NULL, name_id INTEGER NOT NULL, kind INTEGER NOT NULL,
  line INTEGER NOT NULL, end_line INTEGER NOT NULL, col INTEGER NOT NULL,
  top_level INTEGER NOT NULL, scope TEXT NOT NULL, signature TEXT NOT NULL);
CREATE INDEX symbols_by_name ON symbols(name_id);
CREATE INDEX symbols_by_file ON symbols(file_id);
CREATE TABLE refs(
  name_id INTEGER NOT NULL, file_id INTEGER NOT NULL, line INTEGER NOT NULL,
  col INTEGER NOT NULL, kind INTEGER NOT NULL,
  PRIMARY KEY(name_id, file_id, line, col)) WITHOUT ROWID;
CREATE INDEX refs_by_file ON refs(file_id);
CREATE TABLE imports(file_id INTEGER NOT NULL, module TEXT NOT NULL);
CREATE INDEX imports_by_file ON imports(file_id);
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, start_line INTEGER NOT NULL,
  end_line INTEGER NOT NULL, tokens INTEGER NOT NULL, symbol TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX chunks_by_file ON chunks(file_id, start_line);
CREATE VIRTUAL TABLE chunks_fts USING fts5(symbol, text, content='chunks', content_rowid='id');
CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, symbol, text) VALUES (new.id, new.symbol, new.text);
END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, symbol, text) VALUES ('delete', old.id, old.symbol, old.text);
END;
CREATE TABLE file_rank(file_id INTEGER PRIMARY KEY, rank REAL NOT NULL);
INSERT INTO meta(key, value) VALUES ('application', 'latent-index');
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

uint64_t content_hash(std::string_view s) {
  uint64_t h = 0x243F6A8885A308D3ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  h = (h ^ tail) * 0xBF58476D1CE4E5B9ull;
  h ^= h >> 31;
  return h;
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::string("cannot read: ") + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = std::string("read error: ") + std::strerror(errno);
    return false;
  }
  out = ss.str();
  return true;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What a worker hands the writer for one file.
struct FileRecord {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t hash = 0;
  bool from_buffer = false;
  ParsedFile parsed;
};

void delete_file_rows(WriteContext& w, int64_t file_id) {
  for (const char* sql : {"DELETE FROM symbols WHERE file_id = ?", "DELETE FROM refs WHERE file_id = ?",
                          "DELETE FROM imports WHERE file_id = ?", "DELETE FROM chunks WHERE file_id = ?"}) {
    w.stmt(sql).bind(1, file_id).run();
  }
}

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
  Statement& ref = w.stmt("INSERT OR IGNORE INTO refs(file_id, name_id, line, col, kind) VALUES (?,?,?,?,?)");
  for (const auto& x : r.parsed.references) {
    ref.bind(1, id).bind(2, w.name_id(x.name)).bind(3, int64_t(x.line)).bind(4, int64_t(x.column))
        .bind(5, reference_kind_code(x.kind)).run();
  }
  Statement& imp = w.stmt("INSERT INTO imports(file_id, module) VALUES (?,?)");
  for (const auto& m : r.parsed.imports) imp.bind(1, id).bind(2, m).run();
  Statement& ch = w.stmt(
      "INSERT INTO chunks(file_id, start_line, end_line, tokens, symbol, text) VALUES (?,?,?,?,?,?)");
  for (const auto& c : r.parsed.chunks) {
    ch.bind(1, id).bind(2, int64_t(c.start_line)).bind(3, int64_t(c.end_line)).bind(4, int64_t(c.tokens))
        .bind(5, c.symbol).bind(6, c.text).run();
  }
}

void configure_writer(Connection& db, uint64_t max_pages) {
  db.exec("PRAGMA journal_mode=WAL");
  // NORMAL in WAL mode: a crash may lose the last commits, never consistency.
  db.exec("PRAGMA synchronous=NORMAL");
  db.exec("PRAGMA temp_store=MEMORY");
  db.exec("PRAGMA cache_size=-32768");
  if (max_pages) db.exec("PRAGMA max_page_count=" + std::to_string(max_pages));
}

// Creates or migrates the schema; refuses databases from a newer version or another program.
void prepare_schema(Connection& db, const std::string& path) {
  int64_t version = db.scalar("PRAGMA user_version");
  if (version > kSchemaVersion) {
    throw IndexError("the index database " + path + " has schema version " + std::to_string(version) +
                     ", newer than this latent understands (" + std::to_string(kSchemaVersion) +
                     "); upgrade latent, or delete the file to rebuild the index with this version");
  }
  if (version == 0 && db.scalar("SELECT count(*) FROM sqlite_master") > 0) {
    throw IndexError(path + " is an SQLite database but not a latent index; choose another --db path");
  }
  if (version == kSchemaVersion) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    // Re-read under the write lock: another process may have migrated meanwhile.
    version = db.scalar("PRAGMA user_version");
    for (int64_t v = version; v < kSchemaVersion; ++v) db.exec(kMigrations[v]);
    db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    db.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

IndexError write_error(const std::string& db_path, const std::exception& e) {
  std::string msg = "writing the index " + db_path + " failed: " + e.what();
  if (auto* se = dynamic_cast<const SqliteError*>(&e); se && (se->code & 0xff) == SQLITE_FULL)
    msg += "; free disk space and re-run `latent index` (files written before this point are kept)";
  return IndexError(msg);
}

}  // namespace

int64_t reference_kind_code(std::string_view kind) {
  for (size_t i = 0; i < std::size(kReferenceKinds); ++i)
    if (kReferenceKinds[i] == kind) return static_cast<int64_t>(i);
  return 0;
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

std::string_view symbol_kind_name(SymbolKind kind) {
  switch (kind) {
    case SymbolKind::function: return "function";
    case SymbolKind::method: return "method";
    case SymbolKind::class_: return "class";
    case SymbolKind::interface: return "interface";
    case SymbolKind::type: return "type";
    case SymbolKind::module: return "module";
    case SymbolKind::constant: return "constant";
    case SymbolKind::macro: return "macro";
    case SymbolKind::variable: return "variable";
    case SymbolKind::other: break;
  }
  return "other";
}

// ---------------------------------------------------------------------------------------------
// Writer

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

// ---------------------------------------------------------------------------------------------
// Index

Index::Impl::Lease::~Lease() {
  if (!conn_) return;
  std::lock_guard<std::mutex> lock(impl_.pool_mu);
  impl_.pool.push_back(std::move(conn_));
}

Index::Impl::Lease Index::Impl::read() {
  {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (!pool.empty()) {
      auto c = std::move(pool.back());
      pool.pop_back();
      return Lease(*this, std::move(c));
    }
  }
  auto c = std::make_unique<Connection>(db_path, false);
  c->exec("PRAGMA query_only=1");
  c->exec("PRAGMA temp_store=MEMORY");
  return Lease(*this, std::move(c));
}

std::string Index::Impl::relative(const std::string& path) const {
  std::filesystem::path p(path);
  if (p.is_absolute()) {
    std::error_code ec;
    auto root = std::filesystem::weakly_canonical(options.root, ec);
    auto abs = std::filesystem::weakly_canonical(p, ec);
    auto rel = abs.lexically_relative(root);
    if (rel.empty() || *rel.begin() == "..")
      throw IndexError(path + " is outside the workspace " + options.root.string());
    return rel.generic_string();
  }
  std::string s = p.lexically_normal().generic_string();
  if (s.rfind("./", 0) == 0) s.erase(0, 2);
  if (s.empty() || s.rfind("../", 0) == 0 || s == "..")
    throw IndexError(path + " is outside the workspace " + options.root.string());
  return s;
}

Index::Index(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Index::~Index() = default;

const IndexOptions& Index::options() const { return impl_->options; }

std::unique_ptr<Index> Index::open(IndexOptions options) {
  if (options.root.empty()) throw IndexError("no workspace directory given to the index");
  std::error_code ec;
  if (!std::filesystem::is_directory(options.root, ec))
    throw IndexError("the workspace " + options.root.string() + " is not a directory");
  options.root = std::filesystem::canonical(options.root, ec);
  if (options.database.empty()) options.database = options.root / ".latent" / "index.sqlite";
  if (!options.count_tokens) options.count_tokens = approximate_token_count;
  if (options.threads < 0) options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::filesystem::create_directories(options.database.parent_path(), ec);
  if (ec)
    throw IndexError("cannot create the directory for the index " + options.database.string() + ": " + ec.message());
  // The default index folder ignores itself, so it never shows in `git status`.
  if (options.database.parent_path() == options.root / ".latent") {
    std::filesystem::path ignore = options.database.parent_path() / ".gitignore";
    if (!std::filesystem::exists(ignore, ec)) std::ofstream(ignore) << "# Latent's index (latent index); not part of the repository\n*\n";
  }

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->db_path = options.database.string();
  try {
    Connection db(impl->db_path, true);
    db.exec("PRAGMA journal_mode=WAL");
    prepare_schema(db, impl->db_path);
    if (db.scalar("SELECT count(*) FROM meta WHERE key='application' AND value='latent-index'") != 1)
      throw IndexError(impl->db_path + " is not a latent index; choose another database path");
  } catch (const SqliteError& e) {
    throw IndexError(std::string(e.what()) +
                     ((e.code & 0xff) == SQLITE_NOTADB || (e.code & 0xff) == SQLITE_CORRUPT
                          ? "; delete the file to rebuild the index"
                          : ""));
  }
  impl->writer = std::make_unique<Writer>(impl->db_path, options.max_database_pages, options.batch_files);
  return std::unique_ptr<Index>(new Index(std::move(impl)));
}

std::optional<std::filesystem::path> find_workspace_root(const std::filesystem::path& start) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::weakly_canonical(std::filesystem::absolute(start, ec), ec);
  if (!std::filesystem::is_directory(dir, ec)) dir = dir.parent_path();
  while (!dir.empty()) {
    if (std::filesystem::exists(dir / ".latent" / "index.sqlite", ec)) return dir;
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  return std::nullopt;
}

void Index::flush_for_test() { impl_->writer->flush(); }

namespace {

struct Existing {
  int64_t id;
  uint64_t size;
  int64_t mtime_ns;
  uint64_t hash;
  bool from_buffer;
};

// The repo map's ranking: PageRank over the graph "file A uses a name that file B defines at
// top level", each use split evenly among the name's definers. Uses only link files of one
// language family (a C++ variable named `path` says nothing about a JavaScript `path`
// constant); module-level variables and constants and names with many definers (overloads,
// common typedefs) say little about which file matters and are left out.
std::string language_family(std::string_view language) {
  if (language == "c" || language == "cpp") return "c";
  if (language == "javascript" || language == "typescript" || language == "tsx") return "js";
  return std::string(language);
}

void compute_file_ranks(WriteContext& w) {
  constexpr size_t kMaxDefiners = 8;
  std::vector<int64_t> files;
  std::unordered_map<int64_t, size_t> index_of;
  std::vector<std::string> family;
  {
    Statement q = w.db.prepare("SELECT id, language FROM files ORDER BY id");
    while (q.step()) {
      index_of[q.int64(0)] = files.size();
      files.push_back(q.int64(0));
      family.push_back(language_family(q.text_view(1)));
    }
  }
  if (files.empty()) {
    w.db.exec("DELETE FROM file_rank");
    return;
  }
  std::unordered_map<int64_t, std::vector<size_t>> definers;
  {
    Statement q = w.db.prepare(
        "SELECT DISTINCT s.name_id, s.file_id FROM symbols s JOIN names n ON n.id = s.name_id "
        "WHERE s.top_level = 1 AND s.kind NOT IN (?, ?) AND length(n.name) >= 3");
    q.bind(1, int64_t(SymbolKind::constant)).bind(2, int64_t(SymbolKind::variable));
    while (q.step()) {
      auto f = index_of.find(q.int64(1));
      if (f == index_of.end()) continue;
      auto& v = definers[q.int64(0)];
      if (v.size() <= kMaxDefiners) v.push_back(f->second);
    }
  }
  std::vector<std::map<size_t, double>> out(files.size());
  {
    Statement q = w.db.prepare("SELECT DISTINCT file_id, name_id FROM refs");
    while (q.step()) {
      auto it = definers.find(q.int64(1));
      if (it == definers.end() || it->second.size() > kMaxDefiners) continue;
      auto from = index_of.find(q.int64(0));
      if (from == index_of.end()) continue;
      size_t src = from->second;
      size_t same_family = 0;
      for (size_t dst : it->second) same_family += dst != src && family[dst] == family[src];
      if (same_family == 0) continue;
      double share = 1.0 / static_cast<double>(same_family);
      for (size_t dst : it->second)
        if (dst != src && family[dst] == family[src]) out[src][dst] += share;
    }
  }
  const double d = 0.85;
  size_t n = files.size();
  std::vector<double> rank(n, 1.0 / static_cast<double>(n)), next(n);
  std::vector<double> out_weight(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (auto& [j, wgt] : out[i]) out_weight[i] += wgt;
  for (int iter = 0; iter < 40; ++iter) {
    double dangling = 0;
    for (size_t i = 0; i < n; ++i)
      if (out_weight[i] == 0) dangling += rank[i];
    std::fill(next.begin(), next.end(), (1 - d) / static_cast<double>(n) + d * dangling / static_cast<double>(n));
    for (size_t i = 0; i < n; ++i)
      for (auto& [j, wgt] : out[i]) next[j] += d * rank[i] * wgt / out_weight[i];
    double delta = 0;
    for (size_t i = 0; i < n; ++i) delta += std::fabs(next[i] - rank[i]);
    rank.swap(next);
    if (delta < 1e-9) break;
  }
  w.db.exec("DELETE FROM file_rank");
  Statement ins = w.db.prepare("INSERT INTO file_rank(file_id, rank) VALUES (?,?)");
  for (size_t i = 0; i < n; ++i) ins.bind(1, files[i]).bind(2, rank[i]).run();
}

}  // namespace

IndexStats Index::index_workspace(const ProgressCallback& progress, const std::atomic<bool>* cancel) {
  auto t0 = std::chrono::steady_clock::now();
  Impl& impl = *impl_;
  const IndexOptions& opt = impl.options;
  IndexStats stats;

  std::unordered_map<std::string, Existing> existing;
  {
    auto db = impl.read();
    Statement q = db->prepare("SELECT path, id, size, mtime_ns, hash, from_buffer FROM files");
    while (q.step())
      existing.emplace(q.text(0), Existing{q.int64(1), uint64_t(q.int64(2)), q.int64(3), uint64_t(q.int64(4)),
                                           q.int64(5) != 0});
  }

  std::mutex mu;  // guards stats, progress, problems, errors
  Progress prog;
  std::vector<WalkEntry> entries;
  walk_workspace(
      opt.root,
      [&](WalkEntry&& e) {
        entries.push_back(std::move(e));
        prog.files_found = entries.size();
        if (progress && entries.size() % 1000 == 0) {
          prog.seconds = seconds_since(t0);
          progress(prog);
        }
      },
      [&](std::string path, std::string message) { stats.problems.push_back({std::move(path), std::move(message)}); });
  prog.walk_done = true;
  prog.files_found = entries.size();

  std::vector<std::future<void>> writes;
  std::mutex writes_mu;
  std::atomic<bool> failed{false};
  std::atomic<size_t> next{0};
  auto is_cancelled = [&] { return (cancel && cancel->load()) || failed.load(); };
  auto submit = [&](std::function<void(WriteContext&)> job) {
    auto f = impl.writer->submit(std::move(job), false);
    std::lock_guard<std::mutex> lock(writes_mu);
    writes.push_back(std::move(f));
  };
  ContentLimits limits{opt.max_file_bytes, opt.max_line_bytes};
  ParseOptions popt{opt.chunk_max_tokens, opt.count_tokens};

  auto process = [&](const WalkEntry& e) {
    auto it = existing.find(e.path);
    const Existing* old = it == existing.end() ? nullptr : &it->second;
    auto done = [&](bool indexed, uint64_t bytes, uint64_t lines, uint64_t symbols, uint64_t chunks) {
      std::lock_guard<std::mutex> lock(mu);
      ++prog.files_done;
      if (indexed) {
        ++prog.files_indexed;
        prog.bytes_indexed += bytes;
        ++stats.files_indexed;
        stats.bytes_indexed += bytes;
        stats.lines_indexed += lines;
        stats.symbols_indexed += symbols;
        stats.chunks_indexed += chunks;
      }
    };
    // expected: left out by rule (binary, generated, too large), not a problem to report.
    auto skip = [&](std::string message, bool expected) {
      {
        std::lock_guard<std::mutex> lock(mu);
        (expected ? stats.skipped : stats.problems).push_back({e.path, std::move(message)});
      }
      if (old) submit([path = e.path](WriteContext& w) { write_delete(w, path); });
      done(false, 0, 0, 0, 0);
    };
    if (old && !old->from_buffer && old->size == e.size && old->mtime_ns == e.mtime_ns) {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.files_unchanged;
      ++prog.files_done;
      return;
    }
    if (e.size > opt.max_file_bytes) {
      skip("skipped: " + std::to_string(e.size / 1024) + " KiB is over the file size limit of " +
           std::to_string(opt.max_file_bytes / 1024) + " KiB (raise it with --max-file-kb)",
           true);
      return;
    }
    std::string content, error;
    if (!read_file((opt.root / e.path).string(), content, error)) {
      skip(error, false);
      return;
    }
    if (auto why = reject_content(e.path, content, limits)) {
      skip(*why, true);
      return;
    }
    uint64_t hash = content_hash(content);
    if (old && old->hash == hash) {
      // Touched but identical: only the stat data moves.
      submit([path = e.path, size = e.size, mtime = e.mtime_ns](WriteContext& w) {
        w.stmt("UPDATE files SET size=?, mtime_ns=?, from_buffer=0 WHERE path=?")
            .bind(1, int64_t(size)).bind(2, mtime).bind(3, path).run();
      });
      std::lock_guard<std::mutex> lock(mu);
      ++stats.files_unchanged;
      ++prog.files_done;
      return;
    }
    auto rec = std::make_shared<FileRecord>();
    rec->path = e.path;
    rec->size = e.size;
    rec->mtime_ns = e.mtime_ns;
    rec->hash = hash;
    rec->parsed = parse_source(detect_language(e.path, std::string_view(content).substr(0, 512)), content, popt);
    if (rec->parsed.had_invalid_utf8) {
      std::lock_guard<std::mutex> lock(mu);
      stats.problems.push_back({e.path, "invalid UTF-8: indexed with replacement characters"});
    }
    done(true, content.size(), rec->parsed.lines, rec->parsed.symbols.size(), rec->parsed.chunks.size());
    submit([rec](WriteContext& w) { write_record(w, *rec); });
  };

  auto worker = [&] {
    while (!is_cancelled()) {
      size_t i = next.fetch_add(1);
      if (i >= entries.size()) break;
      try {
        process(entries[i]);
      } catch (const std::exception& ex) {
        std::lock_guard<std::mutex> lock(mu);
        stats.problems.push_back({entries[i].path, std::string("cannot index: ") + ex.what()});
        ++prog.files_done;
      }
    }
  };

  // Surfaces the first failed write; later writes are not waited for file by file.
  std::string first_error;
  auto check_writes = [&](bool wait_all) {
    std::lock_guard<std::mutex> lock(writes_mu);
    auto keep = writes.begin();
    for (auto& f : writes) {
      if (wait_all || f.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        try {
          f.get();
        } catch (const SqliteError& e) {
          if (e.fatal()) {
            if (first_error.empty()) first_error = write_error(impl.db_path, e).what();
            failed = true;
          }
        } catch (const IndexError& e) {
          if (first_error.empty()) first_error = e.what();
          failed = true;
        } catch (const std::exception&) {
          // A single file's write failed without harming the batch; it is retried next run.
        }
      } else {
        *keep++ = std::move(f);
      }
    }
    writes.erase(keep, writes.end());
  };

  if (opt.threads == 0) {
    for (size_t i = 0; i < entries.size() && !is_cancelled(); ++i) {
      try {
        process(entries[i]);
      } catch (const std::exception& ex) {
        stats.problems.push_back({entries[i].path, std::string("cannot index: ") + ex.what()});
      }
      check_writes(false);
      if (progress && i % 64 == 0) {
        prog.seconds = seconds_since(t0);
        progress(prog);
      }
    }
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < opt.threads; ++t) pool.emplace_back(worker);
    while (true) {
      Progress snapshot;
      {
        std::lock_guard<std::mutex> lock(mu);
        prog.seconds = seconds_since(t0);
        snapshot = prog;
      }
      check_writes(false);
      if (snapshot.files_done >= entries.size() || is_cancelled()) break;
      if (progress) progress(snapshot);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (auto& t : pool) t.join();
  }

  if (!is_cancelled()) {
    // Whatever the walk no longer finds (deleted, renamed, now ignored) leaves the index.
    std::unordered_set<std::string> seen;
    for (const auto& e : entries) seen.insert(e.path);
    for (const auto& [path, old] : existing) {
      if (seen.count(path)) continue;
      submit([p = path](WriteContext& w) { write_delete(w, p); });
      ++stats.files_removed;
    }
  }
  check_writes(true);
  if (!failed && (stats.files_indexed || stats.files_removed || stats.files_unchanged != entries.size())) {
    auto f = impl.writer->submit(compute_file_ranks, false);
    {
      std::lock_guard<std::mutex> lock(writes_mu);
      writes.push_back(std::move(f));
    }
    check_writes(true);
  }
  if (failed && !first_error.empty()) throw IndexError(first_error);
  stats.cancelled = cancel && cancel->load();
  stats.files_total = file_count();
  stats.seconds = seconds_since(t0);
  stats.files_checked = entries.size();
  auto by_path = [](const FileProblem& a, const FileProblem& b) { return a.path < b.path; };
  std::sort(stats.problems.begin(), stats.problems.end(), by_path);
  std::sort(stats.skipped.begin(), stats.skipped.end(), by_path);
  if (progress) {
    prog.seconds = stats.seconds;
    progress(prog);
  }
  return stats;
}

std::optional<FileProblem> Index::update_file(const std::string& path) {
  Impl& impl = *impl_;
  std::string rel = impl.relative(path);
  std::string abs = (impl.options.root / rel).string();
  auto remove = [&](std::string message) -> std::optional<FileProblem> {
    remove_file(rel);
    if (message.empty()) return std::nullopt;
    return FileProblem{rel, std::move(message)};
  };
  struct stat st;
  if (lstat(abs.c_str(), &st) != 0) return remove("");
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    auto target = std::filesystem::weakly_canonical(abs, ec);
    auto inside = target.lexically_relative(impl.options.root);
    if (ec || inside.empty() || *inside.begin() == ".." || stat(abs.c_str(), &st) != 0)
      return remove("skipped: a symlink out of the workspace");
  }
  if (!S_ISREG(st.st_mode)) return remove("");
  if (is_ignored(impl.options.root, rel)) return remove("");
  if (static_cast<uint64_t>(st.st_size) > impl.options.max_file_bytes)
    return remove("skipped: " + std::to_string(st.st_size / 1024) + " KiB is over the file size limit of " +
                  std::to_string(impl.options.max_file_bytes / 1024) + " KiB (raise it with --max-file-kb)");
  std::string content, error;
  if (!read_file(abs, content, error)) return remove(error);
  if (auto why = reject_content(rel, content, {impl.options.max_file_bytes, impl.options.max_line_bytes}))
    return remove(*why);
  auto rec = std::make_shared<FileRecord>();
  rec->path = rel;
  rec->size = content.size();
  rec->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  rec->hash = content_hash(content);
  rec->parsed = parse_source(detect_language(rel, std::string_view(content).substr(0, 512)), content,
                             {impl.options.chunk_max_tokens, impl.options.count_tokens});
  try {
    impl.writer->submit([rec](WriteContext& w) { write_record(w, *rec); }, true).get();
  } catch (const std::exception& e) {
    throw write_error(impl.db_path, e);
  }
  if (rec->parsed.had_invalid_utf8) return FileProblem{rel, "invalid UTF-8: indexed with replacement characters"};
  return std::nullopt;
}

void Index::update_buffer(const std::string& path, std::string_view content) {
  Impl& impl = *impl_;
  auto rec = std::make_shared<FileRecord>();
  rec->path = impl.relative(path);
  rec->size = content.size();
  rec->mtime_ns = 0;
  rec->hash = content_hash(content);
  rec->from_buffer = true;
  rec->parsed = parse_source(detect_language(rec->path, content.substr(0, 512)), content,
                             {impl.options.chunk_max_tokens, impl.options.count_tokens});
  try {
    impl.writer->submit([rec](WriteContext& w) { write_record(w, *rec); }, true).get();
  } catch (const std::exception& e) {
    throw write_error(impl.db_path, e);
  }
}

void Index::remove_file(const std::string& path) {
  Impl& impl = *impl_;
  std::string rel = impl.relative(path);
  try {
    impl.writer->submit([rel](WriteContext& w) { write_delete(w, rel); }, true).get();
  } catch (const std::exception& e) {
    throw write_error(impl.db_path, e);
  }
}

std::vector<Definition> Index::find_definitions(std::string_view name, size_t limit) const {
  auto db = impl_->read();
  Statement q = db->prepare(
      "SELECT s.kind, f.path, s.line, s.end_line, s.col, s.signature, s.scope FROM symbols s "
      "JOIN names n ON n.id = s.name_id JOIN files f ON f.id = s.file_id WHERE n.name = ? "
      "ORDER BY f.path, s.line LIMIT ?");
  q.bind(1, name).bind(2, int64_t(limit));
  std::vector<Definition> out;
  while (q.step()) {
    Definition d;
    d.name = std::string(name);
    d.kind = static_cast<SymbolKind>(q.int64(0));
    d.path = q.text(1);
    d.line = uint32_t(q.int64(2));
    d.end_line = uint32_t(q.int64(3));
    d.column = uint32_t(q.int64(4));
    d.signature = q.text(5);
    d.scope = q.text(6);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Reference> Index::find_references(std::string_view name, size_t limit) const {
  auto db = impl_->read();
  Statement q = db->prepare(
      "SELECT r.kind, f.path, r.line, r.col FROM refs r JOIN names n ON n.id = r.name_id "
      "JOIN files f ON f.id = r.file_id WHERE n.name = ? ORDER BY f.path, r.line, r.col LIMIT ?");
  q.bind(1, name).bind(2, int64_t(limit));
  std::vector<Reference> out;
  while (q.step()) {
    Reference r;
    r.name = std::string(name);
    int64_t k = q.int64(0);
    r.kind = std::string(k >= 0 && k < int64_t(std::size(kReferenceKinds)) ? kReferenceKinds[k] : "use");
    r.path = q.text(1);
    r.line = uint32_t(q.int64(2));
    r.column = uint32_t(q.int64(3));
    out.push_back(std::move(r));
  }
  return out;
}

std::string fts_query(std::string_view text, size_t max_terms) {
  std::vector<std::string> terms;
  std::unordered_set<std::string> seen;
  for (const Word& w : identifier_words(text)) {
    if (w.text.size() < 2 || !seen.insert(w.text).second) continue;
    terms.push_back(w.text);
    if (terms.size() >= max_terms) break;
  }
  std::string q;
  for (const auto& t : terms) {
    if (!q.empty()) q += " OR ";
    q += '"';
    for (char c : t) {
      if (c == '"') q += '"';
      q += c;
    }
    q += '"';
  }
  return q;
}

std::vector<SearchHit> Index::search(std::string_view query, size_t limit) const {
  std::string match = fts_query(query, 64);
  std::vector<SearchHit> out;
  if (match.empty()) return out;
  auto db = impl_->read();
  Statement q = db->prepare(
      "SELECT f.path, c.start_line, c.end_line, c.symbol, bm25(chunks_fts) AS score, c.text "
      "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id "
      "WHERE chunks_fts MATCH ? ORDER BY score, f.path, c.start_line LIMIT ?");
  q.bind(1, match).bind(2, int64_t(limit));
  while (q.step()) {
    SearchHit h;
    h.path = q.text(0);
    h.start_line = uint32_t(q.int64(1));
    h.end_line = uint32_t(q.int64(2));
    h.symbol = q.text(3);
    h.score = -q.real(4);
    h.text = q.text(5);
    out.push_back(std::move(h));
  }
  return out;
}

std::optional<FileInfo> Index::file_info(const std::string& path) const {
  std::string rel = impl_->relative(path);
  auto db = impl_->read();
  Statement q = db->prepare("SELECT language, size, mtime_ns, lines FROM files WHERE path = ?");
  q.bind(1, rel);
  if (!q.step()) return std::nullopt;
  return FileInfo{rel, q.text(0), uint64_t(q.int64(1)), q.int64(2), uint32_t(q.int64(3))};
}

std::vector<FileInfo> Index::list_files() const {
  auto db = impl_->read();
  Statement q = db->prepare("SELECT path, language, size, mtime_ns, lines FROM files ORDER BY path");
  std::vector<FileInfo> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), uint64_t(q.int64(2)), q.int64(3), uint32_t(q.int64(4))});
  return out;
}

uint64_t Index::file_count() const {
  auto db = impl_->read();
  return uint64_t(db->scalar("SELECT count(*) FROM files"));
}

}  // namespace latent::indexer
