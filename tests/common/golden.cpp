#include "common/golden.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace latent::testing {

namespace {

[[noreturn]] void missing(const std::filesystem::path& p, const std::string& what) {
  std::string msg = what + " not found: " + p.string() +
                    " (configure with -DLATENT_GOLDEN_DIR=<path to shared/golden> and build the "
                    "latent_golden_models target)";
  ADD_FAILURE() << msg;
  throw std::runtime_error(msg);
}

}  // namespace

std::filesystem::path golden_dir() {
  std::filesystem::path p = LATENT_GOLDEN_DIR;
  if (!std::filesystem::is_directory(p)) missing(p, "golden data directory");
  return p;
}

std::filesystem::path golden_file(const std::string& relative) {
  auto p = golden_dir() / relative;
  if (!std::filesystem::exists(p)) missing(p, "golden file");
  return p;
}

std::filesystem::path golden_model(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(LATENT_GOLDEN_MODELS_DIR) / (name + ".gguf");
  if (!std::filesystem::exists(p)) missing(p, "unpacked golden model");
  return p;
}

std::vector<std::string> golden_model_names() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(golden_dir() / "models")) {
    std::string f = e.path().filename().string();
    const std::string suffix = ".gguf.xz";
    if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0)
      names.push_back(f.substr(0, f.size() - suffix.size()));
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) missing(golden_dir() / "models", "golden models (*.gguf.xz)");
  return names;
}

std::vector<float> read_f32_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) missing(path, "float32 file");
  in.seekg(0, std::ios::end);
  auto size = static_cast<size_t>(in.tellg());
  in.seekg(0);
  std::vector<float> out(size / sizeof(float));
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size() * sizeof(float)));
  return out;
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) missing(path, "file");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace latent::testing
