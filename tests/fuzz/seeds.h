// Seed inputs for the GGUF fuzzer and its replay test: small writer-made files covering every
// metadata value type (nested arrays included) and every supported tensor type, plus the first
// 64 KB of each reference file given (golden models and tokenizer vocabularies).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace latent::fuzz {

// (name, bytes) pairs; `reference_files` may be empty.
std::vector<std::pair<std::string, std::vector<uint8_t>>> make_gguf_seeds(
    const std::vector<std::filesystem::path>& reference_files, const std::filesystem::path& scratch_dir);

}  // namespace latent::fuzz
