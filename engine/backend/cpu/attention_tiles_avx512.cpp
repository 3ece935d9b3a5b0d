// attention_tiles.h's kernels with AVX-512F: one zmm per 16 lanes, 4x4 score blocks and 8 rows
// by 32 columns of output (16 accumulators of the 32 registers).
#include <immintrin.h>

#include "backend/cpu/attention_tiles.h"

namespace latent::backend::cpu::detail {
namespace {
struct V {
  __m512 x;
  static V zero() { return {_mm512_setzero_ps()}; }
  static V load(const float* p) { return {_mm512_loadu_ps(p)}; }
  static void store(float* p, const V& v) { _mm512_storeu_ps(p, v.x); }
  static V broadcast(float a) { return {_mm512_set1_ps(a)}; }
  static V fma(const V& a, const V& b, const V& c) { return {_mm512_fmadd_ps(a.x, b.x, c.x)}; }
  static float fma1(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
};
}  // namespace
}  // namespace latent::backend::cpu::detail

#include "backend/cpu/attention_tiles_impl.h"

namespace latent::backend::cpu::detail {

void score_avx512(const float* const* q, int64_t nq, const float* k, int64_t ks, int64_t nk, int64_t n, float* out,
                  int64_t os) {
  score_all<4, 4>(q, nq, k, ks, nk, n, out, os);
}

void accumulate_avx512(const float* p, int64_t ps, int64_t no, const float* v, int64_t vs, int64_t nv, int64_t n,
                       float* const* o) {
  accumulate_all<8, 2>(p, ps, no, v, vs, nv, n, o);
}

}  // namespace latent::backend::cpu::detail
