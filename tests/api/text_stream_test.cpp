// UTF-8 assembly and stop-string matching against whole-string references: whatever way the
// bytes are split into tokens, the streamed text equals the reference text cut at the first stop
// string, and every piece is valid UTF-8.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "api/text_stream.h"
#include "common/golden.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace latent::engine {
namespace {

// Independent validity check (RFC 3629 ranges).
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t n;
    uint32_t cp;
    if (c < 0x80) { n = 1; cp = c; }
    else if ((c >> 5) == 6) { n = 2; cp = c & 0x1F; }
    else if ((c >> 4) == 14) { n = 3; cp = c & 0x0F; }
    else if ((c >> 3) == 30) { n = 4; cp = c & 0x07; }
    else return false;
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

std::vector<std::string> random_split(const std::string& s, std::mt19937& rng) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < s.size()) {
    size_t n = 1 + rng() % 4;
    parts.push_back(s.substr(i, n));
    i += n;
  }
  return parts;
}

const std::string kText = "héllo wörld → 你好 🙂 end; naïve ∑ x² 𝄞!";

TEST(Utf8Assembler, AnySplitGivesWholeCharactersAndTheSameText) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    Utf8Assembler a;
    std::string out;
    for (const auto& p : random_split(kText, rng)) {
      std::string piece = a.push(p);
      EXPECT_TRUE(valid_utf8(piece)) << "piece " << piece;
      out += piece;
    }
    out += a.finish();
    EXPECT_EQ(out, kText);
  }
}

TEST(Utf8Assembler, InvalidBytesBecomeReplacementCharacters) {
  Utf8Assembler a;
  std::string out = a.push("a\xFF" "b\xC3(");
  out += a.push("\xE2\x82");  // truncated three-byte character, finished below
  out += a.finish();
  EXPECT_EQ(out, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD(\xEF\xBF\xBD");
  EXPECT_TRUE(valid_utf8(out));
  Utf8Assembler b;
  EXPECT_EQ(b.push("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
}

struct StopCase {
  std::string text;
  std::vector<std::string> stops;
};

TEST(StopMatcher, StreamedTextIsTheTextBeforeTheFirstStop) {
  std::vector<StopCase> cases = {
      {"def f(x):\n    return x\n\ndef g():", {"\n\n", "\ndef"}},
      {"aaab aab ab", {"aab"}},
      {"no stop in here at all", {"zz", "\n\n"}},
      {"ends with a partial stop <｜end", {"<｜end▁of▁sentence｜>"}},
      {"x <｜end▁of▁sentence｜> y", {"<｜end▁of▁sentence｜>", "sent"}},
      {"ababababc", {"ababc", "abc"}},
  };
  std::mt19937 rng(7);
  for (const auto& c : cases) {
    // Reference: the earliest occurrence of any stop string in the whole text.
    size_t first = std::string::npos;
    for (const auto& s : c.stops) first = std::min(first, c.text.find(s));
    std::string want = first == std::string::npos ? c.text : c.text.substr(0, first);
    for (int trial = 0; trial < 100; ++trial) {
      StopMatcher m(c.stops);
      Utf8Assembler a;
      std::string out;
      bool stopped = false;
      for (const auto& p : random_split(c.text, rng)) {
        auto r = m.push(a.push(p));
        EXPECT_TRUE(valid_utf8(r.emit));
        out += r.emit;
        if (r.stopped) {
          stopped = true;
          break;
        }
      }
      if (!stopped) {
        out += m.push(a.finish()).emit;
        auto r = m.finish();
        out += r.emit;
        stopped = r.stopped;
      }
      EXPECT_EQ(stopped, first != std::string::npos) << c.text;
      EXPECT_EQ(out, want) << c.text;
    }
  }
}

// No special token of the real DeepSeek tokenizers is ever text in a reply (ghost text or an
// answer): the control tokens, the FIM tokens, and the added ones such as V3's placeholders.
TEST(ReplyPiece, SpecialTokensOfTheRealTokenizersAreNeverText) {
  const std::filesystem::path vocabs[] = {
      latent::testing::golden_file("tokenizer/ggml-vocab-deepseek-coder.gguf"),
      latent::testing::golden_file("tokenizer/ggml-vocab-deepseek-llm.gguf"),
      LATENT_DEMO_TOKENIZER_JSON,
  };
  for (const auto& path : vocabs) {
    SCOPED_TRACE(path.string());
    tokenizer::Tokenizer tok(tokenizer::load_vocab_file(path));
    size_t specials = 0;
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      if (!tok.is_special(id)) continue;
      ++specials;
      EXPECT_EQ(reply_piece(tok, id), "") << id << " " << tok.token_text(id);
    }
    EXPECT_GT(specials, 2u);
    std::vector<int32_t> word = tok.encode("return", false, false);
    ASSERT_EQ(word.size(), 1u);
    EXPECT_EQ(reply_piece(tok, word[0]), "return");
  }
  tokenizer::Tokenizer v3(tokenizer::load_vocab_file(LATENT_DEMO_TOKENIZER_JSON));
  for (const char* name : {"<｜tool▁outputs▁begin｜>", "<｜place▁holder▁no▁583｜>", "<｜fim▁hole｜>"}) {
    int32_t id = v3.find_token(name);
    ASSERT_NE(id, tokenizer::kNoToken) << name;
    EXPECT_EQ(reply_piece(v3, id), "") << name;
  }
}

}  // namespace
}  // namespace latent::engine
