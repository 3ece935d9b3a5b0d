// DeepSeekMoE routing, one invocation per token, as the CPU backend computes it: softmax (or
// sigmoid) gate probabilities, selection scores = probability + bias, group-limited routing
// (a group's score is the sum of its two best selection scores; the n_group_used best groups
// stay, ties to the lower group), then the n_used best experts in selection order (ties to the
// lower id), their probabilities normalised and scaled.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
const uint MAX_EXPERTS = 256u;
const uint MAX_GROUPS = 64u;
const uint MAX_USED = 32u;
layout(binding = 0) readonly buffer L { float logits[]; };
layout(binding = 1) readonly buffer Bias { float bias[]; };
layout(binding = 2) writeonly buffer Ids { int ids[]; };
layout(binding = 3) writeonly buffer Wts { float wts[]; };
// Offsets and strides in 4-byte words.
layout(push_constant) uniform Push {
  uint E; uint T; uint U; uint n_group; uint n_group_used; uint sigmoid; uint norm; float scale;
  uint has_bias; uint l_off; uint l_nb1; uint b_off; uint i_off; uint i_nb1; uint w_off; uint w_nb1;
} p;
#include "common.glsl"

float prob[MAX_EXPERTS];
float sel[MAX_EXPERTS];

void main() {
  const uint t = global_index();
  if (t >= p.T) return;
  const uint lrow = p.l_off + t * p.l_nb1;
  if (p.sigmoid != 0u) {
    for (uint e = 0u; e < p.E; ++e) prob[e] = 1.0 / (1.0 + exp(-logits[lrow + e]));
  } else {
    float mx = -1.0 / 0.0;
    for (uint e = 0u; e < p.E; ++e) mx = max(mx, logits[lrow + e]);
    float sum = 0.0;
    for (uint e = 0u; e < p.E; ++e) {
      prob[e] = exp(logits[lrow + e] - mx);
      sum += prob[e];
    }
    const float inv = 1.0 / sum;
    for (uint e = 0u; e < p.E; ++e) prob[e] *= inv;
  }
  for (uint e = 0u; e < p.E; ++e) sel[e] = prob[e] + (p.has_bias != 0u ? bias[p.b_off + e] : 0.0);

  if (p.n_group > 1u) {
    const uint per = p.E / p.n_group;
    float score[MAX_GROUPS];
    for (uint g = 0u; g < p.n_group; ++g) {
      float a = -1.0 / 0.0, b = -1.0 / 0.0;
      for (uint e = g * per; e < (g + 1u) * per; ++e) {
        if (sel[e] > a) {
          b = a;
          a = sel[e];
        } else if (sel[e] > b) {
          b = sel[e];
        }
      }
      score[g] = per >= 2u ? a + b : a;
    }
    for (uint g = 0u; g < p.n_group; ++g) {
      uint rank = 0u;
      for (uint h = 0u; h < p.n_group; ++h)
        if (score[h] > score[g] || (score[h] == score[g] && h < g)) ++rank;
      if (rank >= p.n_group_used)
        for (uint e = g * per; e < (g + 1u) * per; ++e) sel[e] = -1.0 / 0.0;
    }
  }

  uint taken[MAX_EXPERTS / 32u];
  for (uint i = 0u; i < MAX_EXPERTS / 32u; ++i) taken[i] = 0u;
  float w[MAX_USED];
  float sum = 0.0;
  const uint irow = p.i_off + t * p.i_nb1, wrow = p.w_off + t * p.w_nb1;
  for (uint k = 0u; k < p.U; ++k) {
    int best = -1;
    for (uint e = 0u; e < p.E; ++e) {
      if ((taken[e / 32u] & (1u << (e % 32u))) != 0u) continue;
      if (best < 0 || sel[e] > sel[best]) best = int(e);
    }
    taken[uint(best) / 32u] |= 1u << (uint(best) % 32u);
    ids[irow + k] = best;
    w[k] = prob[best];
    sum += w[k];
  }
  if (p.norm != 0u) {
    sum = max(sum, 6.103515625e-5);
    for (uint k = 0u; k < p.U; ++k) w[k] /= sum;
  }
  if (p.scale != 0.0 && p.scale != 1.0)
    for (uint k = 0u; k < p.U; ++k) w[k] *= p.scale;
  for (uint k = 0u; k < p.U; ++k) wts[wrow + k] = w[k];
}
