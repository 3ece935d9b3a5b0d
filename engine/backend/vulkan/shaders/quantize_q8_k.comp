// Activations to Q8_K as ggml's quantize_row_q8_K_ref (quant.h): per 256 values, max = the
// signed value of largest magnitude (first one on ties), iscale = -127/max,
// q = min(127, round-half-even(iscale * x)), d = 1/iscale. Output rows are units of 32 values,
// 10 words each: d as f32, the 32 quants 4 per word, and their exact sum (for the K-quants' min
// term; ggml keeps sums of 16).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) writeonly buffer Q { uint q[]; };
// super-blocks per row; rows = N * B; x strides in floats.
layout(push_constant) uniform Push { uint nsb; uint N; uint B; uint x_off; uint x_nb1; uint x_nb2; } p;
#include "common.glsl"

// quant::detail::act_round: NaN and |v| >= 2^31 give -128 as the x86 conversions do.
int act_round(float v) {
  return (v > -2147483648.0 && v < 2147483648.0) ? int(clamp(roundEven(v), -128.0, 127.0)) : -128;
}

void main() {
  const uint i = global_index();
  if (i >= p.nsb * p.N * p.B) return;
  const uint sb = i % p.nsb, r = i / p.nsb;
  const uint base = p.x_off + (r % p.N) * p.x_nb1 + (r / p.N) * p.x_nb2 + sb * 256u;
  float amax = 0.0, vmax = 0.0;
  for (uint j = 0u; j < 256u; ++j) {
    const float v = x[base + j];
    if (abs(v) > amax) {
      amax = abs(v);
      vmax = v;
    }
  }
  // -127 / vmax and 1 / iscale, rounded as IEEE divisions (div_rn takes magnitudes).
  const float iscale = amax != 0.0 ? -sign(vmax) * div_rn(127.0, amax) : 0.0;
  const float d = amax != 0.0 ? sign(iscale) * div_rn(1.0, abs(iscale)) : 0.0;
  for (uint u = 0u; u < 8u; ++u) {
    const uint out_base = (i * 8u + u) * 10u;
    int sum = 0;
    q[out_base] = floatBitsToUint(d);
    for (uint k = 0u; k < 8u; ++k) {
      uint packed = 0u;
      for (uint j = 0u; j < 4u; ++j) {
        const int v = amax != 0.0 ? min(127, act_round(iscale * x[base + 32u * u + 4u * k + j])) : 0;
        sum += v;
        packed |= (uint(v) & 0xffu) << (8u * j);
      }
      q[out_base + 1u + k] = packed;
    }
    q[out_base + 9u] = uint(sum);
  }
}
