// Copies between a tensor and latent-cache rows reached through a page table (LatentRows):
// STORE writes rows first_row + t of the cache from src[:, t]; otherwise rows are read into
// dst[:, t]. One invocation per unit of PER values (the backend's latent_unit), converted as
// the CPU stores them (quant::quantize_row):
//   CACHE_F32: one value.
//   CACHE_F16, CACHE_BF16: a pair of values in one word, rounded to nearest even, so that no two
//     invocations write the same word.
//   CACHE_Q8_0: one block of 32 values, as ggml's reference quantizer: d = amax / 127,
//     q = round-half-away(x * (1 / d)) (divisions rounded as IEEE: div_rn), stored fp16(d) and
//     q. Blocks are 34 bytes, so every other one starts mid-word; the half-words a block shares
//     with its neighbours are written with atomics that change only the block's own bits.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
layout(binding = 0) buffer Tn { float tn[]; };
#if defined(CACHE_F32)
layout(binding = 1) buffer Cache { float cache[]; };
const uint PER = 1u;
#else
layout(binding = 1) buffer Cache { uint cache[]; };
#if defined(CACHE_Q8_0)
const uint PER = 32u;
#else
const uint PER = 2u;
#endif
#endif
layout(binding = 2) readonly buffer Pages { uint pages[]; };
// pages[pt_off]: the first row; pages[pt_off + 1 + i]: word offset of page i's first row in the
// cache buffer (per-step values in a buffer, so that decode steps replay one command buffer);
// strides in words.
layout(push_constant) uniform Push {
  uint width; uint n; uint rows_per_page; uint row_stride; uint pt_off;
  uint t_off; uint t_nb1;
} p;
#include "common.glsl"
#include "latent_cache.glsl"

#if defined(CACHE_Q8_0) && defined(STORE)
// quant.cpp's round_away_to_i8: roundf clamped to int8, NaN to 0. (GLSL's round() leaves the
// direction of halves to the implementation.)
int round_away(float v) {
  if (isnan(v)) return 0;
  const float c = clamp(v, -128.0, 127.0), t = trunc(c);  // c - t is exact
  return int(t) + (abs(c - t) >= 0.5 ? (c < 0.0 ? -1 : 1) : 0);
}

// Half-word h of the buffer, whose word's other half belongs to another invocation.
void store_shared_u16(uint h, uint v) {
  const uint shift = 16u * (h & 1u);
  atomicAnd(cache[h >> 1], ~(0xffffu << shift));
  atomicOr(cache[h >> 1], v << shift);
}

// Block b of the row starting at word r from the 32 values at tn[x].
void store_block(uint r, uint b, uint x) {
  float amax = 0.0;
  for (uint k = 0u; k < 32u; ++k) amax = max(amax, abs(tn[x + k]));
  const float d = div_rn(amax, 127.0), id = d != 0.0 ? div_rn(1.0, d) : 0.0;
  uint h[17];  // the block's half-words: d, then the quants in pairs
  h[0] = fp16_rne(d);
  for (uint k = 0u; k < 16u; ++k) {
    const uint lo = uint(round_away(tn[x + 2u * k] * id)) & 0xffu;
    const uint hi = uint(round_away(tn[x + 2u * k + 1u] * id)) & 0xffu;
    h[1u + k] = lo | (hi << 8);
  }
  const uint h0 = 2u * r + 17u * b;
  uint k = 0u;
  if ((h0 & 1u) != 0u) store_shared_u16(h0, h[k++]);
  for (; k + 1u < 17u; k += 2u) cache[(h0 + k) >> 1] = h[k] | (h[k + 1u] << 16);
  if (k < 17u) store_shared_u16(h0 + k, h[k]);
}
#endif

void main() {
  const uint i = global_index();
  const uint n_units = p.width / PER;
  if (i >= n_units * p.n) return;
  const uint j = i % n_units, t = i / n_units, r = pages[p.pt_off] + t;
  const uint row = pages[p.pt_off + 1u + r / p.rows_per_page] + (r % p.rows_per_page) * p.row_stride;
  const uint x = p.t_off + t * p.t_nb1 + j * PER;
#if defined(STORE) && defined(CACHE_F32)
  cache[row + j] = tn[x];
#elif defined(STORE) && defined(CACHE_F16)
  cache[row + j] = fp16_rne(tn[x]) | (fp16_rne(tn[x + 1u]) << 16);
#elif defined(STORE) && defined(CACHE_BF16)
  cache[row + j] = bf16_rne(tn[x]) | (bf16_rne(tn[x + 1u]) << 16);
#elif defined(STORE)
  store_block(row, j, x);
#else
  for (uint v = 0u; v < PER; ++v) tn[x + v] = cache_at(row, j * PER + v);
#endif
}
