// Reads of latent-cache rows (LatentRows) from a buffer declared by the including shader as
// `cache`: floats for CACHE_F32, else 32-bit words (16-bit storage is optional in Vulkan). One
// of CACHE_F32, CACHE_F16, CACHE_BF16, CACHE_Q8_0 selects the element type; values are widened
// to f32 exactly, as the CPU backend's widen_row.

// Value i of the row starting at word r.
#if defined(CACHE_F32)
float cache_at(uint r, uint i) { return cache[r + i]; }
#elif defined(CACHE_F16)
float cache_at(uint r, uint i) { return unpackHalf2x16(cache[r + i / 2u])[i % 2u]; }
#elif defined(CACHE_BF16)
float cache_at(uint r, uint i) {
  const uint v = cache[r + i / 2u];
  return uintBitsToFloat(i % 2u == 0u ? v << 16 : v & 0xffff0000u);
}
#elif defined(CACHE_Q8_0)
// Half-word h of the buffer.
uint cache_u16(uint h) { return (cache[h >> 1] >> (16u * (h & 1u))) & 0xffffu; }
// ggml's blocks of 32 values in 17 half-words: fp16 d, then 32 int8 quants; a value is q * d.
// Rows start at a word, so block b of the row at word r starts at half-word 2r + 17b.
float cache_at(uint r, uint i) {
  const uint h = 2u * r + 17u * (i / 32u), e = i % 32u;
  const int q = bitfieldExtract(int(cache_u16(h + 1u + e / 2u)), int(8u * (e % 2u)), 8);
  return unpackHalf2x16(cache_u16(h)).x * float(q);
}
#else
#error "define CACHE_F32, CACHE_F16, CACHE_BF16 or CACHE_Q8_0"
#endif
