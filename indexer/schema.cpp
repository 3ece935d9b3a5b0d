#include "indexer/schema.h"

#include "indexer/index.h"

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

}  // namespace

int64_t reference_kind_code(std::string_view kind) {
  for (size_t i = 0; i < std::size(kReferenceKinds); ++i)
    if (kReferenceKinds[i] == kind) return static_cast<int64_t>(i);
  return 0;
}

void configure_writer(Connection& db, uint64_t max_pages) {
  db.exec("PRAGMA journal_mode=WAL");
  // NORMAL in WAL mode: a crash may lose the last commits, never consistency.
  db.exec("PRAGMA synchronous=NORMAL");
  db.exec("PRAGMA temp_store=MEMORY");
  db.exec("PRAGMA cache_size=-32768");
  if (max_pages) db.exec("PRAGMA max_page_count=" + std::to_string(max_pages));
}

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

}  // namespace latent::indexer
