// Writes the fuzzer's seed corpus: make_gguf_seeds OUT_DIR [REFERENCE.gguf ...]
#include <cstdio>
#include <fstream>

#include "fuzz/seeds.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [REFERENCE.gguf ...]\n", argv[0]);
    return 2;
  }
  std::filesystem::path out = argv[1];
  std::vector<std::filesystem::path> refs(argv + 2, argv + argc);
  try {
    std::filesystem::create_directories(out);
    for (const auto& [name, bytes] : latent::fuzz::make_gguf_seeds(refs, out / ".scratch")) {
      std::ofstream f(out / name, std::ios::binary);
      f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      if (!f) throw std::runtime_error("cannot write " + (out / name).string());
    }
    std::filesystem::remove_all(out / ".scratch");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_gguf_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
