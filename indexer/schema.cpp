#include "indexer/schema.h"

#include <utility>
#include <vector>

#include "indexer/index.h"

namespace latent::indexer {

namespace {

// Files, interned names, definitions, references (one row per name and file with the
// positions packed, see writer.h), imports, syntax chunks with their FTS5 index (external
// content: the text is stored once, in chunks), and file_rank.
const char* const kTables = R"sql(
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
CREATE TABLE refs(
  name_id INTEGER NOT NULL, file_id INTEGER NOT NULL, positions BLOB NOT NULL,
  PRIMARY KEY(name_id, file_id)) WITHOUT ROWID;
CREATE TABLE imports(file_id INTEGER NOT NULL, module TEXT NOT NULL);
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, start_line INTEGER NOT NULL,
  end_line INTEGER NOT NULL, tokens INTEGER NOT NULL, symbol TEXT NOT NULL, text TEXT NOT NULL);
CREATE VIRTUAL TABLE chunks_fts USING fts5(symbol, text, content='chunks', content_rowid='id');
CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, symbol, text) VALUES (new.id, new.symbol, new.text);
END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, symbol, text) VALUES ('delete', old.id, old.symbol, old.text);
END;
CREATE TABLE file_rank(file_id INTEGER PRIMARY KEY, rank REAL NOT NULL);
INSERT INTO meta(key, value) VALUES ('application', 'latent-index');
)sql";

// Kept apart from the tables: a cold bulk load drops them and builds each in one sorted pass
// at the end, which is several times cheaper than updating them row by row.
const char* const kSecondaryIndexes = R"sql(
CREATE INDEX IF NOT EXISTS symbols_by_name ON symbols(name_id);
CREATE INDEX IF NOT EXISTS symbols_by_file ON symbols(file_id);
CREATE INDEX IF NOT EXISTS refs_by_file ON refs(file_id);
CREATE INDEX IF NOT EXISTS imports_by_file ON imports(file_id);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_id, start_line);
)sql";

// Drops every table, index and trigger of an older schema: an index is derived data, so an
// old one is rebuilt from the workspace rather than migrated.
void drop_everything(Connection& db) {
  std::vector<std::pair<std::string, std::string>> objects;
  {
    Statement q = db.prepare(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND type IN ('table', 'view') "
        "ORDER BY sql LIKE 'CREATE VIRTUAL TABLE%' DESC");
    while (q.step()) objects.emplace_back(q.text(0), q.text(1));
  }
  for (const auto& [type, name] : objects) {
    // Shadow tables went with their virtual table.
    if (db.scalar("SELECT count(*) FROM sqlite_master WHERE name = '" + name + "'") == 0) continue;
    db.exec("DROP " + std::string(type == "view" ? "VIEW" : "TABLE") + " IF EXISTS \"" + name + "\"");
  }
}

}  // namespace

void create_secondary_indexes(Connection& db) { db.exec(kSecondaryIndexes); }

void drop_secondary_indexes(Connection& db) {
  for (const char* name : {"symbols_by_name", "symbols_by_file", "refs_by_file", "imports_by_file", "chunks_by_file"})
    db.exec(std::string("DROP INDEX IF EXISTS ") + name);
}

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
  if (version == kSchemaVersion) {
    // A bulk load that was killed before it rebuilt them leaves them missing.
    create_secondary_indexes(db);
    return;
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    // Re-read under the write lock: another process may have rebuilt it meanwhile.
    version = db.scalar("PRAGMA user_version");
    if (version != kSchemaVersion) {
      if (version != 0) drop_everything(db);
      db.exec(kTables);
      db.exec(kSecondaryIndexes);
      db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    }
    db.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace latent::indexer
