// The backends the model tests run on, and the one switch that lets a machine without a Vulkan
// device skip the Vulkan cases (everywhere else a missing device fails them).
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace latent::testing {

// "cpu", and "vulkan" in builds with the Vulkan backend.
inline std::vector<std::string> build_backends() {
#ifdef LATENT_HAVE_VULKAN
  return {"cpu", "vulkan"};
#else
  return {"cpu"};
#endif
}

// LATENT_VULKAN_OPTIONAL=1: a missing Vulkan device skips the Vulkan cases.
inline bool vulkan_optional() {
  const char* v = std::getenv("LATENT_VULKAN_OPTIONAL");
  return v && std::string_view(v) == "1";
}

}  // namespace latent::testing
