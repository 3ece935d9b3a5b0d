// out[i, t] = sum_k weights[k, t] * experts[i, k, t], summed in slot order like the CPU backend.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer E { float e[]; };
layout(binding = 1) readonly buffer Wt { float wt[]; };
layout(binding = 2) writeonly buffer O { float o[]; };
// Offsets and strides in floats.
layout(push_constant) uniform Push {
  uint n; uint U; uint T;
  uint e_off; uint e_nb1; uint e_nb2;
  uint w_off; uint w_nb1;
  uint o_off; uint o_nb1;
} p;
#include "common.glsl"

void main() {
  const uint i = global_index();
  if (i >= p.n * p.T) return;
  const uint j = i % p.n, t = i / p.n;
  float s = 0.0;
  for (uint k = 0u; k < p.U; ++k) s += e[p.e_off + j + k * p.e_nb1 + t * p.e_nb2] * wt[p.w_off + k + t * p.w_nb1];
  o[p.o_off + j + t * p.o_nb1] = s;
}
