// The reference dequantization against shared/golden/dequant (the gguf package's dequantizers,
// bit-identical with llama.cpp): whole-tensor sum / sum of squares / absmax and the first two
// rows bit for bit, for every quantized tensor of the Q8_0 and Q4_K_M golden models. The types
// the golden models do not hold (Q4_0, Q4_1, Q5_1, Q5_K, BF16) are cross-checked bit for bit
// against engine/quant, an independent implementation, as is the activation quantization.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstring>

#include "common/compare.h"
#include "common/golden.h"
#include "gguf/gguf.h"
#include "quant/quant.h"
#include "reference/reference_numerics.h"

namespace latent::reference {
namespace {

using testing::golden_file;
using testing::golden_model;

void check_model(const std::string& model) {
  auto meta = nlohmann::json::parse(testing::read_text_file(golden_file("dequant/" + model + ".json")));
  std::vector<float> rows = testing::read_f32_file(golden_file("dequant/" + model + ".rows.f32"));
  gguf::File file = gguf::File::open(golden_model(model));
  std::set<std::string> types_seen;
  ASSERT_FALSE(meta["tensors"].empty());
  for (const auto& t : meta["tensors"]) {
    const std::string name = t["name"];
    SCOPED_TRACE(model + " " + name);
    const gguf::TensorInfo& info = file.require_tensor(name);
    ASSERT_EQ(gguf::type_name(info.type), t["type"].get<std::string>());
    types_seen.insert(t["type"].get<std::string>());
    std::vector<float> v = dequantize(info.type, info.data, info.n_elements());
    // Extended-precision sums, so the remaining difference is the golden side's float64
    // (pairwise) rounding: ≤ log2(n)·2^-53 of Σ|x| — 1e-13 relative leaves ample margin
    // while one flipped mantissa bit in a million-element tensor would still show.
    long double sum = 0, sum_abs = 0, sumsq = 0;
    double absmax = 0;
    for (float x : v) {
      sum += x;
      sum_abs += std::fabs(x);
      sumsq += static_cast<long double>(x) * x;
      absmax = testing::worse(absmax, x);  // NaN: +inf, never the golden absmax
    }
    EXPECT_NEAR(static_cast<double>(sum), t["sum"].get<double>(), 1e-13 * static_cast<double>(sum_abs));
    EXPECT_NEAR(static_cast<double>(sumsq), t["sumsq"].get<double>(), 1e-13 * static_cast<double>(sumsq));
    EXPECT_EQ(absmax, t["absmax"].get<double>());
    const auto off = t["rows_offset_floats"].get<size_t>();
    const auto n_rows = t["rows"].get<size_t>(), row_len = t["row_len"].get<size_t>();
    ASSERT_LE(off + n_rows * row_len, rows.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < n_rows * row_len; ++i)
      if (std::bit_cast<uint32_t>(v[i]) != std::bit_cast<uint32_t>(rows[off + i])) ++mismatches;
    EXPECT_EQ(mismatches, 0u) << "first rows differ from the golden dequantization";
  }
  // The golden models must exercise the types this test claims to cover.
  if (model == "ds2-lite-tiny-Q4_K_M") {
    for (const char* ty : {"Q4_K", "Q6_K", "Q5_0", "Q8_0"}) EXPECT_TRUE(types_seen.count(ty)) << ty;
  }
}

TEST(ReferenceDequant, GoldenQ8_0) { check_model("ds2-lite-tiny-Q8_0"); }
TEST(ReferenceDequant, GoldenQ4_K_M) { check_model("ds2-lite-tiny-Q4_K_M"); }

// Random blocks through engine/quant's quantizers, dequantized by both implementations.
TEST(ReferenceDequant, AgreesBitForBitWithEngineQuant) {
  uint64_t x = 88172645463325252ull;
  auto next = [&x] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return static_cast<double>(x >> 11) / 9007199254740992.0;
  };
  for (TensorType t : {TensorType::F16, TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                       TensorType::Q5_1, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
    SCOPED_TRACE(std::string(gguf::type_name(t)));
    const int64_t n = 256 * 16;
    std::vector<float> src(static_cast<size_t>(n));
    // Varying scales and offsets per block, so every scale/min code path is exercised.
    for (int64_t i = 0; i < n; ++i)
      src[static_cast<size_t>(i)] = static_cast<float>((next() - 0.3) * std::exp2(static_cast<double>(i / 256) - 6.0));
    std::vector<uint8_t> q(gguf::row_bytes(t, n));
    quant::quantize_row(t, src.data(), q.data(), n);
    std::vector<float> engine(static_cast<size_t>(n));
    quant::dequantize_row(t, q.data(), engine.data(), n);
    std::vector<float> mine = dequantize(t, q.data(), n);
    size_t mismatches = 0;
    for (size_t i = 0; i < mine.size(); ++i)
      mismatches += std::bit_cast<uint32_t>(mine[i]) != std::bit_cast<uint32_t>(engine[i]);
    EXPECT_EQ(mismatches, 0u);
  }
}

TEST(ReferenceNumerics, ActivationQuantAgreesWithEngineQuant) {
  std::vector<float> x(512);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i)) * (1.0 + static_cast<double>(i % 37)));
  for (TensorType w : {TensorType::Q8_0, TensorType::Q4_1, TensorType::Q4_K, TensorType::Q6_K}) {
    SCOPED_TRACE(std::string(gguf::type_name(w)));
    const TensorType vt = quant::vec_dot_type(w);
    std::vector<uint8_t> q(gguf::row_bytes(vt, 512));
    quant::quantize_activations(w, x.data(), q.data(), 512);
    std::vector<float> engine(512);
    quant::dequantize_row(vt, q.data(), engine.data(), 512);
    std::vector<double> mine(x.begin(), x.end());
    quantize_activations_roundtrip(w, mine.data(), 512);
    // Same integer codes and scales; Q8_K's q·d is formed in float by the engine, in double here.
    for (size_t i = 0; i < mine.size(); ++i)
      ASSERT_NEAR(mine[i], engine[i], 1e-7 * std::fabs(mine[i])) << i;
  }
}

TEST(ReferenceNumerics, HalfRoundTripsEveryFiniteValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    if ((bits & 0x7c00) == 0x7c00) continue;  // inf / NaN
    const float f = half_to_float(bits);
    ASSERT_EQ(float_to_half(f), bits) << "half 0x" << std::hex << h;
  }
}

TEST(ReferenceNumerics, HalfRoundsToNearestEven) {
  // 1 + 2^-11 lies halfway between 1 and the next half (1 + 2^-10): ties go to even (1.0).
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(70000.0f), 0x7c00);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
}

TEST(ReferenceNumerics, Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(bf16_to_float(0xc040), -3.0f);
}

TEST(ReferenceNumerics, ActivationQuantQ8_0MatchesItsDefinition) {
  // One block with amax 2.54: id = 127/2.54 = 50 → values are multiples of fp16(0.02).
  std::vector<double> x(32);
  for (int i = 0; i < 32; ++i) x[static_cast<size_t>(i)] = (i - 16) * 0.01 + 0.003;
  x[5] = -2.54;
  std::vector<double> y = x;
  quantize_activations_roundtrip(TensorType::Q8_0, y.data(), 32);
  const double d = half_to_float(float_to_half(2.54f / 127.0f));
  for (int i = 0; i < 32; ++i) {
    const double q = std::nearbyint(static_cast<float>(x[static_cast<size_t>(i)]) * (127.0f / 2.54f));
    EXPECT_DOUBLE_EQ(y[static_cast<size_t>(i)], q * d) << i;
    EXPECT_LE(std::fabs(y[static_cast<size_t>(i)] - x[static_cast<size_t>(i)]), d);
  }
}

TEST(ReferenceNumerics, ActivationQuantQ8_KUsesTheSignedMaximum) {
  std::vector<double> x(256);
  for (int i = 0; i < 256; ++i) x[static_cast<size_t>(i)] = std::sin(i * 0.37);
  x[17] = 3.0;  // the signed maximum is positive: iscale = −127/3, q(3.0) = −127
  std::vector<double> y = x;
  quantize_activations_roundtrip(TensorType::Q4_K, y.data(), 256);
  EXPECT_DOUBLE_EQ(y[17], -127.0 * static_cast<double>(1.0f / (-127.0f / 3.0f)));
  for (int i = 0; i < 256; ++i)
    EXPECT_NEAR(y[static_cast<size_t>(i)], x[static_cast<size_t>(i)], 3.0 / 127.0 * 0.5 + 1e-6) << i;
}

TEST(ReferenceNumerics, RejectsPartialBlocks) {
  std::vector<uint8_t> bytes(34);
  EXPECT_THROW(dequantize(TensorType::Q8_0, bytes.data(), 16), std::invalid_argument);
  std::vector<double> x(48, 1.0);
  EXPECT_THROW(quantize_activations_roundtrip(TensorType::Q8_0, x.data(), 48), std::invalid_argument);
  EXPECT_THROW(dequantize(TensorType::Q2_K, bytes.data(), 256), std::invalid_argument);
}

}  // namespace
}  // namespace latent::reference
