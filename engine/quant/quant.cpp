// Scalar half of engine/quant: float16/bfloat16 conversion, dequantization (ggml's arithmetic,
// operation for operation, so results are bit-identical), quantizers, the reference dot
// products, and the run-time dispatch to the SIMD kernels.
#include "quant/quant.h"

#include <cpuid.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>

#include "quant/blocks.h"

namespace latent::quant {

using namespace detail;

// ---------------------------------------------------------------------------------------------
// Conversions

float fp16_to_fp32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      float v = static_cast<float>(mant) * 0x1p-24f;  // subnormal: exact in f32
      std::memcpy(&bits, &v, 4);
      bits |= sign;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00 | ((x >> 13) & 0x3ff));  // NaN stays NaN
  if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);  // rounds to infinity
  if (x < 0x38800000u) {                                                  // half subnormal or zero
    if (x < 0x33000000u) return sign;
    uint32_t e = x >> 23;
    uint32_t m = (x & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;  // 14..24
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = (x - (112u << 23)) >> 13;
  uint32_t rem = x & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float bf16_to_fp32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 64);  // quiet NaN
  return static_cast<uint16_t>((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

namespace {

[[noreturn]] void unsupported(TensorType t, const char* op) {
  throw std::invalid_argument(std::string("quant::") + op + ": tensor type " + std::string(gguf::type_name(t)) +
                              " is not supported (supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K)");
}

void check_n(TensorType t, int64_t n, const char* op) {
  auto tr = gguf::type_traits(static_cast<uint32_t>(t));
  if (!tr || n < 0 || n % tr->block_elements != 0)
    throw std::invalid_argument(std::string("quant::") + op + ": row length " + std::to_string(n) +
                                " is not a multiple of the " + std::string(gguf::type_name(t)) + " block size");
}

float h2f(uint16_t h) { return fp16_to_fp32(h); }

// ---------------------------------------------------------------------------------------------
// Dequantization, in ggml's operation order (ggml-quants.c dequantize_row_*).

void dq_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + 16] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dq_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = h2f(x[i].d), m = h2f(x[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[j + 16] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void dq_q5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = h2f(x[i].d);
    const uint32_t qh = load_u32(x[i].qh);
    for (int j = 0; j < 16; ++j) {
      const int hb0 = ((qh >> j) << 4) & 0x10, hb1 = (qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | hb0) - 16) * d;
      y[j + 16] = static_cast<float>(((x[i].qs[j] >> 4) | hb1) - 16) * d;
    }
  }
}

void dq_q5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = h2f(x[i].d), m = h2f(x[i].m);
    const uint32_t qh = load_u32(x[i].qh);
    for (int j = 0; j < 16; ++j) {
      const int hb0 = ((qh >> j) << 4) & 0x10, hb1 = (qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) | hb0) * d + m;
      y[j + 16] = static_cast<float>((x[i].qs[j] >> 4) | hb1) * d + m;
    }
  }
}

void dq_q8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void dq_q8_1(const BlockQ8_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void dq_q4_k(const BlockQ4_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
    uint8_t sc[8], mn[8];
    unpack_scales_k4(x[i].scales, sc, mn);
    const uint8_t* q = x[i].qs;
    for (int j = 0; j < 4; ++j, q += 32) {
      const float d1 = d * sc[2 * j], m1 = dmin * mn[2 * j];
      const float d2 = d * sc[2 * j + 1], m2 = dmin * mn[2 * j + 1];
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dq_q5_k(const BlockQ5_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
    uint8_t sc[8], mn[8];
    unpack_scales_k4(x[i].scales, sc, mn);
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 4; ++j, ql += 32, u1 = static_cast<uint8_t>(u1 << 2), u2 = static_cast<uint8_t>(u2 << 2)) {
      const float d1 = d * sc[2 * j], m1 = dmin * mn[2 * j];
      const float d2 = d * sc[2 * j + 1], m2 = dmin * mn[2 * j + 1];
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

void dq_q6_k(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int n = 0; n < 2; ++n, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void dq_q8_k(const BlockQ8_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i)
    for (int j = 0; j < kQKK; ++j) *y++ = x[i].d * static_cast<float>(x[i].qs[j]);
}

}  // namespace

bool is_supported(TensorType t) {
  switch (t) {
    case TensorType::F32: case TensorType::F16: case TensorType::BF16: case TensorType::Q4_0:
    case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1: case TensorType::Q8_0:
    case TensorType::Q8_1: case TensorType::Q4_K: case TensorType::Q5_K: case TensorType::Q6_K:
    case TensorType::Q8_K:
      return true;
    default:
      return false;
  }
}

void dequantize_row(TensorType t, const void* src, float* dst, int64_t n) {
  check_n(t, n, "dequantize_row");
  const int64_t nb32 = n / kQK, nbk = n / kQKK;
  switch (t) {
    case TensorType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case TensorType::F16: {
      auto* s = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = fp16_to_fp32(h);
      }
      return;
    }
    case TensorType::BF16: {
      auto* s = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = bf16_to_fp32(h);
      }
      return;
    }
    case TensorType::Q4_0: return dq_q4_0(static_cast<const BlockQ4_0*>(src), dst, nb32);
    case TensorType::Q4_1: return dq_q4_1(static_cast<const BlockQ4_1*>(src), dst, nb32);
    case TensorType::Q5_0: return dq_q5_0(static_cast<const BlockQ5_0*>(src), dst, nb32);
    case TensorType::Q5_1: return dq_q5_1(static_cast<const BlockQ5_1*>(src), dst, nb32);
    case TensorType::Q8_0: return dq_q8_0(static_cast<const BlockQ8_0*>(src), dst, nb32);
    case TensorType::Q8_1: return dq_q8_1(static_cast<const BlockQ8_1*>(src), dst, nb32);
    case TensorType::Q4_K: return dq_q4_k(static_cast<const BlockQ4_K*>(src), dst, nbk);
    case TensorType::Q5_K: return dq_q5_k(static_cast<const BlockQ5_K*>(src), dst, nbk);
    case TensorType::Q6_K: return dq_q6_k(static_cast<const BlockQ6_K*>(src), dst, nbk);
    case TensorType::Q8_K: return dq_q8_k(static_cast<const BlockQ8_K*>(src), dst, nbk);
    default: unsupported(t, "dequantize_row");
  }
}

// ---------------------------------------------------------------------------------------------
// Quantizers

namespace {

// Float -> integer conversions with defined results for NaN and out-of-range inputs (a plain
// cast is undefined behaviour there; the fuzzer feeds garbage rows through these). For finite
// in-range values they equal the plain casts/rounding ggml uses.
int8_t trunc_to_i8(float v) {  // (int8_t)v
  if (std::isnan(v)) return 0;
  return static_cast<int8_t>(std::clamp(v, -128.0f, 127.0f));
}
uint8_t trunc_to_u8(float v) {  // (uint8_t)v
  if (std::isnan(v)) return 0;
  return static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
}
int8_t round_away_to_i8(float v) {  // (int8_t)roundf(v)
  if (std::isnan(v)) return 0;
  return static_cast<int8_t>(std::round(std::clamp(v, -128.0f, 127.0f)));
}
// nearbyint (ties to even) clamped to [lo, hi]; NaN gives the value nearest 0.
int round_clamped(float v, int lo, int hi) {
  if (std::isnan(v)) return std::clamp(0, lo, hi);
  return static_cast<int>(std::nearbyint(std::clamp(v, static_cast<float>(lo), static_cast<float>(hi))));
}

// ggml's reference quantizers for the legacy formats (quantize_row_*_ref), so files written
// here equal llama-quantize's output for these types.
void q_q4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK; ++j)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    const float d = max / -8, id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < 16; ++j) {
      const uint8_t a = static_cast<uint8_t>(std::min<int>(15, trunc_to_i8(x[j] * id + 8.5f)));
      const uint8_t b = static_cast<uint8_t>(std::min<int>(15, trunc_to_i8(x[j + 16] * id + 8.5f)));
      y[i].qs[j] = static_cast<uint8_t>(a | (b << 4));
    }
  }
}

void q_q4_1(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < kQK; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
    const float d = (mx - mn) / 15, id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    for (int j = 0; j < 16; ++j) {
      const uint8_t a = static_cast<uint8_t>(std::min<int>(15, trunc_to_i8((x[j] - mn) * id + 0.5f)));
      const uint8_t b = static_cast<uint8_t>(std::min<int>(15, trunc_to_i8((x[j + 16] - mn) * id + 0.5f)));
      y[i].qs[j] = static_cast<uint8_t>(a | (b << 4));
    }
  }
}

void q_q5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK; ++j)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    const float d = max / -16, id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const uint8_t a = static_cast<uint8_t>(std::min<int>(31, trunc_to_i8(x[j] * id + 16.5f)));
      const uint8_t b = static_cast<uint8_t>(std::min<int>(31, trunc_to_i8(x[j + 16] * id + 16.5f)));
      y[i].qs[j] = static_cast<uint8_t>((a & 0x0F) | ((b & 0x0F) << 4));
      qh |= static_cast<uint32_t>((a & 0x10) >> 4) << j;
      qh |= static_cast<uint32_t>((b & 0x10) >> 4) << (j + 16);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void q_q5_1(const float* x, BlockQ5_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < kQK; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
    const float d = (mx - mn) / 31, id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const uint8_t a = trunc_to_u8((x[j] - mn) * id + 0.5f);
      const uint8_t b = trunc_to_u8((x[j + 16] - mn) * id + 0.5f);
      y[i].qs[j] = static_cast<uint8_t>((a & 0x0F) | ((b & 0x0F) << 4));
      qh |= static_cast<uint32_t>((a & 0x10) >> 4) << j;
      qh |= static_cast<uint32_t>((b & 0x10) >> 4) << (j + 16);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void q_q8_0(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127, id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = round_away_to_i8(x[j] * id);
  }
}

// Fits x ≈ s·q − m with q ∈ [0, nmax], m ≥ 0 (the K-quant sub-block model) by alternating
// rounding and a least-squares solve, starting from several range-based scales; returns the
// best (s, m) by squared error.
void fit_scale_min(const float* x, int n, int nmax, float& s_out, float& m_out) {
  float lo = 0, hi = 0;
  for (int i = 0; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  if (hi <= lo) {
    s_out = 0;
    m_out = -lo;
    return;
  }
  double best_err = INFINITY;
  float best_s = (hi - lo) / static_cast<float>(nmax), best_m = -lo;
  for (int cand = -3; cand <= 3; ++cand) {
    float s = (hi - lo) / (static_cast<float>(nmax) + 0.25f * static_cast<float>(cand));
    float m = -lo;
    for (int iter = 0; iter < 3; ++iter) {
      double sq = 0, sqq = 0, sx = 0, sqx = 0;
      for (int i = 0; i < n; ++i) {
        const int q = round_clamped((x[i] + m) / s, 0, nmax);
        sq += q, sqq += double(q) * q, sx += x[i], sqx += double(q) * x[i];
      }
      const double det = n * sqq - sq * sq;
      if (det <= 0) break;
      double ns = (n * sqx - sq * sx) / det;
      double nm = (ns * sq - sx) / n;
      if (nm < 0) {
        nm = 0;
        ns = sqq > 0 ? sqx / sqq : 0;
      }
      if (ns <= 0) break;
      s = static_cast<float>(ns);
      m = static_cast<float>(nm);
    }
    double err = 0;
    for (int i = 0; i < n; ++i) {
      const int q = round_clamped((x[i] + m) / s, 0, nmax);
      const double e = double(s) * q - m - x[i];
      err += e * e;
    }
    if (err < best_err) best_err = err, best_s = s, best_m = m;
  }
  s_out = best_s;
  m_out = best_m;
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): per 32-element sub-block scale and min, their
// 6-bit quantization against fp16 super-block factors, then the final quants in L[256].
void quantize_k_scales_mins(const float* x, int nmax, uint16_t& d_out, uint16_t& dmin_out, uint8_t packed[12],
                            uint8_t L[256]) {
  float s[8], m[8];
  for (int j = 0; j < 8; ++j) fit_scale_min(x + 32 * j, 32, nmax, s[j], m[j]);
  const float max_s = *std::max_element(s, s + 8), max_m = *std::max_element(m, m + 8);
  d_out = fp32_to_fp16(max_s / 63);
  dmin_out = fp32_to_fp16(max_m / 63);
  const float d = fp16_to_fp32(d_out), dmin = fp16_to_fp32(dmin_out);
  uint8_t sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = d > 0 ? static_cast<uint8_t>(round_clamped(s[j] / d, 0, 63)) : 0;
    mn[j] = dmin > 0 ? static_cast<uint8_t>(round_clamped(m[j] / dmin, 0, 63)) : 0;
  }
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  for (int j = 0; j < 8; ++j) {
    const float es = d * sc[j], em = dmin * mn[j];
    for (int l = 0; l < 32; ++l) {
      const float v = x[32 * j + l];
      L[32 * j + l] = es > 0 ? static_cast<uint8_t>(round_clamped((v + em) / es, 0, nmax)) : 0;
    }
  }
}

void q_q4_k(const float* x, BlockQ4_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    uint8_t L[256];
    quantize_k_scales_mins(x, 15, y[i].d, y[i].dmin, y[i].scales, L);
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) y[i].qs[32 * j + l] = static_cast<uint8_t>(L[64 * j + l] | (L[64 * j + 32 + l] << 4));
  }
}

void q_q5_k(const float* x, BlockQ5_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    uint8_t L[256];
    quantize_k_scales_mins(x, 31, y[i].d, y[i].dmin, y[i].scales, L);
    std::memset(y[i].qh, 0, 32);
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) {
        const uint8_t a = L[64 * j + l], b = L[64 * j + 32 + l];
        y[i].qs[32 * j + l] = static_cast<uint8_t>((a & 0xF) | ((b & 0xF) << 4));
        y[i].qh[l] = static_cast<uint8_t>(y[i].qh[l] | ((a >> 4) << (2 * j)) | ((b >> 4) << (2 * j + 1)));
      }
  }
}

// Q6_K: per 16 elements a signed scale s with x ≈ s·q, q ∈ [−32, 31] (refined by least squares
// from the scale that maps the largest-magnitude value to −32), scales stored as int8 against an
// fp16 super-block factor.
void q_q6_k(const float* x, BlockQ6_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    float s[16];
    for (int g = 0; g < 16; ++g) {
      const float* v = x + 16 * g;
      float amax = 0, max = 0;
      for (int l = 0; l < 16; ++l)
        if (std::fabs(v[l]) > amax) amax = std::fabs(v[l]), max = v[l];
      if (amax == 0) {
        s[g] = 0;
        continue;
      }
      double best_err = INFINITY;
      float best = max / -32;
      for (int cand = -2; cand <= 2; ++cand) {
        float sc = max / (-32.0f + 0.25f * static_cast<float>(cand));
        for (int iter = 0; iter < 2; ++iter) {
          double qx = 0, qq = 0;
          for (int l = 0; l < 16; ++l) {
            const int q = round_clamped(v[l] / sc, -32, 31);
            qx += double(q) * v[l], qq += double(q) * q;
          }
          if (qq > 0) sc = static_cast<float>(qx / qq);
        }
        double err = 0;
        for (int l = 0; l < 16; ++l) {
          const int q = round_clamped(v[l] / sc, -32, 31);
          err += (double(sc) * q - v[l]) * (double(sc) * q - v[l]);
        }
        if (err < best_err) best_err = err, best = sc;
      }
      s[g] = best;
    }
    float max_abs = 0;
    for (float v : s) max_abs = std::max(max_abs, std::fabs(v));
    y[i].d = fp32_to_fp16(max_abs / 127);
    const float d = fp16_to_fp32(y[i].d);
    uint8_t L[256];
    for (int g = 0; g < 16; ++g) {
      const int sc = d > 0 ? round_clamped(s[g] / d, -127, 127) : 0;
      y[i].scales[g] = static_cast<int8_t>(sc);
      const float es = d * static_cast<float>(sc);
      for (int l = 0; l < 16; ++l) {
        const int q = es != 0 ? round_clamped(x[16 * g + l] / es, -32, 31) : 0;
        L[16 * g + l] = static_cast<uint8_t>(q + 32);
      }
    }
    for (int n = 0; n < 2; ++n) {
      uint8_t* ql = y[i].ql + 64 * n;
      uint8_t* qh = y[i].qh + 32 * n;
      const uint8_t* Ln = L + 128 * n;
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = Ln[l], q2 = Ln[l + 32], q3 = Ln[l + 64], q4 = Ln[l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
}

}  // namespace

// Activation quantizers exactly as the golden README (llama.cpp's x86 path) defines them.
namespace detail {

// round-half-even to int8 with the x86 kernels' results for every input: VCVTPS2DQ turns NaN
// and |v| >= 2^31 into INT32_MIN, and the saturating packs then give -128.
int8_t act_round(float v) {
  if (!(v > -2147483648.0f && v < 2147483648.0f)) return -128;
  return static_cast<int8_t>(std::clamp(std::nearbyint(v), -128.0f, 127.0f));
}

void quantize_q8_0_act_scalar(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    y[i].d = fp32_to_fp16(amax / 127.0f);
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = act_round(x[j] * id);
  }
}

void quantize_q8_1_act_scalar(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    y[i].d = fp32_to_fp16(amax / 127.0f);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      y[i].qs[j] = act_round(x[j] * id);
      sum += y[i].qs[j];
    }
    y[i].s = static_cast<int16_t>(sum);
  }
}

void quantize_q8_k_act_scalar(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQKK; ++j)
      if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
    if (amax == 0) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, sizeof y[i].qs);
      std::memset(y[i].bsums, 0, sizeof y[i].bsums);
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQKK; ++j)
      y[i].qs[j] = std::min<int8_t>(127, act_round(iscale * x[j]));
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += y[i].qs[16 * g + l];
      y[i].bsums[g] = static_cast<int16_t>(s);
    }
    y[i].d = 1.0f / iscale;
  }
}

}  // namespace detail

void quantize_row(TensorType t, const float* src, void* dst, int64_t n) {
  check_n(t, n, "quantize_row");
  const int64_t nb32 = n / kQK, nbk = n / kQKK;
  switch (t) {
    case TensorType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case TensorType::F16: {
      auto* d = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = fp32_to_fp16(src[i]);
        std::memcpy(d + 2 * i, &h, 2);
      }
      return;
    }
    case TensorType::BF16: {
      auto* d = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = fp32_to_bf16(src[i]);
        std::memcpy(d + 2 * i, &h, 2);
      }
      return;
    }
    case TensorType::Q4_0: return q_q4_0(src, static_cast<BlockQ4_0*>(dst), nb32);
    case TensorType::Q4_1: return q_q4_1(src, static_cast<BlockQ4_1*>(dst), nb32);
    case TensorType::Q5_0: return q_q5_0(src, static_cast<BlockQ5_0*>(dst), nb32);
    case TensorType::Q5_1: return q_q5_1(src, static_cast<BlockQ5_1*>(dst), nb32);
    case TensorType::Q8_0: return q_q8_0(src, static_cast<BlockQ8_0*>(dst), nb32);
    case TensorType::Q8_1: return quantize_q8_1_act_scalar(src, dst, n);
    case TensorType::Q4_K: return q_q4_k(src, static_cast<BlockQ4_K*>(dst), nbk);
    case TensorType::Q5_K: return q_q5_k(src, static_cast<BlockQ5_K*>(dst), nbk);
    case TensorType::Q6_K: return q_q6_k(src, static_cast<BlockQ6_K*>(dst), nbk);
    case TensorType::Q8_K: return quantize_q8_k_act_scalar(src, dst, n);
    default: unsupported(t, "quantize_row");
  }
}

TensorType vec_dot_type(TensorType t) {
  switch (t) {
    case TensorType::F32: case TensorType::F16: case TensorType::BF16: return TensorType::F32;
    case TensorType::Q4_0: case TensorType::Q5_0: case TensorType::Q8_0: return TensorType::Q8_0;
    case TensorType::Q4_1: case TensorType::Q5_1: return TensorType::Q8_1;
    case TensorType::Q4_K: case TensorType::Q5_K: case TensorType::Q6_K: return TensorType::Q8_K;
    default: unsupported(t, "vec_dot_type");
  }
}

size_t activation_row_bytes(TensorType t, int64_t n) { return gguf::row_bytes(vec_dot_type(t), n); }

// ---------------------------------------------------------------------------------------------
// Scalar dot kernels: integer sums per block, float scales per block, float accumulation (as
// ggml's generic kernels).

namespace {

float dot_f32(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const float*>(w);
  auto* b = static_cast<const float*>(x);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// F16 and BF16 rows: each 16-bit weight widened with `widen`, activations in F32.
template <float (*widen)(uint16_t)>
float dot_half(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const uint8_t*>(w);
  auto* b = static_cast<const float*>(x);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, a + 2 * i, 2);
    s += widen(h) * b[i];
  }
  return s;
}
constexpr auto dot_f16 = dot_half<fp16_to_fp32>;
constexpr auto dot_bf16 = dot_half<bf16_to_fp32>;

float dot_q4_0(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ4_0*>(w);
  auto* b = static_cast<const BlockQ8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j)
      sumi += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
    s += static_cast<float>(sumi) * (h2f(a[i].d) * h2f(b[i].d));
  }
  return s;
}

float dot_q4_1(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ4_1*>(w);
  auto* b = static_cast<const BlockQ8_1*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) sumi += (a[i].qs[j] & 0xF) * b[i].qs[j] + (a[i].qs[j] >> 4) * b[i].qs[j + 16];
    const float dy = h2f(b[i].d);
    s += static_cast<float>(sumi) * (h2f(a[i].d) * dy) + h2f(a[i].m) * (dy * static_cast<float>(b[i].s));
  }
  return s;
}

float dot_q5_0(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ5_0*>(w);
  auto* b = static_cast<const BlockQ8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const uint32_t qh = load_u32(a[i].qh);
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = ((a[i].qs[j] & 0xF) | (((qh >> j) << 4) & 0x10)) - 16;
      const int q1 = ((a[i].qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16;
      sumi += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
    }
    s += static_cast<float>(sumi) * (h2f(a[i].d) * h2f(b[i].d));
  }
  return s;
}

float dot_q5_1(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ5_1*>(w);
  auto* b = static_cast<const BlockQ8_1*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const uint32_t qh = load_u32(a[i].qh);
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = (a[i].qs[j] & 0xF) | (((qh >> j) << 4) & 0x10);
      const int q1 = (a[i].qs[j] >> 4) | ((qh >> (j + 12)) & 0x10);
      sumi += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
    }
    const float dy = h2f(b[i].d);
    s += static_cast<float>(sumi) * (h2f(a[i].d) * dy) + h2f(a[i].m) * (dy * static_cast<float>(b[i].s));
  }
  return s;
}

float dot_q8_0(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ8_0*>(w);
  auto* b = static_cast<const BlockQ8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += a[i].qs[j] * b[i].qs[j];
    s += static_cast<float>(sumi) * (h2f(a[i].d) * h2f(b[i].d));
  }
  return s;
}

float dot_q4_k(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ4_K*>(w);
  auto* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    uint8_t sc[8], mn[8];
    unpack_scales_k4(a[i].scales, sc, mn);
    int sumi = 0, summ = 0;
    const uint8_t* q = a[i].qs;
    const int8_t* y = b[i].qs;
    for (int j = 0; j < 4; ++j, q += 32, y += 64) {
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) s0 += (q[l] & 0xF) * y[l], s1 += (q[l] >> 4) * y[l + 32];
      sumi += sc[2 * j] * s0 + sc[2 * j + 1] * s1;
    }
    for (int j = 0; j < 8; ++j) summ += mn[j] * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
    s += (h2f(a[i].d) * b[i].d) * static_cast<float>(sumi) - (h2f(a[i].dmin) * b[i].d) * static_cast<float>(summ);
  }
  return s;
}

float dot_q5_k(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ5_K*>(w);
  auto* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    uint8_t sc[8], mn[8];
    unpack_scales_k4(a[i].scales, sc, mn);
    int sumi = 0, summ = 0;
    const uint8_t* q = a[i].qs;
    const uint8_t* qh = a[i].qh;
    const int8_t* y = b[i].qs;
    for (int j = 0; j < 4; ++j, q += 32, y += 64) {
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        s0 += ((q[l] & 0xF) | (((qh[l] >> (2 * j)) & 1) << 4)) * y[l];
        s1 += ((q[l] >> 4) | (((qh[l] >> (2 * j + 1)) & 1) << 4)) * y[l + 32];
      }
      sumi += sc[2 * j] * s0 + sc[2 * j + 1] * s1;
    }
    for (int j = 0; j < 8; ++j) summ += mn[j] * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
    s += (h2f(a[i].d) * b[i].d) * static_cast<float>(sumi) - (h2f(a[i].dmin) * b[i].d) * static_cast<float>(summ);
  }
  return s;
}

float dot_q6_k(int64_t n, const void* w, const void* x) {
  auto* a = static_cast<const BlockQ6_K*>(w);
  auto* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int sumi = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = a[i].ql + 64 * half;
      const uint8_t* qh = a[i].qh + 32 * half;
      const int8_t* y = b[i].qs + 128 * half;
      const int8_t* sc = a[i].scales + 8 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        sumi += sc[is] * q1 * y[l] + sc[is + 2] * q2 * y[l + 32] + sc[is + 4] * q3 * y[l + 64] +
                sc[is + 6] * q4 * y[l + 96];
      }
    }
    s += (h2f(a[i].d) * b[i].d) * static_cast<float>(sumi);
  }
  return s;
}

template <DotFn F>
void rows_loop(int64_t n, const void* w, size_t stride, int64_t n_rows, const void* x, float* out) {
  auto* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < n_rows; ++r) out[r] = F(n, p + static_cast<size_t>(r) * stride, x);
}

}  // namespace

namespace detail {

const KernelTable& scalar_kernels() {
  static const KernelTable t = {
      dot_f32, dot_f16, dot_bf16, dot_q4_0, dot_q4_1, dot_q5_0, dot_q5_1, dot_q8_0, dot_q4_k, dot_q5_k, dot_q6_k,
      rows_loop<dot_f32>, rows_loop<dot_f16>, rows_loop<dot_bf16>, rows_loop<dot_q4_0>, rows_loop<dot_q4_1>,
      rows_loop<dot_q5_0>, rows_loop<dot_q5_1>, rows_loop<dot_q8_0>, rows_loop<dot_q4_k>, rows_loop<dot_q5_k>,
      rows_loop<dot_q6_k>,
      nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
  };
  return t;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Dispatch

namespace {

enum class Level { scalar, avx2, avx512 };

// F16C via CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does not know "f16c".
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
}

bool cpu_has(Level l) {
  switch (l) {
    case Level::scalar: return true;
    case Level::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case Level::avx512:
      return cpu_has(Level::avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

const KernelTable& table_of(Level l) {
  switch (l) {
    case Level::avx512: return avx512_kernels();
    case Level::avx2: return avx2_kernels();
    default: return scalar_kernels();
  }
}

Level best_level() {
  if (cpu_has(Level::avx512)) return Level::avx512;
  if (cpu_has(Level::avx2)) return Level::avx2;
  return Level::scalar;
}

std::atomic<Level>& current_level() {
  static std::atomic<Level> level{best_level()};
  return level;
}

// Kernel for (level, type): the level's own, else the next lower level's.
template <typename Fn>
Fn pick(Level l, Fn KernelTable::*member) {
  for (;;) {
    Fn f = table_of(l).*member;
    if (f || l == Level::scalar) return f;
    l = l == Level::avx512 ? Level::avx2 : Level::scalar;
  }
}

DotFn KernelTable::*dot_member(TensorType t) {
  switch (t) {
    case TensorType::F32: return &KernelTable::f32;
    case TensorType::F16: return &KernelTable::f16;
    case TensorType::BF16: return &KernelTable::bf16;
    case TensorType::Q4_0: return &KernelTable::q4_0;
    case TensorType::Q4_1: return &KernelTable::q4_1;
    case TensorType::Q5_0: return &KernelTable::q5_0;
    case TensorType::Q5_1: return &KernelTable::q5_1;
    case TensorType::Q8_0: return &KernelTable::q8_0;
    case TensorType::Q4_K: return &KernelTable::q4_k;
    case TensorType::Q5_K: return &KernelTable::q5_k;
    case TensorType::Q6_K: return &KernelTable::q6_k;
    default: unsupported(t, "vec_dot");
  }
}

DotRowsFn KernelTable::*rows_member(TensorType t) {
  switch (t) {
    case TensorType::F32: return &KernelTable::rows_f32;
    case TensorType::F16: return &KernelTable::rows_f16;
    case TensorType::BF16: return &KernelTable::rows_bf16;
    case TensorType::Q4_0: return &KernelTable::rows_q4_0;
    case TensorType::Q4_1: return &KernelTable::rows_q4_1;
    case TensorType::Q5_0: return &KernelTable::rows_q5_0;
    case TensorType::Q5_1: return &KernelTable::rows_q5_1;
    case TensorType::Q8_0: return &KernelTable::rows_q8_0;
    case TensorType::Q4_K: return &KernelTable::rows_q4_k;
    case TensorType::Q5_K: return &KernelTable::rows_q5_k;
    case TensorType::Q6_K: return &KernelTable::rows_q6_k;
    default: unsupported(t, "vec_dot_rows");
  }
}

// The tile kernel of a type, null for types without one (F32, F16, BF16).
DotTileFn KernelTable::*tile_member(TensorType t) {
  switch (t) {
    case TensorType::Q4_0: return &KernelTable::tile_q4_0;
    case TensorType::Q4_1: return &KernelTable::tile_q4_1;
    case TensorType::Q5_0: return &KernelTable::tile_q5_0;
    case TensorType::Q5_1: return &KernelTable::tile_q5_1;
    case TensorType::Q8_0: return &KernelTable::tile_q8_0;
    case TensorType::Q4_K: return &KernelTable::tile_q4_k;
    case TensorType::Q5_K: return &KernelTable::tile_q5_k;
    case TensorType::Q6_K: return &KernelTable::tile_q6_k;
    default: return nullptr;
  }
}

// The tile kernel of the level whose dot kernel vec_dot uses for t (null when that level has
// none): a lower level's tile kernel would sum floats in a different order than vec_dot.
DotTileFn pick_tile(Level l, TensorType t) {
  const auto dot = dot_member(t);
  while (!(table_of(l).*dot) && l != Level::scalar) l = l == Level::avx512 ? Level::avx2 : Level::scalar;
  const auto tile = tile_member(t);
  return tile ? table_of(l).*tile : nullptr;
}

}  // namespace

void quantize_activations(TensorType t, const float* x, void* dst, int64_t n) {
  const TensorType at = vec_dot_type(t);
  check_n(at, n, "quantize_activations");
  const bool simd = current_level().load(std::memory_order_relaxed) != Level::scalar;
  switch (at) {
    case TensorType::F32: std::memcpy(dst, x, static_cast<size_t>(n) * 4); return;
    case TensorType::Q8_0: return simd ? quantize_q8_0_act_avx2(x, dst, n) : quantize_q8_0_act_scalar(x, dst, n);
    case TensorType::Q8_1: return simd ? quantize_q8_1_act_avx2(x, dst, n) : quantize_q8_1_act_scalar(x, dst, n);
    case TensorType::Q8_K: return quantize_q8_k_act_scalar(x, dst, n);
    default: unsupported(t, "quantize_activations");
  }
}

float vec_dot(TensorType t, int64_t n, const void* w_row, const void* x_prepared) {
  check_n(t, n, "vec_dot");
  return pick(current_level().load(std::memory_order_relaxed), dot_member(t))(n, w_row, x_prepared);
}

void vec_dot_rows(TensorType t, int64_t n, const void* w, size_t w_row_stride, int64_t n_rows,
                  const void* x_prepared, float* out) {
  check_n(t, n, "vec_dot_rows");
  pick(current_level().load(std::memory_order_relaxed), rows_member(t))(n, w, w_row_stride, n_rows, x_prepared, out);
}

void vec_dot_tile(TensorType t, int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* const* x,
                  int64_t n_cols, float* const* out) {
  check_n(t, n, "vec_dot_tile");
  const Level level = current_level().load(std::memory_order_relaxed);
  const DotTileFn tile = pick_tile(level, t);
  const DotRowsFn rows = pick(level, rows_member(t));
  constexpr size_t kChunkBytes = size_t(64) << 10;
  const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / std::max<size_t>(1, w_row_stride)));
  auto* wb = static_cast<const uint8_t*>(w);
  std::array<float*, kTileCols> chunk_out;
  for (int64_t r0 = 0; r0 < n_rows; r0 += chunk) {
    const int64_t nr = std::min(chunk, n_rows - r0);
    const uint8_t* wr = wb + static_cast<size_t>(r0) * w_row_stride;
    for (int64_t c0 = 0; c0 < n_cols; c0 += kTileCols) {
      const int64_t nc = std::min<int64_t>(kTileCols, n_cols - c0);
      for (int64_t c = 0; c < nc; ++c) chunk_out[size_t(c)] = out[c0 + c] + r0;
      if (tile) tile(n, wr, w_row_stride, nr, x + c0, nc, chunk_out.data());
      else
        for (int64_t c = 0; c < nc; ++c) rows(n, wr, w_row_stride, nr, x[c0 + c], chunk_out[size_t(c)]);
    }
  }
}

float vec_dot_reference(TensorType t, int64_t n, const void* w_row, const void* x_prepared) {
  check_n(t, n, "vec_dot_reference");
  return (scalar_kernels().*dot_member(t))(n, w_row, x_prepared);
}

std::string_view simd_level() {
  switch (current_level().load(std::memory_order_relaxed)) {
    case Level::avx512: return "avx512";
    case Level::avx2: return "avx2";
    default: return "scalar";
  }
}

bool set_simd_level(std::string_view level) {
  Level l;
  if (level == "avx512") l = Level::avx512;
  else if (level == "avx2") l = Level::avx2;
  else if (level == "scalar") l = Level::scalar;
  else return false;
  if (!cpu_has(l)) return false;
  current_level().store(l, std::memory_order_relaxed);
  return true;
}

}  // namespace latent::quant
