// x86 SIMD building blocks shared by the AVX2 and AVX-512 kernel translation units. Each of
// those is compiled with its own target flags, so this header may only be included there (it
// uses AVX2/FMA/F16C intrinsics unconditionally).
#pragma once

#include <immintrin.h>

#include "quant/blocks.h"

// Everything here has internal linkage: each including translation unit is compiled for a
// different ISA, and inline or template functions are otherwise weak symbols that the linker
// merges, so one level's code could run the other's copy (a different summation order, or
// AVX-512 instructions on an AVX2 CPU). GCC gives templates instantiated with a kernel from an
// anonymous namespace external linkage, so the namespace has to be here.
namespace latent::quant::detail::x86 {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15), then high (16..31).
inline __m256i nibbles_32(const uint8_t* q) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
  return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

// 32 bits -> 32 bytes, 0xFF where the bit is set (bit k -> byte k).
inline __m256i bits_to_bytes_32(const uint8_t* p) {
  const __m256i t = _mm256_set1_epi32(static_cast<int>(load_u32(p)));
  const __m256i spread = _mm256_shuffle_epi8(
      t, _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i with_others = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(with_others, _mm256_set1_epi64x(-1));
}

// Sum of products of unsigned bytes u (<= 255 when s is within ±127 and pairs stay below 2^15)
// and signed bytes s, as 8 int32 lanes.
inline __m256i dot_us8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Same for two signed byte vectors (|a| via sign, sign moved onto b).
inline __m256i dot_ss8(__m256i a, __m256i b) { return dot_us8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a)); }

// Σ_j mn[j]·(bsums[2j] + bsums[2j+1]), the K-quant min correction: each min widened to two
// int16 lanes, one VPMADDWD.
inline int mins_dot_bsums(const uint8_t mn[8], const int16_t* bsums) {
  const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn));
  const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
  return hsum_i32(_mm256_madd_epi16(m16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums))));
}

// Kernels that share one decoded weight row between C activation columns are class templates
// Kernel<C> with static void dot(n, w_row, x[C], out[C]); per column they do exactly the float
// operations of the one-column instance, in the same order, so every width gives vec_dot's bits.

// The one-column instance as the table's DotFn.
template <template <int> class Kernel>
float dot_one(int64_t n, const void* w, const void* x) {
  float r;
  Kernel<1>::dot(n, w, &x, &r);
  return r;
}

template <template <int> class Kernel, int C>
void tile_rows(int64_t n, const uint8_t* w, size_t stride, int64_t n_rows, const void* const* x, float* const* out) {
  for (int64_t r = 0; r < n_rows; ++r) {
    float res[C];
    Kernel<C>::dot(n, w + static_cast<size_t>(r) * stride, x, res);
    for (int c = 0; c < C; ++c) out[c][r] = res[c];
  }
}

// The table's DotTileFn (n_cols in [1, kTileCols]).
template <template <int> class Kernel>
void tile_loop(int64_t n, const void* w, size_t stride, int64_t n_rows, const void* const* x, int64_t n_cols,
               float* const* out) {
  static_assert(kTileCols == 4, "one case per width below");
  auto* p = static_cast<const uint8_t*>(w);
  switch (n_cols) {
    case 4: return tile_rows<Kernel, 4>(n, p, stride, n_rows, x, out);
    case 3: return tile_rows<Kernel, 3>(n, p, stride, n_rows, x, out);
    case 2: return tile_rows<Kernel, 2>(n, p, stride, n_rows, x, out);
    default: return tile_rows<Kernel, 1>(n, p, stride, n_rows, x, out);
  }
}

}  // namespace
}  // namespace latent::quant::detail::x86
