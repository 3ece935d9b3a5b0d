// Reads of GGUF weight rows as stored (ggml's block layouts, byte offsets) from a buffer
// declared by the including shader as `uint w[]`: 16-bit storage is optional in Vulkan, so
// halves and bytes are extracted from 32-bit words, which every device supports.
// One of TYPE_F32, TYPE_F16, TYPE_BF16, TYPE_Q8_0, TYPE_Q4_0, TYPE_Q4_1, TYPE_Q5_0, TYPE_Q5_1,
// TYPE_Q4_K, TYPE_Q5_K, TYPE_Q6_K selects the element type.

uint w_u8(uint b) { return (w[b >> 2] >> ((b & 3u) * 8u)) & 0xffu; }
// b even: a half-word never straddles two words.
uint w_u16(uint b) { return (w[b >> 2] >> ((b & 2u) * 8u)) & 0xffffu; }
// Four bytes at an even offset (Q8_0 quants start 2 bytes into a 34-byte block).
uint w_u32_even(uint b) {
  const uint i = b >> 2;
  return (b & 2u) == 0u ? w[i] : (w[i] >> 16) | (w[i + 1u] << 16);
}
// Eight (four) consecutive words at an even offset, in nine (five) loads where w_u32_even would
// take up to two per word.
void w_u32x8_even(uint b, out uint v[8]) {
  const uint i = b >> 2, odd = (b >> 1) & 1u;
  uint lo = w[i];
  for (uint k = 0u; k < 8u; ++k) {
    const uint hi = w[i + k + odd];
    v[k] = odd == 0u ? hi : (lo >> 16) | (hi << 16);
    lo = hi;
  }
}
void w_u32x4_even(uint b, out uint v[4]) {
  const uint i = b >> 2, odd = (b >> 1) & 1u;
  uint lo = w[i];
  for (uint k = 0u; k < 4u; ++k) {
    const uint hi = w[i + k + odd];
    v[k] = odd == 0u ? hi : (lo >> 16) | (hi << 16);
    lo = hi;
  }
}
float f16(uint bits) { return unpackHalf2x16(bits).x; }

#if defined(TYPE_Q8_0) || defined(TYPE_Q4_0) || defined(TYPE_Q5_0)
// Blocks of 32 with one fp16 scale, multiplied against Q8_0 activations (quant.h).
#define QUANT_BLOCK_32 1
#elif defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
// Blocks of 32 with an fp16 scale d and min m (value = q * d + m, q unsigned), multiplied against
// Q8_1 activations, whose exact quant sums give the min term.
#define QUANT_BLOCK_32 1
#define QUANT_MIN_32 1
#endif

#if defined(TYPE_Q8_0)
const uint BLOCK_BYTES = 34u;  // d, qs[32]
#elif defined(TYPE_Q4_0)
const uint BLOCK_BYTES = 18u;  // d, qs[16]: byte j holds elements j (low nibble) and j + 16
#elif defined(TYPE_Q5_0)
const uint BLOCK_BYTES = 22u;  // d, qh[4] (bit i: element i's fifth bit), qs[16] as Q4_0
#elif defined(TYPE_Q4_1)
const uint BLOCK_BYTES = 20u;  // d, m, qs[16] as Q4_0
#elif defined(TYPE_Q5_1)
const uint BLOCK_BYTES = 24u;  // d, m, qh[4], qs[16] as Q5_0
#endif

#if defined(TYPE_Q4_K)
const uint BLOCK_BYTES = 144u;  // d, dmin, scales[12] (6-bit scale and min per 32), qs[128]
#define QUANT_K 1
#elif defined(TYPE_Q5_K)
// d, dmin, scales[12] as Q4_K, qh[32] (bit j of byte l: the fifth bit of element l of unit j),
// qs[128] as Q4_K
const uint BLOCK_BYTES = 176u;
#define QUANT_K 1
#elif defined(TYPE_Q6_K)
const uint BLOCK_BYTES = 210u;  // ql[128], qh[64], scales[16] (int8 per 16), d
#define QUANT_K 1
#endif

#if defined(QUANT_BLOCK_32) || defined(QUANT_K)
// A quantized row is read in units of 32 elements. A unit's value against activations y is
//   (sc_lo * sum(q[0:16] y[0:16]) + sc_hi * sum(q[16:32] y[16:32])) * d * dy - mn * sum(y) * dmin * dy
// with exact integer sums, which covers the legacy blocks (sc = 1, no min), Q4_K and Q5_K (one
// 6-bit scale and min per unit) and Q6_K (an int8 scale per 16). Q4_1 and Q5_1 (QUANT_MIN_32)
// add their min instead: + m * dy * sum(y), with m kept in dmin (unit_dot.glsl).
struct Unit {
  uint q[8];  // 32 signed quants, 4 per word in element order (the activations' layout)
  int sc_lo, sc_hi, mn;
  float d, dmin;
};

#if defined(QUANT_BLOCK_32)
// The quant of element i (0..31) of the block at byte `base`: signed, or unsigned for the
// types with a min.
int quant_at(uint base, uint i) {
#if defined(TYPE_Q8_0)
  return bitfieldExtract(int(w_u8(base + 2u + i)), 0, 8);
#elif defined(TYPE_Q4_0)
  return int((w_u8(base + 2u + i % 16u) >> (4u * (i / 16u))) & 15u) - 8;
#elif defined(TYPE_Q4_1)
  return int((w_u8(base + 4u + i % 16u) >> (4u * (i / 16u))) & 15u);
#elif defined(TYPE_Q5_0)
  const uint qh = w_u32_even(base + 2u);
  const uint lo = (w_u8(base + 6u + i % 16u) >> (4u * (i / 16u))) & 15u;
  return int(lo | (((qh >> i) & 1u) << 4)) - 16;
#else
  const uint qh = w_u32_even(base + 4u);
  const uint lo = (w_u8(base + 8u + i % 16u) >> (4u * (i / 16u))) & 15u;
  return int(lo | (((qh >> i) & 1u) << 4));
#endif
}
#endif

// Unit u of the row starting at byte `row`.
Unit load_unit(uint row, uint u) {
  Unit r;
  r.mn = 0;
  r.dmin = 0.0;
#if defined(QUANT_BLOCK_32)
  const uint base = row + u * BLOCK_BYTES;
#if defined(TYPE_Q8_0)
  w_u32x8_even(base + 2u, r.q);
#else
  // Four quants per word, as quant_at gives them: nibbles of qs bytes j % 4 .. + 4 (the low ones
  // for elements 0..15, the high ones for 16..31), the fifth bits from qh, then bytewise the
  // offset of the signed types.
#if defined(TYPE_Q4_0)
  const uint qs = base + 2u;
#elif defined(TYPE_Q4_1)
  const uint qs = base + 4u;
#elif defined(TYPE_Q5_0)
  const uint qs = base + 6u, qh = w_u32_even(base + 2u);
#else
  const uint qs = base + 8u, qh = w_u32_even(base + 4u);
#endif
  uint qw[4];
  w_u32x4_even(qs, qw);
  for (uint j = 0u; j < 8u; ++j) {
    uint v = (qw[j % 4u] >> (4u * (j / 4u))) & 0x0f0f0f0fu;
#if defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
    const uint h = (qh >> (4u * j)) & 15u;  // bit k goes to bit 4 of byte k
    v |= ((h & 1u) << 4) | ((h & 2u) << 11) | ((h & 4u) << 18) | ((h & 8u) << 25);
#endif
#if defined(TYPE_Q4_0)
    // minus 8: flip bit 3, then copy its complement into bits 4..7 (sign)
    const uint s = ~v & 0x08080808u;
    v = (v ^ 0x08080808u) | (s << 1) | (s << 2) | (s << 3) | (s << 4);
#elif defined(TYPE_Q5_0)
    const uint s = ~v & 0x10101010u;  // minus 16, as for Q4_0 with bit 4
    v = (v ^ 0x10101010u) | (s << 1) | (s << 2) | (s << 3);
#endif
    r.q[j] = v;
  }
#endif
  r.sc_lo = 1;
  r.sc_hi = 1;
  r.d = f16(w_u16(base));
#if defined(QUANT_MIN_32)
  r.dmin = f16(w_u16(base + 2u));  // m
#endif
#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
  const uint base = row + (u / 8u) * BLOCK_BYTES, j = u % 8u;
  r.d = f16(w_u16(base));
  r.dmin = f16(w_u16(base + 2u));
  // ggml's get_scale_min_k4
  if (j < 4u) {
    r.sc_lo = int(w_u8(base + 4u + j) & 63u);
    r.mn = int(w_u8(base + 8u + j) & 63u);
  } else {
    r.sc_lo = int((w_u8(base + 8u + j) & 15u) | ((w_u8(base + j) >> 6) << 4));
    r.mn = int((w_u8(base + 8u + j) >> 4) | ((w_u8(base + 4u + j) >> 6) << 4));
  }
  r.sc_hi = r.sc_lo;
  // Units 2p and 2p+1 share qs[32p .. 32p+32): low nibbles, then high nibbles.
  uint qs[8];
#if defined(TYPE_Q4_K)
  w_u32x8_even(base + 16u + 32u * (j / 2u), qs);
  for (uint k = 0u; k < 8u; ++k) r.q[k] = (qs[k] >> (4u * (j % 2u))) & 0x0f0f0f0fu;
#else
  uint qh[8];
  w_u32x8_even(base + 48u + 32u * (j / 2u), qs);
  w_u32x8_even(base + 16u, qh);
  for (uint k = 0u; k < 8u; ++k)
    r.q[k] = ((qs[k] >> (4u * (j % 2u))) & 0x0f0f0f0fu) | (((qh[k] >> j) & 0x01010101u) << 4);
#endif
#else
  const uint base = row + (u / 8u) * BLOCK_BYTES, j = u % 8u, half_ = j / 4u, quarter = j % 4u;
  r.d = f16(w_u16(base + 208u));
  r.sc_lo = bitfieldExtract(int(w_u8(base + 192u + 2u * j)), 0, 8);
  r.sc_hi = bitfieldExtract(int(w_u8(base + 192u + 2u * j + 1u)), 0, 8);
  uint ql[8], qh[8];
  w_u32x8_even(base + 64u * half_ + 32u * (quarter % 2u), ql);
  w_u32x8_even(base + 128u + 32u * half_, qh);
  for (uint k = 0u; k < 8u; ++k) {
    const uint lo = (ql[k] >> (4u * (quarter / 2u))) & 0x0f0f0f0fu;
    const uint hi = (qh[k] >> (2u * quarter)) & 0x03030303u;
    // Six-bit values minus 32, bytewise: flip bit 5, then copy it into bits 6 and 7 (sign).
    uint v = (lo | (hi << 4)) ^ 0x20202020u;
    const uint sign = v & 0x20202020u;
    r.q[k] = v | (sign << 1) | (sign << 2);
  }
#endif
  return r;
}
#endif

// Element i of the row starting at byte `row`, computed as the CPU's dequantize_row does.
// `precise`: a fused multiply-add would round once where the CPU rounds twice.
float load_elem(uint row, uint i) {
#if defined(TYPE_F32)
  return uintBitsToFloat(w[(row >> 2) + i]);
#elif defined(TYPE_F16)
  return f16(w_u16(row + 2u * i));
#elif defined(TYPE_BF16)
  return uintBitsToFloat(w_u16(row + 2u * i) << 16);
#elif defined(QUANT_MIN_32)
  const uint base = row + (i / 32u) * BLOCK_BYTES;
  precise float v = float(quant_at(base, i % 32u)) * f16(w_u16(base)) + f16(w_u16(base + 2u));
  return v;
#elif defined(QUANT_BLOCK_32)
  const uint base = row + (i / 32u) * BLOCK_BYTES;
  return f16(w_u16(base)) * float(quant_at(base, i % 32u));
#elif defined(QUANT_K)
  const Unit u = load_unit(row, i / 32u);
  const uint e = i % 32u;
  const int q = bitfieldExtract(int(u.q[e / 4u]), int(8u * (e % 4u)), 8);
  precise float v = (u.d * float(e < 16u ? u.sc_lo : u.sc_hi)) * float(q) - u.dmin * float(u.mn);
  return v;
#else
#error "define one of the TYPE_* listed at the top of quant.glsl"
#endif
}

// Dot product of 4 packed signed bytes with 4 others.
int dot4_i8(uint a, uint b) {
  int s = 0;
  for (int k = 0; k < 32; k += 8) s += bitfieldExtract(int(a), k, 8) * bitfieldExtract(int(b), k, 8);
  return s;
}
