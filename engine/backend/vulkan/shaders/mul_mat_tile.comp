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
// MUL_MAT_ID: expert matmul over the token lists of mul_mat_id_tiles.comp: workgroup (row tile,
// column tile g) multiplies expert tiles[g]'s weights with up to 8 RN of the (token, slot)
// inputs routed to it, so an expert's weights are read once per tile of its tokens. Columns of
// out-of-range expert ids get NaN, as mul_mat_vec.comp writes.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#if defined(TYPE_F32) || defined(TYPE_F16) || defined(TYPE_BF16)
#define FLOAT_WEIGHTS 1
#endif
layout(local_size_x = 64) in;
#if defined(MUL_MAT_ID)
const uint RM = 8u, RN = 4u;  // narrower: an expert sees a fraction of the tokens
#else
const uint RM = 8u, RN = 8u;
#endif
const uint TM = 8u * RM, TN = 8u * RN;
layout(binding = 0) readonly buffer Wt { uint w[]; };
#if !defined(FLOAT_WEIGHTS)
layout(binding = 1) readonly buffer X { uint xq[]; };
#else
layout(binding = 1) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer X4 { vec4 x4[]; };  // the same, for aligned rows
#if defined(TYPE_F32)
layout(binding = 0) readonly buffer Wt4 { uvec4 w4[]; };
#endif
#endif
layout(binding = 2) writeonly buffer O { float o[]; };
#if defined(MUL_MAT_ID)
layout(binding = 3) readonly buffer Route { uint route[]; };  // mul_mat_id_tiles.comp's layout
#endif
// As mul_mat_vec.comp. MUL_MAT_ID: N is the slots per token, B the tokens, x_nb1 = 0 when every
// slot shares the token's input; ids_* are unused (the route buffer replaces the ids).
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
#if defined(MUL_MAT_ID)
  const uint gt = g / tiles_m;
  if (gt >= route[0]) return;  // uniform over the workgroup: past the last tile in use
  const uint buckets = p.n_expert + 1u, entries = 1u + 2u * buckets;
  const uint tile = entries + p.N * p.B + 2u * gt;
  const uint expert = route[tile], first = route[tile + 1u], end = route[1u + buckets + expert];
  [[unroll]] for (uint j = 0u; j < RN; ++j) {
    const uint e = first + ic + 8u * j;
    const uint i = route[entries + min(e, end - 1u)], t = i / p.N, slot = i % p.N;
    xcol[j] = p.x_off + slot * p.x_nb1 + t * p.x_nb2;
    ocol[j] = e < end ? p.o_off + slot * p.o_nb1 + t * p.o_nb2 : ~0u;
  }
  if (expert == p.n_expert) {  // the bucket of ids outside [0, n_expert)
    [[unroll]] for (uint j = 0u; j < RN; ++j)
      [[unroll]] for (uint i = 0u; i < RM; ++i) {
        const uint m = m0 + ir + 8u * i;
        if (m < p.M && ocol[j] != ~0u) o[ocol[j] + m] = uintBitsToFloat(0x7fc00000u);
      }
    return;
  }
  const uint wbase = p.w_off + expert * p.w_nb2;
#else
  const uint tiles_n = (p.N + TN - 1u) / TN;
  if (g >= tiles_m * tiles_n * p.B) return;  // uniform over the workgroup
  const uint n0 = ((g / tiles_m) % tiles_n) * TN, b = g / (tiles_m * tiles_n);
  [[unroll]] for (uint j = 0u; j < RN; ++j) {
    const uint n = n0 + ic + 8u * j;
    xcol[j] = p.x_off + b * p.x_nb2 + min(n, p.N - 1u) * p.x_nb1;
    ocol[j] = n < p.N ? p.o_off + b * p.o_nb2 + n * p.o_nb1 : ~0u;
  }
  const uint wbase = p.w_off + b * p.w_nb2;
#endif
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
  // Four K steps per iteration: RM + RN loads of four values feed 4 RM RN multiply-adds, as
  // single vec4 loads where every row starts on 16 bytes (lavapipe loads each lane's values in a
  // loop, so one vec4 costs far less than four floats).
  uint k = 0u;
#if defined(TYPE_F32)
  const bool aligned = ((p.x_off | p.x_nb1 | p.x_nb2 | p.K) & 3u) == 0u && ((p.w_off | p.w_nb1 | p.w_nb2) & 15u) == 0u;
#else
  const bool aligned = ((p.x_off | p.x_nb1 | p.x_nb2 | p.K) & 3u) == 0u;
#endif
  if (aligned) {
    for (; k < p.K; k += 4u) {
      vec4 wv[RM];
      [[unroll]] for (uint i = 0u; i < RM; ++i)
#if defined(TYPE_F32)
        wv[i] = uintBitsToFloat(w4[(wrow[i] >> 4) + k / 4u]);
#else
        wv[i] = vec4(load_elem(wrow[i], k), load_elem(wrow[i], k + 1u), load_elem(wrow[i], k + 2u),
                     load_elem(wrow[i], k + 3u));
#endif
      [[unroll]] for (uint j = 0u; j < RN; ++j) {
        const vec4 xv = x4[(xcol[j] + k) / 4u];
        [[unroll]] for (uint i = 0u; i < RM; ++i) {
          acc[i][j] += wv[i].x * xv.x;
          acc[i][j] += wv[i].y * xv.y;
          acc[i][j] += wv[i].z * xv.z;
          acc[i][j] += wv[i].w * xv.w;
        }
      }
    }
  }
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
