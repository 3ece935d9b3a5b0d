#include "reference/reference_numerics.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace latent::reference {

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    // Zero or subnormal: mant · 2^-24, exactly representable in float.
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  uint32_t bits;
  if (exp == 31)
    bits = sign | 0x7f800000u | (mant << 13);
  else
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  return std::bit_cast<float>(bits);
}

uint16_t float_to_half(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const float a = std::fabs(f);
  if (std::isnan(f)) return sign | 0x7e00u;
  if (a >= 65520.0f) return sign | 0x7c00u;  // rounds to inf
  if (a < 6.103515625e-05f) {
    // Subnormal half: a multiple of 2^-24; nearbyint rounds half to even.
    auto m = static_cast<uint16_t>(std::nearbyint(std::ldexp(a, 24)));
    return sign | m;  // m == 1024 carries into the smallest normal correctly
  }
  int e;
  float frac = std::frexp(a, &e);  // a = frac · 2^e, frac in [0.5, 1)
  // 11 significant bits: scale to [1024, 2048) and round half to even.
  auto m = static_cast<uint32_t>(std::nearbyint(std::ldexp(frac, 11)));
  int exp = e - 1 + 15;
  if (m == 2048) {
    m = 1024;
    ++exp;
  }
  if (exp >= 31) return sign | 0x7c00u;
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | (m - 1024));
}

float bf16_to_float(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint16_t float_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64);
  return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

namespace {

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
float fp16_at(const uint8_t* p) { return half_to_float(rd16(p)); }

// K-quant 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes: sub-blocks 0-3
// keep them in the low 6 bits of bytes j and j+4; 4-7 split them between a nibble of byte j+4
// and the top 2 bits of bytes j-4 (scale) and j (min).
void k_scale_min(int j, const uint8_t* s, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Q4_0: fp16 d | 16 bytes; element j < 16 is the low nibble of byte j, j >= 16 the high nibble
// of byte j-16; value (q − 8)·d.
void deq_q4_0(const uint8_t* b, float* y) {
  const float d = fp16_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 0x0f) - 8) * d;
    y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

// Q4_1: fp16 d | fp16 m | 16 bytes; value q·d + m.
void deq_q4_1(const uint8_t* b, float* y) {
  const float d = fp16_at(b);
  const float m = fp16_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0f) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

// Q5_0: fp16 d | u32 high bits (bit j belongs to element j) | 16 nibble bytes; (q − 16)·d.
void deq_q5_0(const uint8_t* b, float* y) {
  const float d = fp16_at(b);
  const uint32_t qh = rd32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    int lo = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
    int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = static_cast<float>(lo - 16) * d;
    y[j + 16] = static_cast<float>(hi - 16) * d;
  }
}

// Q5_1: fp16 d | fp16 m | u32 high bits | 16 nibble bytes; q·d + m.
void deq_q5_1(const uint8_t* b, float* y) {
  const float d = fp16_at(b);
  const float m = fp16_at(b + 2);
  const uint32_t qh = rd32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    int lo = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
    int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = static_cast<float>(lo) * d + m;
    y[j + 16] = static_cast<float>(hi) * d + m;
  }
}

// Q8_0: fp16 d | 32 int8; q·d.
void deq_q8_0(const uint8_t* b, float* y) {
  const float d = fp16_at(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// Q4_K: fp16 d | fp16 dmin | 12 scale bytes | 128 nibble bytes. Each 64-element chunk c uses
// 32 bytes: low nibbles are sub-block 2c, high nibbles sub-block 2c+1; (d·sc)·q − dmin·m.
void deq_q4_k(const uint8_t* b, float* y) {
  const float d = fp16_at(b);
  const float dmin = fp16_at(b + 2);
  const uint8_t* sc = b + 4;
  const uint8_t* q = b + 16;
  for (int c = 0; c < 4; ++c) {
    uint8_t s1, m1, s2, m2;
    k_scale_min(2 * c, sc, s1, m1);
    k_scale_min(2 * c + 1, sc, s2, m2);
    const float d1 = d * static_cast<float>(s1), mm1 = dmin * static_cast<float>(m1);
    const float d2 = d * static_cast<float>(s2), mm2 = dmin * static_cast<float>(m2);
    for (int l = 0; l < 32; ++l) y[64 * c + l] = d1 * static_cast<float>(q[32 * c + l] & 0x0f) - mm1;
    for (int l = 0; l < 32; ++l) y[64 * c + 32 + l] = d2 * static_cast<float>(q[32 * c + l] >> 4) - mm2;
  }
}

// Q5_K: as Q4_K plus 32 bytes of high bits: element l of chunk c takes bit 2c (low half) or
// bit 2c+1 (high half) of byte l.
void deq_q5_k(const uint8_t* b, float* y) {
  const float d = fp16_at(b);
  const float dmin = fp16_at(b + 2);
  const uint8_t* sc = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* q = b + 48;
  for (int c = 0; c < 4; ++c) {
    uint8_t s1, m1, s2, m2;
    k_scale_min(2 * c, sc, s1, m1);
    k_scale_min(2 * c + 1, sc, s2, m2);
    const float d1 = d * static_cast<float>(s1), mm1 = dmin * static_cast<float>(m1);
    const float d2 = d * static_cast<float>(s2), mm2 = dmin * static_cast<float>(m2);
    for (int l = 0; l < 32; ++l) {
      int lo = (q[32 * c + l] & 0x0f) + (((qh[l] >> (2 * c)) & 1) << 4);
      int hi = (q[32 * c + l] >> 4) + (((qh[l] >> (2 * c + 1)) & 1) << 4);
      y[64 * c + l] = d1 * static_cast<float>(lo) - mm1;
      y[64 * c + 32 + l] = d2 * static_cast<float>(hi) - mm2;
    }
  }
}

// Q6_K: 128 bytes low nibbles | 64 bytes high 2-bit pairs | 16 int8 scales | fp16 d. Each half
// of 128 elements uses 64 low bytes and 32 high bytes; its four 32-element quarters take the
// low/high nibble of bytes l / l+32 and bit pairs 0,2,4,6 of byte l; (d·sc)·(q − 32).
void deq_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = fp16_at(b + 208);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* l8 = ql + 64 * half;
    const uint8_t* h8 = qh + 32 * half;
    const int8_t* s = sc + 8 * half;
    float* out = y + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      int q1 = ((l8[l] & 0x0f) | (((h8[l] >> 0) & 3) << 4)) - 32;
      int q2 = ((l8[l + 32] & 0x0f) | (((h8[l] >> 2) & 3) << 4)) - 32;
      int q3 = ((l8[l] >> 4) | (((h8[l] >> 4) & 3) << 4)) - 32;
      int q4 = ((l8[l + 32] >> 4) | (((h8[l] >> 6) & 3) << 4)) - 32;
      out[l] = d * static_cast<float>(s[is]) * static_cast<float>(q1);
      out[l + 32] = d * static_cast<float>(s[is + 2]) * static_cast<float>(q2);
      out[l + 64] = d * static_cast<float>(s[is + 4]) * static_cast<float>(q3);
      out[l + 96] = d * static_cast<float>(s[is + 6]) * static_cast<float>(q4);
    }
  }
}

struct BlockFormat {
  int64_t elements;
  size_t bytes;
  void (*fn)(const uint8_t*, float*);
};

bool block_format(TensorType t, BlockFormat& f) {
  switch (t) {
    case TensorType::Q4_0: f = {32, 18, deq_q4_0}; return true;
    case TensorType::Q4_1: f = {32, 20, deq_q4_1}; return true;
    case TensorType::Q5_0: f = {32, 22, deq_q5_0}; return true;
    case TensorType::Q5_1: f = {32, 24, deq_q5_1}; return true;
    case TensorType::Q8_0: f = {32, 34, deq_q8_0}; return true;
    case TensorType::Q4_K: f = {256, 144, deq_q4_k}; return true;
    case TensorType::Q5_K: f = {256, 176, deq_q5_k}; return true;
    case TensorType::Q6_K: f = {256, 210, deq_q6_k}; return true;
    default: return false;
  }
}

}  // namespace

void dequantize(TensorType t, const uint8_t* src, float* dst, int64_t n) {
  switch (t) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(rd16(src + 2 * i));
      return;
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(rd16(src + 2 * i));
      return;
    default:
      break;
  }
  BlockFormat f;
  if (!block_format(t, f))
    throw std::invalid_argument("reference dequantize: unsupported tensor type " +
                                std::string(gguf::type_name(t)));
  if (n % f.elements != 0)
    throw std::invalid_argument("reference dequantize: " + std::to_string(n) +
                                " elements is not a whole number of " +
                                std::string(gguf::type_name(t)) + " blocks");
  for (int64_t b = 0; b < n / f.elements; ++b)
    f.fn(src + static_cast<size_t>(b) * f.bytes, dst + b * f.elements);
}

std::vector<float> dequantize(TensorType t, const uint8_t* src, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize(t, src, out.data(), n);
  return out;
}

namespace {

void roundtrip_q8_0(double* x) {
  float xf[32];
  float amax = 0;
  for (int j = 0; j < 32; ++j) {
    xf[j] = static_cast<float>(x[j]);
    amax = std::max(amax, std::fabs(xf[j]));
  }
  const float d = half_to_float(float_to_half(amax / 127.0f));
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  for (int j = 0; j < 32; ++j) {
    const float q = std::nearbyint(xf[j] * id);
    x[j] = static_cast<double>(q) * static_cast<double>(d);
  }
}

void roundtrip_q8_k(double* x) {
  float xf[256];
  float amax = 0, max = 0;
  for (int j = 0; j < 256; ++j) {
    xf[j] = static_cast<float>(x[j]);
    if (std::fabs(xf[j]) > amax) {
      amax = std::fabs(xf[j]);
      max = xf[j];
    }
  }
  if (amax == 0.0f) {
    std::fill(x, x + 256, 0.0);
    return;
  }
  const float iscale = -127.0f / max;
  const float d = 1.0f / iscale;
  for (int j = 0; j < 256; ++j) {
    const float q = std::min(127.0f, std::nearbyint(iscale * xf[j]));
    x[j] = static_cast<double>(q) * static_cast<double>(d);
  }
}

}  // namespace

void quantize_activations_roundtrip(TensorType weight_type, double* x, int64_t n) {
  switch (weight_type) {
    case TensorType::F32:
      for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(x[i]);
      return;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) x[i] = half_to_float(float_to_half(static_cast<float>(x[i])));
      return;
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) x[i] = bf16_to_float(float_to_bf16(static_cast<float>(x[i])));
      return;
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
      if (n % 32 != 0) break;
      for (int64_t b = 0; b < n; b += 32) roundtrip_q8_0(x + b);
      return;
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      if (n % 256 != 0) break;
      for (int64_t b = 0; b < n; b += 256) roundtrip_q8_k(x + b);
      return;
    default:
      throw std::invalid_argument("activation quantization: unsupported weight type " +
                                  std::string(gguf::type_name(weight_type)));
  }
  throw std::invalid_argument("activation quantization: " + std::to_string(n) +
                              " activations do not fill whole blocks for weights of type " +
                              std::string(gguf::type_name(weight_type)));
}

}  // namespace latent::reference
