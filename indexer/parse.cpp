#include "indexer/parse.h"

#include <tree_sitter/api.h>

#include <algorithm>
#include <memory>
#include <unordered_set>

#include "indexer/language.h"

namespace latent::indexer {
namespace {

constexpr size_t kMaxNameBytes = 200;
constexpr size_t kMaxSignatureBytes = 240;
constexpr int kMaxSplitDepth = 24;

// One parser per thread: TSParser is not thread-safe but cheap to retarget.
struct ThreadParser {
  TSParser* parser = ts_parser_new();
  ~ThreadParser() { ts_parser_delete(parser); }
};
TSParser* thread_parser() {
  thread_local ThreadParser p;
  return p.parser;
}
struct ThreadCursor {
  TSQueryCursor* cursor = ts_query_cursor_new();
  ~ThreadCursor() { ts_query_cursor_delete(cursor); }
};
TSQueryCursor* thread_cursor() {
  thread_local ThreadCursor c;
  return c.cursor;
}

struct TreeDeleter {
  void operator()(TSTree* t) const { ts_tree_delete(t); }
};

SymbolKind kind_from_capture(std::string_view suffix) {
  if (suffix == "function") return SymbolKind::function;
  if (suffix == "method") return SymbolKind::method;
  if (suffix == "class") return SymbolKind::class_;
  if (suffix == "interface") return SymbolKind::interface;
  if (suffix == "type") return SymbolKind::type;
  if (suffix == "module") return SymbolKind::module;
  if (suffix == "constant") return SymbolKind::constant;
  if (suffix == "macro") return SymbolKind::macro;
  if (suffix == "variable") return SymbolKind::variable;
  return SymbolKind::other;
}

// tags.scm often captures only a declarator (C/C++ `function_declarator`, a JS
// `variable_declarator`); the definition's extent is the enclosing declaration.
bool extends_definition(std::string_view parent_type) {
  static const std::string_view kTypes[] = {
      "function_definition", "declaration", "field_declaration", "template_declaration",
      "type_definition", "export_statement", "decorated_definition", "lexical_declaration",
      "variable_declaration", "variable_declarator", "init_declarator", "pointer_declarator",
      "reference_declarator", "function_declarator", "parenthesized_declarator",
      "ambient_declaration", "abstract_class_declaration", "enum_specifier", "struct_specifier",
      "class_specifier", "union_specifier"};
  if (parent_type.size() >= 10 && parent_type.substr(parent_type.size() - 10) == "declarator")
    return true;
  return std::find(std::begin(kTypes), std::end(kTypes), parent_type) != std::end(kTypes);
}

bool is_identifier_type(std::string_view type) {
  return type.find("identifier") != std::string_view::npos || type == "constant";
}

class LineIndex {
 public:
  explicit LineIndex(std::string_view text) : text_(text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n' && i + 1 < text.size()) starts_.push_back(static_cast<uint32_t>(i + 1));
    if (text.empty()) starts_.clear();
  }
  uint32_t count() const { return static_cast<uint32_t>(starts_.size()); }
  // Lines [first, last], 0-based, newline of the last line included.
  std::string_view lines(uint32_t first, uint32_t last) const {
    size_t b = starts_[first];
    size_t e = last + 1 < starts_.size() ? starts_[last + 1] : text_.size();
    return text_.substr(b, e - b);
  }

 private:
  std::string_view text_;
  std::vector<uint32_t> starts_;
};

std::string trimmed_one_line(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() >= kMaxSignatureBytes) break;
  }
  return out;
}

struct DefSpan {
  uint32_t start_byte, end_byte;
  uint32_t first, last;  // 0-based lines
  size_t symbol;         // index into symbols
};

class Chunker {
 public:
  Chunker(std::string_view text, const LineIndex& lines, uint32_t max_tokens,
          const std::unordered_set<uint32_t>& def_starts)
      : text_(text), lines_(lines), max_tokens_(max_tokens), def_starts_(def_starts) {
    prefix_.assign(lines.count() + 1, 0);
    for (uint32_t i = 0; i < lines.count(); ++i)
      prefix_[i + 1] = prefix_[i] + approximate_token_count(lines.lines(i, i));
  }

  std::vector<std::pair<uint32_t, uint32_t>> take() { return std::move(out_); }

  void split_node(TSNode node, uint32_t lo, uint32_t hi, int depth) {
    std::vector<TSNode> children = children_of(node);
    // A node whose content is one child (a class and its body, `extern "C" { ... }`) is
    // split by that child's children.
    while (children.size() == 1 && depth < kMaxSplitDepth) {
      std::vector<TSNode> inner = children_of(children[0]);
      if (inner.empty()) break;
      children = std::move(inner);
      ++depth;
    }
    if (children.empty() || depth >= kMaxSplitDepth) {
      split_lines(lo, hi);
      return;
    }
    struct Unit {
      uint32_t first, last;
      TSNode node;
      bool definition;
    };
    std::vector<Unit> units;
    // Comments join the unit after them, so a definition keeps its doc comment.
    bool comment_pending = false;
    uint32_t comment_start = 0;
    for (TSNode child : children) {
      uint32_t s = ts_node_start_point(child).row;
      if (std::string_view(ts_node_type(child)).find("comment") != std::string_view::npos) {
        if (!comment_pending) comment_start = s;
        comment_pending = true;
        continue;
      }
      if (comment_pending) {
        s = std::min(s, comment_start);
        comment_pending = false;
      }
      TSPoint end = ts_node_end_point(child);
      uint32_t e = (end.column == 0 && end.row > s) ? end.row - 1 : end.row;
      s = std::clamp(s, lo, hi);
      e = std::clamp(e, s, hi);
      bool def = def_starts_.count(ts_node_start_byte(child)) > 0;
      if (!units.empty() && s <= units.back().last) {
        units.back().last = std::max(units.back().last, e);
        units.back().definition = units.back().definition || def;
        continue;
      }
      units.push_back({s, e, child, def});
    }
    if (units.empty()) {
      split_lines(lo, hi);
      return;
    }
    // Gaps (leading comments, blank lines, a class's opening line) belong to the next unit;
    // what trails the last child (closing braces) to the last one.
    units.front().first = lo;
    for (size_t i = 1; i < units.size(); ++i) units[i].first = units[i - 1].last + 1;
    units.back().last = hi;

    uint32_t group_first = 0, group_last = 0;
    size_t group_tokens = 0;
    bool open = false;
    auto flush = [&] {
      if (open) emit(group_first, group_last);
      open = false;
      group_tokens = 0;
    };
    for (const Unit& u : units) {
      if (u.first > u.last) continue;
      size_t t = tokens(u.first, u.last);
      bool own_chunk = t > max_tokens_ || (u.definition && u.last >= u.first + 2);
      if (own_chunk) {
        flush();
        if (t > max_tokens_) split_node(u.node, u.first, u.last, depth + 1);
        else emit(u.first, u.last);
        continue;
      }
      if (open && group_tokens + t > max_tokens_) flush();
      if (!open) {
        group_first = u.first;
        open = true;
      }
      group_last = u.last;
      group_tokens += t;
    }
    flush();
  }

  // Plain text: paragraphs (separated by blank lines) grouped up to the limit.
  void split_paragraphs(uint32_t lo, uint32_t hi) {
    uint32_t group_first = lo;
    size_t group_tokens = 0;
    uint32_t i = lo;
    while (i <= hi) {
      uint32_t j = i;
      while (j < hi && !blank(j)) ++j;
      while (j < hi && blank(j + 1)) ++j;
      size_t t = tokens(i, j);
      if (group_tokens > 0 && group_tokens + t > max_tokens_) {
        emit(group_first, i - 1);
        group_first = i;
        group_tokens = 0;
      }
      if (t > max_tokens_) {
        if (group_first < i) emit(group_first, i - 1);
        split_lines(i, j);
        group_first = j + 1;
        group_tokens = 0;
      } else {
        group_tokens += t;
      }
      i = j + 1;
    }
    if (group_first <= hi) emit(group_first, hi);
  }

  // Statement-free stretches (a huge initializer, a long comment): lines up to the limit.
  void split_lines(uint32_t lo, uint32_t hi) {
    uint32_t first = lo;
    for (uint32_t i = lo; i <= hi; ++i) {
      if (i > first && tokens(first, i) > max_tokens_) {
        emit(first, i - 1);
        first = i;
      }
    }
    emit(first, hi);
  }

 private:
  size_t tokens(uint32_t first, uint32_t last) const { return prefix_[last + 1] - prefix_[first]; }
  bool blank(uint32_t line) const {
    for (char c : lines_.lines(line, line))
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
    return true;
  }
  void emit(uint32_t first, uint32_t last) {
    if (first > last) return;
    if (!out_.empty() && out_.back().second >= first) first = out_.back().second + 1;
    if (first > last) return;
    out_.emplace_back(first, last);
  }
  std::vector<TSNode> children_of(TSNode node) const {
    std::vector<TSNode> out;
    uint32_t n = ts_node_named_child_count(node);
    if (n == 0) return out;
    TSTreeCursor cursor = ts_tree_cursor_new(node);
    if (ts_tree_cursor_goto_first_child(&cursor)) {
      do {
        TSNode c = ts_tree_cursor_current_node(&cursor);
        if (ts_node_is_named(c)) out.push_back(c);
      } while (ts_tree_cursor_goto_next_sibling(&cursor));
    }
    ts_tree_cursor_delete(&cursor);
    return out;
  }

  std::string_view text_;
  const LineIndex& lines_;
  uint32_t max_tokens_;
  const std::unordered_set<uint32_t>& def_starts_;
  std::vector<size_t> prefix_;
  std::vector<std::pair<uint32_t, uint32_t>> out_;
};

std::string clean_import(std::string_view s) {
  while (!s.empty() && (s.front() == '"' || s.front() == '\'' || s.front() == '<' ||
                        s.front() == '`' || s.front() == ' '))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == '"' || s.back() == '\'' || s.back() == '>' ||
                        s.back() == '`' || s.back() == ' ' || s.back() == ';'))
    s.remove_suffix(1);
  return trimmed_one_line(s.substr(0, 300));
}

}  // namespace

namespace {

// Length of the valid UTF-8 sequence at `p`, or 0 when there is none.
size_t utf8_sequence_at(std::string_view text, size_t p) {
  unsigned char c = static_cast<unsigned char>(text[p]);
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
  else return 0;
  if (p + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = static_cast<unsigned char>(text[p + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

// Bytes before the first invalid sequence (the text's size when it is all valid).
size_t valid_utf8_prefix(std::string_view text) {
  size_t i = 0, len;
  while (i < text.size() && (len = utf8_sequence_at(text, i)) != 0) i += len;
  return i;
}

}  // namespace

bool sanitize_utf8(std::string& text) {
  size_t i = valid_utf8_prefix(text);
  if (i == text.size()) return false;
  std::string out = text.substr(0, i);
  while (i < text.size()) {
    if (size_t len = utf8_sequence_at(text, i)) {
      out.append(text, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  text = std::move(out);
  return true;
}

size_t approximate_token_count(std::string_view text) {
  // Calibrated by eye on BPE vocabularies for code: a short word is one token, long
  // identifiers split every ~6 bytes, punctuation pairs often merge, a newline with its
  // indentation is one token.
  size_t tokens = 0, i = 0, n = text.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isalnum(c) || c == '_' || c >= 0x80) {
      size_t j = i;
      while (j < n && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_' ||
                       static_cast<unsigned char>(text[j]) >= 0x80))
        ++j;
      tokens += 1 + (j - i - 1) / 6;
      i = j;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      size_t j = i;
      bool newline = false;
      while (j < n && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r')) {
        newline = newline || text[j] == '\n';
        ++j;
      }
      if (newline || j - i > 1) ++tokens;
      i = j;
    } else {
      // Punctuation runs, and any other byte (control characters) on its own.
      size_t j = i + 1;
      while (j < n && std::ispunct(static_cast<unsigned char>(text[j]))) ++j;
      tokens += (j - i + 1) / 2;
      i = j;
    }
  }
  return tokens;
}

std::vector<Word> identifier_words(std::string_view text, uint32_t first_line) {
  std::vector<Word> out;
  uint32_t line = first_line;
  size_t i = 0, n = text.size();
  auto word_char = [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; };
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      ++i;
    } else if (word_char(c)) {
      size_t j = i;
      while (j < n && word_char(static_cast<unsigned char>(text[j]))) ++j;
      if (!std::isdigit(c) && j - i <= kMaxNameBytes) out.push_back({std::string(text.substr(i, j - i)), line});
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

ParsedFile parse_source(const Language* language, std::string_view raw, const ParseOptions& options) {
  ParsedFile result;
  std::string sanitized;
  std::string_view text = raw;
  // Almost every file is valid: copy only the rare one that needs repair.
  if (valid_utf8_prefix(raw) != raw.size()) {
    sanitized.assign(raw);
    result.had_invalid_utf8 = sanitize_utf8(sanitized);
    text = sanitized;
  }
  LineIndex lines(text);
  result.lines = lines.count();
  result.language = language ? language->name() : "text";
  if (lines.count() == 0) return result;

  std::unordered_set<uint32_t> def_starts;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  std::unique_ptr<TSTree, TreeDeleter> tree;
  std::vector<DefSpan> spans;

  if (language) {
    TSParser* parser = thread_parser();
    ts_parser_set_language(parser, language->grammar());
    tree.reset(ts_parser_parse_string(parser, nullptr, text.data(), static_cast<uint32_t>(text.size())));
  }
  if (tree) {
    TSNode root = ts_tree_root_node(tree.get());
    TSQueryCursor* qc = thread_cursor();
    std::unordered_set<uint32_t> name_starts;  // names already used by a definition or a reference

    // Definitions first: a reference pattern may match a definition's name node too, and
    // match order is not guaranteed.
    struct Hit {
      TSNode name, role;
      std::string role_name;
    };
    std::vector<Hit> hits;
    ts_query_cursor_exec(qc, language->tags().query, root);
    TSQueryMatch match;
    const auto& cap_names = language->tags().capture_names;
    while (ts_query_cursor_next_match(qc, &match)) {
      if (!predicates_hold(language->tags(), match.pattern_index, match.captures, match.capture_count, text))
        continue;
      const TSQueryCapture* name_cap = nullptr;
      const TSQueryCapture* role_cap = nullptr;
      for (uint16_t i = 0; i < match.capture_count; ++i) {
        const std::string& cn = cap_names[match.captures[i].index];
        if (cn == "name") name_cap = &match.captures[i];
        else if (cn.rfind("definition.", 0) == 0 || cn.rfind("reference.", 0) == 0) role_cap = &match.captures[i];
      }
      if (name_cap && role_cap) hits.push_back({name_cap->node, role_cap->node, cap_names[role_cap->index]});
    }
    std::stable_sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
      bool ad = a.role_name[0] == 'd', bd = b.role_name[0] == 'd';
      return ad != bd ? ad : ts_node_start_byte(a.name) < ts_node_start_byte(b.name);
    });
    for (const Hit& hit : hits) {
      TSNode name_node = hit.name;
      uint32_t nb = ts_node_start_byte(name_node), ne = ts_node_end_byte(name_node);
      if (ne <= nb || ne - nb > kMaxNameBytes || name_starts.count(nb)) continue;
      std::string name(text.substr(nb, ne - nb));
      if (name.find('\n') != std::string::npos) continue;
      TSPoint np = ts_node_start_point(name_node);
      const std::string& role = hit.role_name;
      if (role.rfind("definition.", 0) == 0) {
        TSNode def = hit.role;
        for (TSNode parent = ts_node_parent(def); !ts_node_is_null(parent) && extends_definition(ts_node_type(parent));
             parent = ts_node_parent(parent))
          def = parent;
        ParsedSymbol s;
        s.name = std::move(name);
        s.kind = kind_from_capture(std::string_view(role).substr(11));
        TSPoint ds = ts_node_start_point(def), de = ts_node_end_point(def);
        s.line = ds.row + 1;
        s.end_line = std::max(ds.row, (de.column == 0 && de.row > ds.row) ? de.row - 1 : de.row) + 1;
        s.column = np.column + 1;
        uint32_t sig_last = std::min<uint32_t>(np.row, ds.row + 2);
        s.signature = trimmed_one_line(lines.lines(ds.row, std::max(ds.row, sig_last)));
        spans.push_back({ts_node_start_byte(def), ts_node_end_byte(def), ds.row, s.end_line - 1, result.symbols.size()});
        def_starts.insert(ts_node_start_byte(def));
        result.symbols.push_back(std::move(s));
      } else {
        result.references.push_back({std::move(name), role.substr(10), np.row + 1, np.column + 1});
      }
      name_starts.insert(nb);
    }

    // Every other identifier is a plain use: the reference graph wants all of them.
    TSTreeCursor cursor = ts_tree_cursor_new(root);
    bool done = false;
    while (!done) {
      TSNode node = ts_tree_cursor_current_node(&cursor);
      if (ts_node_child_count(node) == 0) {
        if (ts_node_is_named(node) && is_identifier_type(ts_node_type(node))) {
          uint32_t nb = ts_node_start_byte(node), ne = ts_node_end_byte(node);
          if (ne - nb >= 2 && ne - nb <= kMaxNameBytes && !name_starts.count(nb)) {
            std::string_view name = text.substr(nb, ne - nb);
            if (name.find('\n') == std::string_view::npos) {
              TSPoint p = ts_node_start_point(node);
              result.references.push_back({std::string(name), "use", p.row + 1, p.column + 1});
            }
          }
        }
      } else if (ts_tree_cursor_goto_first_child(&cursor)) {
        continue;
      }
      while (!ts_tree_cursor_goto_next_sibling(&cursor)) {
        if (!ts_tree_cursor_goto_parent(&cursor)) {
          done = true;
          break;
        }
      }
    }
    ts_tree_cursor_delete(&cursor);

    ts_query_cursor_exec(qc, language->imports().query, root);
    const auto& imp_names = language->imports().capture_names;
    while (ts_query_cursor_next_match(qc, &match)) {
      if (!predicates_hold(language->imports(), match.pattern_index, match.captures, match.capture_count, text))
        continue;
      for (uint16_t i = 0; i < match.capture_count; ++i) {
        if (imp_names[match.captures[i].index] != "import") continue;
        uint32_t b = ts_node_start_byte(match.captures[i].node), e = ts_node_end_byte(match.captures[i].node);
        std::string imp = clean_import(text.substr(b, e - b));
        if (!imp.empty()) result.imports.push_back(std::move(imp));
      }
    }
    std::sort(result.imports.begin(), result.imports.end());
    result.imports.erase(std::unique(result.imports.begin(), result.imports.end()), result.imports.end());

    // Scopes: definitions nest by byte range.
    std::sort(spans.begin(), spans.end(), [](const DefSpan& a, const DefSpan& b) {
      return a.start_byte != b.start_byte ? a.start_byte < b.start_byte : a.end_byte > b.end_byte;
    });
    std::vector<const DefSpan*> stack;
    for (const DefSpan& d : spans) {
      while (!stack.empty() && stack.back()->end_byte <= d.start_byte) stack.pop_back();
      ParsedSymbol& s = result.symbols[d.symbol];
      if (!stack.empty() && stack.back()->end_byte >= d.end_byte) {
        const ParsedSymbol& parent = result.symbols[stack.back()->symbol];
        s.scope = parent.scope.empty() ? parent.name : parent.scope + "." + parent.name;
      }
      s.top_level = s.scope.empty();
      stack.push_back(&d);
    }

    Chunker chunker(text, lines, options.chunk_max_tokens, def_starts);
    chunker.split_node(root, 0, lines.count() - 1, 0);
    ranges = chunker.take();
  } else {
    Chunker chunker(text, lines, options.chunk_max_tokens, def_starts);
    chunker.split_paragraphs(0, lines.count() - 1);
    ranges = chunker.take();
  }

  for (auto [first, last] : ranges) {
    std::string_view body = lines.lines(first, last);
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
    ParsedChunk c;
    c.start_line = first + 1;
    c.end_line = last + 1;
    c.text.assign(body);
    c.tokens = static_cast<uint32_t>(options.count_tokens(c.text));
    // Enclosing symbol: the innermost definition holding the whole chunk, else the first
    // definition starting inside it.
    const DefSpan* best = nullptr;
    const DefSpan* first_inside = nullptr;
    for (const DefSpan& d : spans) {
      if (d.first <= first && d.last >= last && (!best || d.last - d.first < best->last - best->first)) best = &d;
      if (!first_inside && d.first >= first && d.first <= last) first_inside = &d;
    }
    if (!best) best = first_inside;
    if (best) {
      const ParsedSymbol& s = result.symbols[best->symbol];
      c.symbol = s.scope.empty() ? s.name : s.scope + "." + s.name;
    }
    result.chunks.push_back(std::move(c));
  }
  return result;
}

}  // namespace latent::indexer
