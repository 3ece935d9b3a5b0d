#include "fuzz/seeds.h"

#include <fstream>
#include <iterator>

#include "gguf/gguf.h"
#include "quant/quant.h"

namespace latent::fuzz {

namespace {

std::vector<uint8_t> read_prefix(const std::filesystem::path& p, size_t max_bytes) {
  std::ifstream in(p, std::ios::binary);
  std::vector<uint8_t> out(max_bytes);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(max_bytes));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

std::vector<uint8_t> written(const gguf::Writer& w, const std::filesystem::path& scratch, const std::string& name) {
  auto p = scratch / name;
  w.write(p);
  auto bytes = read_prefix(p, size_t(1) << 20);
  std::filesystem::remove(p);
  return bytes;
}

}  // namespace

std::vector<std::pair<std::string, std::vector<uint8_t>>> make_gguf_seeds(
    const std::vector<std::filesystem::path>& reference_files, const std::filesystem::path& scratch_dir) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds;
  std::filesystem::create_directories(scratch_dir);

  gguf::Writer meta;
  meta.add_string("general.architecture", "deepseek2");
  meta.add_uint32("deepseek2.block_count", 4);
  meta.add_int32("i32", -5);
  meta.add_uint64("u64", 1ull << 40);
  meta.add_float32("f32", 0.5f);
  meta.add_bool("flag", true);
  meta.add_string_array("tokenizer.ggml.tokens", {"a", "b", "\xc4\xa0" "c"});
  meta.add_int32_array("tokenizer.ggml.token_type", {1, 1, 3});
  meta.add_float32_array("tokenizer.ggml.scores", {0.f, -1.f, -2.f});
  seeds.emplace_back("metadata.gguf", written(meta, scratch_dir, "metadata.gguf"));

  using gguf::TensorType;
  const TensorType types[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0,
                              TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                              TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
  for (TensorType t : types) {
    gguf::Writer w;
    w.add_string("general.architecture", "deepseek2");
    const int64_t n = gguf::type_traits(static_cast<uint32_t>(t))->block_elements == 256 ? 256 : 64;
    std::vector<float> x(static_cast<size_t>(n * 2));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((static_cast<int>(i * 37 % 19)) - 9) * 0.125f;
    std::vector<uint8_t> q(gguf::row_bytes(t, n) * 2);
    quant::quantize_row(t, x.data(), q.data(), n * 2);
    w.add_tensor("blk.0.w", t, {n, 2}, q);
    const std::string name = "tensor_" + std::string(gguf::type_name(t)) + ".gguf";
    seeds.emplace_back(name, written(w, scratch_dir, name));
  }
  {
    gguf::Writer w;
    w.set_alignment(64);
    w.add_uint32("k", 1);
    w.add_tensor("a", TensorType::F32, {3, 1, 1, 2}, std::vector<uint8_t>(24, 0));
    w.add_tensor("b", TensorType::F16, {5}, std::vector<uint8_t>(10, 0x3c));
    seeds.emplace_back("aligned64.gguf", written(w, scratch_dir, "aligned64.gguf"));
  }
  for (const auto& p : reference_files)
    seeds.emplace_back(p.filename().string() + ".head", read_prefix(p, 64 * 1024));
  return seeds;
}

}  // namespace latent::fuzz
