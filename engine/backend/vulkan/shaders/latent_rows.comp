// Copies between a tensor and latent-cache rows reached through a page table (LatentRows):
// STORE writes rows first_row + t of the cache from src[:, t]; otherwise rows are read into
// dst[:, t]. One invocation per element.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
layout(binding = 0) buffer Tn { float tn[]; };
layout(binding = 1) buffer Cache { float cache[]; };
layout(binding = 2) readonly buffer Pages { uint pages[]; };
// pages[pt_off + i]: word offset of page i's first row in the cache buffer; strides in words.
layout(push_constant) uniform Push {
  uint width; uint n; uint first_row; uint rows_per_page; uint row_stride; uint pt_off;
  uint t_off; uint t_nb1;
} p;
#include "common.glsl"

void main() {
  const uint i = global_index();
  if (i >= p.width * p.n) return;
  const uint j = i % p.width, t = i / p.width, r = p.first_row + t;
  const uint c = pages[p.pt_off + r / p.rows_per_page] + (r % p.rows_per_page) * p.row_stride + j;
#if defined(STORE)
  cache[c] = tn[p.t_off + t * p.t_nb1 + j];
#else
  tn[p.t_off + t * p.t_nb1 + j] = cache[c];
#endif
}
