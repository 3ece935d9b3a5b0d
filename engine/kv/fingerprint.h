// Identities that namespace cached latent pages: a model fingerprint (same file contents →
// same fingerprint, another model or quantization → another) and the hash chain of page keys.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "gguf/gguf.h"

namespace latent::kv {

// Hashes the GGUF header (metadata and tensor table) and 64 samples of 4 KiB spread over the
// tensor data: cheap at startup for a 10 GB file, yet two models differing only in their
// weights (different seeds, different quantizations) get different fingerprints.
uint64_t model_fingerprint(const gguf::File& file);

// Key of a page: a hash of the previous page's key and this page's tokens, so equal keys mean
// equal whole prefixes (up to 64-bit collisions, which the store rules out by comparing tokens).
uint64_t chain_key(uint64_t previous_key, std::span<const int32_t> page_tokens);

// 64-bit checksum of a byte range (XXH3).
uint64_t checksum(const void* data, size_t n);

std::string hex64(uint64_t v);

}  // namespace latent::kv
