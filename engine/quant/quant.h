// Quantized block formats of GGUF tensors: dequantization (bit-exact with ggml), reference
// quantizers, and the fast dot products the matmuls are built from.
//
// The fast path follows ggml's scheme: activations are converted once per row to the format
// `vec_dot_type(weight_type)`, then `vec_dot` multiplies a weight row in its stored format
// against them. SIMD (AVX2+FMA+F16C, AVX-512 F/BW/VL with VNNI) is chosen at run time from the
// CPU; the scalar reference stays available for tests.
//
// Activation formats (vec_dot_type):
//   Q4_0, Q5_0, Q8_0 weights -> Q8_0, exactly as llama.cpp's x86 path quantizes activations:
//       id = 127/amax (f32), q = round-half-even(x*id), scale fp16(amax/127).
//   Q4_1, Q5_1 weights       -> Q8_1, same quants and scale as Q8_0; the second half-word holds
//       the exact int16 sum of the 32 quants (ggml stores fp16(d*sum) there), so the min term
//       m*d_x*sum is computed without ggml's extra fp16 rounding.
//   Q4_K, Q5_K, Q6_K weights -> Q8_K, as ggml's quantize_row_q8_K_ref: max = the signed value
//       of largest magnitude, iscale = -127/max, q = min(127, round-half-even(iscale*x)),
//       d = 1/iscale (f32), bsums = sums of 16 quants.
//   F32, F16, BF16 weights   -> F32: activations stay f32 and the weights are widened, which is
//       more accurate than ggml's conversion of the activations to F16/BF16 (the golden models'
//       F32 matmuls are unaffected; F16 token embeddings are only looked up, not multiplied).
// Every dot accumulates exact integer block sums and applies the float scales per block, like
// ggml; SIMD kernels differ from the scalar reference only in float summation order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gguf/tensor_type.h"

namespace latent::quant {

using gguf::TensorType;

// IEEE binary16 and bfloat16 conversions, round-to-nearest-even (what F16C and ggml do).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);

// True for the types dequantize_row / quantize_row / vec_dot accept: F32, F16, BF16, Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, and the activation formats Q8_1 and Q8_K
// (dequantize/quantize only).
bool is_supported(TensorType t);

// n must be a multiple of the type's block size.
void dequantize_row(TensorType t, const void* src, float* dst, int64_t n);
// Weight quantizers. The legacy formats (Q4_0 .. Q8_0) reproduce ggml's reference quantizers
// bit for bit; the K-quants use a least-squares fit of each sub-block's scale (and min) followed
// by 6/8-bit super-block scale quantization: valid blocks of similar accuracy to llama-quantize
// without an importance matrix, not bit-identical to it. Q8_1/Q8_K give the activation formats.
void quantize_row(TensorType t, const float* src, void* dst, int64_t n);

// The activation format that vec_dot for weight type t consumes.
TensorType vec_dot_type(TensorType t);
// Bytes quantize_activations writes for n activations: gguf::row_bytes(vec_dot_type(t), n).
size_t activation_row_bytes(TensorType t, int64_t n);
// Converts n activations into vec_dot_type(t): dst holds activation_row_bytes(t, n) bytes.
void quantize_activations(TensorType t, const float* x, void* dst, int64_t n);
// Dot product of one weight row (n elements, type t) with activations prepared above.
float vec_dot(TensorType t, int64_t n, const void* w_row, const void* x_prepared);
// The matmul entry point: out[r] = vec_dot(t, n, w + r*w_row_stride, x_prepared) for r in
// [0, n_rows). The kernel is resolved once per call (no per-row dispatch or checks); it runs
// on the calling thread (split the rows across threads for parallelism). w_row_stride is in bytes (gguf::row_bytes(t, n) for a
// contiguous matrix).
void vec_dot_rows(TensorType t, int64_t n, const void* w, size_t w_row_stride, int64_t n_rows,
                  const void* x_prepared, float* out);
// Matrix times several activation rows (prefill): for c in [0, n_cols) and r in [0, n_rows),
//   out[c][r] = vec_dot(t, n, w + r*w_row_stride, x[c]).
// x[c] is a prepared activation row and out[c] has room for n_rows floats: lists of pointers, so
// that a matmul can pass the tokens routed to one expert where they lie. Weight rows are
// processed in chunks of about 64 KiB that stay in L2 while every activation row passes over
// them, so the weights come from DRAM once instead of once per token; within a chunk the SIMD
// kernels of the quantized types (AVX-512: all; AVX2: Q8_0 and the K-quants) decode each
// weight block once for 4 activation rows, the others run vec_dot_rows' kernel per row. Results are bit-identical to vec_dot. Runs on the calling thread.
void vec_dot_tile(TensorType t, int64_t n, const void* w, size_t w_row_stride, int64_t n_rows,
                  const void* const* x, int64_t n_cols, float* const* out);
// The same in plain scalar code, the reference tests compare the SIMD kernels against.
float vec_dot_reference(TensorType t, int64_t n, const void* w_row, const void* x_prepared);

// "avx512", "avx2" or "scalar": the kernels vec_dot dispatches to on this CPU.
std::string_view simd_level();
// For benchmarks and tests: selects the kernels of a level ("avx512", "avx2", "scalar") if this
// CPU supports it, and returns whether it did. Not meant to be changed while dots are running.
bool set_simd_level(std::string_view level);

}  // namespace latent::quant
