// The kernels of attention_tiles.h over a 16-float vector type V of one ISA (included by each
// ISA's translation unit, which defines V: zero, load, store, broadcast, fma and the scalar fma1).
// V holds 16 lanes on every ISA so that the lanes, and therefore the sums, are the same.
#pragma once

#include <cstdint>

namespace latent::backend::cpu::detail {
namespace {

// The 16 running sums of a dot product, added lane 0 to 15.
inline float sum_lanes(const V& v) {
  float a[16];
  V::store(a, v);
  float s = 0;
  for (int l = 0; l < 16; ++l) s += a[l];
  return s;
}

template <int R, int K>
inline void score_block(const float* const* q, const float* k, int64_t ks, int64_t n, float* out, int64_t os) {
  V acc[R][K];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < K; ++j) acc[r][j] = V::zero();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    V kv[K];
    for (int j = 0; j < K; ++j) kv[j] = V::load(k + j * ks + i);
    for (int r = 0; r < R; ++r) {
      const V qv = V::load(q[r] + i);
      for (int j = 0; j < K; ++j) acc[r][j] = V::fma(qv, kv[j], acc[r][j]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < K; ++j) {
      float s = sum_lanes(acc[r][j]);
      for (int64_t t = i; t < n; ++t) s = V::fma1(q[r][t], k[j * ks + t], s);
      out[r * os + j] = s;
    }
}

template <int R, int K>
inline void score_all(const float* const* q, int64_t nq, const float* k, int64_t ks, int64_t nk, int64_t n, float* out,
                      int64_t os) {
  for (int64_t j = 0; j < nk; j += K) {
    const float* kj = k + j * ks;
    if (j + K <= nk) {
      int64_t r = 0;
      for (; r + R <= nq; r += R) score_block<R, K>(q + r, kj, ks, n, out + r * os + j, os);
      for (; r < nq; ++r) score_block<1, K>(q + r, kj, ks, n, out + r * os + j, os);
    } else {
      for (int64_t jj = j; jj < nk; ++jj)
        for (int64_t r = 0; r < nq; ++r) score_block<1, 1>(q + r, k + jj * ks, ks, n, out + r * os + jj, os);
    }
  }
}

// Columns [i, i + 16 C) of R outputs, over all n_v rows of the tile.
template <int R, int C>
inline void accumulate_block(const float* p, int64_t ps, const float* v, int64_t vs, int64_t nv, float* const* o,
                             int64_t i) {
  V acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = V::load(o[r] + i + 16 * c);
  for (int64_t j = 0; j < nv; ++j) {
    V vv[C];
    for (int c = 0; c < C; ++c) vv[c] = V::load(v + j * vs + i + 16 * c);
    for (int r = 0; r < R; ++r) {
      const V a = V::broadcast(p[r * ps + j]);
      for (int c = 0; c < C; ++c) acc[r][c] = V::fma(a, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) V::store(o[r] + i + 16 * c, acc[r][c]);
}

template <int R, int C>
inline void accumulate_all(const float* p, int64_t ps, int64_t no, const float* v, int64_t vs, int64_t nv, int64_t n,
                           float* const* o) {
  int64_t r = 0;
  auto rows = [&](auto block, auto block_one, int64_t rr, int64_t count) {
    int64_t i = 0;
    for (; i + 16 * C <= n; i += 16 * C) block(rr, i);
    for (; i + 16 <= n; i += 16) block_one(rr, i);
    for (int64_t x = rr; x < rr + count; ++x)
      for (int64_t t = i; t < n; ++t) {
        float s = o[x][t];
        for (int64_t j = 0; j < nv; ++j) s = V::fma1(p[x * ps + j], v[j * vs + t], s);
        o[x][t] = s;
      }
  };
  for (; r + R <= no; r += R)
    rows([&](int64_t rr, int64_t i) { accumulate_block<R, C>(p + rr * ps, ps, v, vs, nv, o + rr, i); },
         [&](int64_t rr, int64_t i) { accumulate_block<R, 1>(p + rr * ps, ps, v, vs, nv, o + rr, i); }, r, R);
  for (; r < no; ++r)
    rows([&](int64_t rr, int64_t i) { accumulate_block<1, C>(p + rr * ps, ps, v, vs, nv, o + rr, i); },
         [&](int64_t rr, int64_t i) { accumulate_block<1, 1>(p + rr * ps, ps, v, vs, nv, o + rr, i); }, r, 1);
}

}  // namespace
}  // namespace latent::backend::cpu::detail
