// Every Vulkan kernel against the CPU backend on random data, each op with its own tolerance,
// printed as a table (op, type, shape, max abs error, tolerance). Runs with the Khronos
// validation layer on and fails if it reports an error. Both reduction variants run: subgroup
// operations (where the device has them) with mapped device memory, and the shared-memory
// fallback with transfers through the staging buffer.
// Without a Vulkan device the suite fails, unless LATENT_VULKAN_OPTIONAL=1 makes it skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/vulkan/vulkan_backend.h"
#include "common/argmax_rows.h"
#include "common/backends.h"
#include "gguf/tensor_type.h"
#include "quant/quant.h"

namespace latent::backend {
namespace {

using Shape = std::array<int64_t, 4>;

std::vector<float> random_floats(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Bytes of n floats in a weight type: F32 as is, F16 rounded, quantized types through the
// reference quantizer (the GGUF blocks as stored in a model file).
std::vector<uint8_t> encode(TensorType t, const std::vector<float>& x, int64_t row) {
  std::vector<uint8_t> out(gguf::row_bytes(t, row) * (x.size() / size_t(row)));
  for (size_t r = 0; r < x.size() / size_t(row); ++r)
    quant::quantize_row(t, x.data() + r * size_t(row), out.data() + r * gguf::row_bytes(t, row), row);
  return out;
}

std::string shape_str(const Shape& ne) {
  std::string s;
  for (size_t i = 0; i < 4; ++i) {
    if (i && ne[i] == 1 && ne[3] == 1 && (i == 3 || ne[2] == 1)) break;
    if (i) s += "x";
    s += std::to_string(ne[i]);
  }
  return s;
}

// The weight types with Vulkan kernels.
constexpr TensorType kWeightTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                                       TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                                       TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

struct Backends {
  std::unique_ptr<Backend> cpu;
  std::unique_ptr<VulkanBackend> vk;
};

class VulkanOps : public ::testing::TestWithParam<bool> {
 protected:
  static void SetUpTestSuite() {
    std::printf("%-14s %-5s %-4s %-14s %12s %10s\n", "op", "type", "sg", "shape", "max_abs_err", "tol");
  }

  void SetUp() override {
    try {
      VulkanOptions o;
      o.validation = true;  // the layer must stay silent for every op below
      o.allow_subgroups = GetParam();
      o.force_staging = !GetParam();  // the second run also moves data as on a discrete GPU
      b_.vk = make_vulkan_backend(o);
    } catch (const Error& e) {
      if (testing::vulkan_optional()) GTEST_SKIP() << "no Vulkan device (LATENT_VULKAN_OPTIONAL=1): " << e.what();
      FAIL() << "Vulkan backend unavailable: " << e.what()
             << "\nInstall lavapipe (mesa-vulkan-drivers) and vulkan-validationlayers, or set "
                "LATENT_VULKAN_OPTIONAL=1 to skip.";
    }
    b_.cpu = make_backend("cpu", BackendOptions{});
    if (!GetParam() || b_.vk->uses_subgroups()) return;
    GTEST_SKIP() << "device '" << b_.vk->device_name() << "' has no subgroup arithmetic";
  }

  void TearDown() override {
    if (b_.vk) {
      EXPECT_EQ(b_.vk->validation_errors(), 0u) << "the validation layer reported errors (above)";
    }
  }

  // The same data in a tensor of each backend.
  struct Pair {
    Tensor cpu, vk;
  };

  Pair scratch(TensorType t, Shape ne, const void* data, const char* name) {
    Pair p{b_.cpu->scratch(t, ne, name), b_.vk->scratch(t, ne, name)};
    const size_t bytes = p.cpu.nb[3] * size_t(ne[3]);
    b_.cpu->write(p.cpu, data, bytes);
    b_.vk->write(p.vk, data, bytes);
    return p;
  }

  Pair floats(Shape ne, float lo, float hi, uint32_t seed, const char* name) {
    const auto v = random_floats(size_t(ne[0] * ne[1] * ne[2] * ne[3]), lo, hi, seed);
    return scratch(TensorType::F32, ne, v.data(), name);
  }

  Pair weight(TensorType t, Shape ne, uint32_t seed, const char* name) {
    const auto v = random_floats(size_t(ne[0] * ne[1] * ne[2] * ne[3]), -1, 1, seed);
    // The CPU backend uses weight bytes in place, as it does a model file's mapping.
    const auto& bytes = weight_bytes_.emplace_back(encode(t, v, ne[0]));
    return {b_.cpu->weight(t, ne, bytes.data(), name), b_.vk->weight(t, ne, bytes.data(), name)};
  }

  Pair empty(TensorType t, Shape ne, const char* name) {
    return {b_.cpu->scratch(t, ne, name), b_.vk->scratch(t, ne, name)};
  }

  // Reads both (contiguous, F32) results, prints a table row, and checks the tolerance.
  void compare(const char* op, TensorType t, const Pair& out, float tol) {
    const size_t n = size_t(out.cpu.n_elements());
    std::vector<float> want(n), got(n);
    b_.cpu->read(out.cpu, want.data(), n * 4);
    b_.vk->read(out.vk, got.data(), n * 4);
    float err = 0;
    for (size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(std::isfinite(got[i])) << op << ": element " << i << " is " << got[i];
      err = std::max(err, std::fabs(got[i] - want[i]));
    }
    std::printf("%-14s %-5s %-4s %-14s %12.3g %10.3g\n", op, std::string(gguf::type_name(t)).c_str(),
                GetParam() ? "yes" : "no", shape_str(out.cpu.ne).c_str(), double(err), double(tol));
    EXPECT_LE(err, tol) << op << " " << gguf::type_name(t) << " " << shape_str(out.cpu.ne);
  }

  Backends b_;
  std::deque<std::vector<uint8_t>> weight_bytes_;
};

TEST_P(VulkanOps, Add) {
  // Strided operands: the second is a view of every other row pair's tail, as q_pe is of q.
  auto a = floats({24, 5, 3, 1}, -2, 2, 1, "a");
  auto wide = floats({32, 5, 3, 1}, -2, 2, 2, "wide");
  auto out = empty(TensorType::F32, {24, 5, 3, 1}, "out");
  const Tensor bc = wide.cpu.view({24, 5, 3, 1}, wide.cpu.nb, 32, "b");
  const Tensor bv = wide.vk.view({24, 5, 3, 1}, wide.vk.nb, 32, "b");
  b_.cpu->add(a.cpu, bc, out.cpu);
  b_.vk->add(a.vk, bv, out.vk);
  compare("add", TensorType::F32, out, 0.0f);  // one IEEE addition: exact
}

TEST_P(VulkanOps, SwiGlu) {
  auto g = floats({300, 7, 1, 1}, -6, 6, 3, "gate");
  auto u = floats({300, 7, 1, 1}, -3, 3, 4, "up");
  auto out = empty(TensorType::F32, {300, 7, 1, 1}, "out");
  b_.cpu->swiglu(g.cpu, u.cpu, out.cpu);
  b_.vk->swiglu(g.vk, u.vk, out.vk);
  compare("swiglu", TensorType::F32, out, 2e-5f);  // exp() within a few ulp; |out| <= 18
}

TEST_P(VulkanOps, RmsNorm) {
  auto x = floats({576, 6, 2, 1}, -3, 3, 5, "x");
  auto w = floats({576, 1, 1, 1}, 0.5f, 1.5f, 6, "norm");
  auto out = empty(TensorType::F32, {576, 6, 2, 1}, "out");
  b_.cpu->rms_norm(x.cpu, w.cpu, 1e-6f, out.cpu);
  b_.vk->rms_norm(x.vk, w.vk, 1e-6f, out.vk);
  compare("rms_norm", TensorType::F32, out, 1e-5f);  // f32 tree sum vs the CPU's double sum
}

TEST_P(VulkanOps, Copy) {
  // A strided view (the tail 16 of each 40-wide row) into a contiguous tensor.
  auto src = floats({40, 9, 2, 1}, -1, 1, 7, "src");
  auto out = empty(TensorType::F32, {16, 9, 2, 1}, "out");
  b_.cpu->copy(src.cpu.view({16, 9, 2, 1}, src.cpu.nb, 24 * 4, "tail"), out.cpu);
  b_.vk->copy(src.vk.view({16, 9, 2, 1}, src.vk.nb, 24 * 4, "tail"), out.vk);
  compare("copy", TensorType::F32, out, 0.0f);
  // Contiguous to contiguous (a transfer command on the device): rows 3..8 of src into out's
  // matching rows, as the KV page pool copies whole pages.
  auto whole = empty(TensorType::F32, {40, 9, 2, 1}, "whole");
  const size_t row = 40 * 4;
  b_.cpu->copy(src.cpu, whole.cpu);
  b_.vk->copy(src.vk, whole.vk);
  compare("copy", TensorType::F32, whole, 0.0f);
  auto part = floats({40, 9, 2, 1}, -1, 1, 8, "part");
  b_.cpu->copy(src.cpu.view({40, 6, 1, 1}, src.cpu.nb, 3 * row, "rows"), part.cpu.view({40, 6, 1, 1}, part.cpu.nb, 3 * row, "rows"));
  b_.vk->copy(src.vk.view({40, 6, 1, 1}, src.vk.nb, 3 * row, "rows"), part.vk.view({40, 6, 1, 1}, part.vk.nb, 3 * row, "rows"));
  compare("copy", TensorType::F32, part, 0.0f);
}

TEST_P(VulkanOps, GetRows) {
  const std::vector<int32_t> ids = {3, 0, 17, 3, 9, 16};
  for (TensorType t : kWeightTypes) {
    auto table = weight(t, {256, 18, 1, 1}, 8, "token_embd");
    auto out = empty(TensorType::F32, {256, int64_t(ids.size()), 1, 1}, "inp_embd");
    b_.cpu->get_rows(table.cpu, ids, out.cpu);
    b_.vk->get_rows(table.vk, ids, out.vk);
    compare("get_rows", t, out, 0.0f);  // the same single conversion per element: exact
  }
}

// Matmul tolerance (outputs reach about 10, measured errors up to 1.4e-5): float weights differ
// from the CPU only in summation order (the tiled kernel sums each output sequentially, the CPU
// in 16 partial sums). Quantized weights take activations quantized bit for bit as the CPU does
// (Q8_0; Q8_1 for Q4_1/Q5_1; Q8_K for K-quants; the shaders divide with IEEE rounding) and exact
// integer sums per 32 values, so only the float sums of those differ (and, for K-quants, the
// scales applied per 32 values where the CPU applies them per 256): rounding, never a quant.
constexpr float kMatmulTol = 5e-5f;

TEST_P(VulkanOps, MulMat) {
  for (TensorType t : kWeightTypes) {
    // N <= 8 runs the decode kernel (1, 5), wider inputs the 64x64 tiled one (19: one partial
    // tile; 70 and 130: two and three column tiles, the last partial; M = 70 two row tiles).
    for (int64_t N : {1, 5, 19, 70, 130}) {
      auto w = weight(t, {256, 70, 1, 1}, 9, "ffn_up");
      auto x = floats({256, N, 1, 1}, -1, 1, 10 + uint32_t(N), "x");
      auto out = empty(TensorType::F32, {70, N, 1, 1}, "out");
      b_.cpu->mul_mat(w.cpu, x.cpu, out.cpu);
      b_.vk->mul_mat(w.vk, x.vk, out.vk);
      compare("mul_mat", t, out, kMatmulTol);
    }
    // Batched with the weight's batch broadcast, x a strided view (every head of q), in both
    // kernels.
    for (int64_t N : {3, 33}) {
      auto w = weight(t, {256, 12, 1, 1}, 11, "attn_k_b");
      auto xs = floats({288, N, 4, 1}, -1, 1, 12, "q");
      auto out = empty(TensorType::F32, {12, N, 4, 1}, "out");
      b_.cpu->mul_mat(w.cpu, xs.cpu.view({256, N, 4, 1}, xs.cpu.nb, 0, "q_nope"), out.cpu);
      b_.vk->mul_mat(w.vk, xs.vk.view({256, N, 4, 1}, xs.vk.nb, 0, "q_nope"), out.vk);
      compare("mul_mat", t, out, kMatmulTol);
    }
  }
  // The decode kernel at every column count it takes, on rows that are not whole groups of its
  // 8 rows per workgroup; and batched with a weight per batch.
  for (TensorType t : kWeightTypes) {
    for (int64_t N = 1; N <= 8; ++N) {
      auto w = weight(t, {256, 43, 1, 1}, 30, "ffn_down");  // 43 rows of Q6_K end mid-word
      auto x = floats({256, N, 1, 1}, -1, 1, 31 + uint32_t(N), "x");
      auto out = empty(TensorType::F32, {43, N, 1, 1}, "out");
      b_.cpu->mul_mat(w.cpu, x.cpu, out.cpu);
      b_.vk->mul_mat(w.vk, x.vk, out.vk);
      compare("mul_mat", t, out, kMatmulTol);
    }
    auto w = weight(t, {512, 13, 3, 1}, 40, "attn_v_b");
    auto x = floats({512, 2, 3, 1}, -1, 1, 41, "x");
    auto out = empty(TensorType::F32, {13, 2, 3, 1}, "out");
    b_.cpu->mul_mat(w.cpu, x.cpu, out.cpu);
    b_.vk->mul_mat(w.vk, x.vk, out.vk);
    compare("mul_mat", t, out, kMatmulTol);
  }
  // Rows that are not whole steps of 4 of the tiled kernel (float weights only; quantized rows
  // are blocks).
  for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
    for (int64_t N : {2, 21}) {
      auto w = weight(t, {102, 7, 1, 1}, 20, "attn_out");
      auto x = floats({102, N, 1, 1}, -1, 1, 21, "x");
      auto out = empty(TensorType::F32, {7, N, 1, 1}, "out");
      b_.cpu->mul_mat(w.cpu, x.cpu, out.cpu);
      b_.vk->mul_mat(w.vk, x.vk, out.vk);
      compare("mul_mat", t, out, kMatmulTol);
    }
  }
}

TEST_P(VulkanOps, MulMatId) {
  const int64_t K = 256, M = 27, E = 6, U = 2, T = 5;  // M: not whole groups of the decode kernel's rows
  const std::vector<int32_t> ids = {0, 5, 3, 1, 5, 2, 4, 4, 1, 0};
  for (TensorType t : kWeightTypes) {
    auto w = weight(t, {K, M, E, 1}, 13, "ffn_gate_exps");
    auto id = scratch(TensorType::I32, {U, T, 1, 1}, ids.data(), "ids");
    for (int64_t X : {int64_t(1), U}) {
      auto x = floats({K, X, T, 1}, -1, 1, 14 + uint32_t(X), "x");
      auto out = empty(TensorType::F32, {M, U, T, 1}, "out");
      b_.cpu->mul_mat_id(w.cpu, x.cpu, id.cpu, out.cpu);
      b_.vk->mul_mat_id(w.vk, x.vk, id.vk, out.vk);
      compare("mul_mat_id", t, out, kMatmulTol);
    }
  }
}

TEST_P(VulkanOps, MulMatIdPrefill) {
  // More than 8 tokens run the tiled kernel over the pairs sorted by expert: expert 0 in every
  // token (five column tiles of 32), experts 1..5 in a few, 6 and 7 in none; M = 70 two row
  // tiles, the second partial.
  const int64_t K = 256, M = 70, E = 8, U = 3, T = 150;
  std::vector<int32_t> ids(size_t(U * T));
  std::mt19937 rng(23);
  for (size_t t = 0; t < size_t(T); ++t) {
    const auto a = int32_t(1 + rng() % 5), b = int32_t(1 + (uint32_t(a) + rng() % 4) % 5);  // b != a
    ids[t * size_t(U)] = 0;
    ids[t * size_t(U) + 1] = a;
    ids[t * size_t(U) + 2] = b;
  }
  for (TensorType t : kWeightTypes) {
    auto w = weight(t, {K, M, E, 1}, 24, "ffn_up_exps");
    auto id = scratch(TensorType::I32, {U, T, 1, 1}, ids.data(), "ids");
    for (int64_t X : {int64_t(1), U}) {
      auto x = floats({K, X, T, 1}, -1, 1, 25 + uint32_t(X), "x");
      auto out = empty(TensorType::F32, {M, U, T, 1}, "out");
      b_.cpu->mul_mat_id(w.cpu, x.cpu, id.cpu, out.cpu);
      b_.vk->mul_mat_id(w.vk, x.vk, id.vk, out.vk);
      compare("mul_mat_id", t, out, kMatmulTol);
    }
  }
}

TEST_P(VulkanOps, MulMatIdBadIds) {
  // Expert ids are not checked on the host (they stay on the device): both kernels write NaN
  // for a slot with an id outside [0, E) and leave the other slots' outputs intact; M = 70 is
  // not whole groups of the decode kernel's 8 rows.
  const int64_t K = 256, M = 70, E = 4, U = 2;
  for (TensorType type : {TensorType::F32, TensorType::Q4_K})
  for (int64_t T : {int64_t(3), int64_t(20)}) {
    std::vector<int32_t> ids(size_t(U * T));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = i % 5 == 1 ? (i % 2 ? int32_t(E) : -1) : int32_t(i % size_t(E));
    auto w = weight(type, {K, M, E, 1}, 26, "ffn_up_exps");
    auto id = scratch(TensorType::I32, {U, T, 1, 1}, ids.data(), "ids");
    auto x = floats({K, 1, T, 1}, -1, 1, 27, "x");
    auto out = empty(TensorType::F32, {M, U, T, 1}, "out");
    b_.vk->mul_mat_id(w.vk, x.vk, id.vk, out.vk);
    std::vector<float> got(size_t(M * U * T));
    b_.vk->read(out.vk, got.data(), got.size() * 4);
    for (size_t i = 0; i < got.size(); ++i) {
      const bool bad = ids[i / size_t(M)] < 0 || ids[i / size_t(M)] >= E;
      ASSERT_EQ(std::isnan(got[i]), bad) << gguf::type_name(type) << ", T " << T << ", element " << i;
    }
  }
}

TEST_P(VulkanOps, Rope) {
  // q_pe of 4 heads inside wider rows (a strided view), positions up to tens of thousands where
  // cos/sin need argument reduction; plain rope, then YaRN as DeepSeek-V2 configures it.
  const std::vector<int32_t> pos = {0, 1, 17, 4095, 30011};
  for (bool yarn : {false, true}) {
    auto q = floats({96, 4, 5, 1}, -2, 2, 15, "q");
    RopeParams p;
    p.n_rot = 64;
    if (yarn) {
      p.freq_scale = 1.0f / 40;
      p.ext_factor = 1;
      p.attn_factor = 1;
      p.n_ctx_orig = 4096;
    }
    b_.cpu->rope(q.cpu.view({64, 4, 5, 1}, q.cpu.nb, 32 * 4, "q_pe"), pos, p);
    b_.vk->rope(q.vk.view({64, 4, 5, 1}, q.vk.nb, 32 * 4, "q_pe"), pos, p);
    // Exact arithmetic order as the CPU (measured 5e-7 on lavapipe); a device whose division is
    // not correctly rounded (Vulkan allows 2.5 ulp) moves the YaRN ramp slightly.
    compare(yarn ? "rope_yarn" : "rope", TensorType::F32, q, 1e-4f);
  }
}

TEST_P(VulkanOps, MoeCombine) {
  auto experts = floats({64, 6, 3, 1}, -2, 2, 16, "ffn_moe_down");
  auto weights = floats({6, 3, 1, 1}, 0, 1, 17, "ffn_moe_weights");
  auto out = empty(TensorType::F32, {64, 3, 1, 1}, "out");
  b_.cpu->moe_combine(experts.cpu, weights.cpu, out.cpu);
  b_.vk->moe_combine(experts.vk, weights.vk, out.vk);
  compare("moe_combine", TensorType::F32, out, 1e-6f);  // same order; only FMA contraction differs
}

TEST_P(VulkanOps, MoeRoute) {
  // DeepSeek-V2-Lite (softmax, no groups), V2 (softmax, group-limited) and V3 (sigmoid with
  // bias correction, groups, normalised and scaled weights) routing.
  struct Case {
    const char* name;
    int64_t E;
    RouteParams p;
    bool bias;
  };
  const Case cases[] = {
      {"moe_route", 64, {6, 1, 1, Gating::Softmax, false, 1.0f}, false},
      {"moe_route_grp", 32, {4, 8, 3, Gating::Softmax, false, 16.0f}, false},
      {"moe_route_v3", 64, {8, 8, 4, Gating::Sigmoid, true, 2.5f}, true},
  };
  for (const Case& c : cases) {
    const int64_t T = 9, U = c.p.n_expert_used;
    auto logits = floats({c.E, T, 1, 1}, -4, 4, 22, "ffn_moe_logits");
    auto bias = floats({c.E, 1, 1, 1}, -0.2f, 0.2f, 23, "exp_probs_b");
    auto ids = empty(TensorType::I32, {U, T, 1, 1}, "ffn_moe_topk");
    auto wts = empty(TensorType::F32, {U, T, 1, 1}, "ffn_moe_weights");
    const Pair none{};
    b_.cpu->moe_route(logits.cpu, c.bias ? bias.cpu : none.cpu, c.p, ids.cpu, wts.cpu);
    b_.vk->moe_route(logits.vk, c.bias ? bias.vk : none.vk, c.p, ids.vk, wts.vk);
    std::vector<int32_t> want(size_t(U * T)), got(size_t(U * T));
    b_.cpu->read(ids.cpu, want.data(), want.size() * 4);
    b_.vk->read(ids.vk, got.data(), got.size() * 4);
    EXPECT_EQ(got, want) << c.name << ": selected experts differ";
    // exp() within a few ulp and the softmax sum in f32 (the CPU sums in double), times the scale.
    compare(c.name, TensorType::F32, wts, 1e-6f * std::max(1.0f, c.p.weights_scale));
  }
}

TEST_P(VulkanOps, Attention) {
  // MLA's plain form: d_k = 192 (nope + rope), d_v = 128, 3 heads. Prefill from position 0 and
  // a continuation at position 70 (keys span two chunks of 64 plus a partial one).
  const int64_t Dk = 192, Dv = 128, H = 3;
  for (int64_t first_pos : {int64_t(0), int64_t(70)}) {
    const int64_t T = 5, S = first_pos + T;
    auto q = floats({Dk, H, T, 1}, -1, 1, 24, "q");
    auto k = floats({Dk, H, S, 1}, -1, 1, 25, "k");
    auto v = floats({Dv, H, S, 1}, -1, 1, 26, "v");
    auto out = empty(TensorType::F32, {Dv, H, T, 1}, "kqv_out");
    const float scale = 1.0f / std::sqrt(float(Dk)) * 2;  // sharper than uniform attention
    b_.cpu->attention(q.cpu, k.cpu, v.cpu, first_pos, scale, out.cpu);
    b_.vk->attention(q.vk, k.vk, v.vk, first_pos, scale, out.vk);
    // Online softmax in f32 (rescaled partial sums) vs the CPU's normalise-first with a double sum.
    compare("attention", TensorType::F32, out, 2e-6f);
  }
}

TEST_P(VulkanOps, Argmax) {
  // Strided row views (3 floats between rows) of lengths below, around and far above one
  // workgroup's 256 lanes, up to DeepSeek's vocabulary of 102400, with planted ties (the lower
  // index must win wherever the two lanes sit in the reduction), NaN and signed zeros
  // (testing::argmax_rows): ids equal the CPU's, which are sample::argmax's.
  const int64_t rows = 16;
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(1001), int64_t(102400)}) {
    const int64_t stride = n + 3;
    const auto v = testing::argmax_rows(n, rows, stride, uint32_t(n));
    auto x = scratch(TensorType::F32, {stride, rows, 1, 1}, v.data(), "result_output");
    auto out = empty(TensorType::I32, {rows, 1, 1, 1}, "result_argmax");
    b_.cpu->argmax(x.cpu.view({n, rows, 1, 1}, x.cpu.nb, 0, "result_output"), out.cpu);
    b_.vk->argmax(x.vk.view({n, rows, 1, 1}, x.vk.nb, 0, "result_output"), out.vk);
    std::vector<int32_t> want(static_cast<size_t>(rows)), got(want.size());
    b_.cpu->read(out.cpu, want.data(), want.size() * 4);
    b_.vk->read(out.vk, got.data(), got.size() * 4);
    int64_t wrong = 0;
    for (int64_t r = 0; r < rows; ++r) {
      wrong += got[size_t(r)] != want[size_t(r)];
      EXPECT_EQ(got[size_t(r)], want[size_t(r)]) << "row " << r << " (kind " << r % 8 << ") of " << n;
    }
    std::printf("%-14s %-5s %-4s %-14s %12lld %10d\n", "argmax", "F32", GetParam() ? "yes" : "no",
                shape_str({n, rows, 1, 1}).c_str(), static_cast<long long>(wrong), 0);  // rows that differ
  }
  auto x = floats({10, 3, 1, 1}, -1, 1, 40, "result_output");
  auto short_ids = empty(TensorType::I32, {2, 1, 1, 1}, "result_argmax");
  EXPECT_THROW(b_.vk->argmax(x.vk, short_ids.vk), Error);
}

TEST_P(VulkanOps, LatentCache) {
  // A page pool of 6 pages x 16 rows, each row [c_kv (64) | k_pe (32)] of one layer at offset 0
  // of a 2-layer row; the sequence uses the pages in shuffled order, as the KV store hands them
  // out. 37 rows are stored in two appends, read back, and attended to by 3 heads x 4 queries,
  // with F32, F16, BF16 and Q8_0 rows (three blocks of 32: a Q8_0 row of 102 bytes ends mid-word
  // and its middle block starts mid-word).
  const int64_t W = 96, L = 64, rows_per_page = 16, n_pages = 6, layers = 2;
  for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0}) {
    auto pool = empty(TensorType::F32, {W * layers, rows_per_page * n_pages, 1, 1}, "kv_pool");
    const int order[n_pages] = {4, 1, 5, 0, 3, 2};
    std::vector<void*> cpu_pages, vk_pages;
    for (int i : order) {
      const size_t off = size_t(i) * size_t(rows_per_page) * pool.cpu.nb[1];
      cpu_pages.push_back(static_cast<char*>(pool.cpu.data) + off);
      vk_pages.push_back(static_cast<char*>(pool.vk.data) + off);
    }
    auto rows_of = [&](const std::vector<void*>& pages) {
      LatentRows r;
      r.type = type;
      r.pages = pages.data();
      r.rows_per_page = rows_per_page;
      r.page_offset = 0;
      r.row_stride = pool.cpu.nb[1];
      r.width = W;
      r.n_rows = 37;
      return r;
    };
    const LatentRows cc = rows_of(cpu_pages), vc = rows_of(vk_pages);
    auto first = floats({W, 30, 1, 1}, -1, 1, 27, "kv_cmpr");
    auto second = floats({W, 7, 1, 1}, -1, 1, 28, "kv_cmpr");
    b_.cpu->store_latent(first.cpu, cc, 0);
    b_.vk->store_latent(first.vk, vc, 0);
    b_.cpu->store_latent(second.cpu, cc, 30);
    b_.vk->store_latent(second.vk, vc, 30);
    auto loaded = empty(TensorType::F32, {W, 37, 1, 1}, "kv_rows");
    b_.cpu->load_latent(cc, 0, loaded.cpu);
    b_.vk->load_latent(vc, 0, loaded.vk);
    // Exact: the same conversion (F16/BF16 round to nearest even; Q8_0 the f32 operations of
    // ggml's reference quantizer, its divisions rounded as IEEE) and an exact widening.
    compare("load_latent", type, loaded, 0.0f);

    const int64_t H = 3, T = 4, first_pos = 33;
    auto q = floats({W, H, T, 1}, -1, 1, 29, "q_absorbed");
    auto out = empty(TensorType::F32, {L, H, T, 1}, "kqv_latent");
    b_.cpu->attention_latent(q.cpu, cc, first_pos, 0.3f, out.cpu);
    b_.vk->attention_latent(q.vk, vc, first_pos, 0.3f, out.vk);
    // The same widened values as the CPU; online softmax in f32, as attention.
    compare("attn_latent", type, out, 2e-6f);

    // The KV store's pages are host memory today: the device cannot read them, and says so.
    std::vector<float> host(size_t(W * rows_per_page));
    std::vector<void*> host_pages(size_t(n_pages), host.data());
    LatentRows hc = vc;
    hc.pages = host_pages.data();
    try {
      b_.vk->attention_latent(q.vk, hc, first_pos, 0.3f, out.vk);
      ADD_FAILURE() << "attention_latent over host pages should throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not Vulkan memory"), std::string::npos) << e.what();
    }

    // Rows the shaders cannot split into their units (value pairs, Q8_0 blocks) are refused.
    if (type == TensorType::F32) continue;
    const int64_t odd = type == TensorType::Q8_0 ? W - 16 : W - 1;
    LatentRows narrow = vc;
    narrow.width = odd;
    auto src = floats({odd, 1, 1, 1}, -1, 1, 30, "kv_cmpr");
    try {
      b_.vk->store_latent(src.vk, narrow, 0);
      ADD_FAILURE() << "store_latent of " << gguf::type_name(type) << " rows of " << odd << " should throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not a multiple"), std::string::npos) << e.what();
    }
  }
}

TEST_P(VulkanOps, LatentAttentionShapes) {
  // attention_latent's paths, each against the CPU on rows the two backends stored alike
  // (load_latent above checks that): head groups of 8 with a partial one, decode's key splits
  // (T = 1 over many pages; T = 65 from position 0, where the early queries' last splits are
  // empty), prefill without splits, the real models' rows of 576 with 512 values (also in a
  // decode step at position 4095), and widths that leave a tail of two values after the groups
  // of four.
  struct Case {
    int64_t W, L, H, T, first_pos;
    float scale;
  };
  const Case cases[] = {
      {96, 64, 10, 1, 1000, 0.3f},  // 2 head groups, 16 key splits over 63 pages
      {96, 64, 3, 65, 0, 0.3f},     // 2 splits; query 0's second is empty
      {96, 64, 8, 130, 5, 0.3f},    // enough workgroups without splitting, up to 3 chunks a query
      {576, 512, 16, 2, 300, 1 / std::sqrt(192.0f)},  // DeepSeek's scale: heads of 128 + 64
      {576, 512, 16, 1, 4095, 1 / std::sqrt(192.0f)},  // decode at position 4095
      {98, 70, 3, 3, 70, 0.3f},
  };
  const int64_t rows_per_page = 16;
  for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0}) {
    for (const Case& c : cases) {
      if (c.W % (type == TensorType::Q8_0 ? 32 : type == TensorType::F32 ? 1 : 2) != 0) continue;
      const int64_t S = c.first_pos + c.T, n_pages = (S + rows_per_page - 1) / rows_per_page;
      auto pool = empty(TensorType::F32, {c.W, rows_per_page * n_pages, 1, 1}, "kv_pool");
      std::vector<int64_t> order(static_cast<size_t>(n_pages));
      for (int64_t i = 0; i < n_pages; ++i) order[size_t(i)] = i;
      std::shuffle(order.begin(), order.end(), std::mt19937(31));
      std::vector<void*> cpu_pages, vk_pages;
      for (int64_t i : order) {
        const size_t off = size_t(i * rows_per_page) * pool.cpu.nb[1];
        cpu_pages.push_back(static_cast<char*>(pool.cpu.data) + off);
        vk_pages.push_back(static_cast<char*>(pool.vk.data) + off);
      }
      LatentRows cc;
      cc.type = type;
      cc.pages = cpu_pages.data();
      cc.rows_per_page = rows_per_page;
      cc.row_stride = pool.cpu.nb[1];
      cc.width = c.W;
      cc.n_rows = S;
      LatentRows vc = cc;
      vc.pages = vk_pages.data();
      auto rows = floats({c.W, S, 1, 1}, -1, 1, 32, "kv_cmpr");
      b_.cpu->store_latent(rows.cpu, cc, 0);
      b_.vk->store_latent(rows.vk, vc, 0);
      auto q = floats({c.W, c.H, c.T, 1}, -1, 1, 33, "q_absorbed");
      auto out = empty(TensorType::F32, {c.L, c.H, c.T, 1}, "kqv_latent");
      b_.cpu->attention_latent(q.cpu, cc, c.first_pos, c.scale, out.cpu);
      b_.vk->attention_latent(q.vk, vc, c.first_pos, c.scale, out.vk);
      // As in LatentCache; the key splits' partial sums are combined in f32 too.
      compare("attn_latent", type, out, 2e-6f);
    }
  }
}

TEST_P(VulkanOps, DecodeStepsReplayOneCommandBuffer) {
  // A decode step in miniature (embedding row, matmuls, rope, store the new latent row, attend
  // over the paged cache, read the result) at positions 250..265, on this backend and on one that
  // records every submission anew. Each step is one submission (the result's read included, also
  // through the staging buffer), which must replay the previous step's command buffer except
  // where the cache length enters a new bucket (257 rows): a per-step value (ids, positions,
  // first row, page table) left in the commands makes every step record anew. The replayed
  // steps must give the same bits as the fresh recordings.
  const int64_t W = 96, L = 64, H = 16, K = 256, rows_per_page = 16, n_pages = 20, prompt = 250;
  const TensorType type = TensorType::F16;
  VulkanOptions o;
  o.validation = true;
  o.allow_subgroups = GetParam();
  o.force_staging = !GetParam();
  o.reuse_commands = false;
  const std::unique_ptr<VulkanBackend> fresh = make_vulkan_backend(o);
  struct Run {
    VulkanBackend* be;
    Tensor emb, wkv, wq, pool;
    std::vector<void*> pages;
    std::vector<float> out;
  };
  Run runs[2] = {{b_.vk.get()}, {fresh.get()}};
  const auto emb = encode(TensorType::F32, random_floats(size_t(K * 50), -1, 1, 41), K);
  const auto wkv = encode(TensorType::Q4_K, random_floats(size_t(K * W), -1, 1, 42), K);
  const auto wq = encode(TensorType::Q8_0, random_floats(size_t(K * W * H), -1, 1, 43), K);
  const auto past = random_floats(size_t(W * prompt), -1, 1, 45);
  std::vector<int64_t> order(static_cast<size_t>(n_pages));
  for (int64_t i = 0; i < n_pages; ++i) order[size_t(i)] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(44));
  auto rows_of = [&](const Run& r, int64_t n_rows) {
    LatentRows c;
    c.type = type;
    c.pages = r.pages.data();
    c.rows_per_page = rows_per_page;
    c.row_stride = r.pool.nb[1];
    c.width = W;
    c.n_rows = n_rows;
    return c;
  };
  for (Run& r : runs) {
    r.emb = r.be->weight(TensorType::F32, {K, 50, 1, 1}, emb.data(), "token_embd");
    r.wkv = r.be->weight(TensorType::Q4_K, {K, W, 1, 1}, wkv.data(), "attn_kv_a_mqa");
    r.wq = r.be->weight(TensorType::Q8_0, {K, W * H, 1, 1}, wq.data(), "attn_q");
    r.pool = r.be->allocate(TensorType::F32, {W, rows_per_page * n_pages, 1, 1}, "kv_pool");
    for (int64_t i : order) r.pages.push_back(r.pool.row(i * rows_per_page));
    Tensor rows = r.be->scratch(TensorType::F32, {W, prompt, 1, 1}, "kv_cmpr");
    r.be->write(rows, past.data(), past.size() * 4);
    r.be->store_latent(rows, rows_of(r, prompt), 0);
    r.be->load_latent(rows_of(r, prompt), 0, rows);
    std::vector<float> back(past.size());
    r.be->read(rows, back.data(), back.size() * 4);  // also ends the prompt's submission
  }

  RopeParams rope;
  rope.n_rot = 32;
  std::mt19937 rng(46);
  for (int64_t pos = prompt; pos < prompt + 16; ++pos) {
    const int32_t token = int32_t(rng() % 50), position = int32_t(pos);
    const vulkan::SubmitStats before = b_.vk->submit_stats();
    for (Run& r : runs) {
      Backend& be = *r.be;
      const size_t mark = be.scratch_mark();
      Tensor x = be.scratch(TensorType::F32, {K, 1, 1, 1}, "inp_embd");
      Tensor kv = be.scratch(TensorType::F32, {W, 1, 1, 1}, "kv_cmpr_pe");
      Tensor q = be.scratch(TensorType::F32, {W, H, 1, 1}, "Qcur");
      Tensor out = be.scratch(TensorType::F32, {L, H, 1, 1}, "kqv");
      const LatentRows rows = rows_of(r, pos + 1);
      be.get_rows(r.emb, {&token, 1}, x);
      be.mul_mat(r.wkv, x, kv);
      be.rope(kv.view({32, 1, 1, 1}, kv.nb, size_t(L) * 4, "k_pe"), {&position, 1}, rope);
      be.store_latent(kv, rows, pos);
      be.mul_mat(r.wq, x, make_tensor(TensorType::F32, {W * H, 1, 1, 1}, q.data, "q"));
      be.attention_latent(q, rows, pos, 0.1f, out);
      r.out.resize(size_t(L * H));
      be.read(out, r.out.data(), r.out.size() * 4);
      be.release_scratch(mark);
    }
    const vulkan::SubmitStats after = b_.vk->submit_stats();
    EXPECT_EQ(std::memcmp(runs[0].out.data(), runs[1].out.data(), runs[0].out.size() * 4), 0)
        << "decode step at position " << pos << ": the replayed submission differs from a fresh recording";
    for (float v : runs[0].out) ASSERT_TRUE(std::isfinite(v)) << "position " << pos;
    const bool new_bucket = pos == prompt || pos + 1 == 257;
    EXPECT_EQ(after.recorded - before.recorded, new_bucket ? 1u : 0u) << "decode step at position " << pos;
    EXPECT_EQ(after.replayed - before.replayed, new_bucket ? 0u : 1u) << "decode step at position " << pos;
  }
  EXPECT_EQ(fresh->submit_stats().replayed, 0u);
  EXPECT_EQ(fresh->validation_errors(), 0u);
  for (Run& r : runs) r.be->deallocate(r.pool);
}

TEST_P(VulkanOps, ReportsWhatItCannotRun) {
  EXPECT_FALSE(b_.vk->supports_op(Op::MulMat, TensorType::Q2_K));
  EXPECT_FALSE(b_.vk->supports_op(Op::MulMatId, TensorType::IQ4_NL));
  EXPECT_TRUE(b_.vk->supports_op(Op::AttentionLatent, TensorType::Q8_0));
  EXPECT_FALSE(b_.vk->supports_op(Op::AttentionLatent, TensorType::Q4_0));  // cache element type
  EXPECT_TRUE(b_.vk->supports_op(Op::MulMat, TensorType::Q5_K));
  // Q2_K has no quantizer here (nor a CPU kernel); the device only needs bytes of the right size.
  std::vector<uint8_t> q2k(gguf::row_bytes(TensorType::Q2_K, 256) * 4);
  std::mt19937 rng(18);
  for (auto& byte : q2k) byte = uint8_t(rng());
  const Tensor w = b_.vk->weight(TensorType::Q2_K, {256, 4, 1, 1}, q2k.data(), "blk.0.ffn_down.weight");
  auto x = floats({256, 1, 1, 1}, -1, 1, 19, "x");
  auto out = empty(TensorType::F32, {4, 1, 1, 1}, "out");
  try {
    b_.vk->mul_mat(w, x.vk, out.vk);
    ADD_FAILURE() << "mul_mat with Q2_K weights should throw";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mul_mat"), std::string::npos) << what;
    EXPECT_NE(what.find("Q2_K"), std::string::npos) << what;
    EXPECT_NE(what.find("blk.0.ffn_down.weight"), std::string::npos) << what;
  }
  // A host pointer is not a tensor of this backend.
  float host[4] = {1, 2, 3, 4};
  const Tensor bogus = make_tensor(TensorType::F32, {4, 1, 1, 1}, host, "host");
  EXPECT_THROW(b_.vk->add(bogus, bogus, out.vk), Error);
  // 16-bit float rows of odd length are refused by name rather than read wrong.
  auto odd = weight(TensorType::F16, {103, 4, 1, 1}, 20, "blk.0.attn_kv_a_mqa.weight");
  auto x103 = floats({103, 1, 1, 1}, -1, 1, 21, "x");
  try {
    b_.vk->mul_mat(odd.vk, x103.vk, out.vk);
    ADD_FAILURE() << "mul_mat with odd-length F16 rows should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("odd length 103"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Reductions, VulkanOps, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "subgroup" : "shared_staged"; });

}  // namespace
}  // namespace latent::backend
