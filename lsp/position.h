// Positions in text documents and the three LSP position encodings. A Position's `character`
// counts code units of the negotiated encoding (UTF-16 unless the client offered otherwise);
// documents are held as UTF-8, so every position is converted at the protocol boundary.
// Lines end at "\n", "\r\n" or "\r" (LSP 3.17, "Text Documents"). Out-of-range positions clamp
// (a character past the line's end means the end of the line, a line past the last means the
// end of the text), and a position inside a character (between the two halves of a UTF-16
// surrogate pair, or inside a UTF-8 sequence) moves to the end of that character. Bytes that are
// not valid UTF-8 count as one code unit each (as U+FFFD would).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latent::lsp {

struct Position {
  uint32_t line = 0;
  uint32_t character = 0;
  friend bool operator==(const Position&, const Position&) = default;
  friend auto operator<=>(const Position&, const Position&) = default;
};

struct Range {
  Position start;
  Position end;
  friend bool operator==(const Range&, const Range&) = default;
};

enum class PositionEncoding { Utf8, Utf16, Utf32 };

std::string_view encoding_name(PositionEncoding e);  // "utf-8", "utf-16", "utf-32"
std::optional<PositionEncoding> encoding_from_name(std::string_view name);
// The server's choice among the client's offer: utf-8 when offered (no conversion at all),
// else utf-16, which every client must support.
PositionEncoding negotiate_encoding(const std::vector<std::string>& offered);

// Code units of `enc` in the UTF-8 text.
size_t count_units(std::string_view utf8, PositionEncoding enc);
// Byte offset within one line (no terminator) of `character` units, clamped to the line.
size_t byte_of_character(std::string_view line, uint32_t character, PositionEncoding enc);
// Units before byte offset `byte` within the line (`byte` clamped to the line).
uint32_t character_of_byte(std::string_view line, size_t byte, PositionEncoding enc);

// Line starts of a text, for converting between byte offsets and positions.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);
  size_t line_count() const { return starts_.size(); }
  size_t line_start(size_t line) const { return starts_[line]; }
  // The line's text without its terminator.
  std::string_view line_text(std::string_view text, size_t line) const;
  size_t offset_of(std::string_view text, Position pos, PositionEncoding enc) const;
  Position position_of(std::string_view text, size_t offset, PositionEncoding enc) const;

 private:
  std::vector<size_t> starts_;
  size_t size_ = 0;
};

}  // namespace latent::lsp
