// Random data for the backend op tests: uniform floats, and rows of them encoded in a GGUF weight
// type as a model file stores them.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "gguf/tensor_type.h"
#include "quant/quant.h"

namespace latent::testing {

inline std::vector<float> random_floats(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Bytes of x in rows of `row` values of type t: F32 as is, F16 rounded, quantized types through
// the reference quantizer.
inline std::vector<uint8_t> encode(gguf::TensorType t, const std::vector<float>& x, int64_t row) {
  std::vector<uint8_t> out(gguf::row_bytes(t, row) * (x.size() / size_t(row)));
  for (size_t r = 0; r < x.size() / size_t(row); ++r)
    quant::quantize_row(t, x.data() + r * size_t(row), out.data() + r * gguf::row_bytes(t, row), row);
  return out;
}

}  // namespace latent::testing
