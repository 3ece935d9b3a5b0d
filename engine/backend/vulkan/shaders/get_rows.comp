// out[:, t] = table[:, ids[t]] as f32, the table read in its stored type (TYPE_*).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Wt { uint w[]; };
layout(binding = 1) readonly buffer Ids { int ids[]; };
layout(binding = 2) writeonly buffer O { float o[]; };
// n: row length; table_off/table_nb1 in bytes; out_off/out_nb1 in floats.
layout(push_constant) uniform Push { uint n; uint n_ids; uint ids_off; uint table_off; uint table_nb1; uint out_off; uint out_nb1; } p;
#include "common.glsl"
#include "quant.glsl"

void main() {
  const uint i = global_index();
  if (i >= p.n * p.n_ids) return;
  const uint t = i / p.n, j = i % p.n;
  const uint row = p.table_off + uint(ids[p.ids_off + t]) * p.table_nb1;
  o[p.out_off + t * p.out_nb1 + j] = load_elem(row, j);
}
