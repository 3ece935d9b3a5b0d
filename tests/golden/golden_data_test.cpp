// The golden reference data is present, unpacked, and intact: every other engine test leans on it.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/golden.h"

using namespace latent::testing;

TEST(golden_data, models_are_unpacked_with_gguf_magic) {
  auto names = golden_model_names();
  EXPECT_GE(names.size(), 5u);
  for (const auto& n : names) {
    auto p = golden_model(n);
    auto bytes = read_text_file(p);
    ASSERT_GE(bytes.size(), 4u) << p;
    EXPECT_EQ(bytes.substr(0, 4), "GGUF") << p;
  }
}

TEST(golden_data, tokenizer_vectors_and_logits_exist) {
  for (const char* f : {"tokenizer/ggml-vocab-deepseek-coder.gguf", "tokenizer/ggml-vocab-deepseek-coder.gguf.inp",
                        "tokenizer/ggml-vocab-deepseek-llm.gguf.out", "prompts/p3_long.tokens.json",
                        "logits/ds2-lite-tiny/p1_short.json"}) {
    EXPECT_TRUE(std::filesystem::exists(golden_file(f))) << f;
  }
}
