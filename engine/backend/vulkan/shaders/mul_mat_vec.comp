// out[m, n, b] = sum_k w[k, m, b] x[k, n, b] for a few columns n (decode: one token): each
// workgroup computes ROWS consecutive rows for up to COLS columns, so that its fixed cost (launch,
// barrier, reduction) is paid once for several rows. The 64 invocations stride along the rows
// together (consecutive elements or blocks, so reads coalesce); each weight element read is used
// for up to COLS columns. A float activation is read once for the ROWS rows; a quantized unit is
// re-read from cache per row, as holding one per column (80 words) spills and measured slower.
// The partial sums are then reduced with subgroupAdd (USE_SUBGROUP) or in shared memory.
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
// The host's kVecRows and kVecColumns. ROWS * COLS <= WG: one invocation per output at the end.
const uint ROWS = 8u;
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

#if defined(USE_SUBGROUP)
// Subgroup sums of each output, SLOTS subgroups at a time: one pass unless subgroups are smaller
// than 4 invocations.
const uint SLOTS = WG / 4u;
shared float red[ROWS * COLS][SLOTS];
#else
// Halving folds: the upper half of the active invocations hands its partial sums to the lower.
shared float red[ROWS * COLS][WG / 2u];
#endif

void main() {
  const uint g = group_index();
  const uint row_groups = (p.M + ROWS - 1u) / ROWS;
#if defined(MUL_MAT_ID)
  const uint n_groups = p.N;
#else
  const uint n_groups = (p.N + COLS - 1u) / COLS;
#endif
  if (g >= row_groups * n_groups * p.B) return;  // uniform over the workgroup
  const uint lid = gl_LocalInvocationID.x;
  const uint m0 = (g % row_groups) * ROWS, nr = min(ROWS, p.M - m0);
  const uint b = g / (row_groups * n_groups);
#if defined(MUL_MAT_ID)
  const uint n0 = (g / row_groups) % n_groups, nn = 1u;
  const int id = ids[p.ids_off + b * p.ids_nb1 + n0];
  if (id < 0 || uint(id) >= p.n_expert) {
    if (lid < nr) o[p.o_off + m0 + lid + n0 * p.o_nb1 + b * p.o_nb2] = uintBitsToFloat(0x7fc00000u);
    return;  // uniform over the workgroup
  }
  const uint wb = uint(id);
#else
  const uint n0 = ((g / row_groups) % n_groups) * COLS, nn = min(COLS, p.N - n0);
  const uint wb = b;
#endif
  const uint row0 = p.w_off + m0 * p.w_nb1 + wb * p.w_nb2;
  const uint xcol = p.x_off + n0 * p.x_nb1 + b * p.x_nb2;

  // Constant loop bounds with guards (r < nr, c < nn) keep acc in registers.
  float acc[ROWS][COLS];
  for (uint r = 0u; r < ROWS; ++r)
    for (uint c = 0u; c < COLS; ++c) acc[r][c] = 0.0;
#if defined(QUANT_BLOCK_32) || defined(QUANT_K)
  for (uint u = lid; u < p.K / 32u; u += WG) {
    for (uint r = 0u; r < ROWS; ++r) {
      if (r >= nr) break;
      const Unit wu = load_unit(row0 + r * p.w_nb1, u);
      for (uint c = 0u; c < COLS; ++c) {
        if (c >= nn) break;
        uint xu[ACT_WORDS];
        for (uint j = 0u; j < ACT_WORDS; ++j) xu[j] = xq[xcol + c * p.x_nb1 + u * ACT_WORDS + j];
        acc[r][c] += unit_dot(wu, xu);
      }
    }
  }
#else
  for (uint i = lid; i < p.K; i += WG) {
    float xv[COLS];
    for (uint c = 0u; c < COLS; ++c) {
      if (c >= nn) break;
      xv[c] = x[xcol + c * p.x_nb1 + i];
    }
    for (uint r = 0u; r < ROWS; ++r) {
      if (r >= nr) break;
      const float wv = load_elem(row0 + r * p.w_nb1, i);
      for (uint c = 0u; c < COLS; ++c) {
        if (c >= nn) break;
        acc[r][c] += wv * xv[c];
      }
    }
  }
#endif

#if defined(USE_SUBGROUP)
  // Invocation lid ends with output (row lid / COLS, column lid % COLS).
  const uint r_out = lid / COLS, c_out = lid % COLS;
  const bool writes = r_out < nr && c_out < nn;
  for (uint r = 0u; r < ROWS; ++r)
    for (uint c = 0u; c < COLS; ++c)
      if (r < nr && c < nn) acc[r][c] = subgroupAdd(acc[r][c]);
  float sum = 0.0;
  for (uint s0 = 0u; s0 < gl_NumSubgroups; s0 += SLOTS) {
    if (s0 > 0u) barrier();
    if (gl_SubgroupID >= s0 && gl_SubgroupID - s0 < SLOTS && subgroupElect())
      for (uint r = 0u; r < ROWS; ++r)
        for (uint c = 0u; c < COLS; ++c)
          if (r < nr && c < nn) red[r * COLS + c][gl_SubgroupID - s0] = acc[r][c];
    barrier();
    if (writes)
      for (uint i = 0u; i < min(SLOTS, gl_NumSubgroups - s0); ++i) sum += red[lid][i];
  }
  if (writes) o[p.o_off + m0 + r_out + (n0 + c_out) * p.o_nb1 + b * p.o_nb2] = sum;
#else
  for (uint k = WG / 2u; k > 0u; k >>= 1) {
    if (lid >= k && lid < 2u * k)
      for (uint r = 0u; r < ROWS; ++r)
        for (uint c = 0u; c < COLS; ++c)
          if (r < nr && c < nn) red[r * COLS + c][lid - k] = acc[r][c];
    barrier();
    if (lid < k)
      for (uint r = 0u; r < ROWS; ++r)
        for (uint c = 0u; c < COLS; ++c)
          if (r < nr && c < nn) acc[r][c] += red[r * COLS + c][lid];
    barrier();
  }
  if (lid == 0u)  // it now holds every sum
    for (uint r = 0u; r < ROWS; ++r)
      for (uint c = 0u; c < COLS; ++c)
        if (r < nr && c < nn) o[p.o_off + m0 + r + (n0 + c) * p.o_nb1 + b * p.o_nb2] = acc[r][c];
#endif
}
