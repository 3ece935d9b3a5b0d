#include "indexer/language.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <tree_sitter/api.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace latent::grammar_queries {
std::string_view find(std::string_view name);
}
namespace latent::indexer_queries {
std::string_view find(std::string_view name);
}

extern "C" {
const TSLanguage* tree_sitter_bash(void);
const TSLanguage* tree_sitter_c(void);
const TSLanguage* tree_sitter_c_sharp(void);
const TSLanguage* tree_sitter_cpp(void);
const TSLanguage* tree_sitter_go(void);
const TSLanguage* tree_sitter_java(void);
const TSLanguage* tree_sitter_javascript(void);
const TSLanguage* tree_sitter_lua(void);
const TSLanguage* tree_sitter_python(void);
const TSLanguage* tree_sitter_ruby(void);
const TSLanguage* tree_sitter_rust(void);
const TSLanguage* tree_sitter_typescript(void);
const TSLanguage* tree_sitter_tsx(void);
}

namespace latent::indexer {
namespace {

struct GrammarSpec {
  const char* name;
  const TSLanguage* (*grammar)();
  // Upstream tags files to concatenate (typescript's only adds to javascript's).
  std::array<const char*, 2> upstream_tags;
};

const GrammarSpec kGrammars[] = {
    {"bash", tree_sitter_bash, {nullptr, nullptr}},
    {"c", tree_sitter_c, {"c/tags.scm", nullptr}},
    {"c_sharp", tree_sitter_c_sharp, {"c_sharp/tags.scm", nullptr}},
    {"cpp", tree_sitter_cpp, {"cpp/tags.scm", nullptr}},
    {"go", tree_sitter_go, {"go/tags.scm", nullptr}},
    {"java", tree_sitter_java, {"java/tags.scm", nullptr}},
    {"javascript", tree_sitter_javascript, {"javascript/tags.scm", nullptr}},
    {"lua", tree_sitter_lua, {"lua/tags.scm", nullptr}},
    {"python", tree_sitter_python, {"python/tags.scm", nullptr}},
    {"ruby", tree_sitter_ruby, {"ruby/tags.scm", nullptr}},
    {"rust", tree_sitter_rust, {"rust/tags.scm", nullptr}},
    {"typescript", tree_sitter_typescript, {"javascript/tags.scm", "typescript/tags.scm"}},
    {"tsx", tree_sitter_tsx, {"javascript/tags.scm", "typescript/tags.scm"}},
};

struct ExtensionEntry {
  const char* ext;
  const char* lang;
};

// .h is parsed as C++: the C++ grammar reads C headers, the C grammar fails on C++ ones.
const ExtensionEntry kExtensions[] = {
    {".c", "c"},        {".h", "cpp"},       {".cc", "cpp"},       {".cpp", "cpp"},
    {".cxx", "cpp"},    {".c++", "cpp"},     {".hh", "cpp"},       {".hpp", "cpp"},
    {".hxx", "cpp"},    {".h++", "cpp"},     {".ipp", "cpp"},      {".tcc", "cpp"},
    {".inl", "cpp"},    {".cu", "cpp"},      {".cuh", "cpp"},      {".py", "python"},
    {".pyi", "python"}, {".js", "javascript"}, {".mjs", "javascript"}, {".cjs", "javascript"},
    {".jsx", "javascript"}, {".ts", "typescript"}, {".mts", "typescript"},
    {".cts", "typescript"}, {".tsx", "tsx"},   {".go", "go"},        {".rs", "rust"},
    {".java", "java"},  {".cs", "c_sharp"},  {".rb", "ruby"},      {".rake", "ruby"},
    {".gemspec", "ruby"}, {".lua", "lua"},   {".sh", "bash"},      {".bash", "bash"},
    {".zsh", "bash"},
};

// Interpreter names after `#!` (or `#!/usr/bin/env`), and modeline mode names.
const ExtensionEntry kInterpreters[] = {
    {"sh", "bash"},     {"bash", "bash"},     {"zsh", "bash"},   {"dash", "bash"},
    {"ksh", "bash"},    {"python", "python"}, {"python2", "python"}, {"python3", "python"},
    {"node", "javascript"}, {"nodejs", "javascript"}, {"deno", "typescript"},
    {"ruby", "ruby"},   {"lua", "lua"},       {"luajit", "lua"},
};
const ExtensionEntry kModes[] = {
    {"c++", "cpp"}, {"c", "c"},        {"cpp", "cpp"},   {"python", "python"},
    {"sh", "bash"}, {"bash", "bash"},  {"ruby", "ruby"}, {"lua", "lua"},
    {"go", "go"},   {"rust", "rust"},  {"java", "java"}, {"javascript", "javascript"},
    {"js", "javascript"}, {"typescript", "typescript"},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

QueryPredicate::QueryPredicate(QueryPredicate&& o) noexcept { *this = std::move(o); }

QueryPredicate& QueryPredicate::operator=(QueryPredicate&& o) noexcept {
  if (this == &o) return *this;
  if (regex) pcre2_code_free(static_cast<pcre2_code*>(regex));
  op = o.op;
  capture = o.capture;
  other_capture = o.other_capture;
  values = std::move(o.values);
  regex = std::exchange(o.regex, nullptr);
  return *this;
}

QueryPredicate::~QueryPredicate() {
  if (regex) pcre2_code_free(static_cast<pcre2_code*>(regex));
}

CompiledQuery::CompiledQuery(CompiledQuery&& o) noexcept { *this = std::move(o); }

CompiledQuery& CompiledQuery::operator=(CompiledQuery&& o) noexcept {
  if (this == &o) return *this;
  if (query) ts_query_delete(query);
  query = std::exchange(o.query, nullptr);
  capture_names = std::move(o.capture_names);
  predicates = std::move(o.predicates);
  return *this;
}

CompiledQuery::~CompiledQuery() {
  if (query) ts_query_delete(query);
}

namespace {

CompiledQuery compile_query(const TSLanguage* grammar, const std::string& source,
                            const std::string& what) {
  CompiledQuery q;
  uint32_t error_offset = 0;
  TSQueryError error = TSQueryErrorNone;
  q.query = ts_query_new(grammar, source.data(), static_cast<uint32_t>(source.size()),
                         &error_offset, &error);
  if (!q.query) {
    size_t line = 1 + std::count(source.begin(), source.begin() + std::min<size_t>(error_offset, source.size()), '\n');
    throw std::logic_error("tree-sitter query " + what + " does not compile (error " +
                           std::to_string(static_cast<int>(error)) + " at line " +
                           std::to_string(line) + " of the concatenated query); fix the .scm file");
  }
  uint32_t n_captures = ts_query_capture_count(q.query);
  for (uint32_t i = 0; i < n_captures; ++i) {
    uint32_t len = 0;
    const char* name = ts_query_capture_name_for_id(q.query, i, &len);
    q.capture_names.emplace_back(name, len);
  }
  uint32_t n_patterns = ts_query_pattern_count(q.query);
  q.predicates.resize(n_patterns);
  for (uint32_t p = 0; p < n_patterns; ++p) {
    uint32_t n_steps = 0;
    const TSQueryPredicateStep* steps = ts_query_predicates_for_pattern(q.query, p, &n_steps);
    uint32_t i = 0;
    while (i < n_steps) {
      uint32_t end = i;
      while (end < n_steps && steps[end].type != TSQueryPredicateStepTypeDone) ++end;
      if (end > i && steps[i].type == TSQueryPredicateStepTypeString) {
        uint32_t len = 0;
        const char* op_name = ts_query_string_value_for_id(q.query, steps[i].value_id, &len);
        std::string_view op(op_name, len);
        QueryPredicate pred;
        bool known = true;
        if (op == "eq?") pred.op = QueryPredicate::Op::eq;
        else if (op == "not-eq?") pred.op = QueryPredicate::Op::not_eq_;
        else if (op == "match?") pred.op = QueryPredicate::Op::match;
        else if (op == "not-match?") pred.op = QueryPredicate::Op::not_match;
        else if (op == "any-of?") pred.op = QueryPredicate::Op::any_of;
        else known = false;  // directives (#strip!, #select-adjacent!) and #is-not? shape docs/locals only
        if (known && end > i + 1 && steps[i + 1].type == TSQueryPredicateStepTypeCapture) {
          pred.capture = steps[i + 1].value_id;
          for (uint32_t k = i + 2; k < end; ++k) {
            if (steps[k].type == TSQueryPredicateStepTypeCapture) {
              pred.other_capture = static_cast<int32_t>(steps[k].value_id);
            } else {
              uint32_t vlen = 0;
              const char* v = ts_query_string_value_for_id(q.query, steps[k].value_id, &vlen);
              pred.values.emplace_back(v, vlen);
            }
          }
          if (pred.op == QueryPredicate::Op::match || pred.op == QueryPredicate::Op::not_match) {
            if (pred.values.empty()) throw std::logic_error("query " + what + ": #match? without a pattern");
            int err = 0;
            PCRE2_SIZE err_off = 0;
            pred.regex = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pred.values[0].data()),
                                       pred.values[0].size(), 0, &err,
                                       &err_off, nullptr);
            if (!pred.regex) throw std::logic_error("query " + what + ": bad regex " + pred.values[0]);
          }
          q.predicates[p].push_back(std::move(pred));
        }
      }
      i = end + 1;
    }
  }
  return q;
}

struct Registry {
  std::vector<std::unique_ptr<Language>> languages;
  Registry() {
    for (const auto& spec : kGrammars) {
      std::string tags;
      for (const char* up : spec.upstream_tags)
        if (up) tags += std::string(latent::grammar_queries::find(up)) + "\n";
      tags += std::string(latent::indexer_queries::find(std::string(spec.name) + "/tags.scm"));
      languages.push_back(std::make_unique<Language>(spec.name, spec.grammar(), std::move(tags)));
    }
  }
};

const Registry& registry() {
  static const Registry r;
  return r;
}

const Language* from_table(const ExtensionEntry* begin, const ExtensionEntry* end,
                           std::string_view key) {
  for (auto* e = begin; e != end; ++e)
    if (key == e->ext) return language_by_name(e->lang);
  return nullptr;
}

const Language* from_shebang(std::string_view head) {
  if (head.substr(0, 2) != "#!") return nullptr;
  std::string_view line = head.substr(2, head.find('\n') == std::string_view::npos ? head.size() : head.find('\n') - 2);
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) words.push_back(line.substr(i, j - i));
    i = j;
  }
  for (size_t w = 0; w < words.size(); ++w) {
    std::string_view word = words[w];
    if (auto slash = word.rfind('/'); slash != std::string_view::npos) word = word.substr(slash + 1);
    if (word == "env" || (!word.empty() && word[0] == '-')) continue;
    // python3.11 -> python3
    std::string name(word);
    while (!name.empty() && (std::isdigit(static_cast<unsigned char>(name.back())) || name.back() == '.') &&
           !from_table(std::begin(kInterpreters), std::end(kInterpreters), name))
      name.pop_back();
    return from_table(std::begin(kInterpreters), std::end(kInterpreters), name);
  }
  return nullptr;
}

const Language* from_modeline(std::string_view head) {
  std::string text = lower(head.substr(0, 512));
  if (auto a = text.find("-*-"); a != std::string::npos) {
    auto b = text.find("-*-", a + 3);
    if (b != std::string::npos) {
      std::string_view inner = std::string_view(text).substr(a + 3, b - a - 3);
      if (auto m = inner.find("mode:"); m != std::string_view::npos) inner = inner.substr(m + 5);
      while (!inner.empty() && inner.front() == ' ') inner.remove_prefix(1);
      size_t e = 0;
      while (e < inner.size() && inner[e] != ' ' && inner[e] != ';') ++e;
      if (auto* l = from_table(std::begin(kModes), std::end(kModes), inner.substr(0, e))) return l;
    }
  }
  for (const char* key : {"ft=", "filetype="}) {
    auto v = text.find("vim:");
    if (v == std::string::npos) break;
    auto k = text.find(key, v);
    if (k == std::string::npos) continue;
    size_t s = k + std::strlen(key), e = s;
    while (e < text.size() && std::isalnum(static_cast<unsigned char>(text[e]))) ++e;
    if (auto* l = from_table(std::begin(kModes), std::end(kModes), std::string_view(text).substr(s, e - s))) return l;
  }
  return nullptr;
}

}  // namespace

Language::Language(std::string name, const TSLanguage* grammar, std::string tags_source)
    : name_(std::move(name)), grammar_(grammar), tags_source_(std::move(tags_source)) {}

void Language::compile() const {
  std::call_once(once_, [this] {
    tags_ = compile_query(grammar_, tags_source_, name_ + " tags");
    imports_ = compile_query(grammar_, std::string(latent::indexer_queries::find(name_ + "/imports.scm")),
                             name_ + " imports");
  });
}

const CompiledQuery& Language::tags() const {
  compile();
  return tags_;
}

const CompiledQuery& Language::imports() const {
  compile();
  return imports_;
}

const Language* language_by_name(std::string_view name) {
  for (const auto& l : registry().languages)
    if (l->name() == name) return l.get();
  return nullptr;
}

std::vector<const Language*> all_languages() {
  std::vector<const Language*> out;
  for (const auto& l : registry().languages) out.push_back(l.get());
  return out;
}

const Language* detect_language(std::string_view path, std::string_view head) {
  std::string_view base = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  if (auto dot = base.rfind('.'); dot != std::string_view::npos && dot > 0) {
    std::string ext = lower(base.substr(dot));
    if (auto* l = from_table(std::begin(kExtensions), std::end(kExtensions), ext)) return l;
    // A known non-code extension stays text even with a modeline-looking comment.
    if (ext != ".in" && ext != ".d") return nullptr;
  }
  if (base == "Rakefile" || base == "Gemfile") return language_by_name("ruby");
  if (auto* l = from_shebang(head)) return l;
  return from_modeline(head);
}

bool predicates_hold(const CompiledQuery& query, uint32_t pattern_index,
                     const TSQueryCapture* captures, uint32_t capture_count,
                     std::string_view source) {
  if (pattern_index >= query.predicates.size()) return true;
  auto text_of = [&](uint32_t capture_id, std::string_view& out) {
    for (uint32_t i = 0; i < capture_count; ++i) {
      if (captures[i].index == capture_id) {
        uint32_t s = ts_node_start_byte(captures[i].node), e = ts_node_end_byte(captures[i].node);
        out = source.substr(std::min<size_t>(s, source.size()), e - s);
        return true;
      }
    }
    return false;
  };
  for (const auto& pred : query.predicates[pattern_index]) {
    std::string_view text;
    if (!text_of(pred.capture, text)) continue;
    switch (pred.op) {
      case QueryPredicate::Op::eq:
      case QueryPredicate::Op::not_eq_: {
        std::string_view other;
        bool equal;
        if (pred.other_capture >= 0) {
          if (!text_of(static_cast<uint32_t>(pred.other_capture), other)) continue;
          equal = text == other;
        } else {
          equal = !pred.values.empty() && text == pred.values[0];
        }
        if (equal != (pred.op == QueryPredicate::Op::eq)) return false;
        break;
      }
      case QueryPredicate::Op::match:
      case QueryPredicate::Op::not_match: {
        auto* code = static_cast<pcre2_code*>(pred.regex);
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
        int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                             0, md, nullptr);
        pcre2_match_data_free(md);
        if ((rc >= 0) != (pred.op == QueryPredicate::Op::match)) return false;
        break;
      }
      case QueryPredicate::Op::any_of: {
        bool any = std::find(pred.values.begin(), pred.values.end(), text) != pred.values.end();
        if (!any) return false;
        break;
      }
    }
  }
  return true;
}

}  // namespace latent::indexer
