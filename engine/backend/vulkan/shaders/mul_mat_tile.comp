// out[m, n, b] = sum_k w[k, m, b] x[k, n, b] for prefill: each workgroup of 64 invocations
// computes a (8 RM) x (8 RN) tile of outputs, each invocation a register block of RM weight rows
// (ir + 8 i) by RN columns (ic + 8 j), so every weight value it loads serves RN columns and
// every activation value RM rows. Loads go straight to the buffers, without shared-memory
// staging or barriers: on lavapipe, the CPU driver this backend is measured on, a shared-memory
// load costs as much as a buffer load and a barrier switches every invocation's coroutine, so
// loads per multiply-add are what count; the caches keep a tile's rows and columns close.
// Rows and columns past the edges are clamped to the last one for loading and not stored, so
// the inner loops have no bounds checks. Each output is summed sequentially along K.
//   Float weights (TYPE_F32, TYPE_F16, TYPE_BF16): widened to f32, x stays f32 (as the CPU does).
//   Quantized weights: x was converted to the weight's activation format (Q8_0, Q8_1 or Q8_K:
//   quantize_q8_0.comp, quantize_q8_k.comp); exact integer sums per 32-element unit times the
//   scales (unit_dot).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#if defined(TYPE_F32) || defined(TYPE_F16) || defined(TYPE_BF16)
#define FLOAT_WEIGHTS 1
#endif
layout(local_size_x = 64) in;
const uint RM = 8u, RN = 8u;
const uint TM = 8u * RM, TN = 8u * RN;
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

void main() {
  const uint tiles_m = (p.M + TM - 1u) / TM;
  const uint g = group_index();
  const uint lid = gl_LocalInvocationID.x, ir = lid % 8u, ic = lid / 8u;
  const uint m0 = (g % tiles_m) * TM;

  // Where each column's input starts (x words) and its output goes (o words, or ~0u when the
  // column is past the end and not stored).
  uint xcol[RN], ocol[RN];
  const uint tiles_n = (p.N + TN - 1u) / TN;
  if (g >= tiles_m * tiles_n * p.B) return;  // uniform over the workgroup
  const uint n0 = ((g / tiles_m) % tiles_n) * TN, b = g / (tiles_m * tiles_n);
  [[unroll]] for (uint j = 0u; j < RN; ++j) {
    const uint n = n0 + ic + 8u * j;
    xcol[j] = p.x_off + b * p.x_nb2 + min(n, p.N - 1u) * p.x_nb1;
    ocol[j] = n < p.N ? p.o_off + b * p.o_nb2 + n * p.o_nb1 : ~0u;
  }
  const uint wbase = p.w_off + b * p.w_nb2;
  uint wrow[RM];
  [[unroll]] for (uint i = 0u; i < RM; ++i) wrow[i] = wbase + min(m0 + ir + 8u * i, p.M - 1u) * p.w_nb1;

  float acc[RM][RN];
  [[unroll]] for (uint i = 0u; i < RM; ++i)
    [[unroll]] for (uint j = 0u; j < RN; ++j) acc[i][j] = 0.0;

#if !defined(FLOAT_WEIGHTS)
  for (uint u = 0u; u < p.K / 32u; ++u) {
    Unit wu[RM];
    [[unroll]] for (uint i = 0u; i < RM; ++i) wu[i] = load_unit(wrow[i], u);
    [[unroll]] for (uint j = 0u; j < RN; ++j) {
      uint xu[ACT_WORDS];
      [[unroll]] for (uint k = 0u; k < ACT_WORDS; ++k) xu[k] = xq[xcol[j] + u * ACT_WORDS + k];
      [[unroll]] for (uint i = 0u; i < RM; ++i) acc[i][j] += unit_dot(wu[i], xu);
    }
  }
#else
  // Four K steps per iteration: RM + RN loads of four values feed 4 RM RN multiply-adds.
  uint k = 0u;
  for (; k + 4u <= p.K; k += 4u) {
    vec4 wv[RM];
    [[unroll]] for (uint i = 0u; i < RM; ++i)
      wv[i] = vec4(load_elem(wrow[i], k), load_elem(wrow[i], k + 1u), load_elem(wrow[i], k + 2u),
                   load_elem(wrow[i], k + 3u));
    [[unroll]] for (uint j = 0u; j < RN; ++j) {
      const uint xb = xcol[j] + k;
      const vec4 xv = vec4(x[xb], x[xb + 1u], x[xb + 2u], x[xb + 3u]);
      [[unroll]] for (uint i = 0u; i < RM; ++i) {
        acc[i][j] += wv[i].x * xv.x;
        acc[i][j] += wv[i].y * xv.y;
        acc[i][j] += wv[i].z * xv.z;
        acc[i][j] += wv[i].w * xv.w;
      }
    }
  }
  for (; k < p.K; ++k) {
    float wv[RM];
    [[unroll]] for (uint i = 0u; i < RM; ++i) wv[i] = load_elem(wrow[i], k);
    [[unroll]] for (uint j = 0u; j < RN; ++j) {
      const float xv = x[xcol[j] + k];
      [[unroll]] for (uint i = 0u; i < RM; ++i) acc[i][j] += wv[i] * xv;
    }
  }
#endif

  [[unroll]] for (uint j = 0u; j < RN; ++j)
    [[unroll]] for (uint i = 0u; i < RM; ++i) {
      const uint m = m0 + ir + 8u * i;
      if (m < p.M && ocol[j] != ~0u) o[ocol[j] + m] = acc[i][j];
    }
}
