// The pre-tokenizer: splits text into the pieces BPE runs on, with the regex sets llama.cpp
// selects by `tokenizer.ggml.pre` (src/llama-vocab.cpp) and its way of applying them
// (src/unicode.cpp, unicode_regex_split):
//  - the regexes run one after another; each splits every piece of the previous one into its
//    matches and the text between them (both kept);
//  - a regex using \p{...} runs on a "collapsed" text in which every non-ASCII code point is
//    replaced by one byte standing for its category (letter, number, punctuation, mark, symbol,
//    whitespace, other) and \p{X} by a class of that byte plus X's ASCII members, with std::regex
//    semantics (so \s is ASCII whitespace plus the whitespace stand-in, and ASCII '~' is no \p{S});
//  - other regexes run on code points with non-ASCII whitespace replaced by U+000B.
// We reproduce this with PCRE2 (32-bit code units, so offsets are code points); the Unicode
// categories come from PCRE2's tables, looked up once per code point and cached. Known limit:
// PCRE2's Unicode version (14.0 in Debian 12) can be older than llama.cpp's tables, so a code
// point assigned later (a new emoji, say) counts as "other" here and may split differently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace latent::tokenizer {

class PreTokenizer {
 public:
  // pre: deepseek-coder, deepseek-llm or deepseek-v3. Throws Error for another name.
  explicit PreTokenizer(std::string_view pre);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // The UTF-8 pieces of `text` (invalid bytes already replaced by U+FFFD).
  std::vector<std::string> split(std::string_view text) const;
  // The same without copies: the pieces as views into `text`, or into `repaired` (where the text
  // is rewritten when it holds invalid UTF-8). Both stay valid until the next call that reuses
  // `repaired`.
  void split(std::string_view text, std::string& repaired, std::vector<std::string_view>& pieces) const;

  const std::string& name() const;
  static std::vector<std::string> supported_names();
  // The regexes of a supported pre, as llama.cpp lists them (UTF-8).
  static std::vector<std::string> regexes(std::string_view pre);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Replaces each invalid UTF-8 byte by U+FFFD, as llama.cpp's unicode_cpts_from_utf8 does.
std::string sanitize_utf8(std::string_view text);

}  // namespace latent::tokenizer
