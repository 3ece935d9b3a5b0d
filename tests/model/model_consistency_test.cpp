// Internal agreement of the forward pass: absorbed vs plain MLA, one batch vs token by token,
// several sequences in one batch vs each alone, truncation (prefix reuse), greedy ids from the
// backend's argmax vs the logits, and load errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "common/backends.h"
#include "common/compare.h"
#include "common/golden.h"
#include "gguf/gguf.h"
#include "model/forward.h"
#include "model/latent_cache.h"
#include "model/model.h"
#include "model/scheduler.h"
#include "sample/sample.h"
#ifdef LATENT_HAVE_VULKAN
#include "backend/vulkan/vulkan_backend.h"
#endif

namespace latent::model {
namespace {

std::vector<int32_t> prompt_tokens(const std::string& prompt) {
  auto j = nlohmann::json::parse(testing::read_text_file(testing::golden_file("prompts/" + prompt + ".tokens.json")));
  if (j.is_object()) j = j["tokens"];
  return j.get<std::vector<int32_t>>();
}

std::vector<float> batch_logits(const std::shared_ptr<Model>& model, const std::vector<int32_t>& tokens) {
  Context ctx(model);
  const SeqId s = ctx.create_sequence();
  Batch b;
  for (int32_t t : tokens) b.add(s, t, true);
  Outputs out;
  ctx.evaluate(b, out);
  return out.logits;
}

void check_mixed_batch(MlaMode mla);

Options opts(MlaMode mla, int threads = 2) {
  Options o;
  o.mla = mla;
  o.threads = threads;
  return o;
}

TEST(ModelConsistency, AbsorbedAndPlainAgree) {
  const auto tokens = prompt_tokens("p2_fim");
  for (const char* name : {"ds2-lite-tiny", "ds3-tiny", "ds2-lite-tiny-legacy"}) {
    auto absorbed = Model::load(testing::golden_model(name), opts(MlaMode::Absorbed));
    auto plain = Model::load(testing::golden_model(name), opts(MlaMode::Plain));
    EXPECT_LE(testing::max_abs_diff(batch_logits(absorbed, tokens), batch_logits(plain, tokens)), 1e-4) << name;
  }
}

TEST(ModelConsistency, BatchAndTokenByTokenAgree) {
  const auto tokens = prompt_tokens("p1_short");
  auto model = Model::load(testing::golden_model("ds3-tiny"), opts(MlaMode::Absorbed));
  const auto batched = batch_logits(model, tokens);
  Context ctx(model);
  const SeqId s = ctx.create_sequence();
  std::vector<float> stepped;
  Outputs out;
  for (int32_t t : tokens) {
    Batch b;
    b.add(s, t, true);
    ctx.evaluate(b, out);
    stepped.insert(stepped.end(), out.logits.begin(), out.logits.end());
  }
  EXPECT_LE(testing::max_abs_diff(batched, stepped), 1e-4);
  EXPECT_EQ(ctx.sequence_length(s), int64_t(tokens.size()));
}

// MlaMode::Auto's rule: plain for prefill from an empty cache and for chunks long next to the
// cache before them, absorbed for decode and for short chunks after a long cache.
TEST(ModelConsistency, AutoPicksPlainForLongChunksOnly) {
  auto model = Model::load(testing::golden_model("ds2-lite-tiny"), opts(MlaMode::Auto));
  const HParams& hp = model->hparams();
  EXPECT_TRUE(use_plain_mla(hp, 0, 1));
  EXPECT_TRUE(use_plain_mla(hp, 0, 512));
  EXPECT_TRUE(use_plain_mla(hp, 4096, 4096));
  EXPECT_FALSE(use_plain_mla(hp, 1, 1));
  EXPECT_FALSE(use_plain_mla(hp, 4096, 1));
  EXPECT_FALSE(use_plain_mla(hp, 8192, 4));
  EXPECT_FALSE(use_plain_mla(hp, 16384, 512));  // K and V of 16K rows: too much memory
}

// Prefill in chunks (Auto: plain while the chunks are long next to the cache, then absorbed)
// and decode: the logits agree with the absorbed form's throughout.
TEST(ModelConsistency, AutoAgreesWithAbsorbedOverChunksAndDecode) {
  const auto tokens = prompt_tokens("p2_fim");
  Options o = opts(MlaMode::Auto);
  o.max_batch_tokens = 5;
  for (const char* name : {"ds2-lite-tiny", "ds3-tiny"}) {
    auto absorbed = Model::load(testing::golden_model(name), opts(MlaMode::Absorbed));
    auto automatic = Model::load(testing::golden_model(name), o);
    const auto want = batch_logits(absorbed, tokens);
    const auto got = batch_logits(automatic, tokens);
    EXPECT_LE(testing::max_abs_diff(want, got), 1e-4) << name;
  }
}

TEST(ModelConsistency, MixedBatchOfSequencesMatchesEachAlone) {
  // Sequence A prefills a chunk while sequence B (already holding a prefix) decodes, with
  // the tokens interleaved in the batch and micro-batches smaller than the batch. With Auto,
  // A's chunks attend in the plain form and B's token in the absorbed one, in one graph.
  for (MlaMode mla : {MlaMode::Absorbed, MlaMode::Auto}) {
    SCOPED_TRACE(mla == MlaMode::Auto ? "auto" : "absorbed");
    check_mixed_batch(mla);
  }
}

void check_mixed_batch(MlaMode mla) {
  const auto ta = prompt_tokens("p1_short");
  const auto tb = prompt_tokens("p2_fim");
  Options o = opts(mla);
  o.max_batch_tokens = 16;
  auto model = Model::load(testing::golden_model("ds2-lite-tiny"), o);
  const auto alone_a = batch_logits(model, ta);
  const auto alone_b = batch_logits(model, tb);
  const int64_t V = model->n_vocab();

  Context ctx(model);
  const SeqId a = ctx.create_sequence(), b = ctx.create_sequence();
  Batch first;
  for (size_t i = 0; i + 1 < tb.size(); ++i) first.add(b, tb[i], false);
  Outputs out;
  ctx.evaluate(first, out);
  EXPECT_EQ(out.n_rows, 0);

  Batch mixed;
  for (size_t i = 0; i < ta.size(); ++i) {
    mixed.add(a, ta[i], true);
    if (i == ta.size() / 2) mixed.add(b, tb.back(), true);
  }
  ctx.evaluate(mixed, out);
  ASSERT_EQ(out.n_rows, int64_t(ta.size()) + 1);
  // Row order is batch order: A's first half, B's decode token, A's second half.
  const size_t b_row = ta.size() / 2 + 1;
  std::vector<float> got_a, got_b(out.logits_row(int64_t(b_row)), out.logits_row(int64_t(b_row)) + V);
  for (int64_t r = 0; r < out.n_rows; ++r)
    if (size_t(r) != b_row) got_a.insert(got_a.end(), out.logits_row(r), out.logits_row(r) + V);
  EXPECT_LE(testing::max_abs_diff(got_a, alone_a), 1e-4);
  EXPECT_LE(testing::max_abs_diff(got_b, std::vector<float>(alone_b.end() - V, alone_b.end())), 1e-4);
}

TEST(ModelConsistency, TruncateThenContinueMatchesFullPrefill) {
  const auto tokens = prompt_tokens("p1_short");
  auto model = Model::load(testing::golden_model("ds2-lite-tiny"), opts(MlaMode::Absorbed, 0));
  const auto full = batch_logits(model, tokens);
  const int64_t V = model->n_vocab();
  Context ctx(model);
  const SeqId s = ctx.create_sequence();
  Batch b;
  // A different continuation first, then truncated back to the shared prefix of 20 tokens.
  for (size_t i = 0; i < 20; ++i) b.add(s, tokens[i], false);
  for (size_t i = 0; i < 9; ++i) b.add(s, 100 + int32_t(i), false);
  Outputs out;
  ctx.evaluate(b, out);
  ctx.truncate(s, 20);
  EXPECT_EQ(ctx.sequence_length(s), 20);
  b.clear();
  for (size_t i = 20; i < tokens.size(); ++i) b.add(s, tokens[i], true);
  ctx.evaluate(b, out);
  EXPECT_LE(testing::max_abs_diff(out.logits, std::vector<float>(full.begin() + 20 * V, full.end())), 1e-4);
}

TEST(ModelConsistency, SequencesShareAStoreAndReleaseTheirPages) {
  auto model = Model::load(testing::golden_model("ds3-tiny"), opts(MlaMode::Absorbed, 0));
  const HParams& hp = model->hparams();
  auto store = std::make_shared<PagedLatentStore>(model->placement().layer_runs(), hp.latent_width(), CacheType::F32, 16);
  Context ctx(model, store);
  const auto tokens = prompt_tokens("p1_short");  // 60 tokens: 4 pages of 16
  const SeqId a = ctx.create_sequence(), b = ctx.create_sequence();
  Batch batch;
  for (int32_t t : tokens) batch.add(a, t, false);
  for (size_t i = 0; i < 20; ++i) batch.add(b, tokens[i], false);
  Outputs out;
  ctx.evaluate(batch, out);
  EXPECT_EQ(store->pages_in_use(), 4 + 2);
  ctx.truncate(a, 17);
  EXPECT_EQ(store->pages_in_use(), 2 + 2);
  ctx.free_sequence(b);
  EXPECT_EQ(store->pages_in_use(), 2);
  EXPECT_THROW(ctx.sequence_length(b), Error);
  EXPECT_THROW(ctx.truncate(a, 18), Error);
  EXPECT_EQ(store->page_bytes(), size_t(16 * hp.n_layer * hp.latent_width()) * sizeof(float));
}

TEST(ModelConsistency, RejectsBadBatchesWithoutChangingCaches) {
  auto model = Model::load(testing::golden_model("ds3-tiny"), opts(MlaMode::Absorbed, 0));
  Context ctx(model);
  const SeqId s = ctx.create_sequence();
  Batch b;
  b.add(s, int32_t(model->n_vocab()), true);
  Outputs out;
  EXPECT_THROW(ctx.evaluate(b, out), Error);
  b.clear();
  b.add(s + 7, 1, true);
  EXPECT_THROW(ctx.evaluate(b, out), Error);
  b.clear();
  for (int64_t i = 0; i <= model->n_ctx(); ++i) b.add(s, 1, false);
  try {
    ctx.evaluate(b, out);
    ADD_FAILURE() << "a batch longer than the context was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ctx.sequence_length(s), 0);
  b.clear();
  b.add(s, 1, true);
  try {
    ctx.evaluate(b, out, {.argmax_vocab = model->n_vocab() + 1});
    ADD_FAILURE() << "argmax over more than n_vocab logits was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("argmax_vocab"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ctx.sequence_length(s), 0);
}

class ModelArgmax : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "vulkan") setenv("LATENT_VULKAN_VALIDATION", "1", 0);
    Options o = opts(MlaMode::Absorbed);
    o.backend = GetParam();
    o.max_batch_tokens = 16;  // micro-batches with consecutive (direct) and interleaved (staged) rows
    try {
      model_ = Model::load(testing::golden_model("ds2-lite-tiny"), o);
    } catch (const Error& e) {
      if (GetParam() != "vulkan" || !testing::vulkan_optional()) throw;
      GTEST_SKIP() << "no Vulkan device (LATENT_VULKAN_OPTIONAL=1): " << e.what();
    }
  }

  void TearDown() override {
#ifdef LATENT_HAVE_VULKAN
    if (auto* vk = model_ ? dynamic_cast<backend::VulkanBackend*>(&model_->backend()) : nullptr)
      EXPECT_EQ(vk->validation_errors(), 0u) << "the validation layer reported errors (above)";
#endif
  }

  std::shared_ptr<Model> model_;
};

// sample::argmax of each row's first `n` logits.
std::vector<int32_t> row_argmax(const Outputs& out, int64_t n) {
  std::vector<int32_t> ids;
  for (int64_t r = 0; r < out.n_rows; ++r) ids.push_back(sample::argmax(std::span(out.logits_row(r), size_t(n))));
  return ids;
}

// EvalFlags::argmax_vocab gives every output row the id sample::argmax picks from the logits of
// a normal evaluation (over the whole vocabulary, and over a prefix that changes some rows'
// winner), with the hidden state alongside: two sequences interleaved in one batch, then greedy
// decode steps of both (on Vulkan, one compiled graph run step after step).
TEST_P(ModelArgmax, IdsAreTheSamplersArgmaxOfTheLogits) {
  const int64_t V = model_->n_vocab();
  const auto ta = prompt_tokens("p1_short"), tb = prompt_tokens("p2_fim");
  Context full(model_), ids(model_);
  const SeqId a = full.create_sequence(), b = full.create_sequence();
  ASSERT_EQ(ids.create_sequence(), a);
  ASSERT_EQ(ids.create_sequence(), b);
  Batch batch;
  for (size_t i = 0; i < std::max(ta.size(), tb.size()); ++i) {
    if (i < ta.size()) batch.add(a, ta[i], i % 5 == 0 || i + 1 == ta.size());
    if (i < tb.size()) batch.add(b, tb[i], i % 7 == 3 || i + 1 == tb.size());
  }
  Outputs want, got;
  full.evaluate(batch, want, {.hidden = true});
  ASSERT_GT(want.n_rows, 10);
  const auto greedy = row_argmax(want, V);
  // A cut below the largest winner: that row's id must come from the prefix instead.
  const int64_t cut = *std::max_element(greedy.begin(), greedy.end());
  ASSERT_GT(cut, 0);
  const auto below_cut = row_argmax(want, cut);
  ASSERT_NE(below_cut, greedy);
  for (int64_t n : {cut, V}) {
    ids.truncate(a, 0);
    ids.truncate(b, 0);
    ids.evaluate(batch, got, {.hidden = true, .argmax_vocab = n});
    EXPECT_EQ(got.n_rows, want.n_rows);
    EXPECT_TRUE(got.logits.empty()) << "logits were read back";
    EXPECT_EQ(got.argmax, n == V ? greedy : below_cut) << "argmax over " << n << " of " << V;
    EXPECT_EQ(got.hidden, want.hidden);
  }
  // Decode from each sequence's last output row.
  std::vector<int32_t> next(2);
  for (int64_t i = 0, row = 0; i < int64_t(batch.size()); ++i)
    if (batch.tokens[size_t(i)].logits) next[batch.tokens[size_t(i)].seq == a ? 0 : 1] = greedy[size_t(row++)];
  for (int step = 0; step < 4; ++step) {
    Batch d;
    d.add(a, next[0], true);
    d.add(b, next[1], true);
    full.evaluate(d, want);
    ids.evaluate(d, got, {.argmax_vocab = V});
    next = row_argmax(want, V);
    EXPECT_EQ(got.argmax, next) << "decode step " << step;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ModelArgmax, ::testing::ValuesIn(latent::testing::build_backends()),
                         [](const auto& info) { return info.param; });

// A copy of ds3-tiny's metadata with only the listed tensors, for load errors.
std::filesystem::path write_variant(const std::string& file, const std::string& arch,
                                    const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors) {
  const auto src = gguf::File::open(testing::golden_model("ds3-tiny"));
  gguf::Writer w;
  for (const auto& [k, v] : src.metadata()) {
    if (k == "general.architecture")
      w.add_string(k, arch);
    else
      w.add_value(k, v);
  }
  for (const auto& [name, ne] : tensors) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    w.add_tensor(name, gguf::TensorType::F32, ne, std::vector<uint8_t>(size_t(n) * 4, 0));
  }
  const auto path = std::filesystem::temp_directory_path() / file;
  w.write(path);
  return path;
}

void expect_load_error(const std::filesystem::path& path, const std::vector<std::string>& words) {
  try {
    Model::load(path, opts(MlaMode::Absorbed, 0));
    ADD_FAILURE() << "loading " << path << " succeeded";
  } catch (const Error& e) {
    for (const auto& w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(ModelLoad, RejectsAnotherArchitecture) {
  expect_load_error(write_variant("latent_model_arch.gguf", "llama", {}), {"llama", "deepseek2"});
}

TEST(ModelLoad, NamesAMissingTensor) {
  expect_load_error(write_variant("latent_model_missing.gguf", "deepseek2", {{"token_embd.weight", {192, 32256}}}),
                    {"output_norm.weight", "missing"});
}

TEST(ModelLoad, NamesATensorOfTheWrongShape) {
  expect_load_error(write_variant("latent_model_shape.gguf", "deepseek2",
                                  {{"token_embd.weight", {192, 32256}}, {"output_norm.weight", {100}}}),
                    {"output_norm.weight", "{100}", "{192}"});
}

TEST(ModelLoad, RejectsAContextLongerThanTheModels) {
  Options o = opts(MlaMode::Absorbed, 0);
  o.n_ctx = 4096;
  try {
    Model::load(testing::golden_model("ds3-tiny"), o);
    ADD_FAILURE() << "n_ctx 4096 accepted for a model trained for 1024";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1024"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace latent::model
