// `latent devices`: the Vulkan devices this machine offers, with what the Vulkan backend picks
// its kernels from (subgroup size and arithmetic, fp16/int8 arithmetic, 16-bit storage). The
// index is what the backend's device option takes.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/command.h"

#if defined(LATENT_HAVE_VULKAN)
#include "backend/backend.h"
#include "backend/vulkan/vulkan_context.h"
#endif

namespace latent::cli {
namespace {

#if defined(LATENT_HAVE_VULKAN)
int run_devices(const ParsedArgs& args) {
  std::vector<backend::vulkan::DeviceInfo> devices;
  try {
    devices = backend::vulkan::list_devices();
  } catch (const backend::Error& e) {
    std::cerr << "latent devices: " << e.what() << "\n";
    return 1;
  }
  if (args.has("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : devices)
      out.push_back({{"index", d.index}, {"name", d.name}, {"type", d.type},
                     {"device_local_bytes", d.device_local_bytes},
                     {"device_local_free_bytes", d.memory_budget ? nlohmann::json(d.device_local_free) : nlohmann::json()},
                     {"subgroup_size", d.subgroup_size},
                     {"subgroup_arithmetic", d.subgroup_arithmetic}, {"float16", d.float16},
                     {"int8", d.int8}, {"storage16", d.storage16}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (devices.empty()) {
    std::cerr << "latent devices: the Vulkan loader reports no device; install your GPU's Vulkan driver "
                 "(or mesa-vulkan-drivers for the CPU device llvmpipe)\n";
    return 1;
  }
  std::printf("%-5s %-40s %-10s %10s %10s %8s %-10s %-4s %-4s %-9s\n", "index", "name", "type", "memory",
              "free", "subgroup", "sg_arith", "fp16", "int8", "storage16");
  auto yes_no = [](bool b) { return b ? "yes" : "no"; };
  for (const auto& d : devices) {
    const std::string memory = std::to_string(d.device_local_bytes >> 20) + " MiB";
    const std::string free = d.memory_budget ? std::to_string(d.device_local_free >> 20) + " MiB" : "-";
    std::printf("%-5u %-40s %-10s %10s %10s %8u %-10s %-4s %-4s %-9s\n", d.index, d.name.c_str(), d.type.c_str(),
                memory.c_str(), free.c_str(), d.subgroup_size, yes_no(d.subgroup_arithmetic), yes_no(d.float16),
                yes_no(d.int8), yes_no(d.storage16));
  }
  return 0;
}
#else
int run_devices(const ParsedArgs&) {
  std::cerr << "latent devices: this build has no Vulkan backend; install libvulkan-dev and glslc "
               "and rebuild (CMake turns LATENT_VULKAN on when it finds them)\n";
  return 1;
}
#endif

}  // namespace

Command devices_command() {
  Command c;
  c.name = "devices";
  c.summary = "list the Vulkan devices (index, type, memory, subgroup size, fp16/int8)";
  c.synopsis = "[--json]";
  c.details =
      "memory is the largest device-local heap; free what the driver says can still be allocated\n"
      "there (VK_EXT_memory_budget, other processes' use included; - where the driver does not say),\n"
      "which --gpu-layers' default fits the model into; subgroup is the subgroup size, sg_arith whether\n"
      "compute shaders have subgroup arithmetic (the backend's reductions use it when present).";
  c.options = {{"json", "", "print the devices as JSON"}};
  c.run = run_devices;
  return c;
}

}  // namespace latent::cli
