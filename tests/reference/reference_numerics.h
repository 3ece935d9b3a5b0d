// Independent reference numerics for tests: dequantization of every weight type the engine reads,
// IEEE half/bfloat16 conversion, and an emulation of llama.cpp's activation quantization.
//
// Written from the ggml block definitions (ggml-common.h layouts) without sharing code with
// engine/quant, so the two implementations check each other. Dequantization is bit-exact with
// ggml: every value is formed with the same float operations in the same order
// (e.g. Q4_K: `(d·sc)·q − dmin·m`), which the golden `dequant/` data verifies.
#pragma once

#include <cstdint>
#include <vector>

#include "gguf/tensor_type.h"

namespace latent::reference {

using gguf::TensorType;

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);  // round to nearest even, overflow to inf
float bf16_to_float(uint16_t h);
uint16_t float_to_bf16(float f);  // round to nearest even (ggml's rule; NaN kept quiet)

// Dequantizes n elements (a whole number of blocks) of type t. Throws std::invalid_argument for
// a type the engine does not read or an n that is not a multiple of the block size.
void dequantize(TensorType t, const uint8_t* src, float* dst, int64_t n);
std::vector<float> dequantize(TensorType t, const uint8_t* src, int64_t n);

// The activation format llama.cpp converts a matmul input to for weights of type t, as a
// round trip: x is replaced by the values the quantized dot product effectively multiplies.
//   F32 weights: unchanged. F16 / BF16: rounded to that format.
//   Q4_0, Q5_0, Q8_0 (and Q4_1, Q5_1 via Q8_1): Q8_0 blocks of 32, id = 127/amax in f32,
//     q = round-half-even(x·id), scale fp16(amax/127).
//   K-quants: Q8_K blocks of 256, iscale = −127/max (max = signed value of largest magnitude),
//     q = min(127, round(iscale·x)), scale 1/iscale in f32.
// n must be a multiple of the weight type's block size. Values are first rounded to float, as
// llama.cpp's activations are float.
void quantize_activations_roundtrip(TensorType weight_type, double* x, int64_t n);

}  // namespace latent::reference
