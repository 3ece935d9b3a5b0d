// `latent logits` end to end: every golden model through --tokens, and a prompt through
// --prompt (the model's own tokenizer), compared with llama.cpp's golden logit rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "cli/command.h"
#include "common/backends.h"
#include "common/compare.h"
#include "common/golden.h"

namespace latent::cli {
namespace {

const Command& logits_cmd() {
  for (const auto& c : all_commands())
    if (c.name == "logits") return c;
  throw std::runtime_error("no logits command registered");
}

int run(const std::vector<std::string>& args) {
  const Command& c = logits_cmd();
  return c.run(parse_args(c, args));
}

struct Reference {
  nlohmann::json meta;
  std::vector<float> rows;
};

Reference reference(const std::string& model) {
  Reference r;
  r.meta = nlohmann::json::parse(testing::read_text_file(testing::golden_file("logits/" + model + "/p1_short.json")));
  r.rows = testing::read_f32_file(testing::golden_file("logits/" + model + "/p1_short.rows.f32"));
  return r;
}

// Max |Δ| between the command's rows and the golden rows at the golden positions below n.
double compare(const Reference& ref, const std::vector<float>& got, size_t n_tokens) {
  const size_t V = ref.meta["n_vocab"].get<size_t>();
  EXPECT_EQ(got.size(), n_tokens * V);
  const auto positions = ref.meta["rows_positions"].get<std::vector<size_t>>();
  double worst = 0;
  for (size_t i = 0; i < positions.size(); ++i) {
    if (positions[i] >= n_tokens) continue;
    worst = testing::worse(worst, testing::max_abs_diff(std::span(got).subspan(positions[i] * V, V),
                                                        std::span(ref.rows).subspan(i * V, V)));
  }
  return worst;
}

// The backends of this build; Vulkan only where a device opens, or the test fails unless
// LATENT_VULKAN_OPTIONAL=1 says a missing device is fine.
std::vector<std::string> backends() {
  std::vector<std::string> names = {"cpu"};
#ifdef LATENT_HAVE_VULKAN
  try {
    backend::make_backend("vulkan", {});
    names.push_back("vulkan");
  } catch (const backend::Error& e) {
    if (!testing::vulkan_optional()) ADD_FAILURE() << e.what();
  }
#endif
  return names;
}

// Every golden model on every backend of the build (Vulkan: the device `latent devices` picks,
// lavapipe in CI, with the validation layer on).
TEST(LogitsCommand, EveryGoldenModelFromTokenIds) {
  const auto out = std::filesystem::temp_directory_path() / "latent_logits_test.f32";
  setenv("LATENT_VULKAN_VALIDATION", "1", 0);
  for (const std::string& backend : backends())
  for (const auto& name : testing::golden_model_names()) {
    const Reference ref = reference(name);
    const auto tokens = ref.meta["tokens"].get<std::vector<int32_t>>();
    std::string ids;
    for (size_t i = 0; i < 8; ++i) {
      if (i) ids.push_back(',');
      ids.append(std::to_string(tokens[i]));
    }
    ASSERT_EQ(run({"--model", testing::golden_model(name).string(), "--tokens", ids, "--out", out.string(),
                   "--threads", "2", "--backend", backend}),
              0)
        << name << " on " << backend;
    const double worst = compare(ref, testing::read_f32_file(out), 8);
    // Quantized models agree statistically (README); the unquantized ones element-wise.
    EXPECT_LE(worst, name.find("Q") == std::string::npos ? 1e-3 : 4.0) << name << " on " << backend;
  }
  std::filesystem::remove(out);
}

TEST(LogitsCommand, PromptTextThroughTheModelsTokenizer) {
  const auto out = std::filesystem::temp_directory_path() / "latent_logits_prompt.f32";
  const Reference ref = reference("ds2-lite-tiny");
  const std::string text = testing::read_text_file(testing::golden_file("prompts/p1_short.txt"));
  ASSERT_EQ(run({"--model", testing::golden_model("ds2-lite-tiny").string(), "--prompt", text, "--out",
                 out.string()}),
            0);
  EXPECT_LE(compare(ref, testing::read_f32_file(out), ref.meta["n_prompt"].get<size_t>()), 1e-3);
  std::filesystem::remove(out);
}

TEST(LogitsCommand, ReportsAMissingModelAndBadArguments) {
  EXPECT_EQ(run({"--model", "/nonexistent/model.gguf", "--tokens", "1,2", "--out", "/dev/null"}), 1);
  EXPECT_THROW(run({"--model", "m.gguf", "--tokens", "1,x", "--out", "/dev/null"}), UsageError);
  EXPECT_THROW(run({"--model", "m.gguf", "--out", "/dev/null"}), UsageError);
}

}  // namespace
}  // namespace latent::cli
