// Absorbed MLA attention over the paged latent cache. MLA is MQA: every head shares the cache
// rows as keys, and their first L values as values, so one workgroup serves HG heads of one
// query and reads each row once for all of them. Keys go in chunks of CK, with an online
// softmax across chunks:
//   scores: invocation i owns key i of the chunk and computes its HG dot products against the
//     queries (kept in shared memory), so no reduction per key;
//   one max per head over the chunk (subgroupMax with USE_SUBGROUP, else in shared memory);
//   probabilities: each invocation exponentiates its own key's scores and keeps its own share
//     of the softmax sums, reduced once at the end;
//   values: invocations own output dimensions, each cache value is read once and used by the
//     HG heads.
// Shared arrays alternate between even and odd chunks, so a chunk starts without waiting for
// the previous one's value products.
// Decode (few queries, long cache) splits each query's keys over n_split workgroups that write
// partial results (max, sum, unnormalized output) for attention_latent_combine.comp.
// Rows are read in the cache's element type (latent_cache.glsl) and widened to f32.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#if defined(USE_SUBGROUP)
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#endif
layout(local_size_x = 64) in;
const uint WG = 64u;
const uint CK = WG;                 // keys per chunk: one per invocation
const uint HG = 8u;                 // heads per workgroup
const uint MAX_W = 640u;            // row width: 576 (kv_lora 512 + rope 64) for the real models
const uint DIMS = MAX_W / WG;       // output dimensions per invocation, at most
const uint PARTS = WG / HG;         // invocations per head in the shared-memory max
layout(binding = 0) readonly buffer Q { float q[]; };
#if defined(CACHE_F32)
layout(binding = 1) readonly buffer Cache { float cache[]; };
#else
layout(binding = 1) readonly buffer Cache { uint cache[]; };
#endif
layout(binding = 2) readonly buffer Pages { uint pages[]; };
layout(binding = 3) writeonly buffer O { float o[]; };
// W: row width (kv_lora + n_rot), L: values per row (kv_lora); strides in words. With
// n_split > 1, workgroup split c covers keys [c * split_len, (c + 1) * split_len) and writes
// its partial result to o[] at ((t * H + h) * n_split + c) * (L + 2). pages[pt_off] is the
// first query's position, pages[pt_off + 1 + i] the word offset of page i (per-step values in
// a buffer, so that decode steps replay one command buffer).
layout(push_constant) uniform Push {
  uint W; uint L; uint H; uint T; float scale;
  uint rows_per_page; uint row_stride; uint pt_off;
  uint q_off; uint q_nb1; uint q_nb2;
  uint o_off; uint o_nb1; uint o_nb2;
  uint n_split; uint split_len;
} p;
#include "common.glsl"
#include "latent_cache.glsl"

shared vec4 qs[HG][MAX_W / 4u];     // the queries, zero-padded to whole vec4s (zeros for heads past H)
shared vec4 probs[2][CK][HG / 4u];  // a chunk's probabilities (raw scores first, without subgroups)
shared uint rows[2][CK];            // word offsets of a chunk's rows
shared float red[2][HG][WG];        // per-head partial maxima, then the final sums

uint row_at(uint s) { return pages[p.pt_off + 1u + s / p.rows_per_page] + (s % p.rows_per_page) * p.row_stride; }

void store_probs(uint par, uint i, float v[HG]) {
  [[unroll]] for (uint k = 0u; k < HG / 4u; ++k)
    probs[par][i][k] = vec4(v[4u * k], v[4u * k + 1u], v[4u * k + 2u], v[4u * k + 3u]);
}

// Sum (or max) over the workgroup of each head's v, into red[par][h][...]: every invocation
// gets the results. Ends with red[par] readable; the caller's next write to red[par] must follow
// another barrier.
#if defined(USE_SUBGROUP)
void reduce(uint par, inout float v[HG], bool is_max) {
  [[unroll]] for (uint h = 0u; h < HG; ++h) {
    const float s = is_max ? subgroupMax(v[h]) : subgroupAdd(v[h]);
    if (subgroupElect()) red[par][h][gl_SubgroupID] = s;
  }
  barrier();
  [[unroll]] for (uint h = 0u; h < HG; ++h) v[h] = red[par][h][0];
  for (uint i = 1u; i < gl_NumSubgroups; ++i)
    [[unroll]] for (uint h = 0u; h < HG; ++h)
      v[h] = is_max ? max(v[h], red[par][h][i]) : v[h] + red[par][h][i];
}
#else
// Through probs[par] (free at this point) and PARTS partial results per head.
void reduce(uint par, inout float v[HG], bool is_max) {
  const uint lid = gl_LocalInvocationID.x;
  store_probs(par, lid, v);
  barrier();
  const uint h = lid / PARTS, part = lid % PARTS;
  float s = probs[par][part * (WG / PARTS)][h / 4u][h % 4u];
  for (uint i = 1u; i < WG / PARTS; ++i) {
    const float x = probs[par][part * (WG / PARTS) + i][h / 4u][h % 4u];
    s = is_max ? max(s, x) : s + x;
  }
  red[par][h][part] = s;
  barrier();
  [[unroll]] for (uint k = 0u; k < HG; ++k) v[k] = red[par][k][0];
  for (uint i = 1u; i < PARTS; ++i)
    [[unroll]] for (uint k = 0u; k < HG; ++k)
      v[k] = is_max ? max(v[k], red[par][k][i]) : v[k] + red[par][k][i];
}
#endif

// The value product of a chunk's n keys, added to the accumulators rescaled by alpha, for
// invocations that own dimensions lid + k * WG, k < dims, of the output (dims a constant after
// inlining, so that acc is indexed statically: drivers keep an array indexed by a variable in
// memory). Dimensions past L repeat the last one, so that no invocation branches; they are not
// stored.
float acc[HG][DIMS];
void accumulate(uint par, uint n, float alpha[HG], const uint dims) {
  [[unroll]] for (uint k = 0u; k < dims; ++k)
    [[unroll]] for (uint h = 0u; h < HG; ++h) acc[h][k] *= alpha[h];
  uint d[DIMS];
  [[unroll]] for (uint k = 0u; k < dims; ++k) d[k] = min(k * WG + gl_LocalInvocationID.x, p.L - 1u);
  for (uint j = 0u; j < n; ++j) {
    const uint r = rows[par][j];
    float pj[HG];
    [[unroll]] for (uint h4 = 0u; h4 < HG / 4u; ++h4) {
      const vec4 v = probs[par][j][h4];
      pj[4u * h4] = v.x;
      pj[4u * h4 + 1u] = v.y;
      pj[4u * h4 + 2u] = v.z;
      pj[4u * h4 + 3u] = v.w;
    }
    [[unroll]] for (uint k = 0u; k < dims; ++k) {
      const float x = cache_at(r, d[k]);
      [[unroll]] for (uint h = 0u; h < HG; ++h) acc[h][k] += pj[h] * x;
    }
  }
}

void main() {
  const uint n_hg = (p.H + HG - 1u) / HG;
  const uint g = group_index();
  if (g >= n_hg * p.T * p.n_split) return;  // uniform over the workgroup
  const uint lid = gl_LocalInvocationID.x;
  const uint c = g % p.n_split, h0 = (g / p.n_split) % n_hg * HG, t = g / (p.n_split * n_hg);
  const uint S = pages[p.pt_off] + t + 1u;
  const uint s_begin = min(S, c * p.split_len), s_end = min(S, s_begin + p.split_len);
  const uint nh = min(HG, p.H - h0);

  const uint w4 = (p.W + 3u) / 4u;
  for (uint e = lid; e < HG * w4; e += WG) {
    const uint h = e / w4, i = 4u * (e % w4);
    vec4 v = vec4(0.0);
    if (h < nh) {
      const uint qrow = p.q_off + (h0 + h) * p.q_nb1 + t * p.q_nb2;
      for (uint j = 0u; j < 4u; ++j)
        if (i + j < p.W) v[j] = q[qrow + i + j];
    }
    qs[h][i / 4u] = v;
  }
  barrier();

  float m[HG], l[HG];
  [[unroll]] for (uint h = 0u; h < HG; ++h) {
    m[h] = -1.0 / 0.0;
    l[h] = 0.0;  // this invocation's keys' share of the sum
    [[unroll]] for (uint k = 0u; k < DIMS; ++k) acc[h][k] = 0.0;
  }
  uint par = 0u;
  for (uint c0 = s_begin; c0 < s_end; c0 += CK, par ^= 1u) {
    const uint s = c0 + lid;
    const bool valid = s < s_end;
    float sc[HG];
    [[unroll]] for (uint h = 0u; h < HG; ++h) sc[h] = valid ? 0.0 : -1.0 / 0.0;
    if (valid) {
      const uint r = row_at(s);
      rows[par][lid] = r;
      uint i = 0u;
      for (; i + 4u <= p.W; i += 4u) {
        const vec4 x = cache_quad(r, i);
        [[unroll]] for (uint h = 0u; h < HG; ++h) sc[h] += dot(qs[h][i / 4u], x);
      }
      for (; i < p.W; ++i) {
        const float x = cache_at(r, i);
        [[unroll]] for (uint h = 0u; h < HG; ++h) sc[h] += qs[h][i / 4u][i % 4u] * x;
      }
      [[unroll]] for (uint h = 0u; h < HG; ++h) sc[h] *= p.scale;
    }
    float mx[HG] = sc;
    reduce(par, mx, true);
    float pr[HG], alpha[HG];
    [[unroll]] for (uint h = 0u; h < HG; ++h) {
      const float new_m = max(m[h], mx[h]);
      alpha[h] = exp(m[h] - new_m);  // 0 on the first chunk (m = -inf)
      pr[h] = valid ? exp(sc[h] - new_m) : 0.0;
      l[h] = l[h] * alpha[h] + pr[h];
      m[h] = new_m;
    }
    store_probs(par, lid, pr);
    barrier();
    const uint n = min(s_end - c0, CK);
    if (p.L <= 2u * WG)
      accumulate(par, n, alpha, 2u);
    else if (p.L <= 4u * WG)
      accumulate(par, n, alpha, 4u);
    else if (p.L <= 8u * WG)
      accumulate(par, n, alpha, 8u);
    else
      accumulate(par, n, alpha, DIMS);
  }
  // The next chunk's shared arrays are free (see above): the sums go through them.
  reduce(par, l, false);

  const bool split = p.n_split > 1u;
  [[unroll]] for (uint h = 0u; h < HG; ++h) {
    const uint base = ((t * p.H + h0 + h) * p.n_split + c) * (p.L + 2u);
    const uint orow = p.o_off + (h0 + h) * p.o_nb1 + t * p.o_nb2;
    [[unroll]] for (uint k = 0u; k < DIMS; ++k) {
      const uint d = k * WG + lid;
      if (h < nh && d < p.L) {
        if (split)
          o[base + 2u + d] = acc[h][k];
        else
          o[orow + d] = acc[h][k] / l[h];
      }
    }
    if (split && h < nh && lid == 0u) {
      o[base] = m[h];
      o[base + 1u] = l[h];
    }
  }
}
