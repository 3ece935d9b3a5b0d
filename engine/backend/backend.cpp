#include "backend/backend.h"

#include "backend/cpu/cpu_backend.h"
#ifdef LATENT_HAVE_VULKAN
#include "backend/vulkan/vulkan_backend.h"
#endif

namespace latent::backend {

std::string_view backend_names() {
#ifdef LATENT_HAVE_VULKAN
  return "cpu, vulkan";
#else
  return "cpu";
#endif
}

std::unique_ptr<Backend> make_backend(std::string_view name, const BackendOptions& options) {
  if (name == "cpu") return make_cpu_backend(options);
#ifdef LATENT_HAVE_VULKAN
  if (name == "vulkan") {
    VulkanOptions vo;
    vo.device = options.device;
    return make_vulkan_backend(vo);
  }
#endif
  std::string known = "unknown backend '" + std::string(name) + "': this build has " + std::string(backend_names());
  if (name == "vulkan")
    known += " (it was built without Vulkan: install libvulkan-dev and glslc, then rebuild)";
  else if (name == "cuda")
    known += " (there is no CUDA backend yet)";
  throw Error(known);
}

}  // namespace latent::backend
