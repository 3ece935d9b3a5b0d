// Reads of GGUF weight rows as stored (ggml's block layouts, byte offsets) from a buffer
// declared by the including shader as `uint w[]`: 16-bit storage is optional in Vulkan, so
// halves and bytes are extracted from 32-bit words, which every device supports.
// One of TYPE_F32, TYPE_F16, TYPE_Q8_0 selects the element type.

uint w_u8(uint b) { return (w[b >> 2] >> ((b & 3u) * 8u)) & 0xffu; }
// b even: a half-word never straddles two words.
uint w_u16(uint b) { return (w[b >> 2] >> ((b & 2u) * 8u)) & 0xffffu; }
// Four bytes at an even offset (Q8_0 quants start 2 bytes into a 34-byte block).
uint w_u32_even(uint b) {
  const uint i = b >> 2;
  return (b & 2u) == 0u ? w[i] : (w[i] >> 16) | (w[i + 1u] << 16);
}
float f16(uint bits) { return unpackHalf2x16(bits).x; }

// Element i of the row starting at byte `row`.
float load_elem(uint row, uint i) {
#if defined(TYPE_F32)
  return uintBitsToFloat(w[(row >> 2) + i]);
#elif defined(TYPE_F16)
  return f16(w_u16(row + 2u * i));
#elif defined(TYPE_Q8_0)
  const uint base = row + (i / 32u) * 34u;
  const int q = bitfieldExtract(int(w_u8(base + 2u + i % 32u)), 0, 8);
  return f16(w_u16(base)) * float(q);
#else
#error "define TYPE_F32, TYPE_F16 or TYPE_Q8_0"
#endif
}

// Dot product of 4 packed signed bytes with 4 others.
int dot4_i8(uint a, uint b) {
  int s = 0;
  for (int k = 0; k < 32; k += 8) s += bitfieldExtract(int(a), k, 8) * bitfieldExtract(int(b), k, 8);
  return s;
}
