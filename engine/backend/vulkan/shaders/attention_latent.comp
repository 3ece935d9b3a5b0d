// Absorbed MLA attention over the paged latent cache (MQA: every head shares the cache rows as
// keys, and their first kv_lora values as values), one workgroup per (head, query), with the
// online softmax of attention.comp over key chunks of 64. Rows are read in the cache's element
// type (latent_cache.glsl) and widened to f32.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
const uint WG = 64u;
const uint MAX_L = 1024u;
layout(binding = 0) readonly buffer Q { float q[]; };
#if defined(CACHE_F32)
layout(binding = 1) readonly buffer Cache { float cache[]; };
#else
layout(binding = 1) readonly buffer Cache { uint cache[]; };
#endif
layout(binding = 2) readonly buffer Pages { uint pages[]; };
layout(binding = 3) writeonly buffer O { float o[]; };
// W: row width (kv_lora + n_rot), L: values per row (kv_lora); strides in words.
layout(push_constant) uniform Push {
  uint W; uint L; uint H; uint T; uint first_pos; float scale;
  uint rows_per_page; uint row_stride; uint pt_off;
  uint q_off; uint q_nb1; uint q_nb2;
  uint o_off; uint o_nb1; uint o_nb2;
} p;
#include "common.glsl"
#include "latent_cache.glsl"

shared float red[WG];
shared float probs[WG];
shared uint rows[WG];

uint row_at(uint s) { return pages[p.pt_off + s / p.rows_per_page] + (s % p.rows_per_page) * p.row_stride; }

void main() {
  const uint g = group_index();
  if (g >= p.H * p.T) return;  // uniform over the workgroup
  const uint lid = gl_LocalInvocationID.x, h = g % p.H, t = g / p.H;
  const uint S = p.first_pos + t + 1u;
  const uint qrow = p.q_off + h * p.q_nb1 + t * p.q_nb2;
  float m = -1.0 / 0.0, l = 0.0;
  float acc[MAX_L / WG];
  for (uint i = 0u; i < MAX_L / WG; ++i) acc[i] = 0.0;

  for (uint c0 = 0u; c0 < S; c0 += WG) {
    const uint s = c0 + lid;
    float score = -1.0 / 0.0;
    if (s < S) {
      const uint r = row_at(s);
      rows[lid] = r;
      float d = 0.0;
      for (uint i = 0u; i < p.W; ++i) d += q[qrow + i] * cache_at(r, i);
      score = d * p.scale;
    }
    red[lid] = score;
    barrier();
    for (uint w = WG / 2u; w > 0u; w >>= 1) {
      if (lid < w) red[lid] = max(red[lid], red[lid + w]);
      barrier();
    }
    const float new_m = max(m, red[0]);
    barrier();
    const float pr = s < S ? exp(score - new_m) : 0.0;
    probs[lid] = pr;
    red[lid] = pr;
    barrier();
    for (uint w = WG / 2u; w > 0u; w >>= 1) {
      if (lid < w) red[lid] += red[lid + w];
      barrier();
    }
    const float alpha = exp(m - new_m);  // 0 on the first chunk (m = -inf)
    l = l * alpha + red[0];
    const uint n = min(WG, S - c0);
    for (uint i = 0u; i < MAX_L / WG; ++i) {
      const uint d = lid + i * WG;
      if (d >= p.L) break;
      float a = acc[i] * alpha;
      for (uint j = 0u; j < n; ++j) a += probs[j] * cache_at(rows[j], d);
      acc[i] = a;
    }
    m = new_m;
    barrier();
  }
  const uint orow = p.o_off + h * p.o_nb1 + t * p.o_nb2;
  for (uint i = 0u; i < MAX_L / WG; ++i) {
    const uint d = lid + i * WG;
    if (d < p.L) o[orow + d] = acc[i] / l;
  }
}
