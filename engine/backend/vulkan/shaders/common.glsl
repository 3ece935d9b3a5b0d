// Shared by every shader: the linear workgroup index over a 3-D grid (the host splits large
// counts because one grid dimension is limited to maxComputeWorkGroupCount, often 65535), and
// ggml-style coordinates. Strides `s` are (offset, nb1, nb2, nb3) in 4-byte elements.
uint group_index() {
  return gl_WorkGroupID.x + gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
}

uint global_index() { return group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x; }

// (i0, i1, i2, i3) of the i-th element of a tensor with ne elements per dimension.
uvec4 coords(uint i, uvec4 ne) {
  const uint i0 = i % ne.x;
  i /= ne.x;
  const uint i1 = i % ne.y;
  i /= ne.y;
  return uvec4(i0, i1, i % ne.z, i / ne.z);
}

uint at(uvec4 c, uvec4 s) { return s.x + c.x + c.y * s.y + c.z * s.z + c.w * s.w; }

// fp32 -> fp16 bits with round-to-nearest-even, as quant::fp32_to_fp16 (packHalf2x16 leaves the
// rounding mode to the implementation).
uint fp16_rne(float f) {
  const uint bits = floatBitsToUint(f);
  const uint sign = (bits >> 16) & 0x8000u, x = bits & 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00u | ((x >> 13) & 0x3ffu);  // NaN stays NaN
  if (x >= 0x477ff000u) return sign | 0x7c00u;                        // rounds to infinity
  if (x < 0x38800000u) return sign | uint(roundEven(abs(f) * 16777216.0));  // subnormal: exact scaling by 2^24
  const uint r = x - 0x38000000u;
  return sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13);
}

// fp32 -> bf16 bits with round-to-nearest-even, NaN kept quiet, as quant::fp32_to_bf16.
uint bf16_rne(float f) {
  const uint x = floatBitsToUint(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (x >> 16) | 64u;
  return (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
}

// a / b rounded to nearest even, for finite a >= 0 and b > 0 whose quotient is a normal float:
// Vulkan allows OpFDiv an error of 2.5 ulp, and the quantizers must pick the scales the CPU's
// IEEE division picks. Long division of the 24-bit significands.
float div_rn(float a, float b) {
  if (a == 0.0) return 0.0;
  int ea, eb;
  uint ma = uint(frexp(a, ea) * 16777216.0), mb = uint(frexp(b, eb) * 16777216.0);  // [2^23, 2^24)
  int e = ea - eb;
  if (ma < mb) {  // the quotient of the significands in [1, 2)
    ma <<= 1;
    e -= 1;
  }
  uint q = 0u, r = ma;
  for (int i = 0; i < 24; ++i) {
    q <<= 1;
    if (r >= mb) {
      r -= mb;
      q |= 1u;
    }
    r <<= 1;
  }
  // r is twice the remainder. No quotient of two 24-bit significands lies exactly halfway
  // between two floats, so there is no tie to break.
  if (r > mb) q += 1u;
  return ldexp(float(q), e - 23);
}
