// The CPU backend's operations against plain double-precision references written here from
// the formulas (shared/golden/README.md), with the shapes and strided views the model uses.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/thread_pool.h"
#include "common/argmax_rows.h"
#include "common/compare.h"
#include "gguf/tensor_type.h"
#include "quant/quant.h"
#include "sample/sample.h"

namespace latent::backend {
namespace {

using gguf::TensorType;

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A weight matrix [K, M, B] of type t, quantized from random values, plus its dequantized copy.
struct Weight {
  std::vector<uint8_t> bytes;
  std::vector<double> deq;  // [B][M][K]
};

Weight make_weight(TensorType t, int64_t K, int64_t M, int64_t B, uint32_t seed) {
  Weight w;
  const auto src = random_floats(size_t(K * M * B), seed, 0.5f);
  const size_t rb = gguf::row_bytes(t, K);
  w.bytes.resize(rb * size_t(M * B));
  std::vector<float> row(static_cast<size_t>(K));
  for (int64_t r = 0; r < M * B; ++r) {
    quant::quantize_row(t, src.data() + r * K, w.bytes.data() + size_t(r) * rb, K);
    quant::dequantize_row(t, w.bytes.data() + size_t(r) * rb, row.data(), K);
    w.deq.insert(w.deq.end(), row.begin(), row.end());
  }
  return w;
}

// What the weight's dot product sees of an activation row: quantized to vec_dot_type and back.
std::vector<double> as_seen(TensorType weight_type, const float* x, int64_t K) {
  const TensorType vt = quant::vec_dot_type(weight_type);
  std::vector<uint8_t> q(gguf::row_bytes(vt, K));
  std::vector<float> back(static_cast<size_t>(K));
  quant::quantize_activations(weight_type, x, q.data(), K);
  quant::dequantize_row(vt, q.data(), back.data(), K);
  return {back.begin(), back.end()};
}

class CpuOps : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { be_ = make_backend("cpu", {.threads = GetParam()}); }
  std::unique_ptr<Backend> be_;
};

// 70 tokens take F32 weights through the tiled kernel (from 64; blocks of 64 and a partial one).
TEST_P(CpuOps, MulMatMatchesDequantizedDoubleReference) {
  for (int64_t N : {int64_t(5), int64_t(70)})
  for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::Q8_0, TensorType::Q5_0,
                       TensorType::Q4_K, TensorType::Q6_K}) {
    const int64_t K = 256, M = 37;
    Weight w = make_weight(t, K, M, 1, 7);
    auto x = random_floats(size_t(K * N), 11);
    std::vector<float> y(size_t(M * N));
    Tensor wt = be_->weight(t, {K, M, 1, 1}, w.bytes.data(), "w");
    be_->mul_mat(wt, make_tensor(TensorType::F32, {K, N, 1, 1}, x.data()),
                 make_tensor(TensorType::F32, {M, N, 1, 1}, y.data()));
    double worst = 0;
    for (int64_t n = 0; n < N; ++n) {
      const auto xs = as_seen(t, x.data() + n * K, K);
      for (int64_t m = 0; m < M; ++m) {
        double ref = 0;
        for (int64_t k = 0; k < K; ++k) ref += w.deq[size_t(m * K + k)] * xs[size_t(k)];
        worst = testing::worse(worst, ref - y[size_t(n * M + m)]);
      }
    }
    EXPECT_LE(worst, 2e-4) << gguf::type_name(t) << ", " << N << " tokens";
  }
}

TEST_P(CpuOps, BatchedMulMatOverStridedViews) {
  // The absorbed query: w [nope, L, H] per head times q_nope viewed [nope, T, H] out of
  // q [nope + rope, H, T], written into a strided [L, T, H] view of [L + rope, H, T].
  const int64_t nope = 64, rope = 32, L = 128, H = 4, T = 3, Dq = nope + rope, W = L + rope;
  Weight w = make_weight(TensorType::Q8_0, nope, L, H, 3);
  auto q = random_floats(size_t(Dq * H * T), 5);
  std::vector<float> out(size_t(W * H * T), -7.0f);
  Tensor qt = make_tensor(TensorType::F32, {Dq * H * T, 1, 1, 1}, q.data());
  Tensor ot = make_tensor(TensorType::F32, {W * H * T, 1, 1, 1}, out.data());
  const size_t f = sizeof(float);
  Tensor q_nope = qt.view({nope, T, H, 1}, {f, size_t(H * Dq) * f, size_t(Dq) * f, 0}, 0, "q_nope");
  Tensor q_lat = ot.view({L, T, H, 1}, {f, size_t(H * W) * f, size_t(W) * f, 0}, 0, "q_lat");
  be_->mul_mat(be_->weight(TensorType::Q8_0, {nope, L, H, 1}, w.bytes.data(), "wk_b"), q_nope, q_lat);
  double worst = 0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      const auto xs = as_seen(TensorType::Q8_0, q.data() + (t * H + h) * Dq, nope);
      for (int64_t j = 0; j < L; ++j) {
        double ref = 0;
        for (int64_t d = 0; d < nope; ++d) ref += w.deq[size_t((h * L + j) * nope + d)] * xs[size_t(d)];
        worst = testing::worse(worst, ref - out[size_t((t * H + h) * W + j)]);
      }
      // The rope tail of each row is outside the view and must be untouched.
      for (int64_t j = L; j < W; ++j) EXPECT_EQ(out[size_t((t * H + h) * W + j)], -7.0f);
    }
  EXPECT_LE(worst, 1e-4);
}

TEST_P(CpuOps, MulMatIdTouchesSelectedExpertsOnly) {
  const int64_t K = 64, M = 24, E = 6, U = 2, T = 4;
  Weight w = make_weight(TensorType::Q8_0, K, M, E, 9);
  auto x = random_floats(size_t(K * T), 13);
  std::vector<int32_t> ids = {5, 0, 2, 5, 1, 2, 0, 3};
  std::vector<float> y(size_t(M * U * T));
  be_->mul_mat_id(be_->weight(TensorType::Q8_0, {K, M, E, 1}, w.bytes.data(), "exps"),
                  make_tensor(TensorType::F32, {K, 1, T, 1}, x.data()),
                  make_tensor(TensorType::I32, {U, T, 1, 1}, ids.data()),
                  make_tensor(TensorType::F32, {M, U, T, 1}, y.data()));
  double worst = 0;
  for (int64_t t = 0; t < T; ++t) {
    const auto xs = as_seen(TensorType::Q8_0, x.data() + t * K, K);
    for (int64_t k = 0; k < U; ++k)
      for (int64_t m = 0; m < M; ++m) {
        const int64_t e = ids[size_t(t * U + k)];
        double ref = 0;
        for (int64_t i = 0; i < K; ++i) ref += w.deq[size_t((e * M + m) * K + i)] * xs[size_t(i)];
        worst = testing::worse(worst, ref - y[size_t((t * U + k) * M + m)]);
      }
  }
  EXPECT_LE(worst, 1e-4);
}

TEST_P(CpuOps, YarnRopeMatchesTheFormula) {
  const int n_rot = 32, H = 3;
  const std::vector<int32_t> pos = {0, 1, 255, 256, 900};
  const int64_t T = int64_t(pos.size());
  auto x = random_floats(size_t(n_rot * H * T), 17);
  auto y = x;
  RopeParams p;
  p.n_rot = n_rot;
  p.freq_base = 10000;
  p.freq_scale = 0.25f;
  p.ext_factor = 1;
  p.attn_factor = 1.0f / (1.0f + 0.1f * std::log(4.0f));
  p.n_ctx_orig = 256;
  be_->rope(make_tensor(TensorType::F32, {n_rot, H, T, 1}, y.data()), pos, p);
  // README "YaRN": theta' = theta/s (1 - r) + theta r with r from the ramp over [low, high].
  auto corr = [&](double b) { return n_rot * std::log(256.0 / (2 * M_PI * b)) / (2 * std::log(10000.0)); };
  const double low = std::max(0.0, std::floor(corr(32))), high = std::min(n_rot - 1.0, std::ceil(corr(1)));
  double worst = 0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int i = 0; i < n_rot / 2; ++i) {
        const double theta = pos[size_t(t)] * std::pow(10000.0, -2.0 * i / n_rot);
        const double r = 1 - std::clamp((i - low) / std::max(0.001, high - low), 0.0, 1.0);
        const double th = theta / 4 * (1 - r) + theta * r;
        const size_t at = size_t((t * H + h) * n_rot + 2 * i);
        const double x0 = x[at], x1 = x[at + 1];
        worst = testing::worse(worst, x0 * std::cos(th) - x1 * std::sin(th) - y[at]);
        worst = testing::worse(worst, x0 * std::sin(th) + x1 * std::cos(th) - y[at + 1]);
      }
  // float theta at position 900 carries ~1e-4 rad of rounding, as in ggml.
  EXPECT_LE(worst, 1e-3);
}

TEST_P(CpuOps, GroupLimitedSigmoidRoutingWithBiasNormAndScale) {
  const int64_t E = 16, T = 6;
  auto z = random_floats(size_t(E * T), 19, 2.0f);
  auto bias = random_floats(size_t(E), 23, 0.25f);
  RouteParams p{.n_expert_used = 4, .n_group = 4, .n_group_used = 2, .gating = Gating::Sigmoid,
                .norm_weights = true, .weights_scale = 2.5f};
  std::vector<int32_t> ids(size_t(4 * T));
  std::vector<float> wts(size_t(4 * T));
  be_->moe_route(make_tensor(TensorType::F32, {E, T, 1, 1}, z.data()),
                 make_tensor(TensorType::F32, {E, 1, 1, 1}, bias.data()), p,
                 make_tensor(TensorType::I32, {4, T, 1, 1}, ids.data()),
                 make_tensor(TensorType::F32, {4, T, 1, 1}, wts.data()));
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> prob(static_cast<size_t>(E)), sel(static_cast<size_t>(E));
    for (int64_t e = 0; e < E; ++e) {
      prob[size_t(e)] = 1 / (1 + std::exp(-double(z[size_t(t * E + e)])));
      sel[size_t(e)] = prob[size_t(e)] + bias[size_t(e)];
    }
    std::vector<std::pair<double, int>> groups;
    for (int g = 0; g < 4; ++g) {
      std::vector<double> v(sel.begin() + g * 4, sel.begin() + g * 4 + 4);
      std::sort(v.rbegin(), v.rend());
      groups.push_back({v[0] + v[1], g});
    }
    std::sort(groups.rbegin(), groups.rend());
    std::vector<int> allowed;
    for (int i = 0; i < 2; ++i)
      for (int e = 0; e < 4; ++e) allowed.push_back(groups[size_t(i)].second * 4 + e);
    std::sort(allowed.begin(), allowed.end(), [&](int a, int b) { return sel[size_t(a)] > sel[size_t(b)]; });
    double sum = 0;
    for (int k = 0; k < 4; ++k) sum += prob[size_t(allowed[size_t(k)])];
    for (int k = 0; k < 4; ++k) {
      EXPECT_EQ(ids[size_t(t * 4 + k)], allowed[size_t(k)]) << "token " << t << " slot " << k;
      EXPECT_NEAR(wts[size_t(t * 4 + k)], prob[size_t(allowed[size_t(k)])] / sum * 2.5, 1e-5);
    }
  }
}

struct AttentionShape {
  int64_t T, first;
};

// A two-layer paged latent cache of element type t: pages of rows_per_page rows per layer,
// layer 1's rows starting half a page in (page_offset), which the ops must leave alone.
struct PagedRows {
  std::vector<std::vector<char>> pages;
  std::vector<void*> table;
  LatentRows rows;

  PagedRows(TensorType t, int64_t width, int64_t n_rows, int64_t rows_per_page) {
    const size_t rb = gguf::row_bytes(t, width);
    const int64_t n_pages = (n_rows + rows_per_page - 1) / rows_per_page;
    pages.assign(size_t(n_pages), std::vector<char>(2 * size_t(rows_per_page) * rb, 0));
    for (auto& pg : pages) table.push_back(pg.data());
    rows = {.type = t, .pages = table.data(), .rows_per_page = rows_per_page,
            .page_offset = size_t(rows_per_page) * rb, .row_stride = rb, .width = width, .n_rows = n_rows};
  }
  bool other_layer_untouched() const {
    for (const auto& pg : pages)
      for (size_t i = 0; i < rows.page_offset; ++i)
        if (pg[i] != 0) return false;
    return true;
  }
};

// Double-precision value of x after rounding to the cache type, written from the formats'
// definitions (not through the quant library): F16 and BF16 round to nearest even; Q8_0, as
// ggml's quantize_row_q8_0_ref, takes d = amax/127 per block of 32, stores fp16(d) and
// round(x/d) (ties away from zero).
std::vector<double> rounded_reference(TensorType t, const std::vector<float>& x, int64_t width) {
  std::vector<double> out(x.size());
  auto round_mantissa = [](double v, int bits) {
    if (v == 0) return 0.0;
    int e;
    std::frexp(v, &e);
    const double ulp = std::ldexp(1.0, e - bits);
    return std::nearbyint(v / ulp) * ulp;  // default rounding mode: to nearest even
  };
  for (size_t r = 0; r < x.size() / size_t(width); ++r) {
    const float* xr = x.data() + r * size_t(width);
    double* o = out.data() + r * size_t(width);
    if (t == TensorType::F32) {
      std::copy(xr, xr + width, o);
    } else if (t == TensorType::F16 || t == TensorType::BF16) {
      // Normal numbers only (the test data are O(1)): 11 or 8 significant bits.
      for (int64_t i = 0; i < width; ++i) o[i] = round_mantissa(xr[i], t == TensorType::F16 ? 11 : 8);
    } else {
      for (int64_t b = 0; b < width; b += 32) {
        double amax = 0;
        for (int64_t i = b; i < b + 32; ++i) amax = std::max(amax, double(std::fabs(xr[i])));
        const float d = float(amax) / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        const double dh = round_mantissa(d, 11);
        for (int64_t i = b; i < b + 32; ++i) o[i] = dh * std::round(xr[i] * id);
      }
    }
  }
  return out;
}

class CpuLatent : public ::testing::TestWithParam<std::tuple<int, TensorType>> {};

// store_latent rounds to the element type as the formats define; load_latent gives those values
// back exactly.
TEST_P(CpuLatent, StoreAndLoadRoundToTheElementType) {
  auto be = make_backend("cpu", {.threads = std::get<0>(GetParam())});
  const TensorType t = std::get<1>(GetParam());
  const int64_t W = 96, S = 11, first = 3;
  PagedRows cache(t, W, first + S, 4);
  auto x = random_floats(size_t(W * S), 41, 2.0f);
  be->store_latent(make_tensor(TensorType::F32, {W, S, 1, 1}, x.data()), cache.rows, first);
  std::vector<float> back(size_t(W * S));
  be->load_latent(cache.rows, first, make_tensor(TensorType::F32, {W, S, 1, 1}, back.data()));
  const auto ref = rounded_reference(t, x, W);
  for (size_t i = 0; i < back.size(); ++i) ASSERT_EQ(double(back[i]), ref[i]) << "value " << i;
  EXPECT_TRUE(cache.other_layer_untouched());
}

// A Q8_0 cache row must be whole blocks of 32: a width of 48 is refused, not misread.
TEST_P(CpuOps, Q8_0LatentRowsMustBeWholeBlocks) {
  std::vector<char> page(4096);
  void* table[] = {page.data()};
  LatentRows rows{.type = TensorType::Q8_0, .pages = table, .rows_per_page = 4, .page_offset = 0,
                  .row_stride = 64, .width = 48, .n_rows = 4};
  std::vector<float> x(48 * 2);
  EXPECT_THROW(be_->store_latent(make_tensor(TensorType::F32, {48, 2, 1, 1}, x.data()), rows, 0), Error);
  EXPECT_THROW(be_->load_latent(rows, 0, make_tensor(TensorType::F32, {48, 2, 1, 1}, x.data())), Error);
  EXPECT_FALSE(be_->supports_op(Op::AttentionLatent, TensorType::Q4_K));
}

class CpuLatentAttention : public ::testing::TestWithParam<std::tuple<int, AttentionShape, TensorType>> {
 protected:
  void check_latent_attention();
};

// Prefill-like (several queries; from 8 per thread in blocks of tokens through the tiled
// kernels, at every SIMD level this CPU has) and decode-like (one query over a long cache, where
// the keys are split into chunks whose partial softmax results are combined), for every cache
// type: the reference computes in double on the values the cache holds (rounded as the type
// defines), so the bound is the F32 kernel's own rounding whatever the storage.
TEST_P(CpuLatentAttention, OverPagesMatchesNaiveSoftmax) {
  const std::string level(quant::simd_level());
  for (const char* l : {"avx512", "avx2", "scalar"}) {
    if (!quant::set_simd_level(l)) continue;
    SCOPED_TRACE(l);
    check_latent_attention();
  }
  quant::set_simd_level(level);
}

void CpuLatentAttention::check_latent_attention() {
  auto be_ = make_backend("cpu", {.threads = std::get<0>(GetParam())});
  const auto [T, first] = std::get<1>(GetParam());
  const TensorType type = std::get<2>(GetParam());
  // Q8_0 needs both parts in whole blocks of 32; the other types get widths with an odd tail
  // (not a multiple of 8) to cover the vector conversions' remainder.
  const bool q8 = type == TensorType::Q8_0;
  const int64_t L = q8 ? 64 : 36, rope = q8 ? 32 : 8, W = L + rope, H = 3, S = first + T;
  PagedRows paged(type, W, S, 4);
  auto cache_in = random_floats(size_t(S * W), 29);
  be_->store_latent(make_tensor(TensorType::F32, {W, S, 1, 1}, cache_in.data()), paged.rows, 0);
  const auto cache = rounded_reference(type, cache_in, W);
  auto q = random_floats(size_t(W * H * T), 31, 0.3f);
  std::vector<float> out(size_t(L * H * T));
  const float scale = 0.123f;
  be_->attention_latent(make_tensor(TensorType::F32, {W, H, T, 1}, q.data()), paged.rows, first, scale,
                        make_tensor(TensorType::F32, {L, H, T, 1}, out.data()));
  double worst = 0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t n = first + t + 1;  // causal: rows 0 .. first + t
      std::vector<double> sc(static_cast<size_t>(n));
      for (int64_t s = 0; s < n; ++s) {
        double d = 0;
        for (int64_t i = 0; i < W; ++i) d += double(q[size_t((t * H + h) * W + i)]) * cache[size_t(s * W + i)];
        sc[size_t(s)] = d * scale;
      }
      const double mx = *std::max_element(sc.begin(), sc.end());
      double sum = 0;
      for (auto& v : sc) sum += (v = std::exp(v - mx));
      for (int64_t i = 0; i < L; ++i) {
        double ref = 0;
        for (int64_t s = 0; s < n; ++s) ref += sc[size_t(s)] / sum * cache[size_t(s * W + i)];
        worst = testing::worse(worst, ref - out[size_t((t * H + h) * L + i)]);
      }
    }
  EXPECT_LE(worst, 1e-5);
  EXPECT_TRUE(paged.other_layer_untouched());
}

// Plain attention (MLA's plain form, per head K and V) against a naive softmax in double: blocks
// of tokens and tiles of keys with partial ends, row lengths off the 16-lane vectors, at every
// SIMD level this CPU has, threaded or not.
TEST(CpuPlainAttention, MatchesNaiveSoftmax) {
  const int64_t Dk = 44, Dv = 36, H = 3, T = 37, first = 70, S = first + T;
  const auto q = random_floats(size_t(Dk * H * T), 51, 0.5f);
  const auto k = random_floats(size_t(Dk * H * S), 52);
  const auto v = random_floats(size_t(Dv * H * S), 53);
  const float scale = 0.2f;
  std::vector<double> want(size_t(Dv * H * T));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t n = first + t + 1;
      std::vector<double> p(static_cast<size_t>(n));
      for (int64_t s = 0; s < n; ++s) {
        double d = 0;
        for (int64_t i = 0; i < Dk; ++i) d += double(q[size_t((t * H + h) * Dk + i)]) * k[size_t((s * H + h) * Dk + i)];
        p[size_t(s)] = d * scale;
      }
      const double mx = *std::max_element(p.begin(), p.end());
      double sum = 0;
      for (auto& x : p) sum += (x = std::exp(x - mx));
      for (int64_t i = 0; i < Dv; ++i) {
        double o = 0;
        for (int64_t s = 0; s < n; ++s) o += p[size_t(s)] / sum * v[size_t((s * H + h) * Dv + i)];
        want[size_t((t * H + h) * Dv + i)] = o;
      }
    }
  const std::string level(quant::simd_level());
  for (int threads : {0, 3})
    for (const char* l : {"avx512", "avx2", "scalar"}) {
      if (!quant::set_simd_level(l)) continue;
      SCOPED_TRACE(std::string(l) + ", threads " + std::to_string(threads));
      auto be = make_backend("cpu", {.threads = threads});
      std::vector<float> out(want.size(), std::numeric_limits<float>::quiet_NaN());
      be->attention(make_tensor(TensorType::F32, {Dk, H, T, 1}, const_cast<float*>(q.data())),
                    make_tensor(TensorType::F32, {Dk, H, S, 1}, const_cast<float*>(k.data())),
                    make_tensor(TensorType::F32, {Dv, H, S, 1}, const_cast<float*>(v.data())), first, scale,
                    make_tensor(TensorType::F32, {Dv, H, T, 1}, out.data()));
      double worst = 0;
      for (size_t i = 0; i < out.size(); ++i) worst = testing::worse(worst, want[i] - out[i]);
      EXPECT_LE(worst, 1e-5);
    }
  quant::set_simd_level(level);
}

const auto kCacheTypes = ::testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0);

std::string type_label(TensorType t) { return std::string(gguf::type_name(t)); }

INSTANTIATE_TEST_SUITE_P(Types, CpuLatent, ::testing::Combine(::testing::Values(0, 3), kCacheTypes),
                         [](const auto& i) {
                           return "threads" + std::to_string(std::get<0>(i.param)) + "_" + type_label(std::get<1>(i.param));
                         });

INSTANTIATE_TEST_SUITE_P(Shapes, CpuLatentAttention,
                         ::testing::Combine(::testing::Values(0, 3),
                                            ::testing::Values(AttentionShape{4, 9}, AttentionShape{1, 300},
                                                              AttentionShape{2, 130}, AttentionShape{37, 21}),
                                            kCacheTypes));

// The backend's argmax is sample::argmax on every row, threaded or not, over strided row views.
TEST_P(CpuOps, ArgmaxIsTheSamplersArgmaxPerRow) {
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(1001), int64_t(102400)}) {
    const int64_t rows = 16, stride = n + 3;
    auto v = testing::argmax_rows(n, rows, stride, uint32_t(n));
    const Tensor wide = make_tensor(TensorType::F32, {stride, rows, 1, 1}, v.data());
    std::vector<int32_t> ids(size_t(rows), -1);
    be_->argmax(wide.view({n, rows, 1, 1}, wide.nb, 0, "logits"), make_tensor(TensorType::I32, {rows, 1, 1, 1}, ids.data()));
    for (int64_t r = 0; r < rows; ++r)
      EXPECT_EQ(ids[size_t(r)], sample::argmax(std::span<const float>(v.data() + r * stride, size_t(n))))
          << "row " << r << " (kind " << r % 8 << ") of " << n;
  }
  // The planted cases pin the rules themselves: the first of two equal maxima, 0 for a leading
  // NaN, the maximum past scattered NaNs, -0 == +0.
  std::vector<float> x = {1, 3, -2, 3, 0, std::numeric_limits<float>::quiet_NaN(), 2.5f, -0.0f, 0.0f};
  std::vector<int32_t> id(1);
  const auto run = [&](std::vector<float> row) {
    be_->argmax(make_tensor(TensorType::F32, {int64_t(row.size()), 1, 1, 1}, row.data()),
                make_tensor(TensorType::I32, {1, 1, 1, 1}, id.data()));
    return id[0];
  };
  EXPECT_EQ(run(x), 1);
  EXPECT_EQ(run({std::numeric_limits<float>::quiet_NaN(), 1, 2}), 0);
  EXPECT_EQ(run({-1, std::numeric_limits<float>::quiet_NaN(), -0.5f, std::numeric_limits<float>::quiet_NaN()}), 2);
  EXPECT_EQ(run({-1, -0.0f, 0.0f}), 1);
}

TEST_P(CpuOps, ArgmaxRejectsOutputsThatDoNotFit) {
  std::vector<float> x(10 * 3);
  std::vector<int32_t> ids(3);
  const Tensor xt = make_tensor(TensorType::F32, {10, 3, 1, 1}, x.data(), "result_output");
  EXPECT_THROW(be_->argmax(xt, make_tensor(TensorType::I32, {2, 1, 1, 1}, ids.data())), Error);
  EXPECT_THROW(be_->argmax(xt, make_tensor(TensorType::F32, {3, 1, 1, 1}, ids.data())), Error);
  EXPECT_THROW(be_->argmax(make_tensor(TensorType::F32, {0, 3, 1, 1}, x.data()),
                           make_tensor(TensorType::I32, {3, 1, 1, 1}, ids.data())),
               Error);
}

TEST_P(CpuOps, RejectsRowsOutsideTheTable) {
  std::vector<float> table(8 * 4, 1.0f), out(8 * 2);
  const std::vector<int32_t> ids = {1, 4};
  EXPECT_THROW(be_->get_rows(make_tensor(TensorType::F32, {8, 4, 1, 1}, table.data()), ids,
                             make_tensor(TensorType::F32, {8, 2, 1, 1}, out.data())),
               Error);
}

TEST(ThreadPool, RunsEveryItemOnceAndRethrowsAFailure) {
  cpu::ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.run(1000, [&](int64_t i, int thread) {
    ASSERT_LT(thread, 3);
    hits[size_t(i)]++;
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  EXPECT_THROW(pool.run(100, [](int64_t i, int) {
    if (i == 42) throw Error("item 42");
  }), Error);
  // The pool stays usable after a failure.
  std::atomic<int64_t> sum{0};
  pool.run(10, [&](int64_t i, int) { sum += i; });
  EXPECT_EQ(sum.load(), 45);
}

INSTANTIATE_TEST_SUITE_P(Threads, CpuOps, ::testing::Values(0, 3),
                         [](const ::testing::TestParamInfo<int>& i) { return "threads" + std::to_string(i.param); });

}  // namespace
}  // namespace latent::backend
