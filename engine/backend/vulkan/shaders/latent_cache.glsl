// Reads of latent-cache rows (LatentRows) from a buffer declared by the including shader as
// `cache`: floats for CACHE_F32, else 32-bit words (16-bit storage is optional in Vulkan). One
// of CACHE_F32, CACHE_F16, CACHE_BF16, CACHE_Q8_0 selects the element type; values are widened
// to f32 exactly, as the CPU backend's widen_row.

// Value i of the row starting at word r; cache_quad: values i..i+3 for i a multiple of 4, the
// same values with fewer loads.
#if defined(CACHE_F32)
float cache_at(uint r, uint i) { return cache[r + i]; }
vec4 cache_quad(uint r, uint i) {
  return vec4(cache[r + i], cache[r + i + 1u], cache[r + i + 2u], cache[r + i + 3u]);
}
#elif defined(CACHE_F16)
float cache_at(uint r, uint i) { return unpackHalf2x16(cache[r + i / 2u])[i % 2u]; }
vec4 cache_quad(uint r, uint i) {
  return vec4(unpackHalf2x16(cache[r + i / 2u]), unpackHalf2x16(cache[r + i / 2u + 1u]));
}
#elif defined(CACHE_BF16)
float cache_at(uint r, uint i) {
  const uint v = cache[r + i / 2u];
  return uintBitsToFloat(i % 2u == 0u ? v << 16 : v & 0xffff0000u);
}
vec4 cache_quad(uint r, uint i) {
  const uint a = cache[r + i / 2u], b = cache[r + i / 2u + 1u];
  return uintBitsToFloat(uvec4(a << 16, a & 0xffff0000u, b << 16, b & 0xffff0000u));
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
vec4 cache_quad(uint r, uint i) {
  const uint h = 2u * r + 17u * (i / 32u), e = i % 32u;
  const int q = int(cache_u16(h + 1u + e / 2u) | (cache_u16(h + 2u + e / 2u) << 16));
  const ivec4 qs = ivec4(bitfieldExtract(q, 0, 8), bitfieldExtract(q, 8, 8), bitfieldExtract(q, 16, 8),
                         bitfieldExtract(q, 24, 8));
  return unpackHalf2x16(cache_u16(h)).x * vec4(qs);
}
#else
#error "define CACHE_F32, CACHE_F16, CACHE_BF16 or CACHE_Q8_0"
#endif
