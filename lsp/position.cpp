#include "lsp/position.h"

#include <algorithm>

namespace latent::lsp {

namespace {

// Length of the UTF-8 sequence at s[i] and its code point; invalid bytes are sequences of one.
size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp) {
  unsigned char b0 = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t min;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    cp = 0xFFFD;
    return 1;
  }
  if (i + len > s.size()) {
    cp = 0xFFFD;
    return 1;
  }
  for (size_t k = 1; k < len; ++k) {
    unsigned char b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      cp = 0xFFFD;
      return 1;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    cp = 0xFFFD;
    return 1;
  }
  return len;
}

size_t units_of(uint32_t cp, size_t bytes, PositionEncoding enc) {
  switch (enc) {
    case PositionEncoding::Utf8: return bytes;
    case PositionEncoding::Utf16: return cp >= 0x10000 ? 2 : 1;
    case PositionEncoding::Utf32: return 1;
  }
  return 1;
}

}  // namespace

std::string_view encoding_name(PositionEncoding e) {
  switch (e) {
    case PositionEncoding::Utf8: return "utf-8";
    case PositionEncoding::Utf16: return "utf-16";
    case PositionEncoding::Utf32: return "utf-32";
  }
  return "utf-16";
}

std::optional<PositionEncoding> encoding_from_name(std::string_view name) {
  if (name == "utf-8") return PositionEncoding::Utf8;
  if (name == "utf-16") return PositionEncoding::Utf16;
  if (name == "utf-32") return PositionEncoding::Utf32;
  return std::nullopt;
}

PositionEncoding negotiate_encoding(const std::vector<std::string>& offered) {
  for (const auto& e : offered)
    if (e == "utf-8") return PositionEncoding::Utf8;
  return PositionEncoding::Utf16;
}

size_t count_units(std::string_view s, PositionEncoding enc) {
  if (enc == PositionEncoding::Utf8) return s.size();
  size_t units = 0;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t len = decode_utf8(s, i, cp);
    units += units_of(cp, len, enc);
    i += len;
  }
  return units;
}

size_t byte_of_character(std::string_view line, uint32_t character, PositionEncoding enc) {
  size_t units = 0;
  size_t i = 0;
  while (i < line.size() && units < character) {
    uint32_t cp;
    size_t len = decode_utf8(line, i, cp);
    units += units_of(cp, len, enc);
    i += len;
  }
  return i;
}

uint32_t character_of_byte(std::string_view line, size_t byte, PositionEncoding enc) {
  byte = std::min(byte, line.size());
  size_t units = 0;
  for (size_t i = 0; i < byte;) {
    uint32_t cp;
    size_t len = decode_utf8(line, i, cp);
    units += units_of(cp, len, enc);
    i += len;
  }
  return static_cast<uint32_t>(units);
}

LineIndex::LineIndex(std::string_view text) : size_(text.size()) {
  starts_.push_back(0);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      starts_.push_back(i + 1);
    } else if (text[i] == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      starts_.push_back(i + 1);
    }
  }
}

std::string_view LineIndex::line_text(std::string_view text, size_t line) const {
  size_t begin = starts_[line];
  size_t end = line + 1 < starts_.size() ? starts_[line + 1] : text.size();
  std::string_view s = text.substr(begin, end - begin);
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

size_t LineIndex::offset_of(std::string_view text, Position pos, PositionEncoding enc) const {
  if (pos.line >= starts_.size()) return text.size();
  return starts_[pos.line] + byte_of_character(line_text(text, pos.line), pos.character, enc);
}

Position LineIndex::position_of(std::string_view text, size_t offset, PositionEncoding enc) const {
  offset = std::min(offset, text.size());
  size_t line = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), offset) - starts_.begin()) - 1;
  std::string_view lt = line_text(text, line);
  return Position{static_cast<uint32_t>(line), character_of_byte(lt, offset - starts_[line], enc)};
}

}  // namespace latent::lsp
