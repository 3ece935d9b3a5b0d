// In-place rotary embedding of interleaved pairs (ggml NORM mode) with YaRN, as the CPU
// backend computes it: theta_extrap = pos * theta_scale^(i0/2) by repeated f32 multiplication,
// YaRN ramp between corr_lo and corr_hi, magnitude attn_factor (times yarn_mscale = 1 + 0.1
// ln(1/freq_scale), computed on the host, with YaRN). One invocation per pair. `precise` keeps
// the angle arithmetic uncontracted, as the CPU's: at position 30000 one rounding of theta is
// 0.002 rad.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(binding = 0) buffer Xb { float x[]; };
layout(binding = 1) readonly buffer Pos { int pos[]; };
// x offset/strides in floats (heads nb1, tokens nb2).
layout(push_constant) uniform Push {
  uint n_rot; uint n_head; uint T; uint pos_off;
  uint x_off; uint x_nb1; uint x_nb2;
  float theta_scale; float freq_scale; float ext_factor; float attn_factor; float yarn_mscale;
  float corr_lo; float corr_hi;
} p;
#include "common.glsl"

// cos and sin with about 1 ulp error: Vulkan only requires 2^-11 absolute error from the
// built-ins (lavapipe's are that coarse), and positions reach tens of thousands of radians.
// Cody-Waite reduction by pi/2 in three parts (the leading ones have few bits, so k * part is
// exact for k < 2^15), then cephes' sinf/cosf polynomials on [-pi/4, pi/4].
vec2 cos_sin(float theta) {
  const float k = round(theta * 0.63661977236758134);
  float r = fma(-k, 1.5703125, theta);
  r = fma(-k, 4.837512969970703125e-4, r);
  r = fma(-k, 7.54978995489188216e-8, r);
  const float r2 = r * r;
  const float s = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
  const float c = 1.0 - 0.5 * r2 + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
  const int q = int(k) & 3;
  return q == 0 ? vec2(c, s) : q == 1 ? vec2(-s, c) : q == 2 ? vec2(-c, -s) : vec2(s, -c);
}

void main() {
  const uint i = global_index();
  const uint half_rot = p.n_rot / 2u;
  if (i >= half_rot * p.n_head * p.T) return;
  const uint pair = i % half_rot, h = (i / half_rot) % p.n_head, t = i / (half_rot * p.n_head);
  precise float theta_extrap = float(pos[p.pos_off + t]);
  for (uint k = 0u; k < pair; ++k) theta_extrap *= p.theta_scale;
  precise const float theta_interp = p.freq_scale * theta_extrap;
  precise float theta = theta_interp;
  float mscale = p.attn_factor;
  if (p.ext_factor != 0.0) {
    const float y = (float(pair) - p.corr_lo) / max(0.001, p.corr_hi - p.corr_lo);
    precise const float ramp_mix = (1.0 - min(1.0, max(0.0, y))) * p.ext_factor;
    theta = theta_interp * (1.0 - ramp_mix) + theta_extrap * ramp_mix;
    mscale *= p.yarn_mscale;
  }
  const vec2 cs = cos_sin(theta) * mscale;
  const uint base = p.x_off + h * p.x_nb1 + t * p.x_nb2 + 2u * pair;
  const float x0 = x[base], x1 = x[base + 1u];
  x[base] = x0 * cs.x - x1 * cs.y;
  x[base + 1u] = x0 * cs.y + x1 * cs.x;
}
