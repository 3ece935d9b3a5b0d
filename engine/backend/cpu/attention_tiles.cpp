#include "backend/cpu/attention_tiles.h"

#include <cmath>
#include <string_view>

#include "quant/quant.h"

namespace latent::backend::cpu {
namespace detail {
namespace {
// Portable: the same fused multiply-adds per lane (libm's fmaf where the CPU has none).
struct V {
  float x[16];
  static V zero() { return {}; }
  static V load(const float* p) {
    V v;
    for (int l = 0; l < 16; ++l) v.x[l] = p[l];
    return v;
  }
  static void store(float* p, const V& v) {
    for (int l = 0; l < 16; ++l) p[l] = v.x[l];
  }
  static V broadcast(float a) {
    V v;
    for (float& e : v.x) e = a;
    return v;
  }
  static V fma(const V& a, const V& b, const V& c) {
    V v;
    for (int l = 0; l < 16; ++l) v.x[l] = std::fma(a.x[l], b.x[l], c.x[l]);
    return v;
  }
  static float fma1(float a, float b, float c) { return std::fma(a, b, c); }
};
}  // namespace
}  // namespace detail
}  // namespace latent::backend::cpu

#include "backend/cpu/attention_tiles_impl.h"

namespace latent::backend::cpu {
namespace {

// The attention kernels follow the quant library's choice of SIMD level (tests and benchmarks
// set it), read per call: cheap next to a tile's work.
template <class Avx512, class Avx2, class Scalar>
auto pick(Avx512 a512, Avx2 a2, Scalar s) {
  const std::string_view level = quant::simd_level();
#if defined(__x86_64__)
  if (level == "avx512") return a512;
  if (level == "avx2") return a2;
#endif
  return s;
}

}  // namespace

void score_tile(const float* const* q, int64_t n_q, const float* k, int64_t k_stride, int64_t n_k, int64_t n,
                float* out, int64_t out_stride) {
  pick(detail::ScoreFn(detail::score_avx512), detail::ScoreFn(detail::score_avx2),
       detail::ScoreFn(detail::score_all<1, 1>))(q, n_q, k, k_stride, n_k, n, out, out_stride);
}

void accumulate_tile(const float* p, int64_t p_stride, int64_t n_o, const float* v, int64_t v_stride, int64_t n_v,
                     int64_t n, float* const* o) {
  pick(detail::AccumulateFn(detail::accumulate_avx512), detail::AccumulateFn(detail::accumulate_avx2),
       detail::AccumulateFn(detail::accumulate_all<1, 1>))(p, p_stride, n_o, v, v_stride, n_v, n, o);
}

}  // namespace latent::backend::cpu
