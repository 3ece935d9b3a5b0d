#include "indexer_test_util.h"

#include <sqlite3.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace latent::indexer::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "latent-indexer-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempDir::write(const std::string& rel, std::string_view content) const {
  auto p = path_ / rel;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

std::string TempDir::read(const std::string& rel) const {
  std::ifstream in(path_ / rel, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

void append_rows(sqlite3* db, const char* sql, std::string& out) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string("dump query failed: ") + sqlite3_errmsg(db));
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      out += t ? reinterpret_cast<const char*>(t) : "NULL";
      out += '|';
    }
    out += '\n';
  }
  sqlite3_finalize(st);
}

}  // namespace

std::string dump_index(const std::filesystem::path& database) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    throw std::runtime_error("cannot open " + database.string());
  std::string out;
  append_rows(db, "SELECT path, language, size, hash, lines FROM files ORDER BY path", out);
  append_rows(db,
              "SELECT f.path, n.name, s.kind, s.line, s.end_line, s.col, s.top_level, s.scope, s.signature "
              "FROM symbols s JOIN files f ON f.id = s.file_id JOIN names n ON n.id = s.name_id "
              "ORDER BY 1, 4, 6, 2",
              out);
  append_rows(db,
              "SELECT f.path, n.name, hex(r.positions) FROM refs r JOIN files f ON f.id = r.file_id "
              "JOIN names n ON n.id = r.name_id ORDER BY 1, 2",
              out);
  append_rows(db, "SELECT f.path, i.module FROM imports i JOIN files f ON f.id = i.file_id ORDER BY 1, 2", out);
  append_rows(db,
              "SELECT f.path, c.start_line, c.end_line, c.tokens, c.symbol, c.text FROM chunks c "
              "JOIN files f ON f.id = c.file_id ORDER BY 1, 2",
              out);
  // The full-text index must agree with the chunks it indexes.
  append_rows(db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'zzqq OR alpha OR beta'", out);
  sqlite3_close(db);
  return out;
}

long long query_int(const std::filesystem::path& database, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    throw std::runtime_error("cannot open " + database.string());
  sqlite3_stmt* st = nullptr;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

}  // namespace latent::indexer::testing
