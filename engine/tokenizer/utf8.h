// UTF-8 helpers shared by the tokenizer's sources, with llama.cpp's exact leniency
// (src/unicode.cpp unicode_cpt_from_utf8): a lead byte followed by the right number of
// continuation bytes is accepted as is (overlong forms and surrogates included); anything else
// costs one byte and becomes U+FFFD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace latent::tokenizer::utf8 {

inline constexpr uint32_t kReplacement = 0xFFFD;

// Decodes the code point at `pos` and advances `pos`; U+FFFD (one byte consumed) when invalid.
inline uint32_t decode(std::string_view s, size_t& pos) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const uint8_t c = b(pos);
  if (c < 0x80) {
    pos += 1;
    return c;
  }
  if ((c & 0x40) == 0) {
    pos += 1;
    return kReplacement;
  }
  if ((c & 0x20) == 0) {
    if (!cont(pos + 1)) {
      pos += 1;
      return kReplacement;
    }
    const uint32_t cp = ((c & 0x1Fu) << 6) | (b(pos + 1) & 0x3Fu);
    pos += 2;
    return cp;
  }
  if ((c & 0x10) == 0) {
    if (!cont(pos + 1) || !cont(pos + 2)) {
      pos += 1;
      return kReplacement;
    }
    const uint32_t cp = ((c & 0x0Fu) << 12) | ((b(pos + 1) & 0x3Fu) << 6) | (b(pos + 2) & 0x3Fu);
    pos += 3;
    return cp;
  }
  if ((c & 0x08) == 0) {
    if (!cont(pos + 1) || !cont(pos + 2) || !cont(pos + 3)) {
      pos += 1;
      return kReplacement;
    }
    const uint32_t cp = ((c & 0x07u) << 18) | ((b(pos + 1) & 0x3Fu) << 12) |
                        ((b(pos + 2) & 0x3Fu) << 6) | (b(pos + 3) & 0x3Fu);
    pos += 4;
    // llama.cpp cannot re-encode these (it throws); they stand for U+FFFD here.
    return cp <= 0x10FFFF ? cp : kReplacement;
  }
  pos += 1;
  return kReplacement;
}

inline void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

inline size_t encoded_length(uint32_t cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

// Length of the complete, well-formed UTF-8 prefix of `s` that may be released to a stream:
// everything except a trailing lead byte whose continuation bytes have not all arrived yet.
inline size_t complete_prefix(std::string_view s) {
  const size_t n = s.size();
  // A character is at most 4 bytes: look back at most 3 bytes for an unfinished lead byte.
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t c = static_cast<uint8_t>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for its lead
    const size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

}  // namespace latent::tokenizer::utf8
