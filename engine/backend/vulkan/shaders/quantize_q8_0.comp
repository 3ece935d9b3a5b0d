// Activations to Q8_0 as llama.cpp's x86 path does (quant.h): per block of 32, id = 127/amax,
// q = round-half-even(x * id), d = fp16(amax / 127), both divisions rounded as IEEE (div_rn).
// Output rows are packed blocks of 9 words: d as f32 (already rounded to fp16), then the 32
// quants, 4 per word.
// Q8_1 (the activations of Q4_1/Q5_1): the same quants and scale, and a tenth word with the
// exact sum of the 32 quants, as quant.h's Q8_1 keeps it.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) writeonly buffer Q { uint q[]; };
// blocks per row; rows = N * B; x strides in floats.
layout(push_constant) uniform Push { uint nblk; uint N; uint B; uint x_off; uint x_nb1; uint x_nb2; } p;
#include "common.glsl"

#if defined(Q8_1)
const uint UNIT_WORDS = 10u;
#else
const uint UNIT_WORDS = 9u;
#endif

void main() {
  const uint i = global_index();
  if (i >= p.nblk * p.N * p.B) return;
  const uint blk = i % p.nblk, r = i / p.nblk;
  const uint base = p.x_off + (r % p.N) * p.x_nb1 + (r / p.N) * p.x_nb2 + blk * 32u;
  float amax = 0.0;
  for (uint j = 0u; j < 32u; ++j) amax = max(amax, abs(x[base + j]));
  const float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
  const uint out_base = i * UNIT_WORDS;
  q[out_base] = floatBitsToUint(unpackHalf2x16(fp16_rne(div_rn(amax, 127.0))).x);
  int sum = 0;
  for (uint k = 0u; k < 8u; ++k) {
    uint packed = 0u;
    for (uint j = 0u; j < 4u; ++j) {
      const int v = int(roundEven(x[base + 4u * k + j] * id));
      sum += v;
      packed |= (uint(v) & 0xffu) << (8u * j);
    }
    q[out_base + 1u + k] = packed;
  }
#if defined(Q8_1)
  q[out_base + 9u] = uint(sum);
#endif
}
