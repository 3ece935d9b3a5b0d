// What only the Vulkan backend has: its kernel limits and refusals, expert ids it cannot check
// on the host, pages that must be its own memory, and command buffers with barriers only between
// dependent commands. Its results against the CPU's are tests/backend/backend_ops_test.cpp.
// Runs with the Khronos validation layer (synchronization validation included) on and fails if
// it reports an error, for both reduction variants. Without a Vulkan device the suite fails,
// unless LATENT_VULKAN_OPTIONAL=1 makes it skip.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/graph.h"
#include "backend/vulkan/vulkan_backend.h"
#include "common/backends.h"
#include "common/op_data.h"
#include "gguf/tensor_type.h"
#include "quant/quant.h"

namespace latent::backend {
namespace {

using Shape = std::array<int64_t, 4>;

using testing::encode;
using testing::random_floats;

class VulkanBackendTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    try {
      VulkanOptions o;
      o.validation = true;
      o.allow_subgroups = GetParam();
      o.force_staging = !GetParam();
      vk_ = make_vulkan_backend(o);
    } catch (const Error& e) {
      if (testing::vulkan_optional()) GTEST_SKIP() << "no Vulkan device (LATENT_VULKAN_OPTIONAL=1): " << e.what();
      FAIL() << "Vulkan backend unavailable: " << e.what()
             << "\nInstall lavapipe (mesa-vulkan-drivers) and vulkan-validationlayers, or set "
                "LATENT_VULKAN_OPTIONAL=1 to skip.";
    }
    if (GetParam() && !vk_->uses_subgroups()) GTEST_SKIP() << "device '" << vk_->device_name() << "' has no subgroup arithmetic";
  }

  void TearDown() override {
    if (vk_) {
      EXPECT_EQ(vk_->validation_errors(), 0u) << "the validation layer reported errors (above)";
    }
  }

  Tensor floats(Shape ne, float lo, float hi, uint32_t seed, const char* name) {
    const auto v = random_floats(size_t(ne[0] * ne[1] * ne[2] * ne[3]), lo, hi, seed);
    Tensor t = vk_->scratch(TensorType::F32, ne, name);
    vk_->write(t, v.data(), v.size() * 4);
    return t;
  }

  Tensor weight(TensorType t, Shape ne, uint32_t seed, const char* name) {
    bytes_.push_back(encode(t, random_floats(size_t(ne[0] * ne[1] * ne[2] * ne[3]), -1, 1, seed), ne[0]));
    return vk_->weight(t, ne, bytes_.back().data(), name);
  }

  std::unique_ptr<VulkanBackend> vk_;
  std::vector<std::vector<uint8_t>> bytes_;
};

TEST_P(VulkanBackendTest, BarriersOnlyBetweenDependentCommands) {
  // Two projections of one input (as a layer's q and kv, an FFN's gate and up) share one
  // conversion of it to Q8_0 and run without a barrier between them; their sum waits for both.
  // 4 dispatches (quantize, two matvecs, add) and 2 barriers (a third before the copy of the sum
  // to the readback buffer where device memory is not mapped); a barrier after every command,
  // the scheme before graphs, would be 4.
  Graph g;
  const TensorId x = g.external(floats({256, 1, 1, 1}, -1, 1, 70, "x"));
  const TensorId a = g.tensor(TensorType::F32, {64, 1, 1, 1}, "a"), b = g.tensor(TensorType::F32, {64, 1, 1, 1}, "b");
  g.mul_mat(g.external(weight(TensorType::Q8_0, {256, 64, 1, 1}, 71, "ffn_gate")), x, a);
  g.mul_mat(g.external(weight(TensorType::Q8_0, {256, 64, 1, 1}, 72, "ffn_up")), x, b);
  const TensorId sum = g.tensor(TensorType::F32, {64, 1, 1, 1}, "sum");
  g.add(a, b, sum);
  g.output(sum);
  std::vector<float> out(64);
  void* outputs[1] = {out.data()};
  Bindings bind;
  bind.outputs = outputs;
  vk_->compute(g, bind);
  const VulkanBackend::GraphStats st = vk_->graph_stats();
  EXPECT_EQ(st.dispatches, 4u);
  EXPECT_EQ(st.barriers, GetParam() ? 2u : 3u);
  EXPECT_EQ(st.copies, GetParam() ? 0u : 1u);
  for (float v : out) EXPECT_TRUE(std::isfinite(v));
}

TEST_P(VulkanBackendTest, RefusesHostPagesAndRowsItCannotSplit) {
  const int64_t W = 96, L = 64, rows_per_page = 16, n_pages = 6, first_pos = 33, H = 3, T = 4;
  for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0}) {
    Tensor pool = vk_->scratch(TensorType::F32, {W, rows_per_page * n_pages, 1, 1}, "kv_pool");
    std::vector<void*> pages;
    for (int64_t i = 0; i < n_pages; ++i) pages.push_back(pool.row(i * rows_per_page));
    LatentRows vc;
    vc.type = type;
    vc.pages = pages.data();
    vc.rows_per_page = rows_per_page;
    vc.row_stride = pool.nb[1];
    vc.width = W;
    vc.n_rows = 37;
    Tensor q = floats({W, H, T, 1}, -1, 1, 29, "q_absorbed");
    Tensor out = vk_->scratch(TensorType::F32, {L, H, T, 1}, "kqv_latent");
    // Pages in host memory: the device cannot read them, and says so.
    std::vector<float> host(size_t(W * rows_per_page));
    std::vector<void*> host_pages(size_t(n_pages), host.data());
    LatentRows hc = vc;
    hc.pages = host_pages.data();
    try {
      vk_->attention_latent(q, hc, first_pos, 0.3f, out);
      ADD_FAILURE() << "attention_latent over host pages should throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not Vulkan memory"), std::string::npos) << e.what();
    }

    // Rows the shaders cannot split into their units (value pairs, Q8_0 blocks) are refused.
    if (type == TensorType::F32) continue;
    const int64_t odd = type == TensorType::Q8_0 ? W - 16 : W - 1;
    LatentRows narrow = vc;
    narrow.width = odd;
    Tensor src = floats({odd, 1, 1, 1}, -1, 1, 30, "kv_cmpr");
    try {
      vk_->store_latent(src, narrow, 0);
      ADD_FAILURE() << "store_latent of " << gguf::type_name(type) << " rows of " << odd << " should throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(odd)), std::string::npos) << e.what();
    }
  }
}

TEST_P(VulkanBackendTest, MulMatIdBadIds) {
  // Expert ids are not checked on the host (they stay on the device): both kernels write NaN
  // for a slot with an id outside [0, E) and leave the other slots' outputs intact; M = 70 is
  // not whole groups of the decode kernel's 8 rows.
  const int64_t K = 256, M = 70, E = 4, U = 2;
  for (TensorType type : {TensorType::F32, TensorType::Q4_K})
  for (int64_t T : {int64_t(3), int64_t(20)}) {
    std::vector<int32_t> ids(size_t(U * T));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = i % 5 == 1 ? (i % 2 ? int32_t(E) : -1) : int32_t(i % size_t(E));
    Tensor w = weight(type, {K, M, E, 1}, 26, "ffn_up_exps");
    Tensor id = vk_->scratch(TensorType::I32, {U, T, 1, 1}, "ids");
    vk_->write(id, ids.data(), ids.size() * 4);
    Tensor x = floats({K, 1, T, 1}, -1, 1, 27, "x");
    Tensor out = vk_->scratch(TensorType::F32, {M, U, T, 1}, "out");
    vk_->mul_mat_id(w, x, id, out);
    std::vector<float> got(size_t(M * U * T));
    vk_->read(out, got.data(), got.size() * 4);
    for (size_t i = 0; i < got.size(); ++i) {
      const bool bad = ids[i / size_t(M)] < 0 || ids[i / size_t(M)] >= E;
      ASSERT_EQ(std::isnan(got[i]), bad) << gguf::type_name(type) << ", T " << T << ", element " << i;
    }
  }
}

TEST_P(VulkanBackendTest, ReportsWhatItCannotRun) {
  EXPECT_FALSE(vk_->supports_op(Op::MulMat, TensorType::Q2_K));
  EXPECT_FALSE(vk_->supports_op(Op::MulMatId, TensorType::IQ4_NL));
  EXPECT_TRUE(vk_->supports_op(Op::AttentionLatent, TensorType::Q8_0));
  EXPECT_FALSE(vk_->supports_op(Op::AttentionLatent, TensorType::Q4_0));  // cache element type
  EXPECT_TRUE(vk_->supports_op(Op::MulMat, TensorType::Q5_K));
  // Q2_K has no quantizer here (nor a CPU kernel); the device only needs bytes of the right size.
  std::vector<uint8_t> q2k(gguf::row_bytes(TensorType::Q2_K, 256) * 4);
  std::mt19937 rng(18);
  for (auto& byte : q2k) byte = uint8_t(rng());
  const Tensor w = vk_->weight(TensorType::Q2_K, {256, 4, 1, 1}, q2k.data(), "blk.0.ffn_down.weight");
  Tensor x = floats({256, 1, 1, 1}, -1, 1, 19, "x");
  Tensor out = vk_->scratch(TensorType::F32, {4, 1, 1, 1}, "out");
  try {
    vk_->mul_mat(w, x, out);
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
  EXPECT_THROW(vk_->add(bogus, bogus, out), Error);
  // 16-bit float rows of odd length are refused by name rather than read wrong.
  Tensor odd = weight(TensorType::F16, {103, 4, 1, 1}, 20, "blk.0.attn_kv_a_mqa.weight");
  Tensor x103 = floats({103, 1, 1, 1}, -1, 1, 21, "x");
  try {
    vk_->mul_mat(odd, x103, out);
    ADD_FAILURE() << "mul_mat with odd-length F16 rows should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("odd length 103"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Reductions, VulkanBackendTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "subgroup" : "shared_staged"; });

}  // namespace
}  // namespace latent::backend
