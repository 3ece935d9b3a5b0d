// out[m, n, b] = sum_k w[k, m, b] x[k, n, b] for a few columns n (decode: one token) per
// workgroup: the 64 invocations stride along the weight row (consecutive elements or blocks,
// so reads coalesce), each weight element is used for up to COLS columns, then the partial sums
// are reduced with subgroupAdd (USE_SUBGROUP) or in shared memory.
//   Float weights (TYPE_F32, TYPE_F16, TYPE_BF16): x is f32 and the weights are widened, as the
//   CPU does.
//   Quantized weights: x was converted to the weight's activation format (Q8_0, Q8_1 or Q8_K:
//   quantize_q8_0.comp, quantize_q8_k.comp); exact integer sums per 32-element unit times the
//   scales (unit_dot).
// MUL_MAT_ID: expert matmul, one column per workgroup; the weight matrix of column (k, t) is
// w[:, :, ids[k, t]].
#version 450
#extension GL_GOOGLE_include_directive : require
#if defined(TYPE_F32) || defined(TYPE_F16) || defined(TYPE_BF16)
#define FLOAT_WEIGHTS 1
#endif
#if defined(USE_SUBGROUP)
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#endif
layout(local_size_x = 64) in;
const uint WG = 64u;
const uint COLS = 8u;
layout(binding = 0) readonly buffer Wt { uint w[]; };
#if !defined(FLOAT_WEIGHTS)
layout(binding = 1) readonly buffer X { uint xq[]; };
#else
layout(binding = 1) readonly buffer X { float x[]; };
#endif
layout(binding = 2) writeonly buffer O { float o[]; };
#if defined(MUL_MAT_ID)
layout(binding = 3) readonly buffer Ids { int ids[]; };
#endif
// Weight offsets/strides in bytes (w_nb2 = 0 broadcasts), x and out in 4-byte words (x_nb2 = 0
// broadcasts); N columns per batch b, split into groups of COLS.
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

shared float red[COLS][WG];

void main() {
  const uint g = group_index();
#if defined(MUL_MAT_ID)
  const uint n_groups = p.N;
#else
  const uint n_groups = (p.N + COLS - 1u) / COLS;
#endif
  if (g >= p.M * n_groups * p.B) return;  // uniform over the workgroup
  const uint lid = gl_LocalInvocationID.x;
  const uint m = g % p.M, b = g / (p.M * n_groups);
#if defined(MUL_MAT_ID)
  const uint n0 = (g / p.M) % n_groups, nn = 1u;
  const int id = ids[p.ids_off + b * p.ids_nb1 + n0];
  if (id < 0 || uint(id) >= p.n_expert) {
    if (gl_LocalInvocationID.x == 0u) o[p.o_off + m + n0 * p.o_nb1 + b * p.o_nb2] = uintBitsToFloat(0x7fc00000u);
    return;  // uniform over the workgroup
  }
  const uint wb = uint(id);
#else
  const uint n0 = ((g / p.M) % n_groups) * COLS, nn = min(COLS, p.N - n0);
  const uint wb = b;
#endif
  const uint row = p.w_off + m * p.w_nb1 + wb * p.w_nb2;
  const uint xcol = p.x_off + n0 * p.x_nb1 + b * p.x_nb2;

  float acc[COLS];
  for (uint c = 0u; c < COLS; ++c) acc[c] = 0.0;
#if defined(QUANT_BLOCK_32) || defined(QUANT_K)
  for (uint u = lid; u < p.K / 32u; u += WG) {
    const Unit wu = load_unit(row, u);
    for (uint c = 0u; c < nn; ++c) {
      uint xu[ACT_WORDS];
      for (uint j = 0u; j < ACT_WORDS; ++j) xu[j] = xq[xcol + c * p.x_nb1 + u * ACT_WORDS + j];
      acc[c] += unit_dot(wu, xu);
    }
  }
#else
  for (uint i = lid; i < p.K; i += WG) {
    const float wv = load_elem(row, i);
    for (uint c = 0u; c < nn; ++c) acc[c] += wv * x[xcol + c * p.x_nb1 + i];
  }
#endif

#if defined(USE_SUBGROUP)
  for (uint c = 0u; c < nn; ++c) {
    const float s = subgroupAdd(acc[c]);
    if (subgroupElect()) red[c][gl_SubgroupID] = s;
  }
  barrier();
  if (lid < nn) {
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[lid][i];
    o[p.o_off + m + (n0 + lid) * p.o_nb1 + b * p.o_nb2] = s;
  }
#else
  for (uint c = 0u; c < nn; ++c) red[c][lid] = acc[c];
  barrier();
  for (uint k = WG / 2u; k > 0u; k >>= 1) {
    if (lid < k)
      for (uint c = 0u; c < nn; ++c) red[c][lid] += red[c][lid + k];
    barrier();
  }
  if (lid < nn) o[p.o_off + m + (n0 + lid) * p.o_nb1 + b * p.o_nb2] = red[lid][0];
#endif
}
