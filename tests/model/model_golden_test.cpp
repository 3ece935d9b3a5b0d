// The deepseek2 forward pass against llama.cpp's golden data (shared/golden, see its README):
// unquantized models element-wise (logits, final hidden state, MoE routing, greedy
// continuation), quantized models statistically, in both MLA forms, on every backend of the
// build. The Vulkan cases run with the Khronos validation layer and fail on any error it
// reports; without a Vulkan device they fail, unless LATENT_VULKAN_OPTIONAL=1 makes them skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "backend/backend.h"
#include "common/backends.h"
#include "common/golden.h"
#include "model/model.h"
#ifdef LATENT_HAVE_VULKAN
#include "backend/vulkan/vulkan_backend.h"
#endif

namespace latent::model {
namespace {

using nlohmann::json;

struct Golden {
  json meta;
  json routing;
  std::vector<int32_t> tokens;
  std::vector<float> rows;    // [rows_positions][n_vocab]
  std::vector<float> hidden;  // [n_prompt][n_embd]
};

Golden read_golden(const std::string& model, const std::string& prompt) {
  Golden g;
  const std::string base = "logits/" + model + "/" + prompt;
  g.meta = json::parse(testing::read_text_file(testing::golden_file(base + ".json")));
  g.routing = json::parse(testing::read_text_file(testing::golden_file(base + ".routing.json")));
  g.tokens = g.meta["tokens"].get<std::vector<int32_t>>();
  g.rows = testing::read_f32_file(testing::golden_file(base + ".rows.f32"));
  g.hidden = testing::read_f32_file(testing::golden_file(base + ".hidden.f32"));
  return g;
}

// The model on a backend, loaded once per (file, form, backend). nullptr, with the reason in
// `skip`, when the Vulkan device is missing and LATENT_VULKAN_OPTIONAL=1.
using ModelCache = std::map<std::tuple<std::string, int, std::string, int>, std::shared_ptr<Model>>;
ModelCache& model_cache() {
  static ModelCache cache;
  return cache;
}

// The cached models go before main() returns: a Vulkan backend destroyed during static
// destruction would call into a validation layer that is already gone.
class DropModels : public ::testing::Environment {
 public:
  void TearDown() override { model_cache().clear(); }
};
const auto* const kDropModels = ::testing::AddGlobalTestEnvironment(new DropModels);

std::shared_ptr<Model> load_model(const std::string& name, MlaMode mla, const std::string& be, std::string& skip,
                                  int gpu_layers = -1) {
  auto& m = model_cache()[{name, int(mla), be, gpu_layers}];
  if (!m) {
    if (be == "vulkan") setenv("LATENT_VULKAN_VALIDATION", "1", 0);
    Options o;
    o.mla = mla;
    o.backend = be;
    o.gpu_layers = gpu_layers;
    try {
      m = Model::load(testing::golden_model(name), o);
    } catch (const Error& e) {
      if (be != "vulkan" || !testing::vulkan_optional()) throw;
      skip = std::string("no Vulkan device (LATENT_VULKAN_OPTIONAL=1): ") + e.what();
    }
  }
  return m;
}

// Errors the validation layer reported on this model's backend (0 off Vulkan).
uint64_t validation_errors(const Model& m) {
#ifdef LATENT_HAVE_VULKAN
  if (auto* vk = dynamic_cast<backend::VulkanBackend*>(&m.backend())) return vk->validation_errors();
#endif
  (void)m;
  return 0;
}

int64_t argmax(const float* row, int64_t n) { return std::max_element(row, row + n) - row; }

// Graphs the Vulkan backend of the model compiled and reused so far, and the commands of the
// last one it ran (zeros off Vulkan).
struct Submits {
  uint64_t compiled = 0, reused = 0;
  double compile_seconds = 0;
  size_t dispatches = 0, barriers = 0;
};
Submits submits(const Model& m) {
  Submits s;
#ifdef LATENT_HAVE_VULKAN
  if (auto* vk = dynamic_cast<backend::VulkanBackend*>(&m.backend())) {
    const auto st = vk->graph_stats();
    s = {st.compiled, st.reused, st.compile_seconds, st.dispatches, st.barriers};
  }
#endif
  (void)m;
  return s;
}

struct PromptRun {
  Outputs prompt;              // every prompt position: logits, hidden, routing
  std::vector<int32_t> greedy;  // 16 greedy tokens after the prompt
  std::vector<std::vector<float>> greedy_logits;
  Submits before_greedy, after_greedy;
};

PromptRun run_prompt(const std::shared_ptr<Model>& model, const std::vector<int32_t>& tokens, size_t n_greedy) {
  PromptRun r;
  Context ctx(model);
  const SeqId seq = ctx.create_sequence();
  Batch b;
  for (int32_t t : tokens) b.add(seq, t, true);
  ctx.evaluate(b, r.prompt, {.hidden = true, .routing = true});
  // The max-|Δ| comparisons below skip NaN (std::max), so check finiteness once here.
  EXPECT_TRUE(std::all_of(r.prompt.logits.begin(), r.prompt.logits.end(), [](float x) { return std::isfinite(x); }));
  EXPECT_TRUE(std::all_of(r.prompt.hidden.begin(), r.prompt.hidden.end(), [](float x) { return std::isfinite(x); }));
  const int64_t V = model->n_vocab();
  int32_t next = int32_t(argmax(r.prompt.logits_row(r.prompt.n_rows - 1), V));
  Outputs step;
  r.before_greedy = submits(*model);
  for (size_t i = 0; i < n_greedy; ++i) {
    r.greedy.push_back(next);
    b.clear();
    b.add(seq, next, true);
    ctx.evaluate(b, step);
    r.greedy_logits.emplace_back(step.logits.begin(), step.logits.end());
    next = int32_t(argmax(step.logits.data(), V));
  }
  r.after_greedy = submits(*model);
  return r;
}

const char* const kPrompts[] = {"p1_short", "p2_fim", "p3_long"};

// ---- unquantized models: element-wise ----

struct ExactCase {
  std::string model;
  std::string prompt;
  MlaMode mla;
  std::string backend;
  int gpu_layers = -1;  // partial offload: the first layers on the GPU, the rest on the CPU
};

void PrintTo(const ExactCase& c, std::ostream* os) {
  *os << c.model << "/" << c.prompt << (c.mla == MlaMode::Absorbed ? " absorbed" : " plain") << " on " << c.backend;
  if (c.gpu_layers >= 0) *os << " (" << c.gpu_layers << " layers)";
}

std::string case_name(const ::testing::TestParamInfo<ExactCase>& info) {
  std::string s = info.param.model + "_" + info.param.prompt +
                  (info.param.mla == MlaMode::Absorbed ? "_absorbed_" : "_plain_") + info.param.backend;
  if (info.param.gpu_layers >= 0) s += "_" + std::to_string(info.param.gpu_layers) + "_layers";
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

class ExactGolden : public ::testing::TestWithParam<ExactCase> {};

TEST_P(ExactGolden, MatchesLlamaCpp) {
  const auto& c = GetParam();
  const Golden g = read_golden(c.model, c.prompt);
  std::string skip;
  auto model = load_model(c.model, c.mla, c.backend, skip, c.gpu_layers);
  if (!model) GTEST_SKIP() << skip;
  const int64_t V = model->n_vocab(), E = model->n_embd(), n = int64_t(g.tokens.size());
  ASSERT_EQ(V, g.meta["n_vocab"].get<int64_t>());
  ASSERT_EQ(E, g.meta["n_embd"].get<int64_t>());
  const PromptRun r = run_prompt(model, g.tokens, g.meta["greedy"].size());
  ASSERT_EQ(r.prompt.n_rows, n);

  // Full logit rows.
  const auto positions = g.meta["rows_positions"].get<std::vector<int64_t>>();
  double max_logit = 0;
  for (size_t i = 0; i < positions.size(); ++i)
    for (int64_t v = 0; v < V; ++v)
      max_logit = std::max(max_logit, double(std::fabs(r.prompt.logits_row(positions[i])[v] -
                                                       g.rows[i * size_t(V) + size_t(v)])));
  EXPECT_LE(max_logit, 1e-3) << "max |Δlogit| over the golden rows";

  // Every position: argmax and the top-16 logits.
  double max_topk = 0;
  int argmax_diff = 0;
  for (int64_t p = 0; p < n; ++p) {
    const float* row = r.prompt.logits_row(p);
    argmax_diff += argmax(row, V) != g.meta["argmax"][p].get<int64_t>();
    const auto& ids = g.meta["topk_ids"][p];
    const auto& vals = g.meta["topk_logits"][p];
    for (size_t k = 0; k < ids.size(); ++k)
      max_topk = std::max(max_topk, std::fabs(double(row[ids[k].get<int64_t>()]) - vals[k].get<double>()));
  }
  EXPECT_EQ(argmax_diff, 0);
  EXPECT_LE(max_topk, 1e-3) << "max |Δlogit| over every position's top 16";

  // Final hidden state (output_norm's output).
  ASSERT_EQ(g.hidden.size(), size_t(n * E));
  double max_hidden = 0;
  for (size_t i = 0; i < g.hidden.size(); ++i)
    max_hidden = std::max(max_hidden, double(std::fabs(r.prompt.hidden[i] - g.hidden[i])));
  EXPECT_LE(max_hidden, 1e-4) << "max |Δhidden|";

  // MoE routing: the same experts in the same order, weights close.
  const HParams& hp = model->hparams();
  const int64_t U = hp.n_expert_used;
  int routing_diff = 0;
  double max_weight = 0;
  for (int64_t il = hp.n_layer_dense_lead; il < hp.n_layer; ++il) {
    const auto& layer = g.routing["layers"][std::to_string(il)];
    const int64_t m = il - hp.n_layer_dense_lead;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t k = 0; k < U; ++k) {
        const size_t at = size_t((m * n + t) * U + k);
        routing_diff += r.prompt.expert_ids[at] != layer["ids"][t][k].get<int32_t>();
        max_weight = std::max(max_weight, std::fabs(double(r.prompt.expert_weights[at]) -
                                                    layer["weights"][t][k].get<double>()));
      }
  }
  EXPECT_EQ(routing_diff, 0) << "routing decisions differing from llama.cpp";
  EXPECT_LE(max_weight, 1e-5) << "max |Δ expert weight|";

  // Greedy continuation from the batch-prefilled cache, one decode step at a time.
  EXPECT_EQ(r.greedy, g.meta["greedy"].get<std::vector<int32_t>>());
  double max_greedy = 0;
  // Step s chose greedy[s] from the logits of the previous step (the prompt's last row first).
  for (size_t s = 0; s < r.greedy.size() && s < g.meta["greedy_topk_ids"].size(); ++s) {
    const float* row = s == 0 ? r.prompt.logits_row(n - 1) : r.greedy_logits[s - 1].data();
    const auto& ids = g.meta["greedy_topk_ids"][s];
    const auto& vals = g.meta["greedy_topk_logits"][s];
    for (size_t k = 0; k < ids.size(); ++k)
      max_greedy = std::max(max_greedy, std::fabs(double(row[ids[k].get<size_t>()]) - vals[k].get<double>()));
  }
  EXPECT_LE(max_greedy, 1e-3) << "max |Δlogit| over the greedy steps' top 16";
  EXPECT_EQ(validation_errors(*model), 0u) << "Vulkan validation layer errors";
  if (c.backend == "vulkan" && c.mla == MlaMode::Absorbed) {
    // Decode steps run one compiled graph: only the first step (and one whose cache length
    // enters a new bucket) compiles.
    const uint64_t compiled = r.after_greedy.compiled - r.before_greedy.compiled;
    const uint64_t reused = r.after_greedy.reused - r.before_greedy.reused;
    EXPECT_EQ(compiled + reused, r.greedy.size()) << compiled << " compiled, " << reused << " reused";
    EXPECT_LE(compiled, 2u) << compiled << " of " << compiled + reused << " decode steps compiled their graph";
    const Submits& a = r.after_greedy;
    std::printf("  %s/%s on vulkan: %llu of %llu decode steps reused a compiled graph; host time compiling %.0f us "
                "per graph; a decode step: %zu dispatches, %zu barriers\n",
                c.model.c_str(), c.prompt.c_str(), static_cast<unsigned long long>(reused),
                static_cast<unsigned long long>(compiled + reused), 1e6 * a.compile_seconds / double(a.compiled),
                a.dispatches, a.barriers);
  }
  std::printf("  %s/%s on %s: max |dlogit| rows %.2e top16 %.2e greedy %.2e, max |dhidden| %.2e, max |dweight| %.2e\n",
              c.model.c_str(), c.prompt.c_str(), c.backend.c_str(), max_logit, max_topk, max_greedy, max_hidden,
              max_weight);
}

std::vector<ExactCase> exact_cases() {
  std::vector<ExactCase> cases;
  for (const std::string& be : testing::build_backends())
    for (const char* m : {"ds2-lite-tiny", "ds2-lite-tiny-legacy", "ds3-tiny"})
      for (const char* p : kPrompts) {
        cases.push_back({m, p, MlaMode::Absorbed, be});
        // The plain form decompresses K/V of the whole cache per step; the short prompts suffice.
        if (std::string(p) != "p3_long") cases.push_back({m, p, MlaMode::Plain, be});
      }
  // Partial offload: the hidden state crosses from the GPU's layers to the CPU's, and the
  // latent pages are split between device and host memory.
  if (testing::build_backends().size() > 1) {
    cases.push_back({"ds3-tiny", "p2_fim", MlaMode::Absorbed, "vulkan", 2});
    cases.push_back({"ds2-lite-tiny", "p1_short", MlaMode::Plain, "vulkan", 1});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Models, ExactGolden, ::testing::ValuesIn(exact_cases()), case_name);

// ---- quantized models: statistically (README, "Observed agreement") ----

struct QuantCase {
  std::string model;
  std::string prompt;
  std::string backend;
};

void PrintTo(const QuantCase& c, std::ostream* os) { *os << c.model << "/" << c.prompt << " on " << c.backend; }

class QuantGolden : public ::testing::TestWithParam<QuantCase> {};

TEST_P(QuantGolden, AgreesWithLlamaCpp) {
  const auto& c = GetParam();
  const Golden g = read_golden(c.model, c.prompt);
  std::string skip;
  auto model = load_model(c.model, MlaMode::Absorbed, c.backend, skip);
  if (!model) GTEST_SKIP() << skip;
  const int64_t V = model->n_vocab(), n = int64_t(g.tokens.size());
  const PromptRun r = run_prompt(model, g.tokens, g.meta["greedy"].size());

  int agree = 0;
  for (int64_t p = 0; p < n; ++p) agree += argmax(r.prompt.logits_row(p), V) == g.meta["argmax"][p].get<int64_t>();
  EXPECT_GE(double(agree) / double(n), 0.90) << agree << " of " << n << " argmax agree";

  const auto positions = g.meta["rows_positions"].get<std::vector<int64_t>>();
  std::vector<double> row_max;
  for (size_t i = 0; i < positions.size(); ++i) {
    double mx = 0;
    for (int64_t v = 0; v < V; ++v)
      mx = std::max(mx, double(std::fabs(r.prompt.logits_row(positions[i])[v] - g.rows[i * size_t(V) + size_t(v)])));
    row_max.push_back(mx);
  }
  std::sort(row_max.begin(), row_max.end());
  EXPECT_LE(row_max[row_max.size() / 2], 1.0) << "median per-row max |Δlogit|";
  EXPECT_LE(row_max.back(), 4.0) << "max |Δlogit|";

  EXPECT_EQ(validation_errors(*model), 0u) << "Vulkan validation layer errors";
  std::printf("  %s/%s on %s: argmax agreement %d/%lld, per-row max |dlogit| median %.3f max %.3f\n",
              c.model.c_str(), c.prompt.c_str(), c.backend.c_str(), agree, static_cast<long long>(n),
              row_max[row_max.size() / 2], row_max.back());
  // Greedy tokens agree until the first step where llama.cpp's own top two were close.
  const auto golden = g.meta["greedy"].get<std::vector<int32_t>>();
  const auto margins = g.meta["greedy_margins"].get<std::vector<double>>();
  for (size_t s = 0; s < golden.size() && margins[s] >= 0.5; ++s)
    ASSERT_EQ(r.greedy[s], golden[s]) << "greedy step " << s << " (llama.cpp margin " << margins[s] << ")";
}

std::vector<QuantCase> quant_cases() {
  std::vector<QuantCase> cases;
  for (const std::string& be : testing::build_backends())
    for (const char* m : {"ds2-lite-tiny-Q8_0", "ds2-lite-tiny-Q4_K_M"})
      for (const char* p : kPrompts) cases.push_back({m, p, be});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Models, QuantGolden, ::testing::ValuesIn(quant_cases()),
                         [](const ::testing::TestParamInfo<QuantCase>& info) {
                           std::string s = info.param.model + "_" + info.param.prompt + "_" + info.param.backend;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

}  // namespace
}  // namespace latent::model
