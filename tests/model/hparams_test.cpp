// Float hyperparameters of a GGUF are checked at load (issue 20, item 6): a NaN, an infinity or
// an out-of-range value is refused with a message naming the key, instead of loading and
// producing garbage.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "common/temp_dir.h"
#include "gguf/gguf.h"
#include "model/weights.h"
#include "testmodel/testmodel.h"

namespace latent::model {
namespace {

// The error read_hparams raises for the preset changed by `edit`; empty when it loads.
std::string load_error(const std::string& preset, const std::function<void(testmodel::Shape&)>& edit) {
  latent::testing::TempDir dir;
  testmodel::Options o;
  o.shape = testmodel::preset(preset);
  o.shape.n_vocab = 256;
  o.shape.n_layer = 2;  // one dense, one MoE layer: every key, few weights to write
  edit(o.shape);
  testmodel::write(o, dir.file("m.gguf"));
  gguf::File f = gguf::File::open(dir.file("m.gguf"));
  try {
    read_hparams(f);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(HParams, NonFiniteOrOutOfRangeFloatsNameTheKey) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(load_error("ds2-lite-tiny", [](testmodel::Shape&) {}), "");
  EXPECT_EQ(load_error("ds3-tiny", [](testmodel::Shape& s) { s.rope_factor = 4.0f; }), "");
  struct Case {
    std::string preset, key;
    std::function<void(testmodel::Shape&)> edit;
  };
  const std::vector<Case> cases = {
      {"ds2-lite-tiny", "rope.freq_base", [&](testmodel::Shape& s) { s.rope_base = float(nan); }},
      {"ds2-lite-tiny", "rope.freq_base", [&](testmodel::Shape& s) { s.rope_base = float(inf); }},
      {"ds2-lite-tiny", "rope.freq_base", [](testmodel::Shape& s) { s.rope_base = -10000.0f; }},
      {"ds2-lite-tiny", "attention.layer_norm_rms_epsilon", [&](testmodel::Shape& s) { s.rms_eps = float(nan); }},
      {"ds2-lite-tiny", "attention.layer_norm_rms_epsilon", [](testmodel::Shape& s) { s.rms_eps = 0.0f; }},
      {"ds3-tiny", "rope.scaling.yarn_log_multiplier", [&](testmodel::Shape& s) {
         s.rope_factor = 4.0f;  // YaRN keys are written for factors above 1
         s.yarn_log_multiplier = float(nan);
       }},
      {"ds3-tiny", "rope.scaling.factor", [&](testmodel::Shape& s) { s.rope_factor = float(inf); }},
      {"ds3-tiny", "expert_weights_scale", [&](testmodel::Shape& s) { s.weights_scale = float(-inf); }},
  };
  for (const Case& c : cases) {
    std::string error = load_error(c.preset, c.edit);
    EXPECT_NE(error.find("'deepseek2." + c.key), std::string::npos) << c.key << ": " << error;
    EXPECT_NE(error.find("expected a finite number"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace latent::model
