// Incremental edits applied through LSP ranges (in each encoding) against the same edits
// applied to a plain string at byte offsets located by the reference.
#include <gtest/gtest.h>

#include "lsp/text_document.h"
#include "utf_reference.h"

namespace latent::lsp {
namespace {

TEST(TextDocument, RandomIncrementalEditsMatchFullRecomputation) {
  std::mt19937 rng(5);
  for (PositionEncoding enc : {PositionEncoding::Utf8, PositionEncoding::Utf16, PositionEncoding::Utf32}) {
    std::string expected = reference::random_text(rng, 40);
    TextDocument doc("file:///t", "text", 1, expected);
    for (int step = 0; step < 300; ++step) {
      auto bounds = reference::boundaries(expected);
      size_t a = bounds[rng() % bounds.size()];
      size_t b = bounds[rng() % bounds.size()];
      if (a > b) std::swap(a, b);
      if (rng() % 4 == 0) b = a;  // pure insertion
      std::string inserted = rng() % 3 == 0 ? std::string() : reference::random_text(rng, rng() % 6);
      Range range{reference::position_of(expected, a, enc), reference::position_of(expected, b, enc)};
      ASSERT_FALSE(doc.apply_change(range, inserted, enc));
      expected.replace(a, b - a, inserted);
      ASSERT_EQ(doc.text(), expected) << "step " << step << " (" << encoding_name(enc) << ")";
    }
  }
}

TEST(TextDocument, FullReplacementAndInvertedRange) {
  TextDocument doc("file:///t", "cpp", 1, "int x;\r\nint y;\n");
  EXPECT_FALSE(doc.apply_change(std::nullopt, "new", PositionEncoding::Utf16));
  EXPECT_EQ(doc.text(), "new");
  auto err = doc.apply_change(Range{{0, 2}, {0, 1}}, "z", PositionEncoding::Utf16);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("before it starts"), std::string::npos);
  EXPECT_EQ(doc.text(), "new");
}

TEST(TextDocument, EditAcrossCrlfAndAstral) {
  // "😀x\r\ny" — replace from after the emoji (utf-16 col 2) to line 1 col 0 with "-".
  TextDocument doc("file:///t", "text", 1, "\xf0\x9f\x98\x80x\r\ny");
  EXPECT_FALSE(doc.apply_change(Range{{0, 2}, {1, 0}}, "-", PositionEncoding::Utf16));
  EXPECT_EQ(doc.text(), "\xf0\x9f\x98\x80-y");
}

}  // namespace
}  // namespace latent::lsp
