// Copies between a tensor and latent-cache rows reached through a page table (LatentRows):
// STORE writes rows first_row + t of the cache from src[:, t]; otherwise rows are read into
// dst[:, t]. CACHE_F16: rows hold fp16 (rounded to nearest even, as the CPU stores them), one
// invocation per pair of values so that no two invocations write the same word; otherwise f32,
// one invocation per value.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
layout(binding = 0) buffer Tn { float tn[]; };
#if defined(CACHE_F16)
layout(binding = 1) buffer Cache { uint cache[]; };
const uint PER = 2u;
#else
layout(binding = 1) buffer Cache { float cache[]; };
const uint PER = 1u;
#endif
layout(binding = 2) readonly buffer Pages { uint pages[]; };
// pages[pt_off + i]: word offset of page i's first row in the cache buffer; strides in words.
layout(push_constant) uniform Push {
  uint width; uint n; uint first_row; uint rows_per_page; uint row_stride; uint pt_off;
  uint t_off; uint t_nb1;
} p;
#include "common.glsl"

void main() {
  const uint i = global_index();
  const uint n_words = p.width / PER;
  if (i >= n_words * p.n) return;
  const uint j = i % n_words, t = i / n_words, r = p.first_row + t;
  const uint c = pages[p.pt_off + r / p.rows_per_page] + (r % p.rows_per_page) * p.row_stride + j;
  const uint x = p.t_off + t * p.t_nb1 + j * PER;
#if defined(CACHE_F16) && defined(STORE)
  cache[c] = fp16_rne(tn[x]) | (fp16_rne(tn[x + 1u]) << 16);
#elif defined(CACHE_F16)
  const vec2 v = unpackHalf2x16(cache[c]);
  tn[x] = v.x;
  tn[x + 1u] = v.y;
#elif defined(STORE)
  cache[c] = tn[x];
#else
  tn[x] = cache[c];
#endif
}
