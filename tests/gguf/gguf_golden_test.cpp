// The reader against llama.cpp-written files: the golden models and tokenizer vocabularies open,
// their tensor tables equal models/tensors.json, and their metadata is what the golden README
// documents.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/golden.h"
#include "gguf/gguf.h"

using namespace latent;
using namespace latent::testing;

namespace {

nlohmann::json tensors_json() {
  return nlohmann::json::parse(read_text_file(golden_file("models/tensors.json")));
}

}  // namespace

TEST(gguf_golden, tensor_tables_match_tensors_json) {
  auto expected = tensors_json();
  for (const auto& name : golden_model_names()) {
    SCOPED_TRACE(name);
    auto f = gguf::File::open(golden_model(name));
    ASSERT_TRUE(expected.contains(name));
    const auto& list = expected[name];
    ASSERT_EQ(f.tensors().size(), list.size());
    uint64_t data_start = f.bytes().size();
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& t = f.tensors()[i];
      EXPECT_EQ(t.name, list[i]["name"].get<std::string>());
      EXPECT_EQ(gguf::type_name(t.type), list[i]["type"].get<std::string>()) << t.name;
      EXPECT_EQ(t.ne, list[i]["ne"].get<std::vector<int64_t>>()) << t.name;
      EXPECT_EQ(f.find_tensor(t.name), &t);
      // Zero-copy: the view points into the mapping, aligned, and inside the file.
      ASSERT_NE(t.data, nullptr);
      EXPECT_GE(t.data, f.bytes().data());
      EXPECT_LE(t.data + t.n_bytes, f.bytes().data() + f.bytes().size()) << t.name;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % f.alignment(), 0u) << t.name;
      EXPECT_EQ(t.n_bytes, gguf::row_bytes(t.type, t.ne[0]) * static_cast<uint64_t>(t.n_rows())) << t.name;
      data_start = std::min<uint64_t>(data_start, static_cast<uint64_t>(t.data - f.bytes().data()) - t.offset);
    }
    // llama.cpp packs tensors back to back: the last one ends within one alignment of the file end.
    const auto& last = f.tensors().back();
    EXPECT_LE(f.bytes().size() - static_cast<size_t>(last.data + last.n_bytes - f.bytes().data()), f.alignment());
    EXPECT_THROW(f.require_tensor("blk.99.attn_q.weight"), gguf::Error);
  }
}

TEST(gguf_golden, metadata_matches_readme) {
  auto hp = nlohmann::json::parse(read_text_file(golden_file("models/hparams.json")));
  for (const auto& name : golden_model_names()) {
    SCOPED_TRACE(name);
    auto f = gguf::File::open(golden_model(name));
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.require_string("general.architecture"), "deepseek2");
    EXPECT_EQ(f.require_string("tokenizer.ggml.model"), "gpt2");
    EXPECT_EQ(f.require_string("tokenizer.ggml.pre"), "deepseek-coder");
    EXPECT_EQ(f.require_uint("tokenizer.ggml.bos_token_id"), 32013u);
    EXPECT_EQ(f.require_uint("tokenizer.ggml.eos_token_id"), 32014u);
    EXPECT_EQ(f.require_uint("tokenizer.ggml.padding_token_id"), 32014u);
    EXPECT_EQ(f.get_bool("tokenizer.ggml.add_bos_token"), true);
    EXPECT_EQ(f.get_bool("tokenizer.ggml.add_eos_token"), false);
    EXPECT_EQ(f.find("tokenizer.ggml.tokens")->as_string_array().size(), 32256u);
    EXPECT_EQ(f.require_uint("deepseek2.context_length"), 1024u);
    EXPECT_EQ(f.require_uint("deepseek2.block_count"), 4u);
    EXPECT_EQ(f.require_uint("deepseek2.leading_dense_block_count"), 1u);
    EXPECT_EQ(f.require_float("deepseek2.rope.freq_base"), 10000.0);
    EXPECT_FLOAT_EQ(f.require_float("deepseek2.attention.layer_norm_rms_epsilon"), 1e-6f);
    EXPECT_EQ(f.require_uint("deepseek2.expert_count"), 16u);
    EXPECT_EQ(f.require_uint("deepseek2.expert_used_count"), 4u);
    EXPECT_EQ(f.require_string("deepseek2.rope.scaling.type"), "yarn");
    EXPECT_EQ(f.require_float("deepseek2.rope.scaling.factor"), 4.0);
    EXPECT_EQ(f.require_uint("deepseek2.rope.scaling.original_context_length"), 256u);

    std::string base = name.rfind("ds3", 0) == 0 ? "ds3-tiny" : name.find("legacy") != std::string::npos
                                                                   ? "ds2-lite-tiny-legacy"
                                                                   : "ds2-lite-tiny";
    const auto& h = hp[base];
    EXPECT_EQ(f.require_uint("deepseek2.embedding_length"), h["n_embd"].get<uint64_t>());
    EXPECT_EQ(f.require_uint("deepseek2.attention.head_count"), h["n_head"].get<uint64_t>());
    EXPECT_EQ(f.require_uint("deepseek2.attention.kv_lora_rank"), h["kv_lora_rank"].get<uint64_t>());
    EXPECT_EQ(f.require_uint("deepseek2.feed_forward_length"), h["n_ff"].get<uint64_t>());
    EXPECT_EQ(f.require_uint("deepseek2.expert_feed_forward_length"), h["n_ff_exp"].get<uint64_t>());
    EXPECT_EQ(f.require_uint("deepseek2.expert_shared_count"), h["n_expert_shared"].get<uint64_t>());
    EXPECT_EQ(f.require_uint("deepseek2.rope.dimension_count"), h["qk_rope"].get<uint64_t>());
    EXPECT_EQ(f.find("deepseek2.attention.key_length_mla") != nullptr, base != "ds2-lite-tiny-legacy");
    if (base == "ds3-tiny") {
      EXPECT_EQ(f.require_uint("deepseek2.attention.q_lora_rank"), 160u);
      EXPECT_EQ(f.require_uint("deepseek2.expert_gating_func"), 2u);
      EXPECT_EQ(f.get_bool("deepseek2.expert_weights_norm"), true);
      EXPECT_FLOAT_EQ(static_cast<float>(f.require_float("deepseek2.expert_weights_scale")), 2.5f);
      EXPECT_EQ(f.require_uint("deepseek2.expert_group_count"), 4u);
      EXPECT_EQ(f.require_uint("deepseek2.expert_group_used_count"), 2u);
    }
    // A present key of the wrong type is an error naming the key, not a silent default.
    try {
      f.get_uint("general.architecture");
      ADD_FAILURE() << "expected gguf::Error";
    } catch (const gguf::Error& e) {
      EXPECT_NE(std::string(e.what()).find("general.architecture"), std::string::npos) << e.what();
    }
    EXPECT_THROW(f.require_uint("deepseek2.no_such_key"), gguf::Error);
  }
}

TEST(gguf_golden, tokenizer_vocabularies_open) {
  struct Case {
    const char* file;
    size_t n_vocab;
    const char* pre;
  };
  for (const Case& c : {Case{"tokenizer/ggml-vocab-deepseek-coder.gguf", 32256, "deepseek-coder"},
                        Case{"tokenizer/ggml-vocab-deepseek-llm.gguf", 102400, "deepseek-llm"}}) {
    SCOPED_TRACE(c.file);
    auto f = gguf::File::open(golden_file(c.file));
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_EQ(f.require_string("tokenizer.ggml.pre"), c.pre);
    auto tokens = f.find("tokenizer.ggml.tokens")->as_string_array();
    EXPECT_EQ(tokens.size(), c.n_vocab);
    EXPECT_EQ(f.find("tokenizer.ggml.token_type")->as_int_array().size(), c.n_vocab);
    EXPECT_GT(f.find("tokenizer.ggml.merges")->array_size(), 0u);
    // Views point into the mapping (zero-copy).
    EXPECT_GE(reinterpret_cast<const uint8_t*>(tokens[0].data()), f.bytes().data());
    EXPECT_LT(reinterpret_cast<const uint8_t*>(tokens.back().data()), f.bytes().data() + f.bytes().size());
  }
}
