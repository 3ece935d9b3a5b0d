#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <unordered_set>

#include "indexer/index.h"
#include "indexer/index_impl.h"
#include "indexer/pipeline.h"
#include "indexer/ranking.h"
#include "indexer/schema.h"
#include "indexer/walk.h"

namespace latent::indexer {

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

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
  PipelineOptions popt = pipeline_options(opt);
  // A cold load into an empty index builds the secondary indexes once at its end.
  bool bulk_load = existing.empty() && entries.size() >= opt.bulk_load_files;
  if (bulk_load) submit([](WriteContext& w) { drop_secondary_indexes(w.db); });

  auto process = [&](const WalkEntry& e) {
    auto it = existing.find(e.path);
    const Existing* old = it == existing.end() ? nullptr : &it->second;
    if (old && !old->from_buffer && old->size == e.size && old->mtime_ns == e.mtime_ns) {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.files_unchanged;
      ++prog.files_done;
      return;
    }
    PreparedFile prepared =
        prepare_file(popt, e.path, e.size, e.mtime_ns, old ? std::optional<uint64_t>(old->hash) : std::nullopt);
    using Outcome = PreparedFile::Outcome;
    switch (prepared.outcome) {
      case Outcome::record: {
        auto rec = std::move(prepared.record);
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!prepared.message.empty()) stats.problems.push_back({e.path, prepared.message});
          ++prog.files_done;
          ++prog.files_indexed;
          prog.bytes_indexed += rec->size;
          ++stats.files_indexed;
          stats.bytes_indexed += rec->size;
          stats.lines_indexed += rec->parsed.lines;
          stats.symbols_indexed += rec->parsed.symbols.size();
          stats.chunks_indexed += rec->parsed.chunks.size();
        }
        submit([rec](WriteContext& w) { write_record(w, *rec); });
        return;
      }
      case Outcome::unchanged: {
        submit([path = e.path, size = e.size, mtime = e.mtime_ns](WriteContext& w) { write_touch(w, path, size, mtime); });
        std::lock_guard<std::mutex> lock(mu);
        ++stats.files_unchanged;
        ++prog.files_done;
        return;
      }
      case Outcome::skipped:
      case Outcome::failed: {
        {
          std::lock_guard<std::mutex> lock(mu);
          (prepared.outcome == Outcome::skipped ? stats.skipped : stats.problems)
              .push_back({e.path, std::move(prepared.message)});
          ++prog.files_done;
        }
        if (old) submit([path = e.path](WriteContext& w) { write_delete(w, path); });
        return;
      }
    }
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
  if (bulk_load) {
    // Also after a failure or cancel: what was written stays usable (open() retries).
    submit([](WriteContext& w) { create_secondary_indexes(w.db); });
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
  int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  PreparedFile prepared = prepare_file(pipeline_options(impl.options), rel, uint64_t(st.st_size), mtime_ns, std::nullopt);
  if (prepared.outcome != PreparedFile::Outcome::record) return remove(std::move(prepared.message));
  auto rec = std::move(prepared.record);
  try {
    impl.writer->submit([rec](WriteContext& w) { write_record(w, *rec); }, true).get();
  } catch (const std::exception& e) {
    throw write_error(impl.db_path, e);
  }
  if (!prepared.message.empty()) return FileProblem{rel, std::move(prepared.message)};
  return std::nullopt;
}

void Index::update_buffer(const std::string& path, std::string_view content) {
  Impl& impl = *impl_;
  auto rec = record_content(pipeline_options(impl.options), impl.relative(path), content, 0, true);
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

}  // namespace latent::indexer
