// Reads of GGUF weight rows as stored (ggml's block layouts, byte offsets) from a buffer
// declared by the including shader as `uint w[]`: 16-bit storage is optional in Vulkan, so
// halves and bytes are extracted from 32-bit words, which every device supports.
// One of TYPE_F32, TYPE_F16, TYPE_Q8_0, TYPE_Q4_0, TYPE_Q5_0 selects the element type.

uint w_u8(uint b) { return (w[b >> 2] >> ((b & 3u) * 8u)) & 0xffu; }
// b even: a half-word never straddles two words.
uint w_u16(uint b) { return (w[b >> 2] >> ((b & 2u) * 8u)) & 0xffffu; }
// Four bytes at an even offset (Q8_0 quants start 2 bytes into a 34-byte block).
uint w_u32_even(uint b) {
  const uint i = b >> 2;
  return (b & 2u) == 0u ? w[i] : (w[i] >> 16) | (w[i + 1u] << 16);
}
float f16(uint bits) { return unpackHalf2x16(bits).x; }

#if defined(TYPE_Q8_0) || defined(TYPE_Q4_0) || defined(TYPE_Q5_0)
// Blocks of 32 with one fp16 scale, multiplied against Q8_0 activations (quant.h).
#define QUANT_BLOCK_32 1
#endif

#if defined(TYPE_Q8_0)
const uint BLOCK_BYTES = 34u;  // d, qs[32]
#elif defined(TYPE_Q4_0)
const uint BLOCK_BYTES = 18u;  // d, qs[16]: byte j holds elements j (low nibble) and j + 16
#elif defined(TYPE_Q5_0)
const uint BLOCK_BYTES = 22u;  // d, qh[4] (bit i: element i's fifth bit), qs[16] as Q4_0
#endif

#if defined(QUANT_BLOCK_32)
// The signed quant of element i (0..31) of the block at byte `base`.
int quant_at(uint base, uint i) {
#if defined(TYPE_Q8_0)
  return bitfieldExtract(int(w_u8(base + 2u + i)), 0, 8);
#elif defined(TYPE_Q4_0)
  return int((w_u8(base + 2u + i % 16u) >> (4u * (i / 16u))) & 15u) - 8;
#else
  const uint qh = w_u32_even(base + 2u);
  const uint lo = (w_u8(base + 6u + i % 16u) >> (4u * (i / 16u))) & 15u;
  return int(lo | (((qh >> i) & 1u) << 4)) - 16;
#endif
}

// The block's scale, and its 32 quants packed 4 per word in element order (the layout of the
// Q8_0 activations, so one integer dot serves every type).
float load_block(uint base, out uint q[8]) {
#if defined(TYPE_Q8_0)
  for (uint j = 0u; j < 8u; ++j) q[j] = w_u32_even(base + 2u + 4u * j);
#else
  for (uint j = 0u; j < 8u; ++j) {
    uint packed = 0u;
    for (uint k = 0u; k < 4u; ++k) packed |= (uint(quant_at(base, 4u * j + k)) & 0xffu) << (8u * k);
    q[j] = packed;
  }
#endif
  return f16(w_u16(base));
}
#endif

// Element i of the row starting at byte `row`.
float load_elem(uint row, uint i) {
#if defined(TYPE_F32)
  return uintBitsToFloat(w[(row >> 2) + i]);
#elif defined(TYPE_F16)
  return f16(w_u16(row + 2u * i));
#elif defined(QUANT_BLOCK_32)
  const uint base = row + (i / 32u) * BLOCK_BYTES;
  return f16(w_u16(base)) * float(quant_at(base, i % 32u));
#else
#error "define TYPE_F32, TYPE_F16, TYPE_Q8_0, TYPE_Q4_0 or TYPE_Q5_0"
#endif
}

// Dot product of 4 packed signed bytes with 4 others.
int dot4_i8(uint a, uint b) {
  int s = 0;
  for (int k = 0; k < 32; k += 8) s += bitfieldExtract(int(a), k, 8) * bitfieldExtract(int(b), k, 8);
  return s;
}
