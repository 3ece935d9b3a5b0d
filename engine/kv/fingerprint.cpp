#include "kv/fingerprint.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>

namespace latent::kv {

uint64_t model_fingerprint(const gguf::File& file) {
  auto bytes = file.bytes();
  uint64_t data_start = bytes.size();
  for (const auto& t : file.tensors()) data_start = std::min<uint64_t>(data_start, uint64_t(t.data - bytes.data()));
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, bytes.data(), size_t(data_start));
  const uint64_t data_len = bytes.size() - data_start;
  constexpr uint64_t kSamples = 64, kSample = 4096;
  for (uint64_t i = 0; i < kSamples && data_len > 0; ++i) {
    uint64_t off = data_start + (data_len > kSample ? (data_len - kSample) * i / (kSamples - 1) : 0);
    XXH3_64bits_update(st, bytes.data() + off, size_t(std::min(kSample, bytes.size() - off)));
  }
  const uint64_t size = bytes.size();
  XXH3_64bits_update(st, &size, sizeof size);
  uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

uint64_t chain_key(uint64_t previous_key, std::span<const int32_t> page_tokens) {
  return XXH3_64bits_withSeed(page_tokens.data(), page_tokens.size_bytes(), previous_key);
}

uint64_t checksum(const void* data, size_t n) { return XXH3_64bits(data, n); }

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace latent::kv
