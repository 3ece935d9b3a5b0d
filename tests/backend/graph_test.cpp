// The op graph's own rules: shapes are checked when a node is added (one set of rules for every
// backend), bindings when a graph runs, and the memory plan reuses an intermediate's memory once
// its last reader has run.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "backend/graph.h"

namespace latent::backend {
namespace {

void expect_error(const std::function<void()>& f, std::initializer_list<const char*> words) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const char* w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
  }
}

TEST(Graph, ShapesAreCheckedWhenANodeIsAdded) {
  Graph g;
  const TensorId w = g.external(make_tensor(TensorType::Q8_0, {64, 10, 1, 1}, nullptr, "blk.0.ffn_up.weight"));
  const TensorId x = g.tensor(TensorType::F32, {32, 3, 1, 1}, "ffn_norm");
  const TensorId out = g.tensor(TensorType::F32, {10, 3, 1, 1}, "ffn_up");
  expect_error([&] { g.mul_mat(w, x, out); }, {"mul_mat", "ffn_norm", "blk.0.ffn_up.weight"});
  const TensorId x64 = g.tensor(TensorType::F32, {64, 3, 1, 1}, "ffn_norm");
  const TensorId wrong = g.tensor(TensorType::F32, {10, 4, 1, 1}, "ffn_up");
  expect_error([&] { g.mul_mat(w, x64, wrong); }, {"mul_mat", "{10, 4, 1, 1}"});
  EXPECT_TRUE(g.nodes().empty()) << "a refused node is not added";
  g.mul_mat(w, x64, out);
  EXPECT_EQ(g.nodes().size(), 1u);
  // Per-step inputs are read-only; rope needs as many positions as tokens.
  const TensorId pos = g.input(TensorType::I32, {3, 1, 1, 1}, "inp_pos");
  expect_error([&] { g.copy(g.tensor(TensorType::I32, {3, 1, 1, 1}, "ids"), pos); }, {"copy", "read-only"});
  RopeParams p;
  p.n_rot = 8;
  const TensorId q = g.tensor(TensorType::F32, {8, 2, 4, 1}, "q_pe");
  expect_error([&] { g.rope(q, pos, p); }, {"rope", "4", "3 positions"});
  // A view must stay inside what it views.
  expect_error([&] { g.view_f32(x64, {64, 3, 1, 1}, {64, 192, 192}, 1, "shifted"); }, {"shifted", "past the end"});
}

TEST(Graph, BindingsAreCheckedWhenItRuns) {
  Graph g;
  std::vector<float> table_data(8 * 4);
  const TensorId table = g.external(make_tensor(TensorType::F32, {8, 4, 1, 1}, table_data.data(), "token_embd"));
  const TensorId ids = g.input(TensorType::I32, {2, 1, 1, 1}, "inp_tokens");
  const TensorId x = g.tensor(TensorType::F32, {8, 2, 1, 1}, "inp_embd");
  g.get_rows(table, ids, x);
  const int slot = g.cache(8, 0, 0);
  g.store_latent(x, slot);
  const int32_t bad[2] = {1, 4}, good[2] = {1, 3};
  std::vector<char> page(8 * 4 * 16);
  void* pages[1] = {page.data()};
  CacheBinding cache{{TensorType::F32, pages, 16, 0, 32, 8, 4}, 0};
  const void* inputs[1] = {bad};
  Bindings b;
  b.inputs = inputs;
  b.caches = std::span(&cache, 1);
  expect_error([&] { g.check(b); }, {"get_rows", "row 4", "[0, 4)"});
  inputs[0] = good;
  g.check(b);
  cache.first_pos = 3;  // rows 3..5 of 4
  expect_error([&] { g.check(b); }, {"store_latent", "exceed"});
  cache.first_pos = 0;
  cache.rows.type = TensorType::Q4_K;
  expect_error([&] { g.check(b); }, {"Q4_K", "F32, F16, BF16, Q8_0"});
}

TEST(Graph, MemoryPlanReusesWhatIsDead) {
  // x -> a -> b -> c (read back): at most two of them are alive at once, so b takes x's memory
  // and c takes a's; outputs stay to the end.
  Graph g;
  std::vector<float> w_data(64, 1.0f), table_data(64 * 4);
  const TensorId w = g.external(make_tensor(TensorType::F32, {64, 1, 1, 1}, w_data.data(), "norm"));
  const TensorId table = g.external(make_tensor(TensorType::F32, {64, 4, 1, 1}, table_data.data(), "token_embd"));
  const TensorId ids = g.input(TensorType::I32, {4, 1, 1, 1}, "inp_tokens");
  std::vector<TensorId> t;
  for (const char* name : {"x", "a", "b", "c"}) t.push_back(g.tensor(TensorType::F32, {64, 4, 1, 1}, name));
  g.get_rows(table, ids, t[0]);
  for (size_t i = 1; i < t.size(); ++i) g.rms_norm(t[i - 1], w, 1e-6f, t[i]);
  g.output(t[3]);
  const MemoryPlan in_arena = plan_memory(g, 64, true);
  const size_t size = 64 * 4 * sizeof(float);
  EXPECT_EQ(in_arena.bytes, 2 * size);
  EXPECT_EQ(in_arena.offset[size_t(t[2])], in_arena.offset[size_t(t[0])]);
  EXPECT_NE(in_arena.offset[size_t(t[3])], in_arena.offset[size_t(t[2])]);
  // Outputs computed in the caller's memory take none of the arena.
  const MemoryPlan outside = plan_memory(g, 64, false);
  EXPECT_EQ(outside.offset[size_t(t[3])], SIZE_MAX);
  EXPECT_EQ(outside.bytes, 2 * size);
}

}  // namespace
}  // namespace latent::backend
