#include "backend/vulkan/kernel_types.h"

#include <array>
#include <string_view>

namespace latent::backend::vulkan {
namespace {

using gguf::TensorType;

struct Entry {
  TensorType type;
  const char* suffix;
};

constexpr std::array kWeightTypes{
    Entry{TensorType::F32, "f32"},   Entry{TensorType::F16, "f16"},   Entry{TensorType::BF16, "bf16"},
    Entry{TensorType::Q8_0, "q8_0"}, Entry{TensorType::Q4_0, "q4_0"}, Entry{TensorType::Q4_1, "q4_1"},
    Entry{TensorType::Q5_0, "q5_0"}, Entry{TensorType::Q5_1, "q5_1"}, Entry{TensorType::Q4_K, "q4_k"},
    Entry{TensorType::Q5_K, "q5_k"}, Entry{TensorType::Q6_K, "q6_k"},
};

constexpr std::array kCacheTypes{
    Entry{TensorType::F32, "f32"},
    Entry{TensorType::F16, "f16"},
    Entry{TensorType::BF16, "bf16"},
    Entry{TensorType::Q8_0, "q8_0"},
};

template <size_t N>
const Entry* find(const std::array<Entry, N>& table, TensorType t) {
  for (const auto& e : table)
    if (e.type == t) return &e;
  return nullptr;
}

template <size_t N>
std::string list(const std::array<Entry, N>& table) {
  std::string s;
  for (size_t i = 0; i < N; ++i) {
    if (i) s += i + 1 == N ? " and " : ", ";
    s += gguf::type_name(table[i].type);
  }
  return s;
}

}  // namespace

bool has_weight_kernels(TensorType t) { return find(kWeightTypes, t) != nullptr; }
const char* weight_suffix(TensorType t) {
  const Entry* e = find(kWeightTypes, t);
  return e ? e->suffix : "";
}
std::string weight_types_list() { return list(kWeightTypes); }

bool has_cache_kernels(TensorType t) { return find(kCacheTypes, t) != nullptr; }
const char* cache_suffix(TensorType t) {
  const Entry* e = find(kCacheTypes, t);
  return e ? e->suffix : "";
}
std::string cache_types_list() { return list(kCacheTypes); }

}  // namespace latent::backend::vulkan
