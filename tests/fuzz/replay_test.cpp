// Replays the fuzzer's seeds (writer-made files and the heads of the golden files), every file in
// tests/fuzz/regressions (inputs the fuzzer once found), and deterministic random mutations of
// the seeds through the fuzz target, in the normal (gcc) build: a crash fails the test.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "common/golden.h"
#include "fuzz/seeds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::filesystem::path> reference_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& name : latent::testing::golden_model_names()) files.push_back(latent::testing::golden_model(name));
  files.push_back(latent::testing::golden_file("tokenizer/ggml-vocab-deepseek-coder.gguf"));
  return files;
}

// One random edit of the kinds that hit a binary format's checks: bit flips, boundary bytes,
// boundary 64-bit values (counts, lengths, offsets), truncation, and chunk duplication.
void mutate(std::vector<uint8_t>& b, std::mt19937_64& rng) {
  if (b.empty()) {
    b.push_back(static_cast<uint8_t>(rng()));
    return;
  }
  const size_t at = rng() % b.size();
  switch (rng() % 6) {
    case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
    case 1: {
      const uint8_t v[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x20};
      b[at] = v[rng() % 6];
      break;
    }
    case 2: {
      const uint64_t v[] = {0, 1, 3, 31, 1ull << 31, 1ull << 32, 1ull << 63, ~0ull, ~0ull - 31, 0x7fffffffffffffffull};
      const uint64_t x = v[rng() % 10];
      for (size_t k = 0; k < 8 && at + k < b.size(); ++k) b[at + k] = static_cast<uint8_t>(x >> (8 * k));
      break;
    }
    case 3: b.resize(at); break;
    case 4: {
      const size_t len = std::min<size_t>(b.size() - at, 1 + rng() % 64);
      std::vector<uint8_t> chunk(b.begin() + static_cast<std::ptrdiff_t>(at),
                                 b.begin() + static_cast<std::ptrdiff_t>(at + len));
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(rng() % b.size()), chunk.begin(), chunk.end());
      break;
    }
    default: b[at] = static_cast<uint8_t>(rng()); break;
  }
}

}  // namespace

TEST(gguf_fuzz_replay, seeds_regressions_and_mutations) {
  auto scratch = std::filesystem::temp_directory_path() / ("latent_fuzz_seeds_" + std::to_string(::getpid()));
  auto seeds = latent::fuzz::make_gguf_seeds(reference_files(), scratch);
  std::filesystem::remove_all(scratch);
  ASSERT_GT(seeds.size(), 12u);
  std::filesystem::path regressions = LATENT_FUZZ_REGRESSIONS_DIR;
  if (std::filesystem::is_directory(regressions))
    for (const auto& e : std::filesystem::directory_iterator(regressions)) {
      std::ifstream in(e.path(), std::ios::binary);
      seeds.emplace_back(e.path().filename().string(),
                         std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
    }
  std::mt19937_64 rng(20260101);
  size_t runs = 0;
  for (const auto& [name, bytes] : seeds) {
    SCOPED_TRACE(name);
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    // Small seeds get many mutations; the 64 KB heads fewer (each parse touches more bytes).
    const int n_mut = bytes.size() > 8192 ? 60 : 600;
    for (int m = 0; m < n_mut; ++m) {
      auto b = bytes;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits; ++k) mutate(b, rng);
      LLVMFuzzerTestOneInput(b.data(), b.size());
      ++runs;
    }
  }
  EXPECT_GT(runs, 5000u);
}
