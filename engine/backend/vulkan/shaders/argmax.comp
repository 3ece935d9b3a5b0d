// out[r] = index of the largest x[:, r], one workgroup per row: each invocation scans the row
// strided, then a shared-memory tree keeps (value, index) with the lowest index among equals.
// Matches sample::argmax's sequential scan exactly (see Backend::argmax): NaN never wins, except
// that a NaN at index 0 is kept, as nothing compares greater than it there.
//
// Values compare as order-preserving integer keys rather than floats: Vulkan lets a device
// flush denormals and ignore NaN in float comparisons, which would change the winner.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) writeonly buffer O { int o[]; };
// Offsets and strides in 4-byte words.
layout(push_constant) uniform Push { uint n; uint rows; uint x_off; uint x_nb1; uint o_off; } p;
#include "common.glsl"

shared uint best_key[256];
shared uint best_index[256];

bool is_nan(uint bits) { return (bits & 0x7fffffffu) > 0x7f800000u; }

// Increasing with the float's value, -0 equal to +0; never 0 for a number (-inf maps to
// 0x007fffff), so 0 marks "no candidate yet".
uint order_key(uint bits) {
  if (bits == 0x80000000u) bits = 0u;
  return (bits & 0x80000000u) != 0u ? ~bits : bits | 0x80000000u;
}

void main() {
  const uint row = group_index();
  if (row >= p.rows) return;  // uniform over the workgroup
  const uint lid = gl_LocalInvocationID.x;
  const uint base = p.x_off + row * p.x_nb1;
  // Indices rise along the scan, so a strictly greater key keeps the first of equal values.
  uint key = 0u, index = 0u;
  for (uint i = lid; i < p.n; i += 256u) {
    const uint bits = floatBitsToUint(x[base + i]);
    if (is_nan(bits)) continue;
    const uint k = order_key(bits);
    if (k > key) {
      key = k;
      index = i;
    }
  }
  best_key[lid] = key;
  best_index[lid] = index;
  barrier();
  for (uint s = 128u; s > 0u; s >>= 1) {
    if (lid < s) {
      const uint k = best_key[lid + s], i = best_index[lid + s];
      if (k > best_key[lid] || (k == best_key[lid] && i < best_index[lid])) {
        best_key[lid] = k;
        best_index[lid] = i;
      }
    }
    barrier();
  }
  if (lid == 0u) o[p.o_off + row] = is_nan(floatBitsToUint(x[base])) ? 0 : int(best_index[0]);
}
