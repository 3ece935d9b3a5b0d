// Element-wise ops over [ne0, ne1, ne2, ne3] with strided rows: OP_ADD (a + b) or OP_SWIGLU
// (silu(a) * b).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer A { float a[]; };
layout(binding = 1) readonly buffer B { float b[]; };
layout(binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push { uvec4 ne; uvec4 sa; uvec4 sb; uvec4 so; } p;
#include "common.glsl"

void main() {
  const uint i = global_index();
  if (i >= p.ne.x * p.ne.y * p.ne.z * p.ne.w) return;
  const uvec4 c = coords(i, p.ne);
  const float x = a[at(c, p.sa)];
  const float y = b[at(c, p.sb)];
#if defined(OP_SWIGLU)
  o[at(c, p.so)] = x / (1.0 + exp(-x)) * y;
#else
  o[at(c, p.so)] = x + y;
#endif
}
