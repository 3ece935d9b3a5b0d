// attention_tiles.h's kernels with AVX2 + FMA: 16 lanes as two ymm, so blocks are smaller than
// AVX-512's (16 registers): 2x2 score blocks, 4 rows by 16 columns of output.
#include <immintrin.h>

#include "backend/cpu/attention_tiles.h"

namespace latent::backend::cpu::detail {
namespace {
struct V {
  __m256 lo, hi;
  static V zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static V load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  static void store(float* p, const V& v) {
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
  }
  static V broadcast(float a) { return {_mm256_set1_ps(a), _mm256_set1_ps(a)}; }
  static V fma(const V& a, const V& b, const V& c) {
    return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
  }
  static float fma1(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
};
}  // namespace
}  // namespace latent::backend::cpu::detail

#include "backend/cpu/attention_tiles_impl.h"

namespace latent::backend::cpu::detail {

void score_avx2(const float* const* q, int64_t nq, const float* k, int64_t ks, int64_t nk, int64_t n, float* out,
                int64_t os) {
  score_all<2, 2>(q, nq, k, ks, nk, n, out, os);
}

void accumulate_avx2(const float* p, int64_t ps, int64_t no, const float* v, int64_t vs, int64_t nv, int64_t n,
                     float* const* o) {
  accumulate_all<4, 1>(p, ps, no, v, vs, nv, n, o);
}

}  // namespace latent::backend::cpu::detail
