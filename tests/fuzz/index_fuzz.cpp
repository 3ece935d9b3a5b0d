// libFuzzer target for the indexer's parse of one file in every grammar: tree-sitter, the tags
// queries, chunking and UTF-8 repair on arbitrary bytes. The first byte picks the language (or
// none: plain text chunks), the second the chunk size. Whatever the bytes: no crash, and what
// comes out stays inside the file (lines, chunk ranges) and is valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "indexer/language.h"
#include "indexer/parse.h"

namespace {

using namespace latent::indexer;

void check(bool ok) {
  if (!ok) std::abort();
}

bool valid_utf8(const std::string& s) {
  std::string copy = s;
  return !sanitize_utf8(copy);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const std::vector<const Language*> languages = all_languages();
  const size_t pick = data[0] % (languages.size() + 1);
  const Language* language = pick < languages.size() ? languages[pick] : nullptr;
  ParseOptions options;
  options.chunk_max_tokens = 16 + data[1] * 2u;
  options.count_tokens = approximate_token_count;
  std::string_view content(reinterpret_cast<const char*>(data) + 2, size - 2);
  ParsedFile f = parse_source(language, content, options);
  for (const auto& c : f.chunks) {
    check(c.start_line >= 1 && c.start_line <= c.end_line && c.end_line <= f.lines);
    check(valid_utf8(c.text) && valid_utf8(c.symbol));
  }
  for (const auto& s : f.symbols) check(s.line >= 1 && s.line <= s.end_line && s.end_line <= f.lines && valid_utf8(s.name));
  for (const auto& r : f.references) check(r.line >= 1 && r.line <= f.lines && valid_utf8(r.name));
  return 0;
}
