// A weight unit (quant.glsl) against one activation unit of ACT_WORDS words: the scale as f32,
// 32 int8 quants, and for the weights with a min (Q8_1 or Q8_K activations) the exact sum of the
// 32 quants for the min term.
#if defined(QUANT_K) || defined(QUANT_MIN_32)
const uint ACT_WORDS = 10u;
#else
const uint ACT_WORDS = 9u;
#endif

float unit_dot(Unit wu, uint xu[ACT_WORDS]) {
  int lo = 0, hi = 0;
  for (uint j = 0u; j < 4u; ++j) lo += dot4_i8(wu.q[j], xu[1u + j]);
  for (uint j = 4u; j < 8u; ++j) hi += dot4_i8(wu.q[j], xu[1u + j]);
  const float dx = uintBitsToFloat(xu[0]);
  float r = float(wu.sc_lo * lo + wu.sc_hi * hi) * (wu.d * dx);
#if defined(QUANT_K)
  r -= float(wu.mn * int(xu[9])) * (wu.dmin * dx);
#elif defined(QUANT_MIN_32)
  r += wu.dmin * (dx * float(int(xu[9])));  // as the CPU's Q4_1/Q5_1 dots: m * (d_x * sum)
#endif
  return r;
}
