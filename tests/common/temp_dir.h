// A fresh directory under the system temp dir for one test, removed with everything in it when
// the test ends. Unique per process and instance (mkdtemp), so parallel ctest runs never collide.
#pragma once

#include <filesystem>
#include <string>

namespace latent::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "latent-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path file(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace latent::testing
