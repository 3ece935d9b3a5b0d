// The test-model generator: its files against the golden models (tensor names, shapes, metadata
// keys and values, llama-quantize's type choices), determinism, every weight type through the
// reference forward pass, and the legacy/MLA layout twins giving the same logits.
#include <gtest/gtest.h>

#include "common/temp_dir.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>

#include "common/compare.h"
#include "common/golden.h"
#include "gguf/gguf.h"
#include "reference/reference_model.h"
#include "testmodel/testmodel.h"

namespace latent::testmodel {
namespace {

namespace fs = std::filesystem;
using gguf::TensorType;

using latent::testing::TempDir;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A small model that still exercises every code path: a dense lead layer, MoE layers with a
// shared expert, rows of 256 (K-quants) next to rows of 32/128 (their fallbacks).
Shape small_shape() {
  Shape s;
  s.name = "small";
  s.n_vocab = 384;
  s.n_embd = 256;
  s.n_layer = 3;
  s.n_head = 2;
  s.kv_lora_rank = 128;
  s.qk_nope = 32;
  s.qk_rope = 32;
  s.v_head = 32;
  s.n_ff = 512;
  s.n_ff_exp = 256;
  s.n_expert = 8;
  s.n_expert_used = 2;
  s.n_expert_shared = 1;
  return s;
}

std::vector<int32_t> some_tokens(int64_t n_vocab, int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(static_cast<int32_t>((i * 7919 + 13) % n_vocab));
  return t;
}

void expect_same_metadata(const gguf::File& golden, const gguf::File& mine) {
  for (const auto& [key, v] : golden.metadata()) {
    if (key == "general.name" || key == "general.file_type" || key == "general.quantization_version") continue;
    SCOPED_TRACE(key);
    const gguf::Value* m = mine.find(key);
    ASSERT_NE(m, nullptr) << "generated file lacks key " << key;
    if (v.is_array()) {
      EXPECT_EQ(m->array_size(), v.array_size());
      EXPECT_EQ(m->array_type(), v.array_type());
    } else if (v.type() == gguf::ValueType::STRING) {
      EXPECT_EQ(m->as_string(), v.as_string());
    } else if (v.type() == gguf::ValueType::FLOAT32 || v.type() == gguf::ValueType::FLOAT64) {
      EXPECT_FLOAT_EQ(static_cast<float>(m->as_float()), static_cast<float>(v.as_float()));
    } else if (v.type() == gguf::ValueType::BOOL) {
      EXPECT_EQ(m->as_bool(), v.as_bool());
    } else {
      EXPECT_EQ(m->as_uint(), v.as_uint());
    }
  }
  // And nothing the converter would not have written.
  for (const auto& [key, v] : mine.metadata())
    if (key.rfind("deepseek2.", 0) == 0) {
      EXPECT_NE(golden.find(key), nullptr) << "extra key " << key;
    }
}

// Builds the golden models' shapes with the golden vocabulary and compares the files.
TEST(TestModel, MatchesTheGoldenModelsLayout) {
  TempDir dir("latent-testmodel");
  const fs::path vocab = testing::golden_file("tokenizer/ggml-vocab-deepseek-coder.gguf");
  struct Case {
    const char* golden;
    const char* preset;
    bool legacy;
  };
  for (const Case c : {Case{"ds2-lite-tiny", "ds2-lite-tiny", false}, Case{"ds2-lite-tiny-legacy", "ds2-lite-tiny", true},
                       Case{"ds3-tiny", "ds3-tiny", false}}) {
    SCOPED_TRACE(c.golden);
    Options o;
    o.shape = preset(c.preset);
    o.shape.legacy_layout = c.legacy;
    o.type = "F16";
    o.vocab_from = vocab;
    const fs::path out = dir.file(std::string(c.golden) + ".gguf");
    Summary s = write(o, out);
    gguf::File golden = gguf::File::open(testing::golden_model(c.golden));
    gguf::File mine = gguf::File::open(out);
    expect_same_metadata(golden, mine);
    ASSERT_EQ(mine.tensors().size(), golden.tensors().size());
    EXPECT_EQ(s.n_tensors, golden.tensors().size());
    for (const auto& t : golden.tensors()) {
      const gguf::TensorInfo* m = mine.find_tensor(t.name);
      ASSERT_NE(m, nullptr) << "missing " << t.name;
      EXPECT_EQ(m->ne, t.ne) << t.name;
      // The golden files keep matrices in F32 (token_embd F16); ours are all F16 here.
      EXPECT_EQ(m->type, t.ne.size() >= 2 && t.name.find("ffn_gate_inp") == std::string::npos ? TensorType::F16 : TensorType::F32)
          << t.name;
    }
    // The tokenizer keys are copied verbatim.
    auto gt = golden.find("tokenizer.ggml.tokens")->as_string_array();
    auto mt = mine.find("tokenizer.ggml.tokens")->as_string_array();
    EXPECT_TRUE(std::equal(gt.begin(), gt.end(), mt.begin(), mt.end()));
  }
}

// llama-quantize's choices, as recorded in the golden Q8_0 and Q4_K_M models.
TEST(TestModel, TensorTypesFollowLlamaQuantize) {
  auto tensors = nlohmann::json::parse(testing::read_text_file(testing::golden_file("models/tensors.json")));
  for (const auto& [model, type] : {std::pair{"ds2-lite-tiny-Q4_K_M", "Q4_K_M"}, std::pair{"ds2-lite-tiny-Q8_0", "Q8_0"}}) {
    int checked = 0;
    for (const auto& t : tensors[model]) {
      const std::string name = t["name"];
      const auto ne = t["ne"].get<std::vector<int64_t>>();
      EXPECT_EQ(gguf::type_name(tensor_type_for(type, name, ne, 4)), t["type"].get<std::string>())
          << model << " " << name;
      ++checked;
    }
    EXPECT_EQ(checked, 59);
  }
}

TEST(TestModel, DeterministicForASeedAndThreadCount) {
  TempDir dir("latent-testmodel");
  for (const char* type : {"F32", "Q4_K_M"}) {
    SCOPED_TRACE(type);
    Options o;
    o.shape = small_shape();
    o.type = type;
    o.seed = 7;
    o.threads = 1;
    write(o, dir.file("a.gguf"));
    o.threads = 3;
    write(o, dir.file("b.gguf"));
    o.seed = 8;
    write(o, dir.file("c.gguf"));
    const std::string a = read_bytes(dir.file("a.gguf")), b = read_bytes(dir.file("b.gguf")),
                      c = read_bytes(dir.file("c.gguf"));
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, b) << "same seed, different thread count";
    EXPECT_NE(a, c) << "different seeds";
    EXPECT_EQ(a.size(), c.size());
  }
}

TEST(TestModel, WeightsHaveTheDocumentedScale) {
  TempDir dir("latent-testmodel");
  Options o;
  o.shape = small_shape();
  o.shape.sigmoid_gating = true;
  o.shape.exp_probs_b = true;
  write(o, dir.file("m.gguf"));
  gguf::File f = gguf::File::open(dir.file("m.gguf"));
  auto stats = [&](const std::string& name) {
    const gguf::TensorInfo& t = f.require_tensor(name);
    const auto* v = reinterpret_cast<const float*>(t.data);
    const auto n = static_cast<size_t>(t.n_elements());
    double mean = std::accumulate(v, v + n, 0.0) / static_cast<double>(n), var = 0;
    for (size_t i = 0; i < n; ++i) var += (v[i] - mean) * (v[i] - mean);
    return std::pair{mean, std::sqrt(var / static_cast<double>(n))};
  };
  auto [m_embd, s_embd] = stats("token_embd.weight");
  EXPECT_NEAR(m_embd, 0.0, 0.02);
  EXPECT_NEAR(s_embd, 1.0, 0.1);
  auto [m_q, s_q] = stats("blk.1.attn_q.weight");
  EXPECT_NEAR(s_q, 1.0 / 16.0, 0.1 / 16.0);  // 1/sqrt(256)
  auto [m_out, s_out] = stats("output.weight");
  EXPECT_NEAR(s_out, 6.0 / 16.0, 0.6 / 16.0);
  auto [m_norm, s_norm] = stats("blk.0.attn_norm.weight");
  EXPECT_NEAR(m_norm, 1.0, 0.02);
  EXPECT_LT(s_norm, 0.1);
  auto [m_b, s_b] = stats("blk.1.exp_probs_b.bias");
  EXPECT_NEAR(s_b, 0.25, 0.15);  // only 8 values
}

reference::Output run_reference(const fs::path& file, const std::vector<int32_t>& tokens) {
  gguf::File f = gguf::File::open(file);
  reference::Model m = reference::Model::load(f);
  return m.eval(tokens);
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// Every type, both layouts, q-LoRA and not, softmax and sigmoid: the file loads in the reference,
// activations stay O(1) with peaked logits, F16/BF16 hold exactly the F32 weights, and the
// quantized files track the F32 twin (a broken quantizer would decorrelate them).
TEST(TestModel, EveryTypeRunsThroughTheReference) {
  TempDir dir("latent-testmodel");
  struct Variant {
    const char* name;
    bool legacy, q_lora, sigmoid;
  };
  const std::vector<int32_t> tokens = some_tokens(384, 12);
  for (const Variant v : {Variant{"mla-softmax", false, false, false}, Variant{"legacy-qlora-sigmoid", true, true, true}}) {
    Options o;
    o.shape = small_shape();
    o.shape.legacy_layout = v.legacy;
    if (v.q_lora) o.shape.q_lora_rank = 256;
    if (v.sigmoid) {
      o.shape.sigmoid_gating = true;
      o.shape.exp_probs_b = true;
      o.shape.n_group = 4;
      o.shape.n_group_used = 2;
      o.shape.weights_norm = true;
      o.shape.weights_scale = 2.5f;
    }
    o.type = "F32";
    write(o, dir.file("f32.gguf"));
    const reference::Output base = run_reference(dir.file("f32.gguf"), tokens);
    double max_h = 0;
    for (double h : base.hidden) max_h = testing::worse(max_h, h);
    EXPECT_LT(max_h, 10.0) << v.name;
    const double mean = std::accumulate(base.logits.begin(), base.logits.end(), 0.0) / static_cast<double>(base.logits.size());
    double var = 0;
    for (double z : base.logits) var += (z - mean) * (z - mean);
    const double sd = std::sqrt(var / static_cast<double>(base.logits.size()));
    EXPECT_GT(sd, 2.0) << v.name;
    EXPECT_LT(sd, 15.0) << v.name;
    for (const char* type : {"F16", "BF16", "Q8_0", "Q6_K", "Q5_K", "Q5_1", "Q5_0", "Q4_K", "Q4_1", "Q4_0", "Q4_K_M", "Q5_K_M"}) {
      SCOPED_TRACE(std::string(v.name) + " " + type);
      // With sigmoid gating, selection bias and groups on random weights the routing gaps are
      // small: quantization noise flips 3-12 of the 24 expert choices, so comparing logits with
      // the F32 twin would measure routing luck, not the weights (the softmax variant flips
      // 1-8). The quantized legacy/q-LoRA/sigmoid files run in fast_vs_reference instead.
      if (v.sigmoid && std::string(type) != "F16" && std::string(type) != "BF16") continue;
      o.type = type;
      write(o, dir.file("q.gguf"));
      const reference::Output q = run_reference(dir.file("q.gguf"), tokens);
      ASSERT_EQ(q.logits.size(), base.logits.size());
      for (double z : q.logits) ASSERT_TRUE(std::isfinite(z));
      if (std::string(type) == "F16" || std::string(type) == "BF16") {
        EXPECT_EQ(q.logits, base.logits) << "F16/BF16 must hold the F32 values exactly";
        continue;
      }
      const double r = correlation(q.logits, base.logits);
      // 8/6-bit weights perturb logits by well under 1 %, 4/5-bit ones by a few % (measured
      // 0.9996 / 0.9988 and 0.963-0.993); a broken format decorrelates completely.
      const bool fine = std::string(type) == "Q8_0" || std::string(type) == "Q6_K";
      EXPECT_GT(r, fine ? 0.995 : 0.9) << "correlation with the F32 twin " << r;
    }
  }
}

TEST(TestModel, LegacyLayoutTwinGivesTheSameLogits) {
  TempDir dir("latent-testmodel");
  for (bool q_lora : {false, true}) {
    SCOPED_TRACE(q_lora ? "q-lora" : "plain attn_q");
    Options o;
    o.shape = small_shape();
    if (q_lora) o.shape.q_lora_rank = 256;
    o.seed = 11;
    write(o, dir.file("mla.gguf"));
    o.shape.legacy_layout = true;
    write(o, dir.file("legacy.gguf"));
    {
      gguf::File legacy = gguf::File::open(dir.file("legacy.gguf"));
      EXPECT_NE(legacy.find_tensor("blk.1.attn_kv_b.weight"), nullptr);
      EXPECT_EQ(legacy.find_tensor("blk.1.attn_k_b.weight"), nullptr);
      EXPECT_EQ(legacy.find("deepseek2.attention.key_length_mla"), nullptr);
    }
    const std::vector<int32_t> tokens = some_tokens(384, 16);
    const reference::Output a = run_reference(dir.file("mla.gguf"), tokens);
    const reference::Output b = run_reference(dir.file("legacy.gguf"), tokens);
    // Same weights, different summation order only (float64).
    EXPECT_LT(testing::max_abs_diff(a.logits, b.logits), 1e-9);
    for (const auto& [il, routes] : a.routing)
      for (size_t t = 0; t < routes.size(); ++t) EXPECT_EQ(routes[t].ids, b.routing.at(il)[t].ids);
  }
}

TEST(TestModel, RejectsBadOptionsWithTheField) {
  Options o;
  o.shape = small_shape();
  o.type = "Q3_K";
  EXPECT_THROW(validate(o), std::invalid_argument);
  o.type = "F32";
  o.shape.n_expert_used = 9;
  try {
    validate(o);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("experts used"), std::string::npos) << e.what();
  }
  EXPECT_THROW(preset("gpt-2"), std::invalid_argument);
}

}  // namespace
}  // namespace latent::testmodel
