// The latent cache element types (F32, F16, BF16, Q8_0) on the golden models: what each one
// costs in logit error against llama.cpp's logits, which were computed with an F32 cache
// (shared/golden/README.md). F32 keeps the element-wise bound of model_golden_test; the others
// round every cached value and are compared statistically, with bounds derived from the README's
// measurement of llama.cpp's own F16 cache (see kBounds). Prints the table the issue asks for:
// bytes per token and logit error per type.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "common/compare.h"
#include "common/golden.h"
#include "model/model.h"
#include "model/weights.h"

namespace latent::model {
namespace {

using nlohmann::json;

const char* const kModels[] = {"ds2-lite-tiny", "ds2-lite-tiny-legacy", "ds3-tiny"};
const char* const kPrompts[] = {"p1_short", "p2_fim", "p3_long"};
constexpr CacheType kTypes[] = {CacheType::F32, CacheType::F16, CacheType::BF16, CacheType::Q8_0};

// Bounds over all prompts of one model (927 positions). Rounding a cached value perturbs the
// attention scores and outputs in proportion to the type's RMS rounding error, and the logits
// move in proportion, except where the perturbation flips a MoE routing decision or a near-tie.
// Anchor: llama.cpp's own F16 cache gives median per-row max |Δlogit| 0.004-0.006, up to 2.1
// at a routing flip, 99.7 % argmax agreement (README; it also rounds q and the probabilities to
// F16, which we do not). RMS rounding error for rows of roughly Gaussian values of std σ:
// F16 (11 significant bits) ~1.4e-4 σ, BF16 (8 bits) 8x that, Q8_0 d/sqrt(12) with
// d = amax/127 and amax ~2.1σ over a block of 32, ~4.8e-3 σ = ~34x F16.
//   median: 0.006 scaled by those ratios (F16 0.006, BF16 0.05, Q8_0 0.2), x2.5 headroom:
//     0.015, 0.12, 0.4; the README's real bugs move logits by 5-30.
//   argmax: a flipped near-tie costs one position; F16 >= 99 % (llama.cpp 99.7 %), the 8-bit
//     types >= 97 %, against 20-80 % for the README's bugs.
//   outliers (rows off by more than kOutlier = 0.5, >= 1.25x the largest median bound): routing
//     flips touch few tokens, a bug most of them: at most 5 %.
//   max: a flipped routing decision moves its token's row by ~2 in the softmax-gated ds2 models
//     (README) and more in ds3-tiny, whose sigmoid gating swaps a whole expert group scaled 2.5x
//     (measured 12.4 with BF16); 20 stays below the README's bug range, the statistics above
//     are what tell a flip from a bug.
// F32 keeps model_golden_test's element-wise bound 1e-3, identical argmax and routing.
struct Bound {
  double median, max, argmax, outliers;
};
const std::map<CacheType, Bound> kBounds = {
    {CacheType::F32, {1e-3, 1e-3, 1.0, 0.0}},
    {CacheType::F16, {0.015, 20.0, 0.99, 0.05}},
    {CacheType::BF16, {0.12, 20.0, 0.97, 0.05}},
    {CacheType::Q8_0, {0.4, 20.0, 0.97, 0.05}},
};
constexpr double kOutlier = 0.5;
int64_t argmax(const float* row, int64_t n) { return std::max_element(row, row + n) - row; }

struct Prompt {
  json meta;
  json routing;
  std::vector<int32_t> tokens;
  std::vector<float> logits;  // llama.cpp's logits at every position [n][n_vocab]
};

// llama.cpp's logits for every position: its final hidden state times the F32 output matrix
// (the README: reproduces its logits to <= 2.3e-5), checked here against the full rows it ships.
Prompt read_prompt(const Model& m, const std::string& model, const std::string& prompt) {
  Prompt p;
  const std::string base = "logits/" + model + "/" + prompt;
  p.meta = json::parse(testing::read_text_file(testing::golden_file(base + ".json")));
  p.tokens = p.meta["tokens"].get<std::vector<int32_t>>();
  p.routing = json::parse(testing::read_text_file(testing::golden_file(base + ".routing.json")));
  auto hidden = testing::read_f32_file(testing::golden_file(base + ".hidden.f32"));
  const auto rows = testing::read_f32_file(testing::golden_file(base + ".rows.f32"));
  const int64_t n = int64_t(p.tokens.size()), E = m.n_embd(), V = m.n_vocab();
  p.logits.resize(size_t(n * V));
  m.backend().mul_mat(m.weights().output, backend::make_tensor(gguf::TensorType::F32, {E, n, 1, 1}, hidden.data()),
                      backend::make_tensor(gguf::TensorType::F32, {V, n, 1, 1}, p.logits.data()));
  const auto positions = p.meta["rows_positions"].get<std::vector<int64_t>>();
  double worst = 0;
  for (size_t i = 0; i < positions.size(); ++i)
    worst = testing::worse(worst, testing::max_abs_diff(std::span(p.logits).subspan(size_t(positions[i] * V), size_t(V)),
                                                        std::span(rows).subspan(i * size_t(V), size_t(V))));
  EXPECT_LE(worst, 1e-4) << model << "/" << prompt << ": reconstructed golden logits";
  return p;
}

struct Stats {
  std::vector<double> row_max;  // per position: max over the vocabulary of |Δlogit|
  int64_t agree = 0, positions = 0;
  int64_t routing_diff = 0;  // (token, MoE layer) whose expert set differs from llama.cpp's
  int64_t outliers = 0;      // positions whose max |Δlogit| exceeds kOutlier
  int greedy_checked = 0;
};

// Prefill of the whole prompt, then greedy decoding (one token per step, which takes the
// chunked single-query path of attention over the typed cache).
void run_prompt(const std::shared_ptr<Model>& model, const Prompt& p, Stats& st, const std::string& label) {
  const int64_t V = model->n_vocab(), n = int64_t(p.tokens.size());
  Context ctx(model);
  const SeqId seq = ctx.create_sequence();
  Batch b;
  for (int32_t t : p.tokens) b.add(seq, t, true);
  Outputs out;
  ctx.evaluate(b, out, {.routing = true});
  const HParams& hp = model->hparams();
  const int64_t U = hp.n_expert_used;
  for (int64_t il = hp.n_layer_dense_lead; il < hp.n_layer; ++il)
    for (int64_t t = 0; t < n; ++t) {
      auto ours = std::vector<int32_t>(out.expert_ids.begin() + ((il - hp.n_layer_dense_lead) * n + t) * U,
                                       out.expert_ids.begin() + ((il - hp.n_layer_dense_lead) * n + t + 1) * U);
      auto theirs = p.routing["layers"][std::to_string(il)]["ids"][size_t(t)].get<std::vector<int32_t>>();
      std::sort(ours.begin(), ours.end());
      std::sort(theirs.begin(), theirs.end());
      st.routing_diff += ours != theirs;
    }
  for (int64_t i = 0; i < n; ++i) {
    const float* row = out.logits_row(i);
    const float* ref = p.logits.data() + i * V;
    const double mx = testing::max_abs_diff(std::span(row, size_t(V)), std::span(ref, size_t(V)));
    st.row_max.push_back(mx);
    st.outliers += mx > kOutlier;
    st.agree += argmax(row, V) == argmax(ref, V);
  }
  st.positions += n;
  // Greedy tokens agree with llama.cpp's until its top two come within twice the row bound.
  const auto golden = p.meta["greedy"].get<std::vector<int32_t>>();
  const auto margins = p.meta["greedy_margins"].get<std::vector<double>>();
  int32_t next = int32_t(argmax(out.logits_row(n - 1), V));
  for (size_t s = 0; s < golden.size() && margins[s] >= 0.5; ++s) {
    ASSERT_EQ(next, golden[s]) << label << ": greedy step " << s << " (llama.cpp margin " << margins[s] << ")";
    st.greedy_checked++;
    b.clear();
    b.add(seq, next, true);
    ctx.evaluate(b, out);
    next = int32_t(argmax(out.logits.data(), V));
  }
}

class CacheTypeGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CacheTypeGolden, LogitErrorPerTypeAgainstLlamaCpp) {
  const std::string name = GetParam();
  std::vector<std::string> table;
  std::vector<Prompt> prompts;
  for (CacheType type : kTypes) {
    Options o;
    o.cache_type = type;
    std::shared_ptr<Model> model;
    const HParams probe = [&] {
      Options f32;
      return Model::load(testing::golden_model(name), f32)->hparams();
    }();
    const int64_t block = type == CacheType::Q8_0 ? 32 : 1;
    if (probe.kv_lora_rank % block || probe.qk_rope % block) {
      // ds3-tiny's rope head of 16 is half a Q8_0 block: refused at load, naming the fix.
      try {
        Model::load(testing::golden_model(name), o);
        ADD_FAILURE() << name << ": a q8_0 cache was accepted for qk_rope " << probe.qk_rope;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("use the f16"), std::string::npos) << e.what();
      }
      char line[160];
      std::snprintf(line, sizeof line, "  %-22s %-5s  n/a: qk_rope_head_dim %lld is not a multiple of 32", name.c_str(),
                    std::string(cache_type_name(type)).c_str(), static_cast<long long>(probe.qk_rope));
      table.push_back(line);
      continue;
    }
    model = Model::load(testing::golden_model(name), o);
    if (prompts.empty())
      for (const char* p : kPrompts) prompts.push_back(read_prompt(*model, name, p));
    Stats st;
    for (size_t i = 0; i < prompts.size(); ++i)
      run_prompt(model, prompts[i], st, name + "/" + kPrompts[i] + " " + std::string(cache_type_name(type)));
    std::sort(st.row_max.begin(), st.row_max.end());
    const double median = st.row_max[st.row_max.size() / 2], worst = st.row_max.back();
    const double agree = double(st.agree) / double(st.positions);
    const Bound& bound = kBounds.at(type);
    const std::string label = name + " " + std::string(cache_type_name(type));
    EXPECT_LE(median, bound.median) << label << ": median per-row max |Δlogit|";
    EXPECT_LE(worst, bound.max) << label << ": max |Δlogit|";
    EXPECT_GE(agree, bound.argmax) << label << ": argmax agreement " << st.agree << "/" << st.positions;
    EXPECT_LE(double(st.outliers), bound.outliers * double(st.positions)) << label << ": rows off by more than " << kOutlier;
    if (type == CacheType::F32) {
      EXPECT_EQ(st.routing_diff, 0) << label;
    }
    const size_t row_bytes = cache_row_bytes(type, model->hparams().latent_width());
    char line[200];
    std::snprintf(line, sizeof line, "  %-22s %-5s %9zu %11zu %12.2e %10.2e  %4lld/%-4lld (%5.1f%%) %8lld %8lld %6d", name.c_str(),
                  std::string(cache_type_name(type)).c_str(), row_bytes,
                  row_bytes * size_t(model->hparams().n_layer), median, worst, static_cast<long long>(st.agree),
                  static_cast<long long>(st.positions), 100.0 * agree, static_cast<long long>(st.outliers), static_cast<long long>(st.routing_diff), st.greedy_checked);
    table.push_back(line);
  }
  // routing: (token, MoE layer) expert sets differing from llama.cpp's; greedy: greedy steps
  // checked equal (until llama.cpp's top-two margin drops below 0.5).
  std::printf("  %-22s %-5s %9s %11s %12s %10s  %-18s %8s %8s %6s\n", "model", "cache", "B/tok/lyr", "B/tok/model",
              "median|Δ|row", "max|Δ|", "argmax agree", ">0.5", "routing", "greedy");
  for (const auto& l : table) std::printf("%s\n", l.c_str());
}

INSTANTIATE_TEST_SUITE_P(Models, CacheTypeGolden, ::testing::ValuesIn(std::vector<std::string>(std::begin(kModels), std::end(kModels))),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string s = i.param;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

// The plain MLA form reads the cache through load_latent, the absorbed form through
// attention_latent's typed tiles. With an F32 cache they agree to 1e-3 (model_golden_test).
// With a rounding cache type the forms' float differences (~1e-7 relative) occasionally put a
// later layer's cached value on the other side of a rounding boundary (one unit of the type:
// measured rows off by up to 3e-3 with BF16) or tip a routing near-tie (measured: one slot with
// F16, 0.18, carried to later tokens through the cache at ~1e-2). So the forms are held to the
// type's golden bounds against each other: a broken plain path (wrong widening, wrong rows)
// moves most rows by O(1).
TEST(CacheTypePlain, PlainAndAbsorbedAgreeForEveryType) {
  const auto tokens = json::parse(testing::read_text_file(testing::golden_file("prompts/p2_fim.tokens.json")))
                          .get<std::vector<int32_t>>();
  constexpr int64_t kVocab = 32256;  // DeepSeek-Coder's vocabulary (all golden models)
  for (CacheType type : kTypes) {
    std::vector<float> logits[2];
    std::vector<int32_t> routes[2];
    for (MlaMode mla : {MlaMode::Absorbed, MlaMode::Plain}) {
      Options o;
      o.cache_type = type;
      o.mla = mla;
      auto model = Model::load(testing::golden_model("ds2-lite-tiny"), o);
      Context ctx(model);
      const SeqId seq = ctx.create_sequence();
      Batch b;
      for (int32_t t : tokens) b.add(seq, t, true);
      Outputs out;
      ctx.evaluate(b, out, {.routing = true});
      routes[mla == MlaMode::Plain] = out.expert_ids;
      // Two decode steps over the cache as well.
      for (int32_t t : {100, 200}) {
        b.clear();
        b.add(seq, t, true);
        Outputs step;
        ctx.evaluate(b, step);
        out.logits.insert(out.logits.end(), step.logits.begin(), step.logits.end());
      }
      logits[mla == MlaMode::Plain] = out.logits;
    }
    ASSERT_EQ(logits[0].size(), logits[1].size());
    const size_t V = size_t(kVocab), rows = logits[0].size() / V;
    std::vector<double> row_max;
    size_t off = 0;
    for (size_t r = 0; r < rows; ++r) {
      const double mx = testing::max_abs_diff(std::span(logits[0]).subspan(r * V, V), std::span(logits[1]).subspan(r * V, V));
      off += mx > 1e-3;
      row_max.push_back(mx);
    }
    std::sort(row_max.begin(), row_max.end());
    const double worst = row_max.back(), median = row_max[rows / 2];
    EXPECT_LE(median, kBounds.at(type).median) << cache_type_name(type) << ": median per-row max |Δlogit|";
    EXPECT_LE(worst, kBounds.at(type).max) << cache_type_name(type);
    int routing_diff = 0;
    for (size_t i = 0; i < routes[0].size(); ++i) routing_diff += routes[0][i] != routes[1][i];
    if (type == CacheType::F32) {
      EXPECT_EQ(off, 0u);
    }
    std::printf("  plain vs absorbed, %s cache: per-row max |dlogit| median %.2e max %.2e, rows > 1e-3: %zu of %zu, "
                "routing slots differing %d\n",
                std::string(cache_type_name(type)).c_str(), median, worst, off, rows, routing_diff);
  }
}

TEST(CacheTypeNames, ParseTheNamesTheyPrint) {
  for (CacheType t : kTypes) EXPECT_EQ(parse_cache_type(cache_type_name(t)), t);
  EXPECT_THROW(parse_cache_type("q4_0"), Error);
}

}  // namespace
}  // namespace latent::model
