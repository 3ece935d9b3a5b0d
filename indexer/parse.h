// Turns one file's bytes into what the index stores: definitions and references (tree-sitter
// tags queries, plus every other identifier as a plain use), imports, and chunks that follow
// the syntax (functions, methods, classes, groups of top-level statements; long ones split at
// statement boundaries), each chunk with its line range, enclosing symbol and token count.
// Files in no known language become paragraph chunks without symbols.
//
// Pure and thread-safe: no I/O, no shared state besides the immutable Language table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/index.h"

namespace latent::indexer {

class Language;

struct ParsedSymbol {
  std::string name;
  SymbolKind kind = SymbolKind::other;
  uint32_t line = 0, end_line = 0, column = 0;  // 1-based
  std::string signature;
  std::string scope;
  bool top_level = false;  // not nested inside another definition
};

struct ParsedReference {
  std::string name;
  std::string kind;  // "use" when no tags pattern named it
  uint32_t line = 0, column = 0;
};

struct ParsedChunk {
  uint32_t start_line = 0, end_line = 0;  // 1-based, inclusive
  std::string symbol;
  std::string text;
  uint32_t tokens = 0;
};

struct ParsedFile {
  std::string language;  // "text" when no grammar applies
  uint32_t lines = 0;
  std::vector<ParsedSymbol> symbols;
  std::vector<ParsedReference> references;
  std::vector<std::string> imports;
  std::vector<ParsedChunk> chunks;
  bool had_invalid_utf8 = false;
};

struct ParseOptions {
  uint32_t chunk_max_tokens = 384;
  TokenCounter count_tokens;  // required
};

// `content` is the file's bytes; invalid UTF-8 is replaced (U+FFFD) in chunk text and names.
ParsedFile parse_source(const Language* language, std::string_view content,
                        const ParseOptions& options);

// Identifier-like words of a text (letters, digits, '_' and '$', not starting with a digit),
// with their 1-based line numbers; used to look up what the cursor's neighbourhood names.
struct Word {
  std::string text;
  uint32_t line = 0;
};
std::vector<Word> identifier_words(std::string_view text, uint32_t first_line = 1);

// Replaces invalid UTF-8 sequences by U+FFFD; returns true when any was found.
bool sanitize_utf8(std::string& text);

}  // namespace latent::indexer
