// Every operation of every backend in the build against the CPU backend (single-threaded, the
// reference) on random data, each op with its own tolerance, printed as a table (backend, op,
// type, shape, max abs error, tolerance): every weight and cache type, odd shapes (rows that are
// not whole workgroups or tiles, strided views), NaN where the CPU produces it. Each operation
// runs as a graph of one node through Backend::compute, the path the model's graphs take; the
// last test runs a whole decode step's graph step after step with new inputs.
//
// The backends are testing::build_backends(): a new backend joins by its name there. The CPU
// backend itself runs with worker threads (its results must not depend on them); the Vulkan
// backend runs twice, with subgroup reductions and mapped memory, and with the shared-memory
// reductions and transfers through the staging buffer, with the Khronos validation layer
// (synchronization validation included) on: a reported error fails the test. Without a Vulkan
// device the Vulkan cases fail, unless LATENT_VULKAN_OPTIONAL=1 makes them skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/graph.h"
#ifdef LATENT_HAVE_VULKAN
#include "backend/vulkan/vulkan_backend.h"
#endif
#include "common/argmax_rows.h"
#include "common/backends.h"
#include "common/op_data.h"
#include "gguf/tensor_type.h"
#include "quant/quant.h"

namespace latent::backend {
namespace {

using Shape = std::array<int64_t, 4>;

// One backend configuration under test.
struct Config {
  std::string label;
  std::string backend;
  std::function<std::unique_ptr<Backend>()> make;
};

void PrintTo(const Config& c, std::ostream* os) { *os << c.label; }

std::vector<Config> configs() {
  std::vector<Config> c;
  for (const std::string& name : testing::build_backends()) {
#ifdef LATENT_HAVE_VULKAN
    if (name == "vulkan") {
      for (bool sg : {true, false}) {
        c.push_back({sg ? "vulkan_sg" : "vulkan_staged", name, [sg]() -> std::unique_ptr<Backend> {
                       VulkanOptions o;
                       o.validation = true;  // the layer must stay silent for every op below
                       o.allow_subgroups = sg;
                       o.force_staging = !sg;  // the second also moves data as on a discrete GPU
                       return make_vulkan_backend(o);
                     }});
      }
      continue;
    }
#endif
    if (name == "cpu") {
      c.push_back({"cpu_threads", name, [] { return make_backend("cpu", {.threads = 3}); }});
      continue;
    }
    c.push_back({name, name, [name] { return make_backend(name, {}); }});
  }
  return c;
}

using testing::encode;
using testing::random_floats;

std::string shape_str(const Shape& ne) {
  std::string s;
  for (size_t i = 0; i < 4; ++i) {
    if (i && ne[i] == 1 && ne[3] == 1 && (i == 3 || ne[2] == 1)) break;
    if (i) s += "x";
    s += std::to_string(ne[i]);
  }
  return s;
}

// Every weight type the backends read.
constexpr TensorType kWeightTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                                       TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                                       TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

uint64_t validation_errors(Backend& be) {
#ifdef LATENT_HAVE_VULKAN
  if (auto* vk = dynamic_cast<VulkanBackend*>(&be)) return vk->validation_errors();
#endif
  (void)be;
  return 0;
}

struct Backends {
  std::unique_ptr<Backend> cpu;  // the reference
  std::unique_ptr<Backend> be;   // under test
};

class BackendOps : public ::testing::TestWithParam<Config> {
 protected:
  static void SetUpTestSuite() {
    std::printf("%-14s %-14s %-5s %-14s %12s %10s\n", "backend", "op", "type", "shape", "max_abs_err", "tol");
  }

  void SetUp() override {
    try {
      b_.be = GetParam().make();
    } catch (const Error& e) {
      if (GetParam().backend == "vulkan" && testing::vulkan_optional())
        GTEST_SKIP() << "no Vulkan device (LATENT_VULKAN_OPTIONAL=1): " << e.what();
      FAIL() << GetParam().label << " backend unavailable: " << e.what()
             << "\nFor Vulkan install lavapipe (mesa-vulkan-drivers) and vulkan-validationlayers, or set "
                "LATENT_VULKAN_OPTIONAL=1 to skip.";
    }
    b_.cpu = make_backend("cpu", BackendOptions{});
#ifdef LATENT_HAVE_VULKAN
    auto* vk = dynamic_cast<VulkanBackend*>(b_.be.get());
    if (vk && GetParam().label == "vulkan_sg" && !vk->uses_subgroups())
      GTEST_SKIP() << "device '" << vk->device_name() << "' has no subgroup arithmetic";
#endif
  }

  void TearDown() override {
    if (b_.be) {
      EXPECT_EQ(validation_errors(*b_.be), 0u) << "the validation layer reported errors (above)";
    }
  }

  // The same data in a tensor of each backend.
  struct Pair {
    Tensor cpu, be;
  };

  Pair scratch(TensorType t, Shape ne, const void* data, const char* name) {
    Pair p{b_.cpu->scratch(t, ne, name), b_.be->scratch(t, ne, name)};
    const size_t bytes = p.cpu.nb[3] * size_t(ne[3]);
    b_.cpu->write(p.cpu, data, bytes);
    b_.be->write(p.be, data, bytes);
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
    return {b_.cpu->weight(t, ne, bytes.data(), name), b_.be->weight(t, ne, bytes.data(), name)};
  }

  Pair empty(TensorType t, Shape ne, const char* name) {
    return {b_.cpu->scratch(t, ne, name), b_.be->scratch(t, ne, name)};
  }

  // Reads both (contiguous, F32) results, prints a table row, and checks the tolerance. NaN must
  // be where the CPU has it, and nowhere else.
  void compare(const char* op, TensorType t, const Pair& out, float tol) {
    const size_t n = size_t(out.cpu.n_elements());
    std::vector<float> want(n), got(n);
    b_.cpu->read(out.cpu, want.data(), n * 4);
    b_.be->read(out.be, got.data(), n * 4);
    float err = 0;
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(std::isnan(got[i]), std::isnan(want[i])) << op << ": element " << i << " is " << got[i] << ", the CPU's " << want[i];
      if (!std::isnan(want[i])) err = std::max(err, std::fabs(got[i] - want[i]));
    }
    std::printf("%-14s %-14s %-5s %-14s %12.3g %10.3g\n", GetParam().label.c_str(), op,
                std::string(gguf::type_name(t)).c_str(), shape_str(out.cpu.ne).c_str(), double(err), double(tol));
    EXPECT_LE(err, tol) << op << " " << gguf::type_name(t) << " " << shape_str(out.cpu.ne);
  }

  Backends b_;
  std::deque<std::vector<uint8_t>> weight_bytes_;
};

TEST_P(BackendOps, Add) {
  // Strided operands: the second is a view of every other row pair's tail, as q_pe is of q.
  auto a = floats({24, 5, 3, 1}, -2, 2, 1, "a");
  auto wide = floats({32, 5, 3, 1}, -2, 2, 2, "wide");
  auto out = empty(TensorType::F32, {24, 5, 3, 1}, "out");
  const Tensor bc = wide.cpu.view({24, 5, 3, 1}, wide.cpu.nb, 32, "b");
  const Tensor bv = wide.be.view({24, 5, 3, 1}, wide.be.nb, 32, "b");
  b_.cpu->add(a.cpu, bc, out.cpu);
  b_.be->add(a.be, bv, out.be);
  compare("add", TensorType::F32, out, 0.0f);  // one IEEE addition: exact
}

TEST_P(BackendOps, SwiGlu) {
  auto g = floats({300, 7, 1, 1}, -6, 6, 3, "gate");
  auto u = floats({300, 7, 1, 1}, -3, 3, 4, "up");
  auto out = empty(TensorType::F32, {300, 7, 1, 1}, "out");
  b_.cpu->swiglu(g.cpu, u.cpu, out.cpu);
  b_.be->swiglu(g.be, u.be, out.be);
  compare("swiglu", TensorType::F32, out, 2e-5f);  // exp() within a few ulp; |out| <= 18
}

TEST_P(BackendOps, RmsNorm) {
  auto x = floats({576, 6, 2, 1}, -3, 3, 5, "x");
  auto w = floats({576, 1, 1, 1}, 0.5f, 1.5f, 6, "norm");
  auto out = empty(TensorType::F32, {576, 6, 2, 1}, "out");
  b_.cpu->rms_norm(x.cpu, w.cpu, 1e-6f, out.cpu);
  b_.be->rms_norm(x.be, w.be, 1e-6f, out.be);
  compare("rms_norm", TensorType::F32, out, 1e-5f);  // f32 tree sum vs the CPU's double sum
}

TEST_P(BackendOps, Copy) {
  // A strided view (the tail 16 of each 40-wide row) into a contiguous tensor.
  auto src = floats({40, 9, 2, 1}, -1, 1, 7, "src");
  auto out = empty(TensorType::F32, {16, 9, 2, 1}, "out");
  b_.cpu->copy(src.cpu.view({16, 9, 2, 1}, src.cpu.nb, 24 * 4, "tail"), out.cpu);
  b_.be->copy(src.be.view({16, 9, 2, 1}, src.be.nb, 24 * 4, "tail"), out.be);
  compare("copy", TensorType::F32, out, 0.0f);
  // Contiguous to contiguous (a transfer command on the device): rows 3..8 of src into out's
  // matching rows, as the KV page pool copies whole pages.
  auto whole = empty(TensorType::F32, {40, 9, 2, 1}, "whole");
  const size_t row = 40 * 4;
  b_.cpu->copy(src.cpu, whole.cpu);
  b_.be->copy(src.be, whole.be);
  compare("copy", TensorType::F32, whole, 0.0f);
  auto part = floats({40, 9, 2, 1}, -1, 1, 8, "part");
  b_.cpu->copy(src.cpu.view({40, 6, 1, 1}, src.cpu.nb, 3 * row, "rows"), part.cpu.view({40, 6, 1, 1}, part.cpu.nb, 3 * row, "rows"));
  b_.be->copy(src.be.view({40, 6, 1, 1}, src.be.nb, 3 * row, "rows"), part.be.view({40, 6, 1, 1}, part.be.nb, 3 * row, "rows"));
  compare("copy", TensorType::F32, part, 0.0f);
}

TEST_P(BackendOps, GetRows) {
  const std::vector<int32_t> ids = {3, 0, 17, 3, 9, 16};
  for (TensorType t : kWeightTypes) {
    auto table = weight(t, {256, 18, 1, 1}, 8, "token_embd");
    auto out = empty(TensorType::F32, {256, int64_t(ids.size()), 1, 1}, "inp_embd");
    b_.cpu->get_rows(table.cpu, ids, out.cpu);
    b_.be->get_rows(table.be, ids, out.be);
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

TEST_P(BackendOps, MulMat) {
  for (TensorType t : kWeightTypes) {
    // N <= 8 runs the decode kernel (1, 5), wider inputs the 64x64 tiled one (19: one partial
    // tile; 70 and 130: two and three column tiles, the last partial; M = 70 two row tiles).
    for (int64_t N : {1, 5, 19, 70, 130}) {
      auto w = weight(t, {256, 70, 1, 1}, 9, "ffn_up");
      auto x = floats({256, N, 1, 1}, -1, 1, 10 + uint32_t(N), "x");
      auto out = empty(TensorType::F32, {70, N, 1, 1}, "out");
      b_.cpu->mul_mat(w.cpu, x.cpu, out.cpu);
      b_.be->mul_mat(w.be, x.be, out.be);
      compare("mul_mat", t, out, kMatmulTol);
    }
    // Batched with the weight's batch broadcast, x a strided view (every head of q), in both
    // kernels.
    for (int64_t N : {3, 33}) {
      auto w = weight(t, {256, 12, 1, 1}, 11, "attn_k_b");
      auto xs = floats({288, N, 4, 1}, -1, 1, 12, "q");
      auto out = empty(TensorType::F32, {12, N, 4, 1}, "out");
      b_.cpu->mul_mat(w.cpu, xs.cpu.view({256, N, 4, 1}, xs.cpu.nb, 0, "q_nope"), out.cpu);
      b_.be->mul_mat(w.be, xs.be.view({256, N, 4, 1}, xs.be.nb, 0, "q_nope"), out.be);
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
      b_.be->mul_mat(w.be, x.be, out.be);
      compare("mul_mat", t, out, kMatmulTol);
    }
    auto w = weight(t, {512, 13, 3, 1}, 40, "attn_v_b");
    auto x = floats({512, 2, 3, 1}, -1, 1, 41, "x");
    auto out = empty(TensorType::F32, {13, 2, 3, 1}, "out");
    b_.cpu->mul_mat(w.cpu, x.cpu, out.cpu);
    b_.be->mul_mat(w.be, x.be, out.be);
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
      b_.be->mul_mat(w.be, x.be, out.be);
      compare("mul_mat", t, out, kMatmulTol);
    }
  }
}

TEST_P(BackendOps, MulMatId) {
  const int64_t K = 256, M = 27, E = 6, U = 2, T = 5;  // M: not whole groups of the decode kernel's rows
  const std::vector<int32_t> ids = {0, 5, 3, 1, 5, 2, 4, 4, 1, 0};
  for (TensorType t : kWeightTypes) {
    auto w = weight(t, {K, M, E, 1}, 13, "ffn_gate_exps");
    auto id = scratch(TensorType::I32, {U, T, 1, 1}, ids.data(), "ids");
    for (int64_t X : {int64_t(1), U}) {
      auto x = floats({K, X, T, 1}, -1, 1, 14 + uint32_t(X), "x");
      auto out = empty(TensorType::F32, {M, U, T, 1}, "out");
      b_.cpu->mul_mat_id(w.cpu, x.cpu, id.cpu, out.cpu);
      b_.be->mul_mat_id(w.be, x.be, id.be, out.be);
      compare("mul_mat_id", t, out, kMatmulTol);
    }
  }
}

TEST_P(BackendOps, MulMatIdPrefill) {
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
      b_.be->mul_mat_id(w.be, x.be, id.be, out.be);
      compare("mul_mat_id", t, out, kMatmulTol);
    }
  }
}

TEST_P(BackendOps, Rope) {
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
    b_.be->rope(q.be.view({64, 4, 5, 1}, q.be.nb, 32 * 4, "q_pe"), pos, p);
    // Exact arithmetic order as the CPU (measured 5e-7 on lavapipe); a device whose division is
    // not correctly rounded (Vulkan allows 2.5 ulp) moves the YaRN ramp slightly.
    compare(yarn ? "rope_yarn" : "rope", TensorType::F32, q, 1e-4f);
  }
}

TEST_P(BackendOps, MoeCombine) {
  auto experts = floats({64, 6, 3, 1}, -2, 2, 16, "ffn_moe_down");
  auto weights = floats({6, 3, 1, 1}, 0, 1, 17, "ffn_moe_weights");
  auto out = empty(TensorType::F32, {64, 3, 1, 1}, "out");
  b_.cpu->moe_combine(experts.cpu, weights.cpu, out.cpu);
  b_.be->moe_combine(experts.be, weights.be, out.be);
  compare("moe_combine", TensorType::F32, out, 1e-6f);  // same order; only FMA contraction differs
}

TEST_P(BackendOps, MoeRoute) {
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
    b_.be->moe_route(logits.be, c.bias ? bias.be : none.be, c.p, ids.be, wts.be);
    std::vector<int32_t> want(size_t(U * T)), got(size_t(U * T));
    b_.cpu->read(ids.cpu, want.data(), want.size() * 4);
    b_.be->read(ids.be, got.data(), got.size() * 4);
    EXPECT_EQ(got, want) << c.name << ": selected experts differ";
    // exp() within a few ulp and the softmax sum in f32 (the CPU sums in double), times the scale.
    compare(c.name, TensorType::F32, wts, 1e-6f * std::max(1.0f, c.p.weights_scale));
  }
}

TEST_P(BackendOps, Attention) {
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
    b_.be->attention(q.be, k.be, v.be, first_pos, scale, out.be);
    // Online softmax in f32 (rescaled partial sums) vs the CPU's normalise-first with a double sum.
    compare("attention", TensorType::F32, out, 2e-6f);
  }
}

TEST_P(BackendOps, Argmax) {
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
    b_.be->argmax(x.be.view({n, rows, 1, 1}, x.be.nb, 0, "result_output"), out.be);
    std::vector<int32_t> want(static_cast<size_t>(rows)), got(want.size());
    b_.cpu->read(out.cpu, want.data(), want.size() * 4);
    b_.be->read(out.be, got.data(), got.size() * 4);
    int64_t wrong = 0;
    for (int64_t r = 0; r < rows; ++r) {
      wrong += got[size_t(r)] != want[size_t(r)];
      EXPECT_EQ(got[size_t(r)], want[size_t(r)]) << "row " << r << " (kind " << r % 8 << ") of " << n;
    }
    std::printf("%-14s %-14s %-5s %-14s %12lld %10d\n", GetParam().label.c_str(), "argmax", "F32",
                shape_str({n, rows, 1, 1}).c_str(), static_cast<long long>(wrong), 0);  // rows that differ
  }
  auto x = floats({10, 3, 1, 1}, -1, 1, 40, "result_output");
  auto short_ids = empty(TensorType::I32, {2, 1, 1, 1}, "result_argmax");
  EXPECT_THROW(b_.be->argmax(x.be, short_ids.be), Error);  // the graph's shape rules
}

TEST_P(BackendOps, LatentCache) {
  // A page pool of 6 pages x 16 rows, each row [c_kv (64) | k_pe (32)] of one layer at offset 0
  // of a 2-layer row; the sequence uses the pages in shuffled order, as the KV store hands them
  // out. 37 rows are stored in two appends, read back, and attended to by 3 heads x 4 queries,
  // with F32, F16, BF16 and Q8_0 rows (three blocks of 32: a Q8_0 row of 102 bytes ends mid-word
  // and its middle block starts mid-word).
  const int64_t W = 96, L = 64, rows_per_page = 16, n_pages = 6, layers = 2;
  for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0}) {
    auto pool = empty(TensorType::F32, {W * layers, rows_per_page * n_pages, 1, 1}, "kv_pool");
    const int order[n_pages] = {4, 1, 5, 0, 3, 2};
    std::vector<void*> cpu_pages, be_pages;
    for (int i : order) {
      const size_t off = size_t(i) * size_t(rows_per_page) * pool.cpu.nb[1];
      cpu_pages.push_back(static_cast<char*>(pool.cpu.data) + off);
      be_pages.push_back(static_cast<char*>(pool.be.data) + off);
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
    const LatentRows cc = rows_of(cpu_pages), vc = rows_of(be_pages);
    auto first = floats({W, 30, 1, 1}, -1, 1, 27, "kv_cmpr");
    auto second = floats({W, 7, 1, 1}, -1, 1, 28, "kv_cmpr");
    b_.cpu->store_latent(first.cpu, cc, 0);
    b_.be->store_latent(first.be, vc, 0);
    b_.cpu->store_latent(second.cpu, cc, 30);
    b_.be->store_latent(second.be, vc, 30);
    auto loaded = empty(TensorType::F32, {W, 37, 1, 1}, "kv_rows");
    b_.cpu->load_latent(cc, 0, loaded.cpu);
    b_.be->load_latent(vc, 0, loaded.be);
    // Exact: the same conversion (F16/BF16 round to nearest even; Q8_0 the f32 operations of
    // ggml's reference quantizer, its divisions rounded as IEEE) and an exact widening.
    compare("load_latent", type, loaded, 0.0f);

    const int64_t H = 3, T = 4, first_pos = 33;
    auto q = floats({W, H, T, 1}, -1, 1, 29, "q_absorbed");
    auto out = empty(TensorType::F32, {L, H, T, 1}, "kqv_latent");
    b_.cpu->attention_latent(q.cpu, cc, first_pos, 0.3f, out.cpu);
    b_.be->attention_latent(q.be, vc, first_pos, 0.3f, out.be);
    // The same widened values as the CPU; online softmax in f32, as attention.
    compare("attn_latent", type, out, 2e-6f);
  }
}

TEST_P(BackendOps, LatentAttentionShapes) {
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
      std::vector<void*> cpu_pages, be_pages;
      for (int64_t i : order) {
        const size_t off = size_t(i * rows_per_page) * pool.cpu.nb[1];
        cpu_pages.push_back(static_cast<char*>(pool.cpu.data) + off);
        be_pages.push_back(static_cast<char*>(pool.be.data) + off);
      }
      LatentRows cc;
      cc.type = type;
      cc.pages = cpu_pages.data();
      cc.rows_per_page = rows_per_page;
      cc.row_stride = pool.cpu.nb[1];
      cc.width = c.W;
      cc.n_rows = S;
      LatentRows vc = cc;
      vc.pages = be_pages.data();
      auto rows = floats({c.W, S, 1, 1}, -1, 1, 32, "kv_cmpr");
      b_.cpu->store_latent(rows.cpu, cc, 0);
      b_.be->store_latent(rows.be, vc, 0);
      auto q = floats({c.W, c.H, c.T, 1}, -1, 1, 33, "q_absorbed");
      auto out = empty(TensorType::F32, {c.L, c.H, c.T, 1}, "kqv_latent");
      b_.cpu->attention_latent(q.cpu, cc, c.first_pos, c.scale, out.cpu);
      b_.be->attention_latent(q.be, vc, c.first_pos, c.scale, out.be);
      // As in LatentCache; the key splits' partial sums are combined in f32 too.
      compare("attn_latent", type, out, 2e-6f);
    }
  }
}

TEST_P(BackendOps, AddRmsNorm) {
  // The residual add and the next norm in one op: the sum and the normed rows, over strided
  // operands (b: the head of wider rows), as add() then rms_norm() compute them on the CPU.
  auto a = floats({300, 5, 2, 1}, -3, 3, 50, "attn_out");
  auto wide = floats({320, 5, 2, 1}, -3, 3, 51, "wide");
  auto w = floats({300, 1, 1, 1}, 0.5f, 1.5f, 52, "ffn_norm");
  auto sum = empty(TensorType::F32, {300, 5, 2, 1}, "ffn_inp");
  auto out = empty(TensorType::F32, {300, 5, 2, 1}, "ffn_norm");
  const Tensor bc = wide.cpu.view({300, 5, 2, 1}, wide.cpu.nb, 0, "inp");
  const Tensor bb = wide.be.view({300, 5, 2, 1}, wide.be.nb, 0, "inp");
  b_.cpu->add_rms_norm(a.cpu, bc, w.cpu, 1e-6f, sum.cpu, out.cpu);
  b_.be->add_rms_norm(a.be, bb, w.be, 1e-6f, sum.be, out.be);
  compare("add_rms_norm+", TensorType::F32, sum, 0.0f);  // one IEEE addition: exact
  compare("add_rms_norm", TensorType::F32, out, 1e-5f);  // as rms_norm
  // The fused op gives add() and rms_norm()'s results on the same backend.
  auto sum2 = empty(TensorType::F32, {300, 5, 2, 1}, "ffn_inp");
  auto out2 = empty(TensorType::F32, {300, 5, 2, 1}, "ffn_norm");
  b_.be->add(a.be, bb, sum2.be);
  b_.be->rms_norm(sum2.be, w.be, 1e-6f, out2.be);
  std::vector<float> fused(3000), split(3000);
  b_.be->read(out.be, fused.data(), fused.size() * 4);
  b_.be->read(out2.be, split.data(), split.size() * 4);
  EXPECT_EQ(std::memcmp(fused.data(), split.data(), fused.size() * 4), 0) << "add_rms_norm differs from add + rms_norm";
}

TEST_P(BackendOps, NanPropagates) {
  // A NaN in an input row reaches the outputs it feeds, as on the CPU: element-wise ops keep it
  // in place, a norm or a float matmul spreads it over the row or column it enters.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto v = random_floats(64 * 6, -2, 2, 60);
  v[3] = nan;
  v[64 * 4 + 17] = nan;
  auto x = scratch(TensorType::F32, {64, 6, 1, 1}, v.data(), "x");
  auto y = floats({64, 6, 1, 1}, -2, 2, 61, "y");
  auto w = floats({64, 1, 1, 1}, 0.5f, 1.5f, 62, "norm");
  auto out = empty(TensorType::F32, {64, 6, 1, 1}, "out");
  auto sum = empty(TensorType::F32, {64, 6, 1, 1}, "sum");
  b_.cpu->add(x.cpu, y.cpu, out.cpu);
  b_.be->add(x.be, y.be, out.be);
  compare("add_nan", TensorType::F32, out, 0.0f);
  b_.cpu->swiglu(x.cpu, y.cpu, out.cpu);
  b_.be->swiglu(x.be, y.be, out.be);
  compare("swiglu_nan", TensorType::F32, out, 2e-5f);
  b_.cpu->rms_norm(x.cpu, w.cpu, 1e-6f, out.cpu);
  b_.be->rms_norm(x.be, w.be, 1e-6f, out.be);
  compare("rms_norm_nan", TensorType::F32, out, 1e-5f);
  b_.cpu->add_rms_norm(y.cpu, x.cpu, w.cpu, 1e-6f, sum.cpu, out.cpu);
  b_.be->add_rms_norm(y.be, x.be, w.be, 1e-6f, sum.be, out.be);
  compare("add_norm_nan", TensorType::F32, out, 1e-5f);
  for (TensorType t : {TensorType::F32, TensorType::F16}) {
    for (int64_t N : {6}) {
      auto wm = weight(t, {64, 10, 1, 1}, 63, "ffn_up");
      auto mo = empty(TensorType::F32, {10, N, 1, 1}, "out");
      b_.cpu->mul_mat(wm.cpu, x.cpu, mo.cpu);
      b_.be->mul_mat(wm.be, x.be, mo.be);
      compare("mul_mat_nan", t, mo, kMatmulTol);
    }
  }
  auto experts = scratch(TensorType::F32, {64, 3, 2, 1}, v.data(), "ffn_moe_down");
  auto wts = floats({3, 2, 1, 1}, 0, 1, 64, "ffn_moe_weights");
  auto comb = empty(TensorType::F32, {64, 2, 1, 1}, "out");
  b_.cpu->moe_combine(experts.cpu, wts.cpu, comb.cpu);
  b_.be->moe_combine(experts.be, wts.be, comb.be);
  compare("combine_nan", TensorType::F32, comb, 1e-6f);
}

TEST_P(BackendOps, DecodeStepGraphRunsStepAfterStep) {
  // A decode step in miniature as one graph (embedding row, matmuls sharing an input, rope,
  // store the new latent row, attend over the paged cache, the residual add and the next norm,
  // argmax), built once and run at positions 250..265 with new token ids and positions as
  // inputs and the cache's rows bound per step, on this backend and the CPU: every step's
  // outputs agree. On Vulkan the graph is compiled at the first step and when the cache length
  // enters a new bucket (257 rows), and reused otherwise: a per-step value baked into the
  // commands would give the wrong result at the next step.
  const int64_t W = 96, L = 64, H = 16, K = 256, rows_per_page = 16, n_pages = 20, prompt = 250;
  const TensorType type = TensorType::F16;
  const auto emb = encode(TensorType::F32, random_floats(size_t(K * 50), -1, 1, 41), K);
  const auto wkv = encode(TensorType::Q4_K, random_floats(size_t(K * W), -1, 1, 42), K);
  const auto wq = encode(TensorType::Q8_0, random_floats(size_t(K * W * H), -1, 1, 43), K);
  // F16: a quantized projection after attention would requantize its output, where a last-bit
  // difference of the attention moves a Q8_0 rounding and the result by far more than 1e-4.
  const auto wo = encode(TensorType::F16, random_floats(size_t(L * H * K), -1, 1, 47), L * H);
  const auto norm = random_floats(size_t(K), 0.5f, 1.5f, 48);
  const auto past = random_floats(size_t(W * prompt), -1, 1, 45);
  std::vector<int64_t> order(static_cast<size_t>(n_pages));
  for (int64_t i = 0; i < n_pages; ++i) order[size_t(i)] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(44));
  struct Run {
    Backend* be;
    Tensor pool;
    std::vector<void*> pages;
    Graph g;
    std::vector<float> out;
    int32_t best = -1;
  };
  Run runs[2];
  runs[0].be = b_.be.get();
  runs[1].be = b_.cpu.get();
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
  RopeParams rope;
  rope.n_rot = 32;
  for (Run& r : runs) {
    Backend& be = *r.be;
    r.pool = be.allocate(TensorType::F32, {W, rows_per_page * n_pages, 1, 1}, "kv_pool");
    for (int64_t i : order) r.pages.push_back(r.pool.row(i * rows_per_page));
    Tensor rows = be.scratch(TensorType::F32, {W, prompt, 1, 1}, "kv_cmpr");
    be.write(rows, past.data(), past.size() * 4);
    be.store_latent(rows, rows_of(r, prompt), 0);
    Graph& g = r.g;
    const TensorId tok = g.input(TensorType::I32, {1, 1, 1, 1}, "inp_tokens");
    const TensorId pos = g.input(TensorType::I32, {1, 1, 1, 1}, "inp_pos");
    const TensorId x = g.tensor(TensorType::F32, {K, 1, 1, 1}, "inp_embd");
    g.get_rows(g.external(be.weight(TensorType::F32, {K, 50, 1, 1}, emb.data(), "token_embd")), tok, x);
    const TensorId kv = g.tensor(TensorType::F32, {W, 1, 1, 1}, "kv_cmpr_pe");
    g.mul_mat(g.external(be.weight(TensorType::Q4_K, {K, W, 1, 1}, wkv.data(), "attn_kv_a_mqa")), x, kv);
    const TensorId q = g.tensor(TensorType::F32, {W * H, 1, 1, 1}, "q");
    g.mul_mat(g.external(be.weight(TensorType::Q8_0, {K, W * H, 1, 1}, wq.data(), "attn_q")), x, q);
    g.rope(g.view_f32(kv, {32, 1, 1, 1}, {W, W, W}, L, "k_pe"), pos, rope);
    const int cache = g.cache(W, 0, 0);
    g.store_latent(kv, cache);
    const TensorId o = g.tensor(TensorType::F32, {L, H, 1, 1}, "kqv");
    g.attention_latent(g.view_f32(q, {W, H, 1, 1}, {W, W * H, W * H}, 0, "Qcur"), cache, 0.1f, o);
    const TensorId attn = g.tensor(TensorType::F32, {K, 1, 1, 1}, "attn_out");
    g.mul_mat(g.external(be.weight(TensorType::F16, {L * H, K, 1, 1}, wo.data(), "attn_output")),
              g.view_f32(o, {L * H, 1, 1, 1}, {L * H, L * H, L * H}, 0, "kqv_out"), attn);
    const TensorId res = g.tensor(TensorType::F32, {K, 1, 1, 1}, "ffn_inp");
    const TensorId h = g.tensor(TensorType::F32, {K, 1, 1, 1}, "ffn_norm");
    g.add_rms_norm(attn, x, g.external(be.weight(TensorType::F32, {K, 1, 1, 1}, norm.data(), "ffn_norm")), 1e-6f, res, h);
    const TensorId best = g.tensor(TensorType::I32, {1, 1, 1, 1}, "result_argmax");
    g.argmax(h, best);
    g.output(h);
    g.output(best);
  }
#ifdef LATENT_HAVE_VULKAN
  auto* vk = dynamic_cast<VulkanBackend*>(b_.be.get());
#endif
  std::mt19937 rng(46);
  for (int64_t p = prompt; p < prompt + 16; ++p) {
    const int32_t token = int32_t(rng() % 50), position = int32_t(p);
#ifdef LATENT_HAVE_VULKAN
    const uint64_t compiled = vk ? vk->graph_stats().compiled : 0;
#endif
    for (Run& r : runs) {
      r.out.assign(size_t(K), 0.0f);
      const void* inputs[2] = {&token, &position};
      void* outputs[2] = {r.out.data(), &r.best};
      const CacheBinding caches[1] = {{rows_of(r, p + 1), p}};
      Bindings b;
      b.inputs = inputs;
      b.outputs = outputs;
      b.caches = caches;
      r.be->compute(r.g, b);
    }
    float err = 0;
    for (size_t i = 0; i < runs[0].out.size(); ++i) {
      ASSERT_TRUE(std::isfinite(runs[0].out[i])) << "position " << p;
      err = std::max(err, std::fabs(runs[0].out[i] - runs[1].out[i]));
    }
    EXPECT_LE(err, 1e-4f) << "decode step at position " << p;
    EXPECT_EQ(runs[0].best, runs[1].best) << "decode step at position " << p;
#ifdef LATENT_HAVE_VULKAN
    if (vk) {
      const bool new_bucket = p == prompt || p + 1 == 257;
      EXPECT_EQ(vk->graph_stats().compiled - compiled, new_bucket ? 1u : 0u) << "decode step at position " << p;
    }
#endif
  }
  for (Run& r : runs) r.be->deallocate(r.pool);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendOps, ::testing::ValuesIn(configs()),
                         [](const auto& info) { return info.param.label; });

}  // namespace
}  // namespace latent::backend
