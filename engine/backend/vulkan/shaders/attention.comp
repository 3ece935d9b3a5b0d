// Causal multi-head attention, one workgroup per (head, query): keys in chunks of 64 (one per
// invocation) with the online softmax of flash attention (running max and sum; earlier partial
// outputs rescaled when the max grows), so any context length fits in fixed shared memory.
// Each invocation owns output dims lid, lid + 64, ... (up to MAX_DV).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
const uint WG = 64u;
const uint MAX_DV = 256u;
layout(binding = 0) readonly buffer Q { float q[]; };
layout(binding = 1) readonly buffer K { float k[]; };
layout(binding = 2) readonly buffer V { float v[]; };
layout(binding = 3) writeonly buffer O { float o[]; };
// Offsets and strides (heads nb1, tokens nb2) in floats.
layout(push_constant) uniform Push {
  uint Dk; uint Dv; uint H; uint T; uint first_pos; float scale;
  uint q_off; uint q_nb1; uint q_nb2;
  uint k_off; uint k_nb1; uint k_nb2;
  uint v_off; uint v_nb1; uint v_nb2;
  uint o_off; uint o_nb1; uint o_nb2;
} p;
#include "common.glsl"

shared float red[WG];
shared float probs[WG];

void main() {
  const uint g = group_index();
  if (g >= p.H * p.T) return;  // uniform over the workgroup
  const uint lid = gl_LocalInvocationID.x, h = g % p.H, t = g / p.H;
  const uint S = p.first_pos + t + 1u;
  const uint qrow = p.q_off + h * p.q_nb1 + t * p.q_nb2;
  float m = -1.0 / 0.0, l = 0.0;
  float acc[MAX_DV / WG];
  for (uint i = 0u; i < MAX_DV / WG; ++i) acc[i] = 0.0;

  for (uint c0 = 0u; c0 < S; c0 += WG) {
    const uint s = c0 + lid;
    float score = -1.0 / 0.0;
    if (s < S) {
      const uint krow = p.k_off + h * p.k_nb1 + s * p.k_nb2;
      float d = 0.0;
      for (uint i = 0u; i < p.Dk; ++i) d += q[qrow + i] * k[krow + i];
      score = d * p.scale;
    }
    red[lid] = score;
    barrier();
    for (uint w = WG / 2u; w > 0u; w >>= 1) {
      if (lid < w) red[lid] = max(red[lid], red[lid + w]);
      barrier();
    }
    const float new_m = max(m, red[0]);
    barrier();
    const float pr = s < S ? exp(score - new_m) : 0.0;
    probs[lid] = pr;
    red[lid] = pr;
    barrier();
    for (uint w = WG / 2u; w > 0u; w >>= 1) {
      if (lid < w) red[lid] += red[lid + w];
      barrier();
    }
    const float alpha = exp(m - new_m);  // 0 on the first chunk (m = -inf)
    l = l * alpha + red[0];
    const uint n = min(WG, S - c0);
    for (uint i = 0u; i < MAX_DV / WG; ++i) {
      const uint d = lid + i * WG;
      if (d >= p.Dv) break;
      float a = acc[i] * alpha;
      for (uint j = 0u; j < n; ++j) a += probs[j] * v[p.v_off + h * p.v_nb1 + (c0 + j) * p.v_nb2 + d];
      acc[i] = a;
    }
    m = new_m;
    barrier();
  }
  const uint orow = p.o_off + h * p.o_nb1 + t * p.o_nb2;
  for (uint i = 0u; i < MAX_DV / WG; ++i) {
    const uint d = lid + i * WG;
    if (d < p.Dv) o[orow + d] = acc[i] / l;
  }
}
