// out = x / sqrt(mean(x^2) + eps) * w, one workgroup per row.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 128) in;
layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer W { float w[]; };
layout(binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push { uvec4 ne; uvec4 sx; uvec4 so; uint w_off; float eps; } p;
#include "common.glsl"

shared float partial[128];

void main() {
  const uint row = group_index();
  if (row >= p.ne.y * p.ne.z * p.ne.w) return;  // uniform over the workgroup
  const uint lid = gl_LocalInvocationID.x;
  const uvec4 c = coords(row * p.ne.x, p.ne);
  const uint xr = at(c, p.sx), orow = at(c, p.so);
  float s = 0.0;
  for (uint i = lid; i < p.ne.x; i += 128u) s += x[xr + i] * x[xr + i];
  partial[lid] = s;
  barrier();
  for (uint k = 64u; k > 0u; k >>= 1) {
    if (lid < k) partial[lid] += partial[lid + k];
    barrier();
  }
  const float scale = 1.0 / sqrt(partial[0] / float(p.ne.x) + p.eps);
  for (uint i = lid; i < p.ne.x; i += 128u) o[orow + i] = (x[xr + i] * scale) * w[p.w_off + i];
}
