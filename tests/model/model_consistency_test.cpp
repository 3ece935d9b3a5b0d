// Internal agreement of the forward pass: absorbed vs plain MLA, one batch vs token by token,
// several sequences in one batch vs each alone, truncation (prefix reuse), and load errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/compare.h"
#include "common/golden.h"
#include "gguf/gguf.h"
#include "model/latent_cache.h"
#include "model/model.h"

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

TEST(ModelConsistency, MixedBatchOfSequencesMatchesEachAlone) {
  // Sequence A prefills a chunk while sequence B (already holding a prefix) decodes, with
  // the tokens interleaved in the batch and micro-batches smaller than the batch.
  const auto ta = prompt_tokens("p1_short");
  const auto tb = prompt_tokens("p2_fim");
  Options o = opts(MlaMode::Absorbed);
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
  auto store = std::make_shared<PagedLatentStore>(model->placement(), hp.latent_width(), CacheType::F32, 16);
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
}

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
