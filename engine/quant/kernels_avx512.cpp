// AVX-512 (F, BW, VL) + VNNI dot kernels; this file alone is compiled with those target flags
// and is only called after the dispatcher checked the CPU. Float formats use 512-bit FMA,
// legacy 32-element formats VPDPBUSD on 256-bit registers, K-quants 512-bit VPMADDUBSW with
// per-32 scales (two sub-blocks per register).
#include <type_traits>

#include "quant/kernels_x86.h"

namespace latent::quant::detail {

using namespace x86;

namespace {

inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

float dot_f32(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const float*>(w);
  auto* b = static_cast<const float*>(x);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(),
         acc3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
  }
  for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
  }
  return hsum512(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

inline __m512 load_f16x16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load_f16x16_masked(const uint8_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512 load_bf16x16(const uint8_t* p) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
inline __m512 load_bf16x16_masked(const uint8_t* p, __mmask16 m) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

template <__m512 (*Load)(const uint8_t*), __m512 (*LoadMasked)(const uint8_t*, __mmask16)>
float dot_half(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const uint8_t*>(w);
  auto* b = static_cast<const float*>(x);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(),
         acc3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_fmadd_ps(Load(a + 2 * i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(Load(a + 2 * i + 32), _mm512_loadu_ps(b + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(Load(a + 2 * i + 64), _mm512_loadu_ps(b + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(Load(a + 2 * i + 96), _mm512_loadu_ps(b + i + 48), acc3);
  }
  for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(Load(a + 2 * i), _mm512_loadu_ps(b + i), acc0);
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(LoadMasked(a + 2 * i, m), _mm512_maskz_loadu_ps(m, b + i), acc1);
  }
  return hsum512(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }


// Legacy formats against Q8_0/Q8_1, one block per 256-bit register. VPDPBUSD multiplies
// unsigned by signed bytes and sums groups of four into int32 in one instruction (AVX2 needs
// VPMADDUBSW + VPMADDWD): unsigned quants (Q4_1, Q5_1) go in directly, signed ones (Q4_0, Q5_0,
// Q8_0) as |w| with w's sign moved onto the activations. Two blocks per 512-bit register were
// measured slower on the development machine: the per-block scale work, not the byte math,
// dominates, and 512-bit ops halve the ports available for it.
template <typename WBlock, typename XBlock, auto Quants, bool kSigned, bool kHasMin, int C>
struct Legacy {
  // Block i of the row against block i of each column; q and |q| are decoded once for all.
  static void block(const WBlock& a, const XBlock* const* b, int64_t i, __m256* acc, float* acc_m) {
    const __m256i q = Quants(a);
    const __m256i u = kSigned ? _mm256_sign_epi8(q, q) : q;
    const float da = h2f(a.d);
    for (int c = 0; c < C; ++c) {
      const __m256i y = load256(b[c][i].qs);
      const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, kSigned ? _mm256_sign_epi8(y, q) : y);
      const float dy = h2f(b[c][i].d);
      if constexpr (kHasMin) acc_m[c] += h2f(a.m) * (dy * static_cast<float>(b[c][i].s));
      acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(da * dy), _mm256_cvtepi32_ps(s), acc[c]);
    }
  }

  static void dot(int64_t n, const void* w, const void* const* x, float* out) {
    auto* a = static_cast<const WBlock*>(w);
    const XBlock* b[C];
    for (int c = 0; c < C; ++c) b[c] = static_cast<const XBlock*>(x[c]);
    // Two accumulators per column halve the FMA latency chain.
    __m256 acc0[C], acc1[C];
    float acc_m[C];
    for (int c = 0; c < C; ++c) acc0[c] = acc1[c] = _mm256_setzero_ps(), acc_m[c] = 0;
    const int64_t nb = n / kQK;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
      block(a[i], b, i, acc0, acc_m);
      block(a[i + 1], b, i + 1, acc1, acc_m);
    }
    if (i < nb) block(a[i], b, i, acc0, acc_m);
    for (int c = 0; c < C; ++c) out[c] = hsum(_mm256_add_ps(acc0[c], acc1[c])) + acc_m[c];
  }
};

inline __m256i q_q8_0(const BlockQ8_0& blk) { return load256(blk.qs); }
inline __m256i q_q4_0(const BlockQ4_0& blk) { return _mm256_sub_epi8(nibbles_32(blk.qs), _mm256_set1_epi8(8)); }
inline __m256i q_q4_1(const BlockQ4_1& blk) { return nibbles_32(blk.qs); }
// Q5_0: nibble | 0xF0 where the fifth bit is clear, i.e. nibble + 16*bit - 16 as int8.
inline __m256i q_q5_0(const BlockQ5_0& blk) {
  return _mm256_or_si256(nibbles_32(blk.qs), _mm256_maskz_set1_epi8(~load_u32(blk.qh), static_cast<char>(0xF0)));
}
inline __m256i q_q5_1(const BlockQ5_1& blk) {
  return _mm256_or_si256(nibbles_32(blk.qs), _mm256_maskz_set1_epi8(load_u32(blk.qh), 0x10));
}

// The 8 sub-block scales as int16 in the low lanes of a zmm; scale_pair(s, j) spreads scale
// 2j over int16 lanes 0..15 and 2j+1 over lanes 16..31 (the products of sub-blocks 2j, 2j+1).
inline __m512i scales_epi16(const uint8_t sc[8]) {
  return _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc))));
}
inline __m512i scale_pair(__m512i s16, int j) {
  const __m512i idx = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16(static_cast<short>(2 * j)),
                                              _mm512_set1_epi16(static_cast<short>(2 * j + 1)));
  return _mm512_permutexvar_epi16(idx, s16);
}

// Q4_K and Q5_K: 8 sub-blocks of 32 quants with 6-bit scales and mins; Q5_K's quants take a
// fifth bit from qh.
template <typename Block, int C>
struct KQuant45 {
  static constexpr bool kFifthBit = std::is_same_v<Block, BlockQ5_K>;

  static void dot(int64_t n, const void* w, const void* const* x, float* out) {
    auto* a = static_cast<const Block*>(w);
    const BlockQ8_K* b[C];
    __m512 acc[C];
    float acc_m[C];
    for (int c = 0; c < C; ++c) b[c] = static_cast<const BlockQ8_K*>(x[c]), acc[c] = _mm512_setzero_ps(), acc_m[c] = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / kQKK; ++i) {
      uint8_t sc[8], mn[8];
      unpack_scales_k4(a[i].scales, sc, mn);
      const __m512i s16 = scales_epi16(sc);
      __m512i sumi[C];
      for (int c = 0; c < C; ++c) sumi[c] = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        const __m256i q = load256(a[i].qs + 32 * j);
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if constexpr (kFifthBit) {
          const __m256i hb = load256(a[i].qh);
          lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4));
          hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4));
        }
        const __m512i u = join(lo, hi);
        const __m512i scale = scale_pair(s16, j);
        for (int c = 0; c < C; ++c) {
          const __m512i y = _mm512_loadu_si512(b[c][i].qs + 64 * j);
          sumi[c] = _mm512_add_epi32(sumi[c], _mm512_madd_epi16(_mm512_maddubs_epi16(u, y), scale));
        }
      }
      const float d = h2f(a[i].d), dmin = h2f(a[i].dmin);
      for (int c = 0; c < C; ++c) {
        acc[c] = _mm512_fmadd_ps(_mm512_set1_ps(d * b[c][i].d), _mm512_cvtepi32_ps(sumi[c]), acc[c]);
        acc_m[c] += (dmin * b[c][i].d) * static_cast<float>(mins_dot_bsums(mn, b[c][i].bsums));
      }
    }
    for (int c = 0; c < C; ++c) out[c] = hsum512(acc[c]) - acc_m[c];
  }
};
template <int C> using Q4K = KQuant45<BlockQ4_K, C>;
template <int C> using Q5K = KQuant45<BlockQ5_K, C>;

template <int C>
struct Q6K {
  static void dot(int64_t n, const void* w, const void* const* x, float* out) {
    auto* a = static_cast<const BlockQ6_K*>(w);
    const BlockQ8_K* b[C];
    float acc[C];
    for (int c = 0; c < C; ++c) b[c] = static_cast<const BlockQ8_K*>(x[c]), acc[c] = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    // int16 lane k of a 64-element product takes scale k/8 (16 elements per scale).
    const __m512i idx_lo = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                            1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i idx_hi = _mm512_add_epi16(idx_lo, _mm512_set1_epi16(4));
    for (int64_t i = 0; i < n / kQKK; ++i) {
      __m512i sumi[C];
      for (int c = 0; c < C; ++c) sumi[c] = _mm512_setzero_si512();
      for (int h = 0; h < 2; ++h) {
        const __m256i l0 = load256(a[i].ql + 64 * h);
        const __m256i l1 = load256(a[i].ql + 64 * h + 32);
        const __m256i hh = load256(a[i].qh + 32 * h);
        const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4));
        const __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4));
        const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4));
        const __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4));
        const __m512i s16 = _mm512_castsi128_si512(
            _mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a[i].scales + 8 * h))));
        const __m512i q12 = join(q1, q2), q34 = join(q3, q4);
        const __m512i sc_lo = _mm512_permutexvar_epi16(idx_lo, s16), sc_hi = _mm512_permutexvar_epi16(idx_hi, s16);
        for (int c = 0; c < C; ++c) {
          const __m512i y01 = _mm512_loadu_si512(b[c][i].qs + 128 * h);
          const __m512i y23 = _mm512_loadu_si512(b[c][i].qs + 128 * h + 64);
          sumi[c] = _mm512_add_epi32(sumi[c], _mm512_madd_epi16(_mm512_maddubs_epi16(q12, y01), sc_lo));
          sumi[c] = _mm512_add_epi32(sumi[c], _mm512_madd_epi16(_mm512_maddubs_epi16(q34, y23), sc_hi));
        }
      }
      const float d = h2f(a[i].d);
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales)));
      for (int c = 0; c < C; ++c) {
        // Quants are stored +32; the offset 32·Σ scale·bsum is removed once per block.
        const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(b[c][i].bsums)), 5);
        const int total = _mm512_reduce_add_epi32(_mm512_sub_epi32(sumi[c], _mm512_zextsi256_si512(offset)));
        acc[c] += (d * b[c][i].d) * static_cast<float>(total);
      }
    }
    for (int c = 0; c < C; ++c) out[c] = acc[c];
  }
};

template <DotFn F>
void rows_loop(int64_t n, const void* w, size_t stride, int64_t n_rows, const void* x, float* out) {
  auto* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < n_rows; ++r) out[r] = F(n, p + static_cast<size_t>(r) * stride, x);
}

template <int C> using LegacyQ4_0 = Legacy<BlockQ4_0, BlockQ8_0, q_q4_0, true, false, C>;
template <int C> using LegacyQ4_1 = Legacy<BlockQ4_1, BlockQ8_1, q_q4_1, false, true, C>;
template <int C> using LegacyQ5_0 = Legacy<BlockQ5_0, BlockQ8_0, q_q5_0, true, false, C>;
template <int C> using LegacyQ5_1 = Legacy<BlockQ5_1, BlockQ8_1, q_q5_1, false, true, C>;
template <int C> using LegacyQ8_0 = Legacy<BlockQ8_0, BlockQ8_0, q_q8_0, true, false, C>;

constexpr DotFn kF16 = dot_half<load_f16x16, load_f16x16_masked>;
constexpr DotFn kBF16 = dot_half<load_bf16x16, load_bf16x16_masked>;
constexpr DotFn kQ4_0 = dot_one<LegacyQ4_0>;
constexpr DotFn kQ4_1 = dot_one<LegacyQ4_1>;
constexpr DotFn kQ5_0 = dot_one<LegacyQ5_0>;
constexpr DotFn kQ5_1 = dot_one<LegacyQ5_1>;
constexpr DotFn kQ8_0 = dot_one<LegacyQ8_0>;
constexpr DotFn kQ4_K = dot_one<Q4K>;
constexpr DotFn kQ5_K = dot_one<Q5K>;
constexpr DotFn kQ6_K = dot_one<Q6K>;

}  // namespace

const KernelTable& avx512_kernels() {
  static const KernelTable t = {
      dot_f32, kF16, kBF16, kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0, kQ4_K, kQ5_K, kQ6_K,
      rows_loop<dot_f32>, rows_loop<kF16>, rows_loop<kBF16>, rows_loop<kQ4_0>, rows_loop<kQ4_1>,
      rows_loop<kQ5_0>, rows_loop<kQ5_1>, rows_loop<kQ8_0>, rows_loop<kQ4_K>, rows_loop<kQ5_K>,
      rows_loop<kQ6_K>,
      tile_loop<LegacyQ4_0>, tile_loop<LegacyQ4_1>, tile_loop<LegacyQ5_0>, tile_loop<LegacyQ5_1>,
      tile_loop<LegacyQ8_0>, tile_loop<Q4K>, tile_loop<Q5K>, tile_loop<Q6K>,
  };
  return t;
}

}  // namespace latent::quant::detail
