// engine/quant against independent references:
//  - golden dequantization statistics and rows (computed by the gguf Python package, verified
//    against llama.cpp) for every quantized tensor of the golden models;
//  - hardware F16C conversions for fp16;
//  - the golden README's activation quantizer definitions, re-implemented plainly here;
//  - float64 dot products of the dequantized operands, and the scalar reference kernels, for
//    every SIMD level this CPU has.
#include <cpuid.h>
#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "common/compare.h"
#include "common/golden.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

using namespace latent;
using gguf::TensorType;

namespace {

const std::vector<TensorType> kWeightTypes = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0,
                                              TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                                              TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

int64_t block_of(TensorType t) { return gguf::type_traits(static_cast<uint32_t>(t))->block_elements; }

std::vector<float> gaussian(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<uint8_t> quantize(TensorType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(gguf::row_bytes(t, static_cast<int64_t>(x.size())));
  quant::quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

std::vector<float> dequantize(TensorType t, const void* q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  quant::dequantize_row(t, q, y.data(), n);
  return y;
}

// The SIMD levels this CPU runs, best first; restores the best level when destroyed.
struct Levels {
  std::vector<std::string> all;
  std::string best;
  Levels() {
    best = std::string(quant::simd_level());
    for (const char* l : {"avx512", "avx2", "scalar"})
      if (quant::set_simd_level(l)) all.push_back(l);
    quant::set_simd_level(best);
  }
  ~Levels() { quant::set_simd_level(best); }
};

__attribute__((target("f16c"))) uint16_t hw_f32_to_f16(float f) { return static_cast<uint16_t>(_cvtss_sh(f, 0)); }
__attribute__((target("f16c"))) float hw_f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST(quant_convert, fp16_matches_f16c_hardware) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  ASSERT_TRUE(__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C)) << "this test needs F16C as its reference";
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = quant::fp16_to_fp32(static_cast<uint16_t>(h)), b = hw_f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(b)) {
      EXPECT_TRUE(std::isnan(a)) << h;
      continue;
    }
    ASSERT_EQ(bits(a), bits(b)) << "half " << h;
    // Every half converts back to itself.
    ASSERT_EQ(quant::fp32_to_fp16(a), h) << "half " << h;
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000000; ++i) {
    uint32_t u = rng();
    // Concentrate on the half range (exponents 100..145) including subnormals and overflow.
    if (i % 2) u = (u & 0x807fffffu) | ((100u + (u >> 8) % 46u) << 23);
    float f;
    std::memcpy(&f, &u, 4);
    if (std::isnan(f)) continue;
    ASSERT_EQ(quant::fp32_to_fp16(f), hw_f32_to_f16(f)) << "bits 0x" << std::hex << u;
  }
}

TEST(quant_convert, bf16_rounds_to_nearest_even) {
  // bf16 keeps the top 16 bits; the discarded half decides rounding, ties go to even.
  EXPECT_EQ(quant::fp32_to_bf16(1.0f), 0x3f80);
  float tie_down, tie_up, above;
  uint32_t u = 0x3f808000u;  // 1.0039062 exactly between 0x3f80 and 0x3f81 -> even 0x3f80
  std::memcpy(&tie_down, &u, 4);
  u = 0x3f818000u;  // between 0x3f81 and 0x3f82 -> even 0x3f82
  std::memcpy(&tie_up, &u, 4);
  u = 0x3f808001u;
  std::memcpy(&above, &u, 4);
  EXPECT_EQ(quant::fp32_to_bf16(tie_down), 0x3f80);
  EXPECT_EQ(quant::fp32_to_bf16(tie_up), 0x3f82);
  EXPECT_EQ(quant::fp32_to_bf16(above), 0x3f81);
  for (uint32_t h = 0; h < 65536; h += 7) {
    const float f = quant::bf16_to_fp32(static_cast<uint16_t>(h));
    if (!std::isnan(f)) {
      EXPECT_EQ(quant::fp32_to_bf16(f), h);
    }
  }
}

// ---------------------------------------------------------------------------------------------

TEST(quant_golden, dequantization_matches_reference) {
  for (const std::string model : {"ds2-lite-tiny-Q8_0", "ds2-lite-tiny-Q4_K_M"}) {
    SCOPED_TRACE(model);
    auto ref = nlohmann::json::parse(latent::testing::read_text_file(latent::testing::golden_file("dequant/" + model + ".json")));
    auto rows = latent::testing::read_f32_file(latent::testing::golden_file("dequant/" + model + ".rows.f32"));
    auto f = gguf::File::open(latent::testing::golden_model(model));
    std::map<std::string, int> types_seen;
    ASSERT_FALSE(ref["tensors"].empty());
    for (const auto& r : ref["tensors"]) {
      const std::string name = r["name"];
      SCOPED_TRACE(name);
      const auto& t = f.require_tensor(name);
      ASSERT_EQ(gguf::type_name(t.type), r["type"].get<std::string>());
      ASSERT_EQ(t.ne, r["ne"].get<std::vector<int64_t>>());
      ++types_seen[r["type"].get<std::string>()];
      const int64_t ne0 = t.ne[0];
      std::vector<float> row(static_cast<size_t>(ne0));
      double sum = 0, sumsq = 0, sumabs = 0, sumsqabs = 0;
      float absmax = 0;
      for (int64_t i = 0; i < t.n_rows(); ++i) {
        quant::dequantize_row(t.type, t.data + static_cast<size_t>(i) * t.row_bytes(), row.data(), ne0);
        if (i < r["rows"].get<int64_t>()) {
          const size_t off = r["rows_offset_floats"].get<size_t>() + static_cast<size_t>(i * ne0);
          ASSERT_LE(off + static_cast<size_t>(ne0), rows.size());
          ASSERT_EQ(std::memcmp(row.data(), rows.data() + off, static_cast<size_t>(ne0) * 4), 0) << "row " << i << " differs";
        }
        for (float v : row) {
          sum += v, sumsq += double(v) * v, sumabs += std::fabs(v), sumsqabs += double(v) * v;
          absmax = latent::testing::worse(absmax, v);  // NaN: +inf, never the golden absmax
        }
      }
      // The reference summed the same float32 values in float64, in another order.
      const double n = static_cast<double>(t.n_elements());
      EXPECT_NEAR(sum, r["sum"].get<double>(), 4 * n * 1.1e-16 * sumabs + 1e-300);
      EXPECT_NEAR(sumsq, r["sumsq"].get<double>(), 4 * n * 1.1e-16 * sumsqabs + 1e-300);
      EXPECT_EQ(absmax, r["absmax"].get<double>());
    }
    if (model == "ds2-lite-tiny-Q4_K_M") {
      for (const char* ty : {"Q4_K", "Q6_K", "Q5_0", "Q8_0"}) EXPECT_GT(types_seen[ty], 0) << ty;
    }
  }
}

TEST(quant_golden, legacy_quantizers_reproduce_llama_quantize_bytes) {
  // llama-quantize (no importance matrix) uses ggml's reference quantizers for Q8_0 and Q5_0;
  // requantizing the dequantized values must give the file's bytes back.
  auto f = gguf::File::open(latent::testing::golden_model("ds2-lite-tiny-Q4_K_M"));
  auto g = gguf::File::open(latent::testing::golden_model("ds2-lite-tiny-Q8_0"));
  int checked = 0;
  for (const auto* file : {&f, &g}) {
    for (const auto& t : file->tensors()) {
      if (t.type != TensorType::Q8_0 && t.type != TensorType::Q5_0) continue;
      const int64_t rows = std::min<int64_t>(t.n_rows(), 64);
      std::vector<uint8_t> again(t.row_bytes());
      for (int64_t i = 0; i < rows; ++i) {
        const uint8_t* src = t.data + static_cast<size_t>(i) * t.row_bytes();
        auto x = dequantize(t.type, src, t.ne[0]);
        quant::quantize_row(t.type, x.data(), again.data(), t.ne[0]);
        ASSERT_EQ(std::memcmp(again.data(), src, again.size()), 0) << t.name << " row " << i;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

// ---------------------------------------------------------------------------------------------
// Activation quantizers, re-implemented from the README's definitions.

namespace {

std::vector<uint8_t> readme_q8_0(const std::vector<float>& x, bool with_sum) {
  const size_t bs = with_sum ? 36 : 34;
  std::vector<uint8_t> out(x.size() / 32 * bs);
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const float* v = &x[32 * b];
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(v[j]));
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    const uint16_t d = hw_f32_to_f16(amax / 127.0f);
    uint8_t* o = &out[b * bs];
    std::memcpy(o, &d, 2);
    int16_t sum = 0;
    for (int j = 0; j < 32; ++j) {
      const float p = v[j] * id;
      // round-half-even written out: nearest integer, ties to the even one.
      float r = std::floor(p);
      const float frac = p - r;
      if (frac > 0.5f || (frac == 0.5f && std::fmod(r, 2.0f) != 0)) r += 1;
      const int8_t q = static_cast<int8_t>(r);
      o[(with_sum ? 4 : 2) + j] = static_cast<uint8_t>(q);
      sum = static_cast<int16_t>(sum + q);
    }
    if (with_sum) std::memcpy(o + 2, &sum, 2);
  }
  return out;
}

std::vector<uint8_t> readme_q8_k(const std::vector<float>& x) {
  std::vector<uint8_t> out(x.size() / 256 * 292, 0);
  for (size_t b = 0; b < x.size() / 256; ++b) {
    const float* v = &x[256 * b];
    float max = 0;
    for (int j = 0; j < 256; ++j)
      if (std::fabs(v[j]) > std::fabs(max)) max = v[j];
    uint8_t* o = &out[b * 292];
    if (max == 0) continue;
    const float iscale = -127.0f / max;
    int16_t bsums[16] = {};
    for (int j = 0; j < 256; ++j) {
      const float p = iscale * v[j];
      float r = std::floor(p);
      const float frac = p - r;
      if (frac > 0.5f || (frac == 0.5f && std::fmod(r, 2.0f) != 0)) r += 1;
      const int8_t q = static_cast<int8_t>(std::min(127.0f, r));
      o[4 + j] = static_cast<uint8_t>(q);
      bsums[j / 16] = static_cast<int16_t>(bsums[j / 16] + q);
    }
    const float d = 1.0f / iscale;
    std::memcpy(o, &d, 4);
    std::memcpy(o + 260, bsums, 32);
  }
  return out;
}

}  // namespace

TEST(quant_activations, follow_the_readme_definitions) {
  Levels levels;
  auto x = gaussian(4096, 11, 3.0f);
  // Exact ties: amax 127 makes id 1, so 2.5 -> 2 and -3.5 -> -4 (half-even, unlike roundf).
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j) - 15.5f;
  x[0] = 127.0f;
  x[5] = 2.5f;
  x[6] = -3.5f;
  std::fill(x.begin() + 32, x.begin() + 64, 0.0f);  // an all-zero block
  std::fill(x.begin() + 256, x.begin() + 512, 0.0f);
  x[300] = -1e-30f;  // a lone tiny negative maximum
  x[4000] = 1e30f;   // one huge value
  for (const auto& level : levels.all) {
    SCOPED_TRACE(level);
    ASSERT_TRUE(quant::set_simd_level(level));
    for (TensorType w : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q4_K}) {
      const auto at = quant::vec_dot_type(w);
      std::vector<uint8_t> got(quant::activation_row_bytes(w, 4096));
      quant::quantize_activations(w, x.data(), got.data(), 4096);
      const auto want = at == TensorType::Q8_K ? readme_q8_k(x) : readme_q8_0(x, at == TensorType::Q8_1);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << gguf::type_name(at) << " byte " << i;
    }
  }
  EXPECT_EQ(quant::vec_dot_type(TensorType::Q8_0), TensorType::Q8_0);
  EXPECT_EQ(quant::vec_dot_type(TensorType::Q5_0), TensorType::Q8_0);
  EXPECT_EQ(quant::vec_dot_type(TensorType::Q5_1), TensorType::Q8_1);
  EXPECT_EQ(quant::vec_dot_type(TensorType::Q6_K), TensorType::Q8_K);
  EXPECT_EQ(quant::vec_dot_type(TensorType::BF16), TensorType::F32);
}

// ---------------------------------------------------------------------------------------------

TEST(quant_roundtrip, quantization_error_is_bounded) {
  // Relative RMS error of quantize -> dequantize on Gaussian data. The bounds are about 1.3x
  // the uniform-quantization estimate step/sqrt(12) for each format's step size.
  const std::map<TensorType, double> bound = {
      {TensorType::F32, 0.0},     {TensorType::F16, 5e-4},   {TensorType::BF16, 4e-3},
      {TensorType::Q8_0, 0.012},  {TensorType::Q6_K, 0.03},  {TensorType::Q5_0, 0.06},
      {TensorType::Q5_1, 0.05},   {TensorType::Q5_K, 0.05},  {TensorType::Q4_0, 0.12},
      {TensorType::Q4_1, 0.11},   {TensorType::Q4_K, 0.10},
  };
  const int64_t n = 256 * 64;
  for (TensorType t : kWeightTypes) {
    SCOPED_TRACE(gguf::type_name(t));
    for (float scale : {1.0f, 1e-3f, 300.0f}) {
      auto x = gaussian(static_cast<size_t>(n), 3, scale);
      auto q = quantize(t, x);
      auto y = dequantize(t, q.data(), n);
      double err = 0, ref = 0;
      for (int64_t i = 0; i < n; ++i) err += double(y[i] - x[i]) * (y[i] - x[i]), ref += double(x[i]) * x[i];
      const double rel = std::sqrt(err / ref);
      EXPECT_LE(rel, bound.at(t)) << "scale " << scale;
      if (t == TensorType::Q8_0 || t == TensorType::Q6_K) {
        EXPECT_GT(rel, 0.0);
      }
    }
    // Constant zero input stays zero (no NaN from 0/0 scales).
    std::vector<float> zeros(static_cast<size_t>(block_of(t) * 2), 0.0f);
    auto y = dequantize(t, quantize(t, zeros).data(), static_cast<int64_t>(zeros.size()));
    for (float v : y) ASSERT_EQ(v, 0.0f);
  }
}

// ---------------------------------------------------------------------------------------------

namespace {

struct DotCase {
  std::vector<uint8_t> w;        // n_rows rows
  std::vector<uint8_t> x;        // prepared activations
  std::vector<double> exact;     // float64 dot of dequantized operands per row
  std::vector<double> abs_sum;   // Σ|w_i x_i| per row
  size_t row_bytes;
};

DotCase make_case(TensorType t, int64_t n, int64_t n_rows, uint32_t seed) {
  DotCase c;
  c.row_bytes = gguf::row_bytes(t, n);
  auto xs = gaussian(static_cast<size_t>(n), seed + 1000, 2.0f);
  c.x.resize(quant::activation_row_bytes(t, n));
  quant::quantize_activations(t, xs.data(), c.x.data(), n);
  auto xd = dequantize(quant::vec_dot_type(t), c.x.data(), n);
  for (int64_t r = 0; r < n_rows; ++r) {
    auto ws = gaussian(static_cast<size_t>(n), seed + static_cast<uint32_t>(r), 0.05f);
    auto q = quantize(t, ws);
    auto wd = dequantize(t, q.data(), n);
    double e = 0, a = 0;
    for (int64_t i = 0; i < n; ++i) e += double(wd[i]) * xd[i], a += std::fabs(double(wd[i]) * xd[i]);
    c.exact.push_back(e);
    c.abs_sum.push_back(a);
    c.w.insert(c.w.end(), q.begin(), q.end());
  }
  return c;
}

}  // namespace

TEST(quant_dot, every_level_matches_float64_and_scalar_reference) {
  Levels levels;
  for (TensorType t : kWeightTypes) {
    const int64_t bs = block_of(t);
    // Lengths that exercise tails: one block, odd block counts, model-like widths.
    std::vector<int64_t> lengths = bs == 1 ? std::vector<int64_t>{1, 7, 100, 1408, 4096}
                                  : bs == 32 ? std::vector<int64_t>{32, 96, 1408, 4096}
                                             : std::vector<int64_t>{256, 768, 4096};
    for (int64_t n : lengths) {
      const int64_t n_rows = 5;
      auto c = make_case(t, n, n_rows, static_cast<uint32_t>(n));
      for (const auto& level : levels.all) {
        SCOPED_TRACE(std::string(gguf::type_name(t)) + " n=" + std::to_string(n) + " " + level);
        ASSERT_TRUE(quant::set_simd_level(level));
        std::vector<float> rows(static_cast<size_t>(n_rows));
        quant::vec_dot_rows(t, n, c.w.data(), c.row_bytes, n_rows, c.x.data(), rows.data());
        for (int64_t r = 0; r < n_rows; ++r) {
          const uint8_t* w = c.w.data() + static_cast<size_t>(r) * c.row_bytes;
          const float fast = quant::vec_dot(t, n, w, c.x.data());
          const float ref = quant::vec_dot_reference(t, n, w, c.x.data());
          // Only float rounding separates the kernels from the exact dot: per-block products
          // and sums in f32 (n/block + a few roundings of at most 2^-24 relative each).
          const double tol = 1e-6 * c.abs_sum[r] * std::max<double>(1.0, std::sqrt(double(n) / 256.0)) + 1e-30;
          EXPECT_NEAR(fast, c.exact[r], tol) << "row " << r;
          EXPECT_NEAR(ref, c.exact[r], tol) << "row " << r;
          EXPECT_NEAR(fast, ref, tol) << "row " << r;
          EXPECT_EQ(rows[r], fast) << "vec_dot_rows row " << r;
        }
      }
    }
  }
}

TEST(quant_dot, tile_equals_vec_dot_bit_for_bit) {
  // The tile kernels share each decoded weight block between columns but must do each column's
  // float operations exactly as vec_dot does. Every type (those with tile kernels and those
  // that fall back to the row kernel), every level; column counts 1..9 cover each remainder of
  // the 4-column groups; row counts include odd ones and one that spans several 64 KiB chunks;
  // weight rows are padded apart, and activations and results are scattered in a shuffled
  // order as an expert's tokens are.
  Levels levels;
  constexpr int64_t kMaxCols = 9;
  for (TensorType t : kWeightTypes) {
    const int64_t bs = block_of(t);
    const std::vector<int64_t> lengths = bs == 256 ? std::vector<int64_t>{256, 768} : std::vector<int64_t>{96, 1408};
    for (int64_t n : lengths) {
      const int64_t max_rows = 301;
      const size_t rb = gguf::row_bytes(t, n), w_stride = rb + 16, xb = quant::activation_row_bytes(t, n);
      auto ws = gaussian(static_cast<size_t>(n * max_rows), static_cast<uint32_t>(n) + 5, 0.1f);
      auto xs = gaussian(static_cast<size_t>(n * kMaxCols), static_cast<uint32_t>(n) + 6);
      std::vector<uint8_t> w(w_stride * max_rows);
      for (int64_t r = 0; r < max_rows; ++r) quant::quantize_row(t, ws.data() + r * n, w.data() + r * w_stride, n);
      const int64_t perm[kMaxCols] = {3, 7, 0, 5, 8, 1, 6, 2, 4};
      std::vector<uint8_t> x(xb * kMaxCols);
      std::vector<const void*> x_cols(kMaxCols);
      for (int64_t c = 0; c < kMaxCols; ++c) x_cols[size_t(c)] = x.data() + perm[c] * xb;
      for (const auto& level : levels.all) {
        ASSERT_TRUE(quant::set_simd_level(level));
        for (int64_t c = 0; c < kMaxCols; ++c)
          quant::quantize_activations(t, xs.data() + c * n, const_cast<void*>(x_cols[size_t(c)]), n);
        for (int64_t n_rows : {int64_t{1}, int64_t{7}, max_rows}) {
          for (int64_t n_cols = 1; n_cols <= kMaxCols; ++n_cols) {
            SCOPED_TRACE(std::string(gguf::type_name(t)) + " " + level + " n=" + std::to_string(n) +
                         " rows=" + std::to_string(n_rows) + " cols=" + std::to_string(n_cols));
            const size_t out_stride = static_cast<size_t>(n_rows) + 5;  // a padded result layout
            std::vector<float> out(out_stride * kMaxCols, -1.0f);
            std::vector<float*> out_cols(static_cast<size_t>(n_cols));
            for (int64_t c = 0; c < n_cols; ++c) out_cols[size_t(c)] = out.data() + perm[c] * out_stride;
            quant::vec_dot_tile(t, n, w.data(), w_stride, n_rows, x_cols.data(), n_cols, out_cols.data());
            for (int64_t c = 0; c < n_cols; ++c) {
              std::vector<float> expected(static_cast<size_t>(n_rows));
              for (int64_t r = 0; r < n_rows; ++r)
                expected[size_t(r)] = quant::vec_dot(t, n, w.data() + r * w_stride, x_cols[size_t(c)]);
              for (int64_t r = 0; r < n_rows; ++r)
                ASSERT_EQ(std::memcmp(&out_cols[size_t(c)][r], &expected[size_t(r)], sizeof(float)), 0)
                    << "row " << r << " column " << c << ": " << out_cols[size_t(c)][r] << " vs " << expected[size_t(r)];
              for (size_t p = static_cast<size_t>(n_rows); p < out_stride; ++p)
                ASSERT_EQ(out_cols[size_t(c)][p], -1.0f) << "padding written";
            }
          }
        }
      }
    }
  }
}

TEST(quant_roundtrip, non_finite_inputs_are_defined) {
  // NaN and infinities (a corrupt file, a diverged activation) must not reach a float->int
  // conversion undefinedly; the sanitizer build of this test checks that. Finite blocks
  // next to them are unaffected.
  Levels levels;
  const int64_t n = 512;
  auto x = gaussian(static_cast<size_t>(n), 9);
  x[3] = NAN;
  x[40] = INFINITY;
  x[300] = -INFINITY;
  for (TensorType t : kWeightTypes) {
    SCOPED_TRACE(gguf::type_name(t));
    auto q = quantize(t, x);
    auto y = dequantize(t, q.data(), n);
    auto clean = x;
    std::fill(clean.begin(), clean.begin() + 256, 0.5f);  // block 0 (and a K-quant's first 256)
    std::fill(clean.begin() + 256, clean.end(), 0.25f);
    auto qc = quantize(t, clean);
    for (const auto& level : levels.all) {
      ASSERT_TRUE(quant::set_simd_level(level));
      std::vector<uint8_t> act(quant::activation_row_bytes(t, n));
      quant::quantize_activations(t, x.data(), act.data(), n);
      (void)quant::vec_dot(t, n, q.data(), act.data());
      quant::quantize_activations(t, clean.data(), act.data(), n);
      EXPECT_TRUE(std::isfinite(quant::vec_dot(t, n, qc.data(), act.data()))) << level;
    }
    // The last 32 elements hold no special values: their legacy block is quantized normally.
    if (block_of(t) == 32) {
      auto tail = std::vector<float>(x.end() - 32, x.end());
      auto qt = quantize(t, tail);
      EXPECT_EQ(std::memcmp(qt.data(), q.data() + q.size() - qt.size(), qt.size()), 0);
    }
  }
}

TEST(quant_dot, unsupported_types_and_lengths_are_rejected) {
  std::vector<uint8_t> buf(1024);
  EXPECT_THROW(quant::vec_dot(TensorType::Q2_K, 256, buf.data(), buf.data()), std::invalid_argument);
  EXPECT_THROW(quant::dequantize_row(TensorType::IQ4_XS, buf.data(), nullptr, 256), std::invalid_argument);
  EXPECT_THROW(quant::vec_dot(TensorType::Q8_0, 33, buf.data(), buf.data()), std::invalid_argument);
  EXPECT_FALSE(quant::set_simd_level("sse9"));
}
