// AVX2 + FMA + F16C dot kernels (this file alone is compiled with -mavx2 -mfma -mf16c; it is
// only called after the dispatcher checked the CPU). Integer block sums are exact; only the
// float accumulation order differs from the scalar reference.
#include <type_traits>

#include "quant/kernels_x86.h"

namespace latent::quant::detail {

using namespace x86;

namespace {

float dot_f32(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const float*>(w);
  auto* b = static_cast<const float*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline __m256 load_f16x8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256 load_bf16x8(const uint8_t* p) {
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

template <__m256 (*Load)(const uint8_t*), float (*Scalar)(uint16_t)>
float dot_half(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const uint8_t*>(w);
  auto* b = static_cast<const float*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(Load(a + 2 * i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(Load(a + 2 * i + 16), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(Load(a + 2 * i + 32), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(Load(a + 2 * i + 48), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(Load(a + 2 * i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, a + 2 * i, 2);
    s += Scalar(h) * b[i];
  }
  return s;
}

float f16_scalar(uint16_t h) { return _cvtsh_ss(h); }
float bf16_scalar(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <int C>
struct Q8_0 {
  static void dot(int64_t n, const void* w, const void* const* x, float* out) {
    auto* a = static_cast<const BlockQ8_0*>(w);
    const BlockQ8_0* b[C];
    __m256 acc[C];
    for (int c = 0; c < C; ++c) b[c] = static_cast<const BlockQ8_0*>(x[c]), acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / kQK; ++i) {
      // dot_ss8 with |qa| shared between the columns.
      const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
      const __m256i ua = _mm256_sign_epi8(qa, qa);
      const float da = h2f(a[i].d);
      for (int c = 0; c < C; ++c) {
        const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[c][i].qs));
        const __m256 d = _mm256_set1_ps(da * h2f(b[c][i].d));
        acc[c] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_us8(ua, _mm256_sign_epi8(qb, qa))), acc[c]);
      }
    }
    for (int c = 0; c < C; ++c) out[c] = hsum(acc[c]);
  }
};

float dot_q4_0(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ4_0*>(w);
  auto* b = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK; ++i) {
    const __m256i qa = _mm256_sub_epi8(nibbles_32(a[i].qs), _mm256_set1_epi8(8));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_ss8(qa, qb)), acc);
  }
  return hsum(acc);
}

float dot_q5_0(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ5_0*>(w);
  auto* b = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK; ++i) {
    // q = nibble | 0xF0 where the fifth bit is clear: as int8 that is nibble + 16·bit − 16.
    const __m256i high = _mm256_andnot_si256(bits_to_bytes_32(a[i].qh), _mm256_set1_epi8(static_cast<char>(0xF0)));
    const __m256i qa = _mm256_or_si256(nibbles_32(a[i].qs), high);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_ss8(qa, qb)), acc);
  }
  return hsum(acc);
}

float dot_q4_1(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ4_1*>(w);
  auto* b = static_cast<const BlockQ8_1*>(x);
  __m256 acc = _mm256_setzero_ps();
  float acc_m = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const float dy = h2f(b[i].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * dy), _mm256_cvtepi32_ps(dot_us8(nibbles_32(a[i].qs), qb)), acc);
    acc_m += h2f(a[i].m) * (dy * static_cast<float>(b[i].s));
  }
  return hsum(acc) + acc_m;
}

float dot_q5_1(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ5_1*>(w);
  auto* b = static_cast<const BlockQ8_1*>(x);
  __m256 acc = _mm256_setzero_ps();
  float acc_m = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const __m256i high = _mm256_and_si256(bits_to_bytes_32(a[i].qh), _mm256_set1_epi8(0x10));
    const __m256i qa = _mm256_or_si256(nibbles_32(a[i].qs), high);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const float dy = h2f(b[i].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * dy), _mm256_cvtepi32_ps(dot_us8(qa, qb)), acc);
    acc_m += h2f(a[i].m) * (dy * static_cast<float>(b[i].s));
  }
  return hsum(acc) + acc_m;
}

// Q4_K and Q5_K: 8 sub-blocks of 32 quants with 6-bit scales and mins; Q5_K's quants take a
// fifth bit from qh.
template <typename Block, int C>
struct KQuant45 {
  static constexpr bool kFifthBit = std::is_same_v<Block, BlockQ5_K>;

  static void dot(int64_t n, const void* w, const void* const* x, float* out) {
    auto* a = static_cast<const Block*>(w);
    const BlockQ8_K* b[C];
    __m256 acc[C];
    float acc_m[C];
    for (int c = 0; c < C; ++c) b[c] = static_cast<const BlockQ8_K*>(x[c]), acc[c] = _mm256_setzero_ps(), acc_m[c] = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / kQKK; ++i) {
      uint8_t sc[8], mn[8];
      unpack_scales_k4(a[i].scales, sc, mn);
      __m256i sumi[C];
      for (int c = 0; c < C; ++c) sumi[c] = _mm256_setzero_si256();
      for (int j = 0; j < 4; ++j) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * j));
        __m256i q0 = _mm256_and_si256(q, m4), q1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if constexpr (kFifthBit) {
          const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh));
          q0 = _mm256_or_si256(q0, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4));
          q1 = _mm256_or_si256(q1, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4));
        }
        const __m256i s0 = _mm256_set1_epi16(sc[2 * j]), s1 = _mm256_set1_epi16(sc[2 * j + 1]);
        for (int c = 0; c < C; ++c) {
          const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[c][i].qs + 64 * j));
          const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[c][i].qs + 64 * j + 32));
          sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(_mm256_maddubs_epi16(q0, y0), s0));
          sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(_mm256_maddubs_epi16(q1, y1), s1));
        }
      }
      const float d = h2f(a[i].d), dmin = h2f(a[i].dmin);
      for (int c = 0; c < C; ++c) {
        acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * b[c][i].d), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
        acc_m[c] += (dmin * b[c][i].d) * static_cast<float>(mins_dot_bsums(mn, b[c][i].bsums));
      }
    }
    for (int c = 0; c < C; ++c) out[c] = hsum(acc[c]) - acc_m[c];
  }
};
template <int C> using Q4K = KQuant45<BlockQ4_K, C>;
template <int C> using Q5K = KQuant45<BlockQ5_K, C>;

template <int C>
struct Q6K {
  static void dot(int64_t n, const void* w, const void* const* x, float* out) {
    auto* a = static_cast<const BlockQ6_K*>(w);
    const BlockQ8_K* b[C];
    __m256 acc[C];
    for (int c = 0; c < C; ++c) b[c] = static_cast<const BlockQ8_K*>(x[c]), acc[c] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / kQKK; ++i) {
      __m256i sumi[C];
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales)));
      for (int c = 0; c < C; ++c) {
        // Quants are stored +32; the offset 32·Σ scale·bsum is removed once per block (in lane
        // 0: the lanes are converted to float separately, so where it goes decides the bits).
        const int offset = hsum_i32(_mm256_madd_epi16(sc16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[c][i].bsums))));
        sumi[c] = _mm256_setr_epi32(-32 * offset, 0, 0, 0, 0, 0, 0, 0);
      }
      for (int h = 0; h < 2; ++h) {
        const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].ql + 64 * h));
        const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].ql + 64 * h + 32));
        const __m256i hh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * h));
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4)),
            _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4)),
        };
        const int8_t* sc = a[i].scales + 8 * h;
        for (int k = 0; k < 4; ++k) {
          const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
          for (int c = 0; c < C; ++c) {
            const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[c][i].qs + 128 * h + 32 * k));
            sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], y), scale));
          }
        }
      }
      const float d = h2f(a[i].d);
      for (int c = 0; c < C; ++c)
        acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * b[c][i].d), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
    }
    for (int c = 0; c < C; ++c) out[c] = hsum(acc[c]);
  }
};

template <DotFn F>
void rows_loop(int64_t n, const void* w, size_t stride, int64_t n_rows, const void* x, float* out) {
  auto* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < n_rows; ++r) out[r] = F(n, p + static_cast<size_t>(r) * stride, x);
}

}  // namespace

void quantize_q8_0_act_avx2(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_bit, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float max_scalar = _mm_cvtss_f32(m);
    y[i].d = static_cast<uint16_t>(_cvtss_sh(max_scalar / 127.0f, 0));
    const __m256 id = _mm256_set1_ps(max_scalar != 0.0f ? 127.0f / max_scalar : 0.0f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k)
      q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    // Pack 4x8 int32 -> 32 int8 in element order (packs interleave 128-bit lanes; undo it).
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), p);
  }
}

void quantize_q8_1_act_avx2(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    BlockQ8_0 tmp;
    quantize_q8_0_act_avx2(x, &tmp, kQK);
    y[i].d = tmp.d;
    std::memcpy(y[i].qs, tmp.qs, 32);
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tmp.qs));
    y[i].s = static_cast<int16_t>(hsum_i32(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1))));
  }
}

const KernelTable& avx2_kernels() {
  constexpr DotFn kQ8_0 = dot_one<Q8_0>, kQ4_K = dot_one<Q4K>, kQ5_K = dot_one<Q5K>, kQ6_K = dot_one<Q6K>;
  static const KernelTable t = {
      dot_f32, dot_half<load_f16x8, f16_scalar>, dot_half<load_bf16x8, bf16_scalar>, dot_q4_0, dot_q4_1, dot_q5_0,
      dot_q5_1, kQ8_0, kQ4_K, kQ5_K, kQ6_K,
      rows_loop<dot_f32>, rows_loop<dot_half<load_f16x8, f16_scalar>>, rows_loop<dot_half<load_bf16x8, bf16_scalar>>,
      rows_loop<dot_q4_0>, rows_loop<dot_q4_1>, rows_loop<dot_q5_0>, rows_loop<dot_q5_1>, rows_loop<kQ8_0>,
      rows_loop<kQ4_K>, rows_loop<kQ5_K>, rows_loop<kQ6_K>,
      nullptr, nullptr, nullptr, nullptr, tile_loop<Q8_0>, tile_loop<Q4K>, tile_loop<Q5K>, tile_loop<Q6K>,
  };
  return t;
}

}  // namespace latent::quant::detail
