#include "indexer/context.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

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
    double rank = 0;  // repo map order
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
  // Adds a candidate if it fits in `cap` more tokens and does not repeat what is already taken.
  bool take(Candidate c, size_t& cap);
  bool covered(const std::string& path, uint32_t s, uint32_t e) const {
    auto it = taken_.find(path);
    if (it == taken_.end()) return false;
    for (auto [a, b] : it->second)
      if (a <= s && e <= b) return true;
    return false;
  }

  // The indexed text of lines [s, e] of a file, from its chunks.
  std::string file_lines(int64_t file_id, uint32_t s, uint32_t e);
  std::string lines_of(std::string_view text, uint32_t s, uint32_t e) const;
  // Lines [s, e'] with e' <= e chosen so the text stays within `cap` tokens.
  std::pair<std::string, uint32_t> head_within(std::string text, uint32_t s, size_t cap);
  std::string outline(int64_t file_id, size_t max_lines);
  int64_t file_id(const std::string& path);
  std::vector<std::string> resolve_import(const std::string& module, const std::string& from_path,
                                          const std::string& language);

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
  std::map<std::string, std::vector<std::pair<uint32_t, uint32_t>>> taken_;
  std::unordered_map<const char*, Statement> statements_;
  size_t used_ = 0;
};

bool ContextBuilder::take(Candidate c, size_t& cap) {
  if (c.body.empty()) return false;
  if (c.start_line != 0 && covered(c.path, c.start_line, c.end_line)) return false;
  size_t n = tokens(piece_text(c));
  if (n > cap || used_ + n > req_.budget_tokens) return false;
  cap -= n;
  used_ += n;
  if (c.start_line != 0) taken_[c.path].emplace_back(c.start_line, c.end_line);
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

std::string ContextBuilder::outline(int64_t id, size_t max_lines) {
  Statement& q = stmt(
      "SELECT signature FROM symbols WHERE file_id = ? AND top_level = 1 ORDER BY line, col LIMIT ?");
  q.bind(1, id).bind(2, int64_t(max_lines));
  std::string out;
  std::string last;
  while (q.step()) {
    std::string sig = q.text(0);
    if (sig == last) continue;
    out += sig + "\n";
    last = std::move(sig);
  }
  return out;
}

std::vector<std::string> ContextBuilder::resolve_import(const std::string& module, const std::string& from,
                                                        const std::string& language) {
  std::string dir = from.find('/') == std::string::npos ? "" : from.substr(0, from.rfind('/') + 1);
  auto normal = [](std::string p) {
    std::string s = std::filesystem::path(p).lexically_normal().generic_string();
    return s.rfind("./", 0) == 0 ? s.substr(2) : s;
  };
  std::vector<std::string> exact, suffix;
  auto dotted = [](std::string m, char sep) {
    std::replace(m.begin(), m.end(), sep, '/');
    return m;
  };
  if (language == "c" || language == "cpp") {
    exact = {normal(dir + module)};
    suffix = {module};
  } else if (language == "javascript" || language == "typescript" || language == "tsx") {
    if (module.rfind(".", 0) != 0) return {};
    std::string base = normal(dir + module);
    for (const char* ext : {"", ".ts", ".tsx", ".js", ".jsx", ".mjs", "/index.ts", "/index.tsx", "/index.js"})
      exact.push_back(base + ext);
  } else if (language == "python") {
    size_t dots = 0;
    while (dots < module.size() && module[dots] == '.') ++dots;
    std::string rest = dotted(module.substr(dots), '.');
    if (dots > 0) {
      std::string base = dir;
      for (size_t i = 1; i < dots; ++i) base += "../";
      base = normal(base + rest);
      exact = {base + ".py", base + "/__init__.py"};
    } else {
      suffix = {rest + ".py", rest + "/__init__.py"};
    }
  } else if (language == "rust") {
    std::string m = module;
    for (const char* p : {"crate::", "self::", "super::"})
      if (m.rfind(p, 0) == 0) m = m.substr(std::string(p).size());
    auto brace = m.find("::{");
    if (brace != std::string::npos) m = m.substr(0, brace);
    std::string path;
    for (size_t i = 0; i < m.size(); ++i) {
      if (m.compare(i, 2, "::") == 0) {
        path += '/';
        ++i;
      } else {
        path += m[i];
      }
    }
    exact = {normal(dir + path + ".rs"), normal(dir + path + "/mod.rs")};
    // `use a::b::item`: the module is usually a/b.rs.
    std::string parent = path.find('/') == std::string::npos ? path : path.substr(0, path.rfind('/'));
    suffix = {path + ".rs", path + "/mod.rs", parent + ".rs", parent + "/mod.rs"};
  } else if (language == "java") {
    suffix = {dotted(module, '.') + ".java"};
  } else if (language == "go") {
    std::string last = module.substr(module.rfind('/') == std::string::npos ? 0 : module.rfind('/') + 1);
    Statement& q = stmt(
        "SELECT path FROM files WHERE path LIKE ? AND language = 'go' ORDER BY path LIMIT 20");
    q.bind(1, "%" + last + "/%.go");
    std::vector<std::string> out;
    while (q.step()) {
      std::string p = q.text(0);
      std::string d = p.substr(0, p.rfind('/'));
      if (d == last || (d.size() > last.size() && d.compare(d.size() - last.size() - 1, last.size() + 1, "/" + last) == 0))
        out.push_back(p);
    }
    return out;
  } else if (language == "ruby") {
    exact = {normal(dir + module + ".rb")};
    suffix = {module + ".rb"};
  } else if (language == "lua") {
    suffix = {dotted(module, '.') + ".lua"};
  } else if (language == "bash") {
    exact = {normal(dir + module)};
  }
  std::vector<std::string> out;
  for (const auto& p : exact) {
    if (file_id(p)) {
      out.push_back(p);
      return out;
    }
  }
  for (const auto& s : suffix) {
    Statement& q = stmt("SELECT path FROM files WHERE path = ? OR path LIKE ? ORDER BY length(path), path LIMIT 1");
    q.bind(1, s).bind(2, "%/" + s);
    if (q.step()) {
      out.push_back(q.text(0));
      return out;
    }
  }
  return out;
}

Context ContextBuilder::build() {
  const size_t budget = req_.budget_tokens;
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

  // 1. The current file around the cursor (a quarter of the budget), grown alternately
  //    upwards and downwards line by line.
  if (req_.include_current_file && n_lines > 0) {
    size_t cap = budget / 4;
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

  // 2. Definitions of identifiers near the cursor, nearest first; then signatures of the
  //    types their signatures name.
  uint32_t ws = cursor > req_.identifier_window_lines ? cursor - req_.identifier_window_lines : 1;
  uint32_t we = std::min(n_lines, cursor + req_.identifier_window_lines);
  std::vector<Word> words = identifier_words(slice(ws, we), ws);
  std::stable_sort(words.begin(), words.end(), [&](const Word& a, const Word& b) {
    uint32_t da = a.line > cursor ? a.line - cursor : cursor - a.line;
    uint32_t db = b.line > cursor ? b.line - cursor : cursor - b.line;
    return da < db;
  });
  std::set<std::string> looked_up;
  std::vector<std::string> type_names;
  {
    size_t cap = budget * 35 / 100;
    size_t per_def = std::max<size_t>(budget / 16, 64);
    Statement& q = stmt(
        "SELECT f.id, f.path, s.line, s.end_line, s.signature, s.kind, "
        "  (f.id = ?2) AS same, coalesce(r.rank, 0) AS rank "
        "FROM symbols s JOIN names n ON n.id = s.name_id JOIN files f ON f.id = s.file_id "
        "LEFT JOIN file_rank r ON r.file_id = f.id WHERE n.name = ?1 "
        "ORDER BY same DESC, rank DESC, f.path, s.line LIMIT 3");
    for (const Word& w : words) {
      if (w.text.size() < 2 || !looked_up.insert(w.text).second) continue;
      q.bind(1, w.text).bind(2, current_id);
      while (q.step()) {
        int64_t fid = q.int64(0);
        std::string path = q.text(1);
        uint32_t s = uint32_t(q.int64(2)), e = uint32_t(q.int64(3));
        if (path == rel && s <= cursor && cursor <= e && e - s > 40) continue;  // the enclosing body
        auto [text, last] = head_within(file_lines(fid, s, e), s, std::min(per_def, cap));
        Candidate c{SourceKind::definition, path, s, last, std::move(text)};
        if (take(std::move(c), cap)) {
          for (const Word& t : identifier_words(q.text(4))) type_names.push_back(t.text);
        }
      }
      q.reset();
      if (cap < 32) break;
    }
  }
  {
    size_t cap = budget * 5 / 100;
    Statement& q = stmt(
        "SELECT f.id, f.path, s.line, s.end_line FROM symbols s JOIN names n ON n.id = s.name_id "
        "JOIN files f ON f.id = s.file_id LEFT JOIN file_rank r ON r.file_id = f.id "
        "WHERE n.name = ? AND s.kind IN (?, ?, ?) ORDER BY coalesce(r.rank, 0) DESC, f.path, s.line LIMIT 1");
    for (const std::string& name : type_names) {
      if (!looked_up.insert(name).second) continue;
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
    size_t cap = budget * 15 / 100;
    uint32_t bs = cursor > 15 ? cursor - 15 : 1, be = std::min(n_lines, cursor + 15);
    std::string match = fts_query(slice(bs, be), 48);
    if (!match.empty()) {
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

  // 4. Files the current file imports: whole when small, else their outline.
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
    std::string text = file_lines(id, 1, lines);
    Candidate c{kind, path, 1, lines, text};
    if (count_(piece_text(c)) <= std::min(cap, per_file)) {
      take(std::move(c), cap);
      return;
    }
    std::string out = outline(id, 200);
    if (out.empty()) return;
    auto [head, last] = head_within(out, 1, std::min(cap, per_file));
    (void)last;
    take({kind, path, 0, 0, std::move(head)}, cap);
  };
  {
    size_t cap = budget / 10;
    std::vector<std::string> files;
    Statement& q = stmt("SELECT module FROM imports WHERE file_id = ? ORDER BY module");
    q.bind(1, current_id);
    std::vector<std::string> modules;
    while (q.step()) modules.push_back(q.text(0));
    for (const auto& m : modules)
      for (auto& p : resolve_import(m, rel, language))
        if (p != rel && std::find(files.begin(), files.end(), p) == files.end()) files.push_back(p);
    for (const auto& p : files) whole_or_outline(SourceKind::import, p, cap, std::max<size_t>(cap / 2, 256));
  }

  // 5. Recently changed files (on disk or in an editor buffer).
  {
    size_t cap = budget / 20;
    Statement& q = stmt(
        "SELECT path FROM files WHERE path != ? AND language != 'text' "
        "ORDER BY from_buffer DESC, mtime_ns DESC, path LIMIT 3");
    q.bind(1, rel);
    std::vector<std::string> recent;
    while (q.step()) recent.push_back(q.text(0));
    for (const auto& p : recent) whole_or_outline(SourceKind::recent, p, cap, std::max<size_t>(cap / 3, 128));
  }

  // 6. The repo map fills what remains: files by PageRank with their top-level signatures.
  {
    size_t cap = budget > used_ ? budget - used_ : 0;
    Statement& q = stmt(
        "SELECT f.id, f.path, coalesce(r.rank, 0) AS rank FROM files f LEFT JOIN file_rank r ON r.file_id = f.id "
        "WHERE f.language != 'text' ORDER BY rank DESC, f.path");
    size_t misses = 0;
    while (cap > 16 && q.step()) {
      std::string path = q.text(1);
      std::string out = outline(q.int64(0), 60);
      if (out.empty()) continue;
      Candidate c{SourceKind::repo_map, path, 0, 0, std::move(out), q.real(2)};
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
