// Register-blocked f32 kernels of latent attention over a tile of cache rows: the scores of
// several query rows against the tile's keys, and the tile's rows weighted into several output
// rows. Prefill runs every (token, head) row of a block of tokens through one tile while the
// tile is in L1, so each kernel loads an operand once for several multiply-adds instead of
// once per multiply-add (a row-at-a-time dot product is load-bound).
//
// Every level (AVX-512, AVX2, scalar; quant::simd_level() picks) does the same arithmetic per
// element: fused multiply-adds into 16 running sums per dot product, in order, summed lane 0 to
// 15 at the end, so results do not depend on the CPU.
#pragma once

#include <cstdint>

namespace latent::backend::cpu {

// out[r * out_stride + j] = q[r][0:n] . (k + j * k_stride)[0:n] for r < n_q, j < n_k.
void score_tile(const float* const* q, int64_t n_q, const float* k, int64_t k_stride, int64_t n_k, int64_t n,
                float* out, int64_t out_stride);

// o[r][0:n] += sum over j < n_v, in order, of p[r * p_stride + j] * (v + j * v_stride)[0:n], for r < n_o.
void accumulate_tile(const float* p, int64_t p_stride, int64_t n_o, const float* v, int64_t v_stride, int64_t n_v,
                     int64_t n, float* const* o);

namespace detail {
using ScoreFn = void (*)(const float* const*, int64_t, const float*, int64_t, int64_t, int64_t, float*, int64_t);
using AccumulateFn = void (*)(const float*, int64_t, int64_t, const float*, int64_t, int64_t, int64_t, float* const*);
// Defined in attention_tiles_avx512.cpp / _avx2.cpp (compiled with those ISA flags).
void score_avx512(const float* const*, int64_t, const float*, int64_t, int64_t, int64_t, float*, int64_t);
void accumulate_avx512(const float*, int64_t, int64_t, const float*, int64_t, int64_t, int64_t, float* const*);
void score_avx2(const float* const*, int64_t, const float*, int64_t, int64_t, int64_t, float*, int64_t);
void accumulate_avx2(const float*, int64_t, int64_t, const float*, int64_t, int64_t, int64_t, float* const*);
}  // namespace detail

}  // namespace latent::backend::cpu
