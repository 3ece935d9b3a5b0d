// Paths to the golden reference data (shared/golden, see its README) for tests.
// Each function fails the calling test (not skip) with an actionable message when data is missing.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace latent::testing {

// LATENT_GOLDEN_DIR as configured in CMake.
std::filesystem::path golden_dir();
// A file under the golden dir, e.g. "tokenizer/ggml-vocab-deepseek-coder.gguf".
std::filesystem::path golden_file(const std::string& relative);
// An unpacked golden model, e.g. "ds2-lite-tiny" -> <build>/golden/models/ds2-lite-tiny.gguf.
std::filesystem::path golden_model(const std::string& name);
// The golden model names (ds2-lite-tiny, ds2-lite-tiny-Q4_K_M, ...), sorted.
std::vector<std::string> golden_model_names();
// Reads a whole file of little-endian float32 values.
std::vector<float> read_f32_file(const std::filesystem::path& path);
std::string read_text_file(const std::filesystem::path& path);

}  // namespace latent::testing
