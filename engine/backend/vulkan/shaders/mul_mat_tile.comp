// out[m, n, b] = sum_k w[k, m, b] x[k, n, b] for prefill: each workgroup computes a 32x32 tile
// of outputs (32 weight rows by 32 tokens), stepping along K one 32-element block at a time
// through shared memory, so every weight block is read from memory once per 32 tokens instead
// of once per token. Each of the 256 invocations owns a 2x2 sub-tile (rows tx, tx + 16; columns
// ty, ty + 16). Loads are row-contiguous, so neighbouring invocations read neighbouring words.
//   Float weights (TYPE_F32, TYPE_F16, TYPE_BF16): widened to f32, x stays f32 (as the CPU does).
//   Quantized weights: x was converted to the weight's activation format (Q8_0, Q8_1 or Q8_K:
//   quantize_q8_0.comp, quantize_q8_k.comp); exact integer sums per 32-element unit times the
//   scales (unit_dot).
#version 450
#extension GL_GOOGLE_include_directive : require
#if defined(TYPE_F32) || defined(TYPE_F16) || defined(TYPE_BF16)
#define FLOAT_WEIGHTS 1
#endif
layout(local_size_x = 256) in;
const uint T = 32u;
layout(binding = 0) readonly buffer Wt { uint w[]; };
#if !defined(FLOAT_WEIGHTS)
layout(binding = 1) readonly buffer X { uint xq[]; };
#else
layout(binding = 1) readonly buffer X { float x[]; };
#endif
layout(binding = 2) writeonly buffer O { float o[]; };
// As mul_mat_vec.comp (the id fields unused).
layout(push_constant) uniform Push {
  uint K; uint M; uint N; uint B;
  uint w_off; uint w_nb1; uint w_nb2;
  uint x_off; uint x_nb1; uint x_nb2;
  uint o_off; uint o_nb1; uint o_nb2;
  uint ids_off; uint ids_nb1; uint n_expert;
} p;
#include "common.glsl"
#include "quant.glsl"
#if !defined(FLOAT_WEIGHTS)
#include "unit_dot.glsl"
#endif

#if !defined(FLOAT_WEIGHTS)
shared Unit wsu[T];
shared uint xs[T][ACT_WORDS];
#else
shared float ws[T][T + 1u];  // +1: the compute loop reads columns, padding avoids bank conflicts
shared float xs[T][T + 1u];
#endif

void main() {
  const uint tiles_m = (p.M + T - 1u) / T, tiles_n = (p.N + T - 1u) / T;
  const uint g = group_index();
  if (g >= tiles_m * tiles_n * p.B) return;  // uniform over the workgroup
  const uint m0 = (g % tiles_m) * T, n0 = ((g / tiles_m) % tiles_n) * T, b = g / (tiles_m * tiles_n);
  const uint lid = gl_LocalInvocationID.x, tx = lid % 16u, ty = lid / 16u;
  const uint wbase = p.w_off + b * p.w_nb2;
  const uint xbase = p.x_off + b * p.x_nb2;
  float acc[2][2] = {{0.0, 0.0}, {0.0, 0.0}};

#if !defined(FLOAT_WEIGHTS)
  for (uint u = 0u; u < p.K / 32u; ++u) {
    if (lid < T) {  // the first 32 invocations load one weight row's unit each
      const uint m = m0 + lid;
      wsu[lid] = load_unit(wbase + min(m, p.M - 1u) * p.w_nb1, u);
      if (m >= p.M) wsu[lid].d = 0.0, wsu[lid].dmin = 0.0;
    }
    for (uint e = lid; e < T * ACT_WORDS; e += 256u) {  // 32 activation units
      const uint c = e / ACT_WORDS, j = e % ACT_WORDS, n = n0 + c;
      xs[c][j] = n < p.N ? xq[xbase + n * p.x_nb1 + u * ACT_WORDS + j] : 0u;
    }
    barrier();
    for (uint i = 0u; i < 2u; ++i)
      for (uint k = 0u; k < 2u; ++k) acc[i][k] += unit_dot(wsu[tx + 16u * i], xs[ty + 16u * k]);
    barrier();
  }
#else
  for (uint k0 = 0u; k0 < p.K; k0 += T) {
    for (uint e = lid; e < T * T; e += 256u) {
      const uint r = e / T, kk = e % T, k = k0 + kk;
      const uint m = m0 + r, n = n0 + r;
      ws[r][kk] = (m < p.M && k < p.K) ? load_elem(wbase + m * p.w_nb1, k) : 0.0;
      xs[r][kk] = (n < p.N && k < p.K) ? x[xbase + n * p.x_nb1 + k] : 0.0;
    }
    barrier();
    for (uint kk = 0u; kk < T; ++kk)
      for (uint i = 0u; i < 2u; ++i)
        for (uint k = 0u; k < 2u; ++k) acc[i][k] += ws[tx + 16u * i][kk] * xs[ty + 16u * k][kk];
    barrier();
  }
#endif

  for (uint i = 0u; i < 2u; ++i)
    for (uint k = 0u; k < 2u; ++k) {
      const uint m = m0 + tx + 16u * i, n = n0 + ty + 16u * k;
      if (m < p.M && n < p.N) o[p.o_off + m + n * p.o_nb1 + b * p.o_nb2] = acc[i][k];
    }
}
