// The tokenizer against llama.cpp's own vectors (shared/golden/tokenizer, prompts): every
// string of both DeepSeek vocabularies token for token, and the three model prompts with BOS and
// special tokens parsed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/golden.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace latent::tokenizer {
namespace {

using testing::golden_file;
using testing::read_text_file;

// Loaded once per vocabulary for the whole test binary.
const Tokenizer& load(const std::string& name) {
  static std::map<std::string, Tokenizer> loaded;
  auto it = loaded.find(name);
  if (it == loaded.end()) {
    it = loaded.emplace(name, Tokenizer(load_gguf_vocab(gguf::File::open(
                                  golden_file("tokenizer/ggml-vocab-" + name + ".gguf"))))).first;
  }
  return it->second;
}

// The .inp format: strings separated by "\n__ggml_vocab_test__\n" (the file ends with one).
std::vector<std::string> read_inputs(const std::string& name) {
  const std::string text = read_text_file(golden_file("tokenizer/ggml-vocab-" + name + ".gguf.inp"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  for (size_t next; (next = text.find(sep, pos)) != std::string::npos; pos = next + sep.size())
    out.push_back(text.substr(pos, next - pos));
  return out;
}

std::vector<std::vector<int32_t>> read_outputs(const std::string& name) {
  std::istringstream in(read_text_file(golden_file("tokenizer/ggml-vocab-" + name + ".gguf.out")));
  std::vector<std::vector<int32_t>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    for (int32_t id; ls >> id;) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

class GoldenVocab : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenVocab, ReproducesEveryVector) {
  const Tokenizer& tok = load(GetParam());
  const auto inputs = read_inputs(GetParam());
  const auto expected = read_outputs(GetParam());
  ASSERT_EQ(inputs.size(), expected.size()) << "golden .inp/.out disagree in length";
  ASSERT_GE(inputs.size(), 40u);
  size_t ok = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto ids = tok.encode(inputs[i], /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(ids, expected[i]) << "string " << i << ": '" << inputs[i] << "'";
    ok += ids == expected[i];
  }
  EXPECT_EQ(ok, inputs.size());
}

TEST_P(GoldenVocab, DecodeInvertsEncode) {
  const Tokenizer& tok = load(GetParam());
  for (const auto& s : read_inputs(GetParam())) {
    EXPECT_EQ(tok.decode(tok.encode(s, false, false)), s);
    EXPECT_EQ(tok.decode(tok.encode(s, false, true)), s);
  }
}

INSTANTIATE_TEST_SUITE_P(DeepSeek, GoldenVocab, ::testing::Values("deepseek-coder", "deepseek-llm"));

TEST(GoldenPrompts, MatchLlamaCppWithBosAndSpecialTokens) {
  const Tokenizer& tok = load("deepseek-coder");
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::golden_dir() / "prompts")) {
    if (entry.path().extension() != ".txt") continue;
    auto expected_path = entry.path();
    expected_path.replace_extension(".tokens.json");
    const std::string text = read_text_file(entry.path());
    const auto expected = nlohmann::json::parse(read_text_file(expected_path)).get<std::vector<int32_t>>();
    const auto ids = tok.encode(text, /*add_special=*/true, /*parse_special=*/true);
    EXPECT_EQ(ids, expected) << entry.path();
    // Special tokens rendered, BOS included: the text comes back behind the BOS text.
    EXPECT_EQ(tok.decode(ids, /*render_special=*/true), tok.token_text(tok.bos_id()) + text) << entry.path();
    ++n;
  }
  EXPECT_GE(n, 3u) << "expected the golden prompts p1_short, p2_fim, p3_long";
}

TEST(GoldenPrompts, FimTokensAreTextWithoutSpecialParsing) {
  const Tokenizer& tok = load("deepseek-coder");
  const std::string text = read_text_file(golden_file("prompts/p2_fim.txt"));
  const auto ids = tok.encode(text, false, false);
  for (int32_t id : {32015, 32016, 32017})
    EXPECT_EQ(std::count(ids.begin(), ids.end(), id), 0) << "FIM token " << id << " parsed with parse_special off";
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(SpecialTokens, DeepSeekCoderIds) {
  const Tokenizer& tok = load("deepseek-coder");
  EXPECT_EQ(tok.find_token("<｜fim▁begin｜>"), 32016);
  EXPECT_EQ(tok.find_token("<｜fim▁hole｜>"), 32015);
  EXPECT_EQ(tok.find_token("<｜fim▁end｜>"), 32017);
  EXPECT_EQ(tok.find_token("no such token"), kNoToken);
  EXPECT_EQ(tok.fim_prefix_id(), 32016);
  EXPECT_EQ(tok.fim_suffix_id(), 32015);
  EXPECT_EQ(tok.fim_middle_id(), 32017);
  EXPECT_EQ(tok.bos_id(), 32013);
  EXPECT_EQ(tok.eos_id(), 32014);
  EXPECT_EQ(tok.eot_id(), 32014);  // "<｜end▁of▁sentence｜>", found by name like llama.cpp
  EXPECT_TRUE(tok.is_eog(32014));
  EXPECT_FALSE(tok.is_eog(32013));
  EXPECT_TRUE(tok.add_bos());
  // FIM tokens are user-defined in the file but promoted to control, so they are not rendered
  // without render_special.
  EXPECT_EQ(tok.token_type(32016), TokenType::user_defined);
  EXPECT_TRUE(tok.is_control(32016));
  EXPECT_EQ(tok.token_to_piece(32016, false), "");
  EXPECT_EQ(tok.token_to_piece(32016, true), "<｜fim▁begin｜>");
}

TEST(SpecialTokens, DeepSeekLlmIds) {
  const Tokenizer& tok = load("deepseek-llm");
  EXPECT_EQ(tok.bos_id(), 100000);
  EXPECT_EQ(tok.eos_id(), 100001);
  EXPECT_EQ(tok.n_vocab(), 102400);
  EXPECT_EQ(tok.encode("", true, true), std::vector<int32_t>{100000});
}

}  // namespace
}  // namespace latent::tokenizer
