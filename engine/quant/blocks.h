// ggml's block layouts (ggml-common.h) as packed structs, and the kernel table the SIMD
// translation units fill. Internal to engine/quant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gguf/tensor_type.h"

namespace latent::quant::detail {

inline constexpr int kQK = 32;    // legacy block
inline constexpr int kQKK = 256;  // K-quant super-block

struct BlockQ4_0 { uint16_t d; uint8_t qs[16]; };
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[16]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[32]; };
// s: exact sum of qs (see quant.h; ggml keeps fp16(d*sum) here).
struct BlockQ8_1 { uint16_t d; int16_t s; int8_t qs[32]; };
// scales: 8 six-bit scales and 8 six-bit mins packed in 12 bytes (see unpack_scales_k4).
struct BlockQ4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct BlockQ5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
struct BlockQ6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
struct BlockQ8_K { float d; int8_t qs[256]; int16_t bsums[16]; };

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36 &&
              sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 &&
              sizeof(BlockQ8_K) == 292, "block layouts must match ggml byte for byte");

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ggml's get_scale_min_k4 for all 8 sub-blocks at once, as word operations on the 12 bytes
// W0 W1 W2: bytes 0-3 hold sc0..3 (low 6 bits) and the top bits of sc4..7, bytes 4-7 mn0..3 and
// the top bits of mn4..7, bytes 8-11 the low nibbles of sc4..7 (low) and mn4..7 (high).
inline void unpack_scales_k4(const uint8_t* q, uint8_t sc[8], uint8_t mn[8]) {
  const uint32_t w0 = load_u32(q), w1 = load_u32(q + 4), w2 = load_u32(q + 8);
  const uint32_t s_lo = w0 & 0x3f3f3f3fu, m_lo = w1 & 0x3f3f3f3fu;
  const uint32_t s_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
  const uint32_t m_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
  std::memcpy(sc, &s_lo, 4);
  std::memcpy(sc + 4, &s_hi, 4);
  std::memcpy(mn, &m_lo, 4);
  std::memcpy(mn + 4, &m_hi, 4);
}

using DotFn = float (*)(int64_t n, const void* w, const void* x);
using DotRowsFn = void (*)(int64_t n, const void* w, size_t stride, int64_t n_rows, const void* x, float* out);
// out[c][r] = dot(row r, x[c]) for c < n_cols <= kTileCols, r < n_rows (see vec_dot_tile).
using DotTileFn = void (*)(int64_t n, const void* w, size_t stride, int64_t n_rows, const void* const* x,
                           int64_t n_cols, float* const* out);

// Columns a tile kernel multiplies each decoded weight block with: four columns' accumulators
// and the decoded quants still fit the 16 AVX2 registers, and prefill batches are rarely
// narrower.
inline constexpr int kTileCols = 4;

// One entry per weight type; null where a level has no specialised kernel (the dispatcher then
// falls back to the next lower level). The tile kernels exist where decoding a weight block
// costs enough to be worth sharing between columns; a null one means "loop the level's row
// kernel per column", never a lower level's, so that tiles stay bit-identical to vec_dot.
struct KernelTable {
  DotFn f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k;
  DotRowsFn rows_f32, rows_f16, rows_bf16, rows_q4_0, rows_q4_1, rows_q5_0, rows_q5_1, rows_q8_0,
      rows_q4_k, rows_q5_k, rows_q6_k;
  DotTileFn tile_q4_0, tile_q4_1, tile_q5_0, tile_q5_1, tile_q8_0, tile_q4_k, tile_q5_k, tile_q6_k;
};

const KernelTable& scalar_kernels();
const KernelTable& avx2_kernels();
const KernelTable& avx512_kernels();

// Activation quantizers by level (for finite inputs the SIMD ones produce identical bytes; tests
// check that; non-finite inputs give defined but level-dependent bytes).
void quantize_q8_0_act_scalar(const float* x, void* dst, int64_t n);
void quantize_q8_1_act_scalar(const float* x, void* dst, int64_t n);
void quantize_q8_k_act_scalar(const float* x, void* dst, int64_t n);
void quantize_q8_0_act_avx2(const float* x, void* dst, int64_t n);
void quantize_q8_1_act_avx2(const float* x, void* dst, int64_t n);

}  // namespace latent::quant::detail
