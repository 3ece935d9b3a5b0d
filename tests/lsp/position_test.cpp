// Position conversions in utf-8, utf-16 and utf-32 against an iconv-based reference, with
// astral characters, CR, LF and CRLF, clamping and mid-character positions.
#include <gtest/gtest.h>

#include "lsp/position.h"
#include "utf_reference.h"

namespace latent::lsp {
namespace {

const PositionEncoding kEncodings[] = {PositionEncoding::Utf8, PositionEncoding::Utf16, PositionEncoding::Utf32};

TEST(Position, MatchesTheReferenceOnRandomText) {
  std::mt19937 rng(11);
  for (int round = 0; round < 60; ++round) {
    std::string text = reference::random_text(rng, 1 + rng() % 80);
    LineIndex index(text);
    ASSERT_EQ(index.line_count(), reference::lines(text).size());
    for (PositionEncoding enc : kEncodings) {
      for (size_t off : reference::boundaries(text)) {
        Position expected = reference::position_of(text, off, enc);
        ASSERT_EQ(index.position_of(text, off, enc), expected)
            << "offset " << off << " in " << testing::PrintToString(text) << " (" << encoding_name(enc) << ")";
        ASSERT_EQ(index.offset_of(text, expected, enc), off)
            << expected.line << ":" << expected.character << " in " << testing::PrintToString(text);
      }
    }
  }
}

TEST(Position, AstralCharacters) {
  std::string t = "a\xf0\x9f\x98\x80" "b";  // a😀b: 1 + 4 + 1 bytes; utf-16: 1 + 2 + 1 units
  LineIndex idx(t);
  EXPECT_EQ(idx.offset_of(t, {0, 1}, PositionEncoding::Utf16), 1u);
  EXPECT_EQ(idx.offset_of(t, {0, 3}, PositionEncoding::Utf16), 5u);
  EXPECT_EQ(idx.offset_of(t, {0, 2}, PositionEncoding::Utf32), 5u);
  EXPECT_EQ(idx.offset_of(t, {0, 5}, PositionEncoding::Utf8), 5u);
  // Inside the character: its end.
  EXPECT_EQ(idx.offset_of(t, {0, 2}, PositionEncoding::Utf16), 5u);
  EXPECT_EQ(idx.offset_of(t, {0, 3}, PositionEncoding::Utf8), 5u);
  EXPECT_EQ(idx.position_of(t, 6, PositionEncoding::Utf16), (Position{0, 4}));
  EXPECT_EQ(count_units(t, PositionEncoding::Utf16), 4u);
  EXPECT_EQ(count_units(t, PositionEncoding::Utf32), 3u);
}

TEST(Position, ClampsPastTheEnd) {
  std::string t = "ab\r\ncd\n";
  LineIndex idx(t);
  EXPECT_EQ(idx.line_count(), 3u);
  EXPECT_EQ(idx.offset_of(t, {0, 99}, PositionEncoding::Utf16), 2u);  // before the CRLF
  EXPECT_EQ(idx.offset_of(t, {1, 0}, PositionEncoding::Utf16), 4u);
  EXPECT_EQ(idx.offset_of(t, {2, 0}, PositionEncoding::Utf16), 7u);
  EXPECT_EQ(idx.offset_of(t, {9, 0}, PositionEncoding::Utf16), t.size());
}

TEST(Position, InvalidUtf8CountsOneUnitPerByte) {
  std::string t = "a\xff\xfe" "b";
  EXPECT_EQ(count_units(t, PositionEncoding::Utf16), 4u);
  EXPECT_EQ(byte_of_character(t, 3, PositionEncoding::Utf16), 3u);
  std::string truncated = "x\xf0\x9f";  // a 4-byte sequence cut short
  EXPECT_EQ(count_units(truncated, PositionEncoding::Utf32), 3u);
}

TEST(Position, Negotiation) {
  EXPECT_EQ(negotiate_encoding({"utf-16", "utf-8"}), PositionEncoding::Utf8);
  EXPECT_EQ(negotiate_encoding({"utf-32"}), PositionEncoding::Utf16);
  EXPECT_EQ(negotiate_encoding({}), PositionEncoding::Utf16);
  EXPECT_EQ(encoding_from_name("utf-32"), PositionEncoding::Utf32);
  EXPECT_FALSE(encoding_from_name("latin1"));
}

}  // namespace
}  // namespace latent::lsp
