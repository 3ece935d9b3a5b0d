// An independent reference for LSP positions: code units counted by iconv (glibc), lines split
// by a direct scan. The tests compare lsp/position.h against it.
#pragma once

#include <iconv.h>

#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "lsp/position.h"

namespace latent::lsp::reference {

inline size_t units(std::string_view utf8, PositionEncoding enc) {
  if (enc == PositionEncoding::Utf8) return utf8.size();
  const char* to = enc == PositionEncoding::Utf16 ? "UTF-16LE" : "UTF-32LE";
  iconv_t cd = iconv_open(to, "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1)) throw std::runtime_error("iconv_open failed");
  std::string in(utf8);
  std::vector<char> out(in.size() * 4 + 8);
  char* ip = in.data();
  size_t il = in.size();
  char* op = out.data();
  size_t ol = out.size();
  size_t rc = iconv(cd, &ip, &il, &op, &ol);
  iconv_close(cd);
  if (rc == static_cast<size_t>(-1)) throw std::runtime_error("iconv: invalid UTF-8 in test input");
  size_t bytes = out.size() - ol;
  return enc == PositionEncoding::Utf16 ? bytes / 2 : bytes / 4;
}

struct Line {
  size_t begin, end;  // content, without terminator
};

inline std::vector<Line> lines(std::string_view t) {
  std::vector<Line> out;
  size_t begin = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n') {
      out.push_back({begin, i});
      begin = i + 2;
      ++i;
    } else if (t[i] == '\n' || t[i] == '\r') {
      out.push_back({begin, i});
      begin = i + 1;
    }
  }
  out.push_back({begin, t.size()});
  return out;
}

// Offsets where a position may point: code point starts and line ends, never between \r\n.
inline std::vector<size_t> boundaries(std::string_view t) {
  std::vector<size_t> out;
  for (size_t i = 0; i <= t.size(); ++i) {
    if (i < t.size() && (static_cast<unsigned char>(t[i]) & 0xC0) == 0x80) continue;
    if (i > 0 && i < t.size() && t[i - 1] == '\r' && t[i] == '\n') continue;
    out.push_back(i);
  }
  return out;
}

inline Position position_of(std::string_view t, size_t offset, PositionEncoding enc) {
  auto ls = lines(t);
  for (size_t l = 0; l < ls.size(); ++l) {
    if (offset >= ls[l].begin && offset <= ls[l].end)
      return Position{static_cast<uint32_t>(l),
                      static_cast<uint32_t>(units(t.substr(ls[l].begin, offset - ls[l].begin), enc))};
  }
  throw std::runtime_error("offset inside a line terminator");
}

inline std::string random_text(std::mt19937& rng, size_t pieces) {
  static const char* pool[] = {"a", "Z", "0", " ", "\t", "(", "}", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                               "\xf0\x9d\x84\x9e", "\n", "\r\n", "\r", "\xe4\xb8\xad"};
  std::string s;
  for (size_t i = 0; i < pieces; ++i) s += pool[rng() % (sizeof pool / sizeof *pool)];
  return s;
}

}  // namespace latent::lsp::reference
