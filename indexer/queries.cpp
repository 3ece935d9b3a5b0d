// Index's read side: symbol lookup, references, full-text search and file listings, each on a
// pooled read connection (WAL: never blocked by the writer).
#include <unordered_set>

#include "indexer/index.h"
#include "indexer/index_impl.h"
#include "indexer/parse.h"
#include "indexer/postings.h"
#include "indexer/schema.h"

namespace latent::indexer {

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
      "SELECT f.path, r.positions FROM refs r JOIN names n ON n.id = r.name_id "
      "JOIN files f ON f.id = r.file_id WHERE n.name = ? ORDER BY f.path");
  q.bind(1, name);
  std::vector<Reference> out;
  while (q.step() && out.size() < limit) {
    std::string path = q.text(0);
    for (const Position& p : unpack_positions(q.blob(1))) {
      if (out.size() >= limit) break;
      Reference r;
      r.name = std::string(name);
      r.kind = std::string(p.kind < std::size(kReferenceKinds) ? kReferenceKinds[p.kind] : "use");
      r.path = path;
      r.line = p.line;
      r.column = p.column;
      out.push_back(std::move(r));
    }
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
