// The partial results of attention_latent.comp's key splits, combined per (head, query):
// out = sum_c exp(m_c - M) acc_c / sum_c exp(m_c - M) l_c with M the largest m_c. A split
// without keys (m = -inf, l = 0, acc = 0) adds nothing.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(binding = 0) readonly buffer Part { float part[]; };
layout(binding = 1) writeonly buffer O { float o[]; };
// part[((t * H + h) * n_split + c) * (L + 2) + (0: m, 1: l, 2 + d: acc[d])]; out strides in words.
layout(push_constant) uniform Push {
  uint L; uint H; uint T; uint n_split;
  uint o_off; uint o_nb1; uint o_nb2;
} p;
#include "common.glsl"

void main() {
  const uint g = group_index();
  if (g >= p.H * p.T) return;  // uniform over the workgroup
  const uint h = g % p.H, t = g / p.H;
  const uint first = g * p.n_split * (p.L + 2u);
  float mx = -1.0 / 0.0;
  for (uint c = 0u; c < p.n_split; ++c) mx = max(mx, part[first + c * (p.L + 2u)]);
  float l = 0.0;
  for (uint c = 0u; c < p.n_split; ++c) {
    const uint b = first + c * (p.L + 2u);
    l += exp(part[b] - mx) * part[b + 1u];
  }
  for (uint d = gl_LocalInvocationID.x; d < p.L; d += gl_WorkGroupSize.x) {
    float a = 0.0;
    for (uint c = 0u; c < p.n_split; ++c) {
      const uint b = first + c * (p.L + 2u);
      a += exp(part[b] - mx) * part[b + 2u + d];
    }
    o[p.o_off + h * p.o_nb1 + t * p.o_nb2 + d] = a / l;
  }
}
