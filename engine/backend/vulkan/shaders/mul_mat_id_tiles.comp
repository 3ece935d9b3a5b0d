// The routing of the tiled expert matmul (mul_mat_tile.comp with MUL_MAT_ID), built on the
// device from the ids [U slots, T tokens] so that they never go back to the host: one workgroup
// sorts the U T (token, slot) pairs by expert (bucket n_expert collects ids outside
// [0, n_expert)) and cuts each bucket's list into tiles of tile_cols columns. Output, in words,
// with E1 = n_expert + 1 buckets:
//   [0]                    tiles in use
//   [1, 1 + E1)            each bucket's first entry
//   [1 + E1, 1 + 2 E1)     each bucket's end
//   [1 + 2 E1, + U T)      the entries t U + slot, grouped by bucket
//   then 2 words per tile: its bucket and first entry (at most U T / tile_cols + E1 tiles)
// Within a bucket the entries come in the order of the shared-memory atomics: that decides only
// which columns share a tile, never a sum.
#version 450
layout(local_size_x = 256) in;
const uint WG = 256u;
const uint MAX_BUCKETS = 1025u;  // the host uses this kernel for at most 1024 experts
layout(binding = 0) readonly buffer Ids { int ids[]; };
layout(binding = 1) writeonly buffer Route { uint route[]; };
// ids offset and token stride in words.
layout(push_constant) uniform Push { uint U; uint T; uint n_expert; uint ids_off; uint ids_nb1; uint tile_cols; } p;

shared uint count[MAX_BUCKETS];

uint bucket_of(uint i) {
  const int id = ids[p.ids_off + (i / p.U) * p.ids_nb1 + i % p.U];
  return id >= 0 && uint(id) < p.n_expert ? uint(id) : p.n_expert;
}

void main() {
  const uint lid = gl_LocalInvocationID.x, n = p.U * p.T, buckets = p.n_expert + 1u;
  const uint entries = 1u + 2u * buckets, tiles = entries + n;
  for (uint b = lid; b < buckets; b += WG) count[b] = 0u;
  barrier();
  for (uint i = lid; i < n; i += WG) atomicAdd(count[bucket_of(i)], 1u);
  barrier();
  if (lid == 0u) {  // a few hundred buckets at most: serial prefix sums
    uint first = 0u, t = 0u;
    for (uint b = 0u; b < buckets; ++b) {
      const uint c = count[b];
      route[1u + b] = first;
      route[1u + buckets + b] = first + c;
      for (uint s = 0u; s < c; s += p.tile_cols, ++t) {
        route[tiles + 2u * t] = b;
        route[tiles + 2u * t + 1u] = first + s;
      }
      count[b] = first;  // from here on: the bucket's next free entry
      first += c;
    }
    route[0] = t;
  }
  barrier();
  for (uint i = lid; i < n; i += WG) route[entries + atomicAdd(count[bucket_of(i)], 1u)] = i;
}
