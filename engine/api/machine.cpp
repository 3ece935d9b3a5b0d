// machine_info() and resolve_backend() of engine.h: what the build's backends find on this machine.
#include <exception>

#include "api/engine.h"
#include "backend/backend.h"
#include "quant/quant.h"

#ifdef LATENT_HAVE_VULKAN
#include "backend/vulkan/vulkan_context.h"
#endif

namespace latent::engine {

MachineInfo machine_info() {
  MachineInfo m;
  m.cpu_kernels = std::string(quant::simd_level());
  m.backends = std::string(backend::backend_names());
  m.memory_available = backend::host_memory_available();
#ifdef LATENT_HAVE_VULKAN
  try {
    for (const auto& d : backend::vulkan::list_devices())
      m.gpus.push_back(GpuDevice{static_cast<int>(d.index), d.name, d.type, d.device_local_bytes,
                                 d.memory_budget ? d.device_local_free : 0});
    if (m.gpus.empty()) m.gpu_problem = "the Vulkan loader reports no device; install your GPU's Vulkan driver";
  } catch (const std::exception& e) {
    m.gpu_problem = e.what();
  }
#else
  m.gpu_problem = "this build has no Vulkan backend (install libvulkan-dev and glslc, then rebuild)";
#endif
  return m;
}

std::string resolve_backend(std::string_view name) {
  if (name != "auto") return std::string(name);
  for (const auto& d : machine_info().gpus)
    if (d.type == "discrete" || d.type == "integrated") return "vulkan";
  return "cpu";
}

}  // namespace latent::engine
