// out = x / sqrt(mean(x^2) + eps) * w, one workgroup per row. With ADD (add_rms_norm), x is
// a + b and is also written to sum: the residual add and the next norm in one pass.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 128) in;
#ifdef ADD
layout(binding = 0) readonly buffer A { float a[]; };
layout(binding = 1) readonly buffer B { float b[]; };
layout(binding = 2) readonly buffer W { float w[]; };
layout(binding = 3) writeonly buffer S { float sum[]; };
layout(binding = 4) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push { uvec4 ne; uvec4 sa; uvec4 sb; uvec4 ss; uvec4 so; uint w_off; float eps; } p;
#else
layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer W { float w[]; };
layout(binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push { uvec4 ne; uvec4 sx; uvec4 so; uint w_off; float eps; } p;
#endif
#include "common.glsl"

shared float partial[128];

void main() {
  const uint row = group_index();
  if (row >= p.ne.y * p.ne.z * p.ne.w) return;  // uniform over the workgroup
  const uint lid = gl_LocalInvocationID.x;
  const uvec4 c = coords(row * p.ne.x, p.ne);
  const uint orow = at(c, p.so);
#ifdef ADD
  const uint ar = at(c, p.sa), br = at(c, p.sb), sr = at(c, p.ss);
#define X(i) (a[ar + (i)] + b[br + (i)])
#else
  const uint xr = at(c, p.sx);
#define X(i) x[xr + (i)]
#endif
  float s = 0.0;
  for (uint i = lid; i < p.ne.x; i += 128u) {
    const float v = X(i);
#ifdef ADD
    sum[sr + i] = v;
#endif
    s += v * v;
  }
  partial[lid] = s;
  barrier();
  for (uint k = 64u; k > 0u; k >>= 1) {
    if (lid < k) partial[lid] += partial[lid + k];
    barrier();
  }
  const float scale = 1.0 / sqrt(partial[0] / float(p.ne.x) + p.eps);
  for (uint i = lid; i < p.ne.x; i += 128u) o[orow + i] = (X(i) * scale) * w[p.w_off + i];
}
