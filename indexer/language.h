// Languages the indexer understands: chosen by file extension, then by shebang or an editor
// modeline (`-*- C++ -*-`, `vim: ft=python`) for files without a known extension. Each has a
// tree-sitter grammar and two compiled queries: tags (definitions and references, the grammar's
// own queries/tags.scm plus ours from indexer/queries/<lang>/tags.scm) and imports
// (indexer/queries/<lang>/imports.scm). A file in no language is indexed as plain text.
//
// Languages are immutable after first use and shared by all threads (TSQuery is read-only;
// each thread brings its own parser and query cursor).
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct TSLanguage;
struct TSQuery;
struct TSQueryCapture;

namespace latent::indexer {

// A text predicate of a query pattern (#eq?, #not-eq?, #match?, #not-match?, #any-of?), which
// tree-sitter leaves to the caller to evaluate.
struct QueryPredicate {
  enum class Op { eq, not_eq_, match, not_match, any_of } op;
  uint32_t capture = 0;
  int32_t other_capture = -1;        // #eq? @a @b
  std::vector<std::string> values;   // literal operands
  void* regex = nullptr;             // pcre2_code* for match / not_match, owned

  QueryPredicate() = default;
  QueryPredicate(QueryPredicate&& o) noexcept;
  QueryPredicate& operator=(QueryPredicate&& o) noexcept;
  ~QueryPredicate();
};

struct CompiledQuery {
  TSQuery* query = nullptr;  // owned
  std::vector<std::string> capture_names;
  std::vector<std::vector<QueryPredicate>> predicates;  // per pattern

  CompiledQuery() = default;
  CompiledQuery(CompiledQuery&& o) noexcept;
  CompiledQuery& operator=(CompiledQuery&& o) noexcept;
  ~CompiledQuery();
};

class Language {
 public:
  Language(std::string name, const TSLanguage* grammar, std::string tags_source);
  Language(const Language&) = delete;
  Language& operator=(const Language&) = delete;

  const std::string& name() const { return name_; }  // "cpp", "python", ... as in the grammar table
  const TSLanguage* grammar() const { return grammar_; }
  // Compiled on first use (tree-sitter's query analysis costs tens of milliseconds per
  // language). Throws std::logic_error when a shipped query does not compile.
  const CompiledQuery& tags() const;
  const CompiledQuery& imports() const;

 private:
  void compile() const;
  std::string name_;
  const TSLanguage* grammar_;
  std::string tags_source_;
  mutable std::once_flag once_;
  mutable CompiledQuery tags_, imports_;
};

// The language of a file, or nullptr for plain text. `head` is the start of the content
// (a few hundred bytes are enough) for shebangs and modelines.
const Language* detect_language(std::string_view path, std::string_view head);
// By name ("cpp"); nullptr when unknown.
const Language* language_by_name(std::string_view name);
// Every language, for tests that check all queries compile and run.
std::vector<const Language*> all_languages();

// Evaluates a match's text predicates against the source.
bool predicates_hold(const CompiledQuery& query, uint32_t pattern_index,
                     const TSQueryCapture* captures, uint32_t capture_count,
                     std::string_view source);

}  // namespace latent::indexer
