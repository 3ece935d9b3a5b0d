// The repository index: a workspace walked (respecting .gitignore, size and binary limits),
// parsed with tree-sitter into definitions, references, imports and syntax-following chunks,
// and stored in SQLite (WAL, FTS5 for BM25) so that a re-run touches only changed files and
// a killed run resumes. On top of it: symbol lookup, full-text search and the context builder
// (context.h) that assembles what the model sees.
//
// Threads: an Index may be used from any number of threads at once. Every write (workspace
// runs, single-file updates, removals) is executed by the Index's one writer thread in batched
// transactions; reads use their own connections and never block the writer (WAL). Parsing in
// index_workspace runs on IndexOptions::threads workers (0: on the calling thread, which makes
// tests deterministic). Progress callbacks are called on the thread that called
// index_workspace, never concurrently with each other.
//
// Token counting is handed in (IndexOptions::count_tokens); the indexer never sees a model.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace latent::indexer {

// Counts the tokens a model would see for a piece of text. Must be thread-safe.
using TokenCounter = std::function<size_t(std::string_view)>;

// A model-free estimate for source code (about one token per 3.2 bytes of non-space text, one
// per run of whitespace), used when no tokenizer is handed in.
size_t approximate_token_count(std::string_view text);

// An index that cannot be opened or written: the message names the database or file and says
// what to do (e.g. free disk space and re-run, delete a database from a newer version).
struct IndexError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct IndexOptions {
  std::filesystem::path root;            // workspace directory (required)
  std::filesystem::path database;        // default: <root>/.latent/index.sqlite
  TokenCounter count_tokens;             // default: approximate_token_count
  int threads = -1;                      // parser threads; -1: hardware threads, 0: caller's
  uint64_t max_file_bytes = 1 << 20;     // larger files are skipped (reported)
  uint32_t max_line_bytes = 20000;       // a longer line marks a file minified/generated: skipped
  uint32_t chunk_max_tokens = 384;       // syntax chunks are split at statements beyond this
  uint32_t batch_files = 200;            // files per write transaction in index_workspace
  // A run into an empty index over at least this many files drops the secondary indexes and
  // builds them once at its end (cheaper than row by row for a large cold load).
  uint32_t bulk_load_files = 500;
  // Caps the database size in SQLite pages (0: no cap); reaching it behaves like a full disk.
  uint64_t max_database_pages = 0;
};

// A file that could not be indexed, and why (shown to the user; the rest of the index is kept).
struct FileProblem {
  std::string path;  // relative to the root, '/'-separated
  std::string message;
};

struct Progress {
  uint64_t files_found = 0;    // files the walk has found so far
  uint64_t files_done = 0;     // files checked (unchanged, indexed or skipped)
  uint64_t files_indexed = 0;  // files parsed and written in this run
  uint64_t bytes_indexed = 0;
  bool walk_done = false;      // files_found is final
  double seconds = 0;
};
using ProgressCallback = std::function<void(const Progress&)>;

struct IndexStats {
  uint64_t files_checked = 0;    // files the walk found (each is indexed, unchanged or skipped)
  uint64_t files_total = 0;      // indexable files in the workspace after the run
  uint64_t files_indexed = 0;    // parsed and written in this run
  uint64_t files_unchanged = 0;  // skipped by mtime+size or content hash
  uint64_t files_removed = 0;    // deleted or renamed away since the last run
  uint64_t bytes_indexed = 0;
  uint64_t lines_indexed = 0;
  uint64_t symbols_indexed = 0;
  uint64_t chunks_indexed = 0;
  // Left out by rule, as expected: binary, generated, minified or over the size limit.
  std::vector<FileProblem> skipped;
  // Could not be read or parsed cleanly (unreadable, invalid UTF-8, a parser failure).
  std::vector<FileProblem> problems;
  bool cancelled = false;
  double seconds = 0;
};

enum class SymbolKind { function, method, class_, interface, type, module, constant, macro, variable, other };
std::string_view symbol_kind_name(SymbolKind kind);

struct Definition {
  std::string name;
  SymbolKind kind = SymbolKind::other;
  std::string path;
  uint32_t line = 0, end_line = 0;  // 1-based, inclusive
  uint32_t column = 0;              // 1-based byte column of the name
  std::string signature;            // the definition's first line, trimmed
  std::string scope;                // enclosing definition's name, empty at top level
};

struct Reference {
  std::string name;
  std::string kind;  // "call", "type", "class", ... from the tags queries; "use" otherwise
  std::string path;
  uint32_t line = 0, column = 0;  // 1-based
};

struct SearchHit {
  std::string path;
  uint32_t start_line = 0, end_line = 0;  // 1-based, inclusive
  std::string symbol;                     // enclosing symbol of the chunk, may be empty
  double score = 0;                       // BM25, higher is better
  std::string text;
};

struct FileInfo {
  std::string path;
  std::string language;  // "cpp", "python", ... or "text"
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t lines = 0;
};

// The nearest directory at or above `start` holding an index (.latent/index.sqlite), if any.
std::optional<std::filesystem::path> find_workspace_root(const std::filesystem::path& start);

class Index {
 public:
  // Opens (creating or migrating) the database and starts the writer thread. Throws IndexError
  // when the database is unusable, e.g. written by a newer schema.
  static std::unique_ptr<Index> open(IndexOptions options);
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  const IndexOptions& options() const;

  // Brings the index up to date with the workspace: walks, re-parses changed files, removes
  // vanished ones. `cancel` is checked between files; a cancelled run keeps what it wrote.
  // Throws IndexError when the database cannot be written (e.g. disk full); work committed
  // before that stays.
  IndexStats index_workspace(const ProgressCallback& progress = {},
                             const std::atomic<bool>* cancel = nullptr);

  // Re-reads one file from disk (removing it from the index when it is gone or no longer
  // indexable) in one transaction. `path` is relative to the root or absolute inside it.
  // Returns the problem when the file was skipped.
  std::optional<FileProblem> update_file(const std::string& path);
  // Indexes an unsaved editor buffer in place of the file's disk contents. The next
  // index_workspace or update_file re-reads the disk version.
  void update_buffer(const std::string& path, std::string_view content);
  void remove_file(const std::string& path);

  std::vector<Definition> find_definitions(std::string_view name, size_t limit = 100) const;
  std::vector<Reference> find_references(std::string_view name, size_t limit = 1000) const;
  // BM25 over chunks. `query` is free text; identifiers and words are OR-ed.
  std::vector<SearchHit> search(std::string_view query, size_t limit = 20) const;
  std::optional<FileInfo> file_info(const std::string& path) const;
  // Every indexed file, sorted by path.
  std::vector<FileInfo> list_files() const;
  uint64_t file_count() const;

  // Blocks until every write submitted so far is committed (test hook).
  void flush_for_test();

  struct Impl;

 private:
  explicit Index(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class ContextBuilder;
};

}  // namespace latent::indexer
