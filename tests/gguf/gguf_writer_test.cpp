// Writer -> reader round trip: every metadata type, tensors of every supported type and shape,
// non-default alignment, verbatim copies of values from another file, and atomic replacement.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/golden.h"
#include "gguf/gguf.h"

using namespace latent;

namespace {

std::filesystem::path temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("latent_gguf_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

}  // namespace

TEST(gguf_writer, round_trip_all_value_types_and_tensors) {
  gguf::Writer w;
  w.set_alignment(64);
  w.add_string("general.architecture", "deepseek2");
  w.add_uint32("a.u32", 4000000000u);
  w.add_int32("a.i32", -7);
  w.add_uint64("a.u64", 1ull << 40);
  w.add_float32("a.f32", 0.1f);
  w.add_bool("a.bool", true);
  w.add_string("a.empty", "");
  w.add_string_array("a.strs", {"x", "", "\xc4\xa0hello"});
  w.add_int32_array("a.ints", {1, -2, 3});
  w.add_float32_array("a.floats", {1.5f, -0.25f});
  struct T {
    gguf::TensorType type;
    std::vector<int64_t> ne;
  };
  std::vector<T> ts = {{gguf::TensorType::F32, {7}},         {gguf::TensorType::F16, {3, 5}},
                       {gguf::TensorType::BF16, {2, 2, 2}},  {gguf::TensorType::Q8_0, {64, 3}},
                       {gguf::TensorType::Q4_0, {32, 2, 2, 2}}, {gguf::TensorType::Q4_1, {32}},
                       {gguf::TensorType::Q5_0, {96, 1}},    {gguf::TensorType::Q5_1, {32, 4}},
                       {gguf::TensorType::Q4_K, {256, 2}},   {gguf::TensorType::Q5_K, {512}},
                       {gguf::TensorType::Q6_K, {256, 3}}};
  std::vector<std::vector<uint8_t>> datas;
  for (size_t i = 0; i < ts.size(); ++i) {
    datas.push_back(random_bytes(gguf::tensor_bytes(ts[i].type, ts[i].ne), static_cast<uint32_t>(i)));
    w.add_tensor("t" + std::to_string(i), ts[i].type, ts[i].ne, datas.back());
  }
  auto path = temp_path("round_trip.gguf");
  w.write(path);

  auto f = gguf::File::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.require_uint("general.alignment"), 64u);
  EXPECT_EQ(f.require_string("general.architecture"), "deepseek2");
  EXPECT_EQ(f.require_uint("a.u32"), 4000000000u);
  EXPECT_EQ(f.find("a.i32")->as_int(), -7);
  EXPECT_THROW(f.get_uint("a.i32"), gguf::Error);  // negative
  EXPECT_EQ(f.require_uint("a.u64"), 1ull << 40);
  EXPECT_EQ(f.require_float("a.f32"), static_cast<double>(0.1f));
  EXPECT_EQ(f.get_bool("a.bool"), true);
  EXPECT_EQ(f.require_string("a.empty"), "");
  EXPECT_EQ(f.find("a.strs")->as_string_array(), (std::vector<std::string_view>{"x", "", "\xc4\xa0hello"}));
  EXPECT_EQ(f.find("a.ints")->as_int_array(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f.find("a.floats")->as_float_array(), (std::vector<double>{1.5, -0.25}));
  EXPECT_THROW(f.find("a.floats")->as_int_array(), gguf::Error);
  EXPECT_THROW(f.find("a.strs")->as_float_array(), gguf::Error);
  ASSERT_EQ(f.tensors().size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& t = f.require_tensor("t" + std::to_string(i));
    EXPECT_EQ(t.type, ts[i].type);
    EXPECT_EQ(t.ne, ts[i].ne);
    EXPECT_EQ(t.offset % 64, 0u);
    ASSERT_EQ(t.n_bytes, datas[i].size());
    EXPECT_TRUE(std::equal(datas[i].begin(), datas[i].end(), t.data)) << t.name;
  }
  std::filesystem::remove_all(path.parent_path());
}

TEST(gguf_writer, copies_values_verbatim_from_another_file) {
  auto vocab = gguf::File::open(latent::testing::golden_file("tokenizer/ggml-vocab-deepseek-coder.gguf"));
  gguf::Writer w;
  for (const auto& [k, v] : vocab.metadata()) w.add_value(k, v);
  auto path = temp_path("copy.gguf");
  w.write(path);
  auto f = gguf::File::open(path);
  ASSERT_EQ(f.metadata().size(), vocab.metadata().size());
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    const auto& [k1, v1] = vocab.metadata()[i];
    const auto& [k2, v2] = f.metadata()[i];
    EXPECT_EQ(k1, k2);
    EXPECT_EQ(v1.type(), v2.type()) << k1;
    EXPECT_EQ(v1.to_display_string(1000000), v2.to_display_string(1000000)) << k1;
  }
  // The payload is byte-identical: the header spans the same bytes.
  EXPECT_EQ(f.bytes().size(), vocab.bytes().size());
  EXPECT_TRUE(std::equal(f.bytes().begin() + 24, f.bytes().end(), vocab.bytes().begin() + 24));
  std::filesystem::remove_all(path.parent_path());
}

TEST(gguf_writer, rejects_invalid_input_and_replaces_atomically) {
  gguf::Writer w;
  EXPECT_THROW(w.set_alignment(48), gguf::Error);
  EXPECT_THROW(w.set_alignment(0), gguf::Error);
  w.add_uint32("k", 1);
  EXPECT_THROW(w.add_string("k", "again"), gguf::Error);
  EXPECT_THROW(w.add_tensor("t", gguf::TensorType::Q8_0, {33}, std::vector<uint8_t>(34)), gguf::Error);
  EXPECT_THROW(w.add_tensor("t", gguf::TensorType::F32, {4}, std::vector<uint8_t>(15)), gguf::Error);
  EXPECT_THROW(w.add_tensor("t", gguf::TensorType::F32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4)), gguf::Error);
  w.add_tensor("t", gguf::TensorType::F32, {4}, std::vector<uint8_t>(16, 1));
  EXPECT_THROW(w.add_tensor("t", gguf::TensorType::F32, {4}, std::vector<uint8_t>(16)), gguf::Error);

  auto path = temp_path("atomic.gguf");
  w.write(path);
  auto before = gguf::File::open(path);  // the old mapping stays valid after the replacement
  gguf::Writer w2;
  w2.add_uint32("k", 2);
  w2.write(path);
  EXPECT_EQ(before.require_uint("k"), 1u);
  EXPECT_EQ(before.require_tensor("t").data[0], 1);
  EXPECT_EQ(gguf::File::open(path).require_uint("k"), 2u);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(path.parent_path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u) << "temporary file left behind";
  EXPECT_THROW(w2.write(path.parent_path() / "no_such_dir" / "x.gguf"), gguf::Error);
  std::filesystem::remove_all(path.parent_path());
}
