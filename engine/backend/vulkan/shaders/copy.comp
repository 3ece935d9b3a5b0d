// dst = src between layouts, in 4-byte words (rows of F32, or of an even number of F16).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer S { uint s[]; };
layout(binding = 1) writeonly buffer D { uint d[]; };
layout(push_constant) uniform Push { uvec4 ne; uvec4 ss; uvec4 sd; } p;
#include "common.glsl"

void main() {
  const uint i = global_index();
  if (i >= p.ne.x * p.ne.y * p.ne.z * p.ne.w) return;
  const uvec4 c = coords(i, p.ne);
  d[at(c, p.sd)] = s[at(c, p.ss)];
}
