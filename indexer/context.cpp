#include "indexer/context.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "indexer/imports.h"
#include "indexer/index_impl.h"
#include "indexer/parse.h"

namespace latent::indexer {

std::string_view source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::repo_map: return "repo_map";
    case SourceKind::definition: return "definition";
    case SourceKind::type_signature: return "type_signature";
    case SourceKind::search: return "search";
    case SourceKind::import: return "import";
    case SourceKind::recent: return "recent";
    case SourceKind::current: return "current";
  }
  return "unknown";
}

class ContextBuilder {
 public:
  ContextBuilder(const Index& index, const ContextRequest& req)
      : impl_(*index.impl_), req_(req), db_(impl_.read()) {
    count_ = req.count_tokens ? req.count_tokens : impl_.options.count_tokens;
  }

  Context build();

 private:
  struct Candidate {
    SourceKind kind;
    std::string path;
    uint32_t start_line, end_line;
    std::string body;
    double rank = 0;     // repo map order
    bool whole = false;  // the whole file: holds every other piece of it
  };

  size_t tokens(const std::string& text) {
    if (auto it = token_cache_.find(text); it != token_cache_.end()) return it->second;
    size_t n = count_(text);
    token_cache_.emplace(text, n);
    return n;
  }
  static std::string header(const Candidate& c) {
    if (c.start_line == 0) return "# " + c.path + " (outline)\n";
    return "# " + c.path + ":" + std::to_string(c.start_line) + "-" + std::to_string(c.end_line) + "\n";
  }
  static std::string piece_text(const Candidate& c) {
    std::string t = header(c) + c.body;
    if (!t.empty() && t.back() != '\n') t += '\n';
    return t;
  }
  // Adds a candidate if it fits in `cap` more tokens and does not repeat what is already taken;
  // pieces of the same file it contains are dropped and their tokens given back to `cap`.
  bool take(Candidate c, size_t& cap);
  bool covered(const std::string& path, uint32_t s, uint32_t e) const {
    for (const auto& [c, n] : chosen_)
      if (c.start_line != 0 && c.path == path && c.start_line <= s && e <= c.end_line) return true;
    return false;
  }
  // Definitions of the current file's identifiers, nearest first (section 2).
  struct Def {
    int64_t file_id;
    std::string path;
    uint32_t start, end;
    SymbolKind kind;
    std::string signature;
  };
  std::vector<Def> definitions_near(const std::string& content, uint32_t cursor, int64_t current_id,
                                    const std::vector<int64_t>& imported);
  // The first lines of a definition, up to where its signature ends.
  std::pair<std::string, uint32_t> head_of(const Def& d);

  // The indexed text of lines [s, e] of a file, from its chunks.
  std::string file_lines(int64_t file_id, uint32_t s, uint32_t e);
  std::string lines_of(std::string_view text, uint32_t s, uint32_t e) const;
  // Lines [s, e'] with e' <= e chosen so the text stays within `cap` tokens.
  std::pair<std::string, uint32_t> head_within(std::string text, uint32_t s, size_t cap);
  std::string outline(int64_t file_id, size_t max_lines);
  int64_t file_id(const std::string& path);
  FileSystemView file_system();

  // Prepared once per build (the repo map alone runs one query per file), reset on each use.
  Statement& stmt(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) it = statements_.emplace(sql, db_->prepare(sql)).first;
    it->second.reset();
    return it->second;
  }

  Index::Impl& impl_;
  const ContextRequest& req_;
  Index::Impl::Lease db_;
  TokenCounter count_;
  std::unordered_map<std::string, size_t> token_cache_;
  std::vector<std::pair<Candidate, size_t>> chosen_;
  std::optional<std::vector<std::string>> all_paths_;  // every indexed path, shortest first
  std::unordered_map<const char*, Statement> statements_;
  size_t used_ = 0;
};

bool ContextBuilder::take(Candidate c, size_t& cap) {
  if (c.body.empty()) return false;
  if (c.start_line != 0 && covered(c.path, c.start_line, c.end_line)) return false;
  // Lines another piece holds already are cut from the ends.
  if (c.start_line != 0 && !c.whole) {
    uint32_t s = c.start_line, e = c.end_line;
    for (const auto& [o, on] : chosen_) {
      if (o.start_line == 0 || o.path != c.path || o.end_line < s || e < o.start_line) continue;
      if (o.start_line <= s) s = o.end_line + 1;
      else if (e <= o.end_line) e = o.start_line - 1;
    }
    if (s > e) return false;
    if (s != c.start_line || e != c.end_line) {
      c.body = lines_of(c.body, s - c.start_line + 1, e - c.start_line + 1);
      c.start_line = s;
      c.end_line = e;
      if (c.body.empty()) return false;
    }
  }
  if (c.start_line == 0)  // an outline: once per file, never beside the whole file
    for (const auto& [o, on] : chosen_)
      if (o.path == c.path && (o.whole || o.start_line == 0)) return false;
  size_t n = tokens(piece_text(c));
  // What the new piece contains (never the current file's window: it is placed apart).
  size_t inside = 0;
  auto contained = [&](const Candidate& o) {
    if (o.kind == SourceKind::current || o.path != c.path || c.kind == SourceKind::current) return false;
    return c.whole || (c.start_line != 0 && o.start_line != 0 && c.start_line <= o.start_line && o.end_line <= c.end_line);
  };
  for (const auto& [o, on] : chosen_)
    if (contained(o)) inside += on;
  if (n > cap + inside || used_ + n > req_.budget_tokens + inside) return false;
  if (inside) {
    chosen_.erase(std::remove_if(chosen_.begin(), chosen_.end(), [&](const auto& p) { return contained(p.first); }),
                  chosen_.end());
    used_ -= inside;
    cap += inside;
  }
  cap -= n;
  used_ += n;
  chosen_.emplace_back(std::move(c), n);
  return true;
}

int64_t ContextBuilder::file_id(const std::string& path) {
  Statement& q = stmt("SELECT id FROM files WHERE path = ?");
  q.bind(1, path);
  return q.step() ? q.int64(0) : 0;
}

std::string ContextBuilder::lines_of(std::string_view text, uint32_t s, uint32_t e) const {
  std::string out;
  uint32_t line = 1;
  size_t pos = 0;
  while (pos < text.size() && line <= e) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line >= s) out.append(text.substr(pos, end - pos));
    pos = end;
    ++line;
  }
  return out;
}

std::string ContextBuilder::file_lines(int64_t id, uint32_t s, uint32_t e) {
  Statement& q = stmt(
      "SELECT start_line, text FROM chunks WHERE file_id = ? AND start_line <= ? AND end_line >= ? "
      "ORDER BY start_line");
  q.bind(1, id).bind(2, int64_t(e)).bind(3, int64_t(s));
  std::string out;
  uint32_t next = s;
  while (q.step()) {
    uint32_t cs = uint32_t(q.int64(0));
    std::string_view text = q.text_view(1);
    // Blank stretches between chunks are not stored; keep line numbers right.
    for (; next < cs && next <= e; ++next) out += '\n';
    uint32_t from = std::max(s, cs);
    std::string part = lines_of(text, from - cs + 1, e - cs + 1);
    out += part;
    next = from + static_cast<uint32_t>(std::count(part.begin(), part.end(), '\n'));
  }
  return out;
}

std::pair<std::string, uint32_t> ContextBuilder::head_within(std::string text, uint32_t s, size_t cap) {
  if (count_(text) <= cap) {
    uint32_t n = static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n'));
    return {std::move(text), s + std::max<uint32_t>(n, 1) - 1};
  }
  // Binary search on the number of lines kept (token counts grow with lines).
  std::vector<size_t> ends;
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') ends.push_back(i + 1);
  size_t lo = 0, hi = ends.size();
  while (lo < hi) {
    size_t mid = (lo + hi + 1) / 2;
    if (count_(std::string_view(text).substr(0, ends[mid - 1])) <= cap) lo = mid;
    else hi = mid - 1;
  }
  if (lo == 0) return {"", s};
  text.resize(ends[lo - 1]);
  return {std::move(text), s + static_cast<uint32_t>(lo) - 1};
}

// Signatures of a file's definitions in line order, nested ones (methods) indented under
// their class; locals and plain variables inside definitions are left out.
std::string ContextBuilder::outline(int64_t id, size_t max_lines) {
  Statement& q = stmt(
      "SELECT signature, scope FROM symbols WHERE file_id = ? AND (top_level = 1 OR kind NOT IN (?, ?)) "
      "ORDER BY line, col LIMIT ?");
  q.bind(1, id).bind(2, int64_t(SymbolKind::variable)).bind(3, int64_t(SymbolKind::other)).bind(4, int64_t(max_lines));
  std::string out;
  std::string last;
  while (q.step()) {
    std::string sig = q.text(0);
    if (sig == last) continue;
    std::string_view scope = q.text_view(1);
    if (!scope.empty()) out.append(2 * (1 + std::count(scope.begin(), scope.end(), '.')), ' ');
    out += sig + "\n";
    last = std::move(sig);
  }
  return out;
}

FileSystemView ContextBuilder::file_system() {
  FileSystemView fs;
  fs.root = impl_.options.root.string();
  fs.exists = [this](const std::string& p) { return file_id(p) != 0; };
  // Suffix lookups scan the paths in memory: SQLite has no index for them.
  auto paths = [this]() -> const std::vector<std::string>& {
    if (!all_paths_) {
      all_paths_.emplace();
      Statement& q = stmt("SELECT path FROM files ORDER BY length(path), path");
      while (q.step()) all_paths_->push_back(q.text(0));
    }
    return *all_paths_;
  };
  auto ends_with = [](const std::string& p, const std::string& suffix) {
    return p == suffix || (p.size() > suffix.size() && p[p.size() - suffix.size() - 1] == '/' &&
                           p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0);
  };
  fs.ending_with = [paths, ends_with](const std::string& suffix) {
    std::vector<std::string> out;
    for (const auto& p : paths())
      if (ends_with(p, suffix) && out.size() < 8) out.push_back(p);
    return out;
  };
  fs.files_in = [paths, ends_with](const std::string& folder, bool exact) {
    std::vector<std::string> out;
    std::optional<std::string> dir;
    if (exact) dir = folder;
    for (const auto& p : paths()) {
      size_t slash = p.rfind('/');
      std::string d = slash == std::string::npos ? "" : p.substr(0, slash);
      if (!dir && ends_with(d, folder)) dir = d;
      if (dir && d == *dir) out.push_back(p);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  fs.read = [this](const std::string& p) -> std::optional<std::string> {
    std::ifstream in(impl_.options.root / p, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return fs;
}

std::vector<ContextBuilder::Def> ContextBuilder::definitions_near(const std::string& content, uint32_t cursor,
                                                                  int64_t current_id,
                                                                  const std::vector<int64_t>& imported) {
  // Each name once, at its nearest line to the cursor.
  std::unordered_map<std::string, uint32_t> distance;
  for (Word& w : identifier_words(content)) {
    if (w.text.size() < 2) continue;
    uint32_t d = w.line > cursor ? w.line - cursor : cursor - w.line;
    auto [it, fresh] = distance.emplace(std::move(w.text), d);
    if (!fresh) it->second = std::min(it->second, d);
  }
  std::vector<std::pair<uint32_t, std::string>> names;
  for (auto& [n, d] : distance) names.emplace_back(d, n);
  std::sort(names.begin(), names.end());
  if (names.size() > req_.max_names) names.resize(req_.max_names);

  std::string list = "[", ids = "[";
  for (const auto& [d, n] : names) {
    list += list.size() > 1 ? "," : "";
    list += '"';
    for (char ch : n) {
      if (ch == '"' || ch == '\\') list += '\\';
      list += ch;
    }
    list += '"';
  }
  list += "]";
  for (int64_t id : imported) ids += (ids.size() > 1 ? "," : "") + std::to_string(id);
  ids += "]";
  // Per name, its definitions in the order they are believed: in a file the current one imports,
  // in the current file, then by the file's rank; a name's definitions are all kept when there
  // are at most two, else the first (two when neither imported nor local).
  Statement& q = stmt(
      "SELECT name, file_id, path, line, end_line, kind, signature, pref, k, total FROM ("
      "  SELECT n.name, f.id AS file_id, f.path, s.line, s.end_line, s.kind, s.signature,"
      "    CASE WHEN f.id IN (SELECT value FROM json_each(?2)) THEN 0 WHEN f.id = ?3 THEN 1 ELSE 2 END AS pref,"
      "    row_number() OVER (PARTITION BY n.id ORDER BY CASE WHEN f.id IN (SELECT value FROM json_each(?2)) THEN 0"
      "      WHEN f.id = ?3 THEN 1 ELSE 2 END, coalesce(r.rank, 0) DESC, f.path, s.line) AS k,"
      "    count(*) OVER (PARTITION BY n.id) AS total"
      "  FROM names n JOIN symbols s ON s.name_id = n.id JOIN files f ON f.id = s.file_id"
      "  LEFT JOIN file_rank r ON r.file_id = f.id"
      "  WHERE n.name IN (SELECT value FROM json_each(?1))) WHERE k <= 2");
  q.bind(1, list).bind(2, ids).bind(3, current_id);
  std::unordered_map<std::string, std::vector<Def>> by_name;
  while (q.step()) {
    int64_t pref = q.int64(7), k = q.int64(8), total = q.int64(9);
    if (k == 2 && total > 2 && pref < 2) continue;
    by_name[q.text(0)].push_back({q.int64(1), q.text(2), uint32_t(q.int64(3)), uint32_t(q.int64(4)),
                                  static_cast<SymbolKind>(q.int64(5)), q.text(6)});
  }
  std::vector<Def> out;
  for (const auto& [d, n] : names) {
    auto it = by_name.find(n);
    if (it == by_name.end()) continue;
    for (auto& def : it->second) {
      // The body the cursor is in is the current file's window's business.
      if (def.file_id == current_id && def.start <= cursor && cursor <= def.end) continue;
      out.push_back(std::move(def));
    }
  }
  return out;
}

std::pair<std::string, uint32_t> ContextBuilder::head_of(const Def& d) {
  constexpr uint32_t kMaxHeadLines = 4;
  std::string text = file_lines(d.file_id, d.start, std::min(d.end, d.start + kMaxHeadLines - 1));
  // The signature ends at the line opening the body ('{', ':' in Python, '=' or '=>') or ending the
  // declaration (';').
  size_t pos = 0;
  uint32_t line = d.start;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t e = nl == std::string::npos ? text.size() : nl;
    std::string_view l = std::string_view(text).substr(pos, e - pos);
    while (!l.empty() && (l.back() == ' ' || l.back() == '\r' || l.back() == '\t')) l.remove_suffix(1);
    bool ends = !l.empty() && (l.back() == '{' || l.back() == ':' || l.back() == ';' || l.back() == '=' ||
                               l.back() == '>' || l.back() == ')' || l.back() == ',');
    if (nl == std::string::npos || (ends && l.find_first_not_of(" \t@#[") != std::string_view::npos &&
                                    l.front() != '@' && l.front() != '#')) {
      text.resize(nl == std::string::npos ? text.size() : nl + 1);
      return {std::move(text), line};
    }
    pos = nl + 1;
    ++line;
  }
  return {std::move(text), std::max(d.start, line - 1)};
}

Context ContextBuilder::build() {
  const size_t budget = req_.budget_tokens;
  const BudgetSplit& split = req_.split;
  auto share = [&](double f) { return static_cast<size_t>(f * static_cast<double>(budget)); };
  std::string rel = impl_.relative(req_.path);
  std::string content;
  if (req_.content) {
    content = *req_.content;
  } else {
    std::ifstream in(impl_.options.root / rel, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    content = ss.str();
  }
  sanitize_utf8(content);
  uint32_t n_lines = static_cast<uint32_t>(std::count(content.begin(), content.end(), '\n')) +
                     (content.empty() || content.back() == '\n' ? 0 : 1);
  uint32_t cursor = std::clamp<uint32_t>(req_.line, 1, std::max<uint32_t>(n_lines, 1));
  std::vector<size_t> starts = {0};
  for (size_t i = 0; i < content.size(); ++i)
    if (content[i] == '\n') starts.push_back(i + 1);
  // Lines [s, e] (1-based, clamped) of the current content, in O(1).
  auto slice = [&](uint32_t s, uint32_t e) -> std::string {
    if (n_lines == 0 || s > n_lines) return {};
    e = std::min(e, n_lines);
    size_t b = starts[s - 1], end = e < starts.size() ? starts[e] : content.size();
    return content.substr(b, end - b);
  };
  int64_t current_id = file_id(rel);
  std::string language = "text";
  {
    Statement& q = stmt("SELECT language FROM files WHERE id = ?");
    q.bind(1, current_id);
    if (q.step()) language = q.text(0);
  }
  // The files the current file imports, resolved per language.
  std::vector<std::string> imported;
  std::vector<int64_t> imported_ids;
  {
    Statement& q = stmt("SELECT module FROM imports WHERE file_id = ? ORDER BY module");
    q.bind(1, current_id);
    std::vector<std::string> modules;
    while (q.step()) modules.push_back(q.text(0));
    FileSystemView fs = file_system();
    for (const auto& m : modules)
      for (auto& p : resolve_import(m, rel, language, fs))
        if (p != rel && std::find(imported.begin(), imported.end(), p) == imported.end()) {
          imported_ids.push_back(file_id(p));
          imported.push_back(std::move(p));
        }
  }

  // 1. The current file around the cursor, grown alternately upwards and downwards line by line.
  if (req_.include_current_file && n_lines > 0) {
    size_t cap = share(split.current);
    uint32_t s = cursor, e = cursor;
    size_t approx = approximate_token_count(slice(s, e));
    bool grew = true;
    while (grew) {
      grew = false;
      for (int side = 0; side < 2; ++side) {
        uint32_t ns = side == 0 && s > 1 ? s - 1 : s, ne = side == 1 && e < n_lines ? e + 1 : e;
        if (ns == s && ne == e) continue;
        size_t add = approximate_token_count(slice(ns == s ? ne : ns, ns == s ? ne : ns));
        if (approx + add > cap) continue;
        approx += add;
        s = ns;
        e = ne;
        grew = true;
      }
    }
    Candidate c{SourceKind::current, rel, s, e, slice(s, e)};
    // The approximation may undercount: shrink from the far ends, in proportion to the excess
    // (each count of a large window is expensive with a real tokenizer).
    for (size_t n = tokens(piece_text(c)); n > cap && c.end_line > c.start_line; n = tokens(piece_text(c))) {
      uint32_t span = c.end_line - c.start_line + 1;
      uint32_t drop = std::max<uint32_t>(1, static_cast<uint32_t>(uint64_t(span) * (n - cap) / n));
      for (uint32_t k = 0; k < drop && c.end_line > c.start_line; ++k) {
        if (cursor - c.start_line > c.end_line - cursor) ++c.start_line;
        else --c.end_line;
      }
      c.body = slice(c.start_line, c.end_line);
    }
    take(std::move(c), cap);
  }

  // 2. Definitions of the file's names, nearest to the cursor first: every signature that fits,
  //    then whole bodies in the same order (a body replaces its signature); then the
  //    signatures of the types those definitions name.
  std::set<std::string> type_names;
  {
    size_t cap = share(split.definitions);
    size_t per_def = std::max<size_t>(budget / 16, 64);
    auto kind_of = [](SymbolKind k) {
      return k == SymbolKind::class_ || k == SymbolKind::type || k == SymbolKind::interface ? SourceKind::type_signature
                                                                                            : SourceKind::definition;
    };
    std::vector<Def> defs = definitions_near(content, cursor, current_id, imported_ids);
    std::vector<const Def*> headed;
    for (const Def& d : defs) {
      if (cap < 16) break;
      // The stored signature bounds the head's size: skip what cannot fit without reading it.
      if (approximate_token_count(d.signature) > cap) continue;
      auto [text, last] = head_of(d);
      if (take({kind_of(d.kind), d.path, d.start, last, std::move(text)}, cap)) {
        headed.push_back(&d);
        for (const Word& t : identifier_words(d.signature)) type_names.insert(t.text);
      }
    }
    for (const Def* d : headed) {
      if (cap < 32) break;
      if (d->end <= d->start || covered(d->path, d->start, d->end)) continue;
      auto [text, last] = head_within(file_lines(d->file_id, d->start, d->end), d->start, std::min(per_def, cap));
      take({kind_of(d->kind), d->path, d->start, last, std::move(text)}, cap);
    }
  }
  {
    size_t cap = share(split.types);
    Statement& q = stmt(
        "SELECT f.id, f.path, s.line, s.end_line FROM symbols s JOIN names n ON n.id = s.name_id "
        "JOIN files f ON f.id = s.file_id LEFT JOIN file_rank r ON r.file_id = f.id "
        "WHERE n.name = ? AND s.kind IN (?, ?, ?) ORDER BY coalesce(r.rank, 0) DESC, f.path, s.line LIMIT 1");
    for (const std::string& name : type_names) {
      if (cap < 16) break;
      q.bind(1, name).bind(2, int64_t(SymbolKind::class_)).bind(3, int64_t(SymbolKind::type))
          .bind(4, int64_t(SymbolKind::interface));
      if (q.step()) {
        uint32_t s = uint32_t(q.int64(2)), e = std::min(uint32_t(q.int64(3)), uint32_t(q.int64(2)) + 12);
        auto [text, last] = head_within(file_lines(q.int64(0), s, e), s, 256);
        take({SourceKind::type_signature, q.text(1), s, last, std::move(text)}, cap);
      }
      q.reset();
    }
  }

  // 3. BM25 over the chunks, queried with the local window.
  {
    size_t cap = share(split.search);
    uint32_t bs = cursor > 15 ? cursor - 15 : 1, be = std::min(n_lines, cursor + 15);
    std::string match = fts_query(slice(bs, be), 48);
    if (!match.empty() && cap > 32) {
      Statement& q = stmt(
          "SELECT f.path, c.start_line, c.end_line, c.text, bm25(chunks_fts) AS score FROM chunks_fts "
          "JOIN chunks c ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id "
          "WHERE chunks_fts MATCH ? ORDER BY score, f.path, c.start_line LIMIT 24");
      q.bind(1, match);
      while (q.step() && cap > 32) {
        std::string path = q.text(0);
        uint32_t s = uint32_t(q.int64(1)), e = uint32_t(q.int64(2));
        if (path == rel) continue;  // the current file is there already, fresher
        take({SourceKind::search, path, s, e, q.text(3)}, cap);
      }
    }
  }

  // 4. Files the current file imports: whole when small (dropping their pieces taken above),
  //    else their outline.
  auto whole_or_outline = [&](SourceKind kind, const std::string& path, size_t& cap, size_t per_file) {
    int64_t id = file_id(path);
    if (!id) return;
    uint32_t lines = 0;
    {
      Statement& q = stmt("SELECT lines FROM files WHERE id = ?");
      q.bind(1, id);
      if (q.step()) lines = uint32_t(q.int64(0));
    }
    if (lines == 0) return;
    Candidate c{kind, path, 1, lines, file_lines(id, 1, lines)};
    c.whole = true;
    if (take(std::move(c), cap)) return;
    std::string out = outline(id, 200);
    if (out.empty()) return;
    auto [head, last] = head_within(out, 1, std::min(cap, per_file));
    (void)last;
    take({kind, path, 0, 0, std::move(head)}, cap);
  };
  {
    size_t cap = share(split.imports);
    for (const auto& p : imported) whole_or_outline(SourceKind::import, p, cap, std::max<size_t>(cap / 2, 256));
  }

  // 5. Recently changed files (on disk or in an editor buffer).
  {
    size_t cap = share(split.recent);
    Statement& q = stmt(
        "SELECT path FROM files WHERE path != ? AND language != 'text' "
        "ORDER BY from_buffer DESC, mtime_ns DESC, path LIMIT 3");
    q.bind(1, rel);
    std::vector<std::string> recent;
    while (q.step()) recent.push_back(q.text(0));
    for (const auto& p : recent) whole_or_outline(SourceKind::recent, p, cap, std::max<size_t>(cap / 3, 128));
  }

  // 6. The repo map fills what remains: files by PageRank personalized to the current file (the
  //    files it imports and those holding its definitions come first, as a PageRank restarted
  //    at the current file ranks its neighbours), with their signatures.
  {
    size_t cap = budget > used_ ? budget - used_ : 0;
    std::set<std::string> near(imported.begin(), imported.end());
    for (const auto& [c, n] : chosen_)
      if (c.kind == SourceKind::definition || c.kind == SourceKind::type_signature) near.insert(c.path);
    near.insert(rel);
    struct Entry {
      int64_t id;
      std::string path;
      double rank;
    };
    std::vector<Entry> entries;
    Statement& q = stmt(
        "SELECT f.id, f.path, coalesce(r.rank, 0) AS rank FROM files f LEFT JOIN file_rank r ON r.file_id = f.id "
        "WHERE f.language != 'text' ORDER BY rank DESC, f.path");
    while (q.step()) entries.push_back({q.int64(0), q.text(1), q.real(2) + (near.count(q.text(1)) ? 1.0 : 0.0)});
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.rank > b.rank; });
    size_t misses = 0;
    for (const Entry& e : entries) {
      if (cap <= 16) break;
      std::string out = outline(e.id, 80);
      if (out.empty()) continue;
      Candidate c{SourceKind::repo_map, e.path, 0, 0, std::move(out), e.rank};
      if (!take(std::move(c), cap) && ++misses > 64) break;
    }
  }

  // Prompt order, most stable first.
  auto section = [](SourceKind k) {
    switch (k) {
      case SourceKind::repo_map: return 0;
      case SourceKind::definition:
      case SourceKind::type_signature:
      case SourceKind::search: return 1;
      case SourceKind::import: return 2;
      case SourceKind::recent: return 3;
      case SourceKind::current: return 4;
    }
    return 5;
  };
  std::stable_sort(chosen_.begin(), chosen_.end(), [&](const auto& a, const auto& b) {
    int sa = section(a.first.kind), sb = section(b.first.kind);
    if (sa != sb) return sa < sb;
    if (sa == 0 && a.first.rank != b.first.rank) return a.first.rank > b.first.rank;
    if (a.first.path != b.first.path) return a.first.path < b.first.path;
    return a.first.start_line < b.first.start_line;
  });
  Context ctx;
  ctx.budget_tokens = budget;
  for (auto& [c, n] : chosen_) {
    ContextPiece p;
    p.kind = c.kind;
    p.path = c.path;
    p.start_line = c.start_line;
    p.end_line = c.end_line;
    p.tokens = n;
    p.text = piece_text(c);
    ctx.text += p.text;
    ctx.tokens += n;
    ctx.pieces.push_back(std::move(p));
  }
  return ctx;
}

Context build_context(const Index& index, const ContextRequest& request) {
  try {
    return ContextBuilder(index, request).build();
  } catch (const SqliteError& e) {
    throw IndexError(std::string("reading the index for context failed: ") + e.what());
  }
}

}  // namespace latent::indexer
