// Quantized block formats of GGUF tensors: dequantization (bit-exact with ggml), reference
// quantizers, and the fast dot products the matmuls are built from.
//
// The fast path follows ggml's scheme: activations are converted once per row to the format
// `vec_dot_type(weight_type)` (Q8_0 blocks of 32 for the legacy 32-element formats, Q8_K blocks
// of 256 for K-quants, F32 for float weights), then `vec_dot` multiplies a weight row in its
// stored format against them. SIMD (AVX2, AVX-512) is chosen at run time from the CPU.
#pragma once

#include <cstdint>
#include <string_view>

#include "gguf/tensor_type.h"

namespace latent::quant {

using gguf::TensorType;

// n must be a multiple of the type's block size.
void dequantize_row(TensorType t, const void* src, float* dst, int64_t n);
void quantize_row(TensorType t, const float* src, void* dst, int64_t n);

// The activation format that vec_dot for weight type t consumes.
TensorType vec_dot_type(TensorType t);
// Converts n activations into vec_dot_type(t): dst holds gguf::row_bytes(vec_dot_type(t), n) bytes.
void quantize_activations(TensorType t, const float* x, void* dst, int64_t n);
// Dot product of one weight row (n elements, type t) with activations prepared above.
float vec_dot(TensorType t, int64_t n, const void* w_row, const void* x_prepared);
// The same in plain scalar code, the reference tests compare the SIMD kernels against.
float vec_dot_reference(TensorType t, int64_t n, const void* w_row, const void* x_prepared);

// "avx512", "avx2" or "scalar": the kernels vec_dot dispatches to on this CPU.
std::string_view simd_level();

}  // namespace latent::quant
