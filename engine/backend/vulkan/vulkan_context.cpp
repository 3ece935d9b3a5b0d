#include "backend/vulkan/vulkan_context.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "backend/backend.h"

namespace latent::backend::vulkan {
namespace shaders {
std::string_view find(std::string_view name);  // the embedded SPIR-V (latent_vulkan_shaders)
}

namespace {

// A zeroed Vulkan struct with its sType set.
template <class T>
T vk_struct(VkStructureType type) {
  T t{};
  t.sType = type;
  return t;
}

const char* result_name(VkResult r) {
  switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VK_ERROR_INITIALIZATION_FAILED: return "initialization failed";
    case VK_ERROR_DEVICE_LOST: return "device lost";
    case VK_ERROR_LAYER_NOT_PRESENT: return "layer not present (install vulkan-validationlayers)";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "extension not present";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "no compatible Vulkan driver (install mesa-vulkan-drivers or the GPU's driver)";
    case VK_ERROR_TOO_MANY_OBJECTS: return "too many objects";
    default: return "error";
  }
}

void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS)
    throw Error(std::string("vulkan: ") + what + " failed: " + result_name(r) + " (VkResult " +
                std::to_string(int(r)) + ")");
}

VkInstance create_instance(bool validation) {
  auto app = vk_struct<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
  app.pApplicationName = "latent";
  app.apiVersion = VK_API_VERSION_1_2;
  auto ci = vk_struct<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
  ci.pApplicationInfo = &app;
  const char* layer = "VK_LAYER_KHRONOS_validation";
  const char* exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME};
  // Synchronization validation too: it reports a missing barrier between two commands that use
  // the same buffer, which lavapipe, running commands in order, would never show as wrong values.
  const VkValidationFeatureEnableEXT features[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
  auto vf = vk_struct<VkValidationFeaturesEXT>(VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT);
  vf.enabledValidationFeatureCount = 1;
  vf.pEnabledValidationFeatures = features;
  if (validation) {
    ci.pNext = &vf;
    ci.enabledLayerCount = 1;
    ci.ppEnabledLayerNames = &layer;
    ci.enabledExtensionCount = 2;
    ci.ppEnabledExtensionNames = exts;
  }
  VkInstance instance = VK_NULL_HANDLE;
  const VkResult r = vkCreateInstance(&ci, nullptr, &instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    throw Error("vulkan: no Vulkan driver found; install your GPU's Vulkan driver (or "
                "mesa-vulkan-drivers for the CPU driver lavapipe)");
  check(r, validation ? "creating the instance with VK_LAYER_KHRONOS_validation" : "creating the instance");
  return instance;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance instance) {
  uint32_t n = 0;
  check(vkEnumeratePhysicalDevices(instance, &n, nullptr), "enumerating devices");
  std::vector<VkPhysicalDevice> devices(n);
  check(vkEnumeratePhysicalDevices(instance, &n, devices.data()), "enumerating devices");
  devices.resize(n);
  return devices;
}

bool has_extension(VkPhysicalDevice pd, const char* name) {
  uint32_t n = 0;
  if (vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr) != VK_SUCCESS) return false;
  std::vector<VkExtensionProperties> exts(n);
  if (vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data()) != VK_SUCCESS) return false;
  return std::any_of(exts.begin(), exts.begin() + n, [&](const VkExtensionProperties& e) {
    return std::string_view(e.extensionName) == name;
  });
}

// Index of the largest device-local heap (0 when none is marked device-local).
uint32_t device_heap(const VkPhysicalDeviceMemoryProperties& mem) {
  uint32_t best = 0;
  uint64_t size = 0;
  for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    if ((mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && mem.memoryHeaps[i].size > size)
      best = i, size = mem.memoryHeaps[i].size;
  return best;
}

// The budget left on the largest device-local heap (VK_EXT_memory_budget, which the device must
// have).
uint64_t heap_budget_left(VkPhysicalDevice pd) {
  auto budget = vk_struct<VkPhysicalDeviceMemoryBudgetPropertiesEXT>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT);
  auto mem = vk_struct<VkPhysicalDeviceMemoryProperties2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2);
  mem.pNext = &budget;
  vkGetPhysicalDeviceMemoryProperties2(pd, &mem);
  const uint32_t h = device_heap(mem.memoryProperties);
  return budget.heapBudget[h] > budget.heapUsage[h] ? budget.heapBudget[h] - budget.heapUsage[h] : 0;
}

DeviceInfo describe(VkPhysicalDevice pd, uint32_t index) {
  auto sub = vk_struct<VkPhysicalDeviceSubgroupProperties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES);
  auto props = vk_struct<VkPhysicalDeviceProperties2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2);
  props.pNext = &sub;
  vkGetPhysicalDeviceProperties2(pd, &props);
  auto f12 = vk_struct<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
  auto f11 = vk_struct<VkPhysicalDeviceVulkan11Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES);
  f11.pNext = &f12;
  auto feats = vk_struct<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
  feats.pNext = &f11;
  vkGetPhysicalDeviceFeatures2(pd, &feats);
  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);

  DeviceInfo d;
  d.index = index;
  d.name = props.properties.deviceName;
  switch (props.properties.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: d.type = "discrete"; break;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: d.type = "integrated"; break;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: d.type = "virtual"; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: d.type = "cpu"; break;
    default: d.type = "other"; break;
  }
  for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      d.device_local_bytes = std::max<uint64_t>(d.device_local_bytes, mem.memoryHeaps[i].size);
  d.subgroup_size = sub.subgroupSize;
  d.subgroup_arithmetic = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                          (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  d.float16 = f12.shaderFloat16;
  d.int8 = f12.shaderInt8;
  d.storage16 = f11.storageBuffer16BitAccess;
  d.memory_budget = has_extension(pd, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  if (d.memory_budget) d.device_local_free = heap_budget_left(pd);
  return d;
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                             VkDebugUtilsMessageTypeFlagsEXT,
                                             const VkDebugUtilsMessengerCallbackDataEXT* data,
                                             void* user) {
  if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) ++*static_cast<uint64_t*>(user);
  std::fprintf(stderr, "vulkan validation: %s\n", data->pMessage);
  return VK_FALSE;
}

}  // namespace

bool validation_requested() {
  const char* v = std::getenv("LATENT_VULKAN_VALIDATION");
  return v && std::string_view(v) == "1";
}

std::vector<DeviceInfo> list_devices() {
  VkInstance instance = create_instance(false);
  std::vector<DeviceInfo> out;
  try {
    const auto devices = physical_devices(instance);
    for (uint32_t i = 0; i < devices.size(); ++i) out.push_back(describe(devices[i], i));
  } catch (...) {
    vkDestroyInstance(instance, nullptr);
    throw;
  }
  vkDestroyInstance(instance, nullptr);
  return out;
}

Context::Context(const ContextOptions& options) {
  instance_ = create_instance(options.validation);
  try {
    if (options.validation) {
      auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
      if (!create) throw Error("vulkan: the validation layer lacks VK_EXT_debug_utils");
      auto mi = vk_struct<VkDebugUtilsMessengerCreateInfoEXT>(VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT);
      mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT;
      mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
      mi.pfnUserCallback = on_validation;
      mi.pUserData = &validation_errors_;
      check(create(instance_, &mi, nullptr, &messenger_), "creating the validation messenger");
    }
    const auto devices = physical_devices(instance_);
    if (devices.empty())
      throw Error("vulkan: no Vulkan device found; install a GPU driver, or mesa-vulkan-drivers for "
                  "the CPU device llvmpipe");
    uint32_t index = 0;
    if (options.device >= 0) {
      if (size_t(options.device) >= devices.size())
        throw Error("vulkan: device " + std::to_string(options.device) + " does not exist; there are " +
                    std::to_string(devices.size()) + " (see `latent devices`)");
      index = uint32_t(options.device);
    } else {
      int best = -1;
      for (uint32_t i = 0; i < devices.size(); ++i) {
        const std::string type = describe(devices[i], i).type;
        const int rank = type == "discrete" ? 3 : type == "integrated" ? 2 : 1;
        if (rank > best) best = rank, index = i;
      }
    }
    physical_ = devices[index];
    info_ = describe(physical_, index);
    use_subgroups_ = options.allow_subgroups && info_.subgroup_arithmetic;
    force_staging_ = options.force_staging;
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(physical_, &props);
    // The shaders are SPIR-V for Vulkan 1.2 (glslc --target-env=vulkan1.2).
    if (props.apiVersion < VK_API_VERSION_1_2)
      throw Error("vulkan: device '" + info_.name + "' supports Vulkan " +
                  std::to_string(VK_API_VERSION_MAJOR(props.apiVersion)) + "." +
                  std::to_string(VK_API_VERSION_MINOR(props.apiVersion)) +
                  "; the backend needs 1.2 (update the driver or pick another device)");
    max_group_count_ = std::min({props.limits.maxComputeWorkGroupCount[0],
                                 props.limits.maxComputeWorkGroupCount[1],
                                 props.limits.maxComputeWorkGroupCount[2]});
    max_binding_bytes_ = props.limits.maxStorageBufferRange;
    binding_alignment_ = std::max<uint64_t>(4, props.limits.minStorageBufferOffsetAlignment);
    vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);

    uint32_t n_families = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(physical_, &n_families, nullptr);
    std::vector<VkQueueFamilyProperties> families(n_families);
    vkGetPhysicalDeviceQueueFamilyProperties(physical_, &n_families, families.data());
    // Prefer a compute-only family (async compute on discrete GPUs), else any with compute.
    int family = -1;
    for (uint32_t i = 0; i < n_families; ++i) {
      const auto f = families[i].queueFlags;
      if ((f & VK_QUEUE_COMPUTE_BIT) && !(f & VK_QUEUE_GRAPHICS_BIT)) { family = int(i); break; }
    }
    for (uint32_t i = 0; family < 0 && i < n_families; ++i)
      if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) family = int(i);
    if (family < 0) throw Error("vulkan: device '" + info_.name + "' has no compute queue");
    queue_family_ = uint32_t(family);

    const float priority = 1.0f;
    auto qi = vk_struct<VkDeviceQueueCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO);
    qi.queueFamilyIndex = queue_family_;
    qi.queueCount = 1;
    qi.pQueuePriorities = &priority;
    auto di = vk_struct<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    const char* budget_ext = VK_EXT_MEMORY_BUDGET_EXTENSION_NAME;
    if (info_.memory_budget) {
      di.enabledExtensionCount = 1;
      di.ppEnabledExtensionNames = &budget_ext;
    }
    check(vkCreateDevice(physical_, &di, nullptr, &device_), "creating the device");
    vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

    auto pi = vk_struct<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
    pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pi.queueFamilyIndex = queue_family_;
    check(vkCreateCommandPool(device_, &pi, nullptr, &command_pool_), "creating a command pool");
    auto fi = vk_struct<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
    check(vkCreateFence(device_, &fi, nullptr, &fence_), "creating a fence");
  } catch (...) {
    release();
    throw;
  }
}

Context::~Context() { release(); }

void Context::release() {
  if (device_) {
    vkDeviceWaitIdle(device_);
    for (auto& [id, r] : recordings_) free_recording(r);
    recordings_.clear();
    for (auto& [name, p] : pipelines_) {
      vkDestroyPipeline(device_, p.pipeline, nullptr);
      vkDestroyPipelineLayout(device_, p.layout, nullptr);
      vkDestroyDescriptorSetLayout(device_, p.set_layout, nullptr);
    }
    pipelines_.clear();
    if (fence_) vkDestroyFence(device_, fence_, nullptr);
    if (command_pool_) vkDestroyCommandPool(device_, command_pool_, nullptr);
    vkDestroyDevice(device_, nullptr);
    device_ = VK_NULL_HANDLE;
  }
  if (messenger_) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(instance_, messenger_, nullptr);
    messenger_ = VK_NULL_HANDLE;
  }
  if (instance_) vkDestroyInstance(instance_, nullptr);
  instance_ = VK_NULL_HANDLE;
}

std::unique_ptr<Buffer> Context::create_buffer(size_t bytes, bool host_visible, std::string_view what) {
  auto b = std::make_unique<Buffer>();
  b->size = std::max<size_t>(bytes, 16);
  auto bi = vk_struct<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  bi.size = b->size;
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
             VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(device_, &bi, nullptr, &b->buffer), "creating a buffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device_, b->buffer, &req);
  // Candidates in order of preference: staging needs host-visible coherent memory; tensors want
  // device-local memory, which on UMA devices is host-visible too and is then mapped directly.
  const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  const std::vector<VkMemoryPropertyFlags> wants =
      host_visible ? std::vector<VkMemoryPropertyFlags>{host}
                   : std::vector<VkMemoryPropertyFlags>{VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host,
                                                        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, host};
  VkResult last = VK_ERROR_OUT_OF_DEVICE_MEMORY;
  for (VkMemoryPropertyFlags want : wants) {
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
      if (!(req.memoryTypeBits & (1u << i)) || (memory_.memoryTypes[i].propertyFlags & want) != want) continue;
      auto ai = vk_struct<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
      ai.allocationSize = req.size;
      ai.memoryTypeIndex = i;
      last = vkAllocateMemory(device_, &ai, nullptr, &b->memory);
      if (last != VK_SUCCESS) continue;
      check(vkBindBufferMemory(device_, b->buffer, b->memory, 0), "binding buffer memory");
      // Only coherent memory is mapped (no flush/invalidate calls needed); other memory is
      // reached through the staging buffer.
      const VkMemoryPropertyFlags flags = memory_.memoryTypes[i].propertyFlags;
      if ((flags & host) == host && (host_visible || !force_staging_))
        check(vkMapMemory(device_, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped), "mapping memory");
      bytes_allocated_ += b->size;
      return b;
    }
  }
  vkDestroyBuffer(device_, b->buffer, nullptr);
  throw Error("vulkan: cannot allocate " + std::to_string(bytes >> 20) + " MiB for '" + std::string(what) +
              "' on '" + info_.name + "' (" + result_name(last) +
              "); run fewer layers on the device (--gpu-layers), a smaller quantization, a shorter context, or the cpu backend");
}

uint64_t Context::memory_free() const {
  if (info_.memory_budget) return heap_budget_left(physical_);
  const uint64_t heap = info_.device_local_bytes;
  return heap > bytes_allocated_ ? heap - bytes_allocated_ : 0;
}

void Context::destroy_buffer(std::unique_ptr<Buffer> b) {
  if (!b) return;
  for (auto it = recordings_.begin(); it != recordings_.end();) {
    Recording& r = it->second;
    if (!std::binary_search(r.buffers.begin(), r.buffers.end(), b->buffer)) {
      ++it;
      continue;
    }
    free_recording(r);
    it = recordings_.erase(it);
  }
  bytes_allocated_ -= b->size;
  if (b->mapped) vkUnmapMemory(device_, b->memory);
  vkDestroyBuffer(device_, b->buffer, nullptr);
  vkFreeMemory(device_, b->memory, nullptr);
}

const Pipeline& Context::pipeline(std::string_view shader, uint32_t n_buffers, uint32_t push_bytes) {
  if (auto it = pipelines_.find(shader); it != pipelines_.end()) return it->second;
  const std::string_view spv = shaders::find(std::string(shader) + ".spv");
  if (spv.empty() || spv.size() % 4 != 0)
    throw Error("vulkan: shader '" + std::string(shader) + "' is not in this binary");
  // The embedded bytes carry no alignment guarantee; SPIR-V is consumed as 32-bit words.
  std::vector<uint32_t> words(spv.size() / 4);
  std::memcpy(words.data(), spv.data(), spv.size());

  if (n_buffers > CommandList::kMaxBuffers || push_bytes > CommandList::kMaxPushBytes || push_bytes % 4 != 0)
    throw Error("vulkan: shader '" + std::string(shader) + "' takes more buffers or push constants than a pipeline here holds");
  Pipeline p;
  p.n_buffers = n_buffers;
  p.push_bytes = push_bytes;
  std::vector<VkDescriptorSetLayoutBinding> bindings(n_buffers);
  for (uint32_t i = 0; i < n_buffers; ++i)
    bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  auto li = vk_struct<VkDescriptorSetLayoutCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO);
  li.bindingCount = n_buffers;
  li.pBindings = bindings.data();
  check(vkCreateDescriptorSetLayout(device_, &li, nullptr, &p.set_layout), "creating a descriptor set layout");
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
  auto pli = vk_struct<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
  pli.setLayoutCount = 1;
  pli.pSetLayouts = &p.set_layout;
  pli.pushConstantRangeCount = push_bytes ? 1 : 0;
  pli.pPushConstantRanges = &range;
  check(vkCreatePipelineLayout(device_, &pli, nullptr, &p.layout), "creating a pipeline layout");
  auto mi = vk_struct<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
  mi.codeSize = spv.size();
  mi.pCode = words.data();
  VkShaderModule module = VK_NULL_HANDLE;
  check(vkCreateShaderModule(device_, &mi, nullptr, &module), "creating a shader module");
  auto ci = vk_struct<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
  ci.stage = vk_struct<VkPipelineShaderStageCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO);
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.layout = p.layout;
  const VkResult r = vkCreateComputePipelines(device_, VK_NULL_HANDLE, 1, &ci, nullptr, &p.pipeline);
  vkDestroyShaderModule(device_, module, nullptr);
  check(r, ("creating the pipeline of shader " + std::string(shader)).c_str());
  return pipelines_.emplace(std::string(shader), p).first->second;
}

void CommandList::dispatch(const Pipeline& p, std::span<const Binding> bindings, const void* push, uint32_t gx,
                           uint32_t gy, uint32_t gz) {
  if (bindings.size() != p.n_buffers) throw Error("vulkan: dispatch with the wrong number of buffers");
  Command c{};
  c.pipeline = &p;
  std::copy(bindings.begin(), bindings.end(), c.bindings.begin());
  c.groups = {gx, gy, gz};
  if (p.push_bytes) std::memcpy(c.push.data(), push, p.push_bytes);
  std::array<Access, kMaxBuffers> accesses;
  for (size_t i = 0; i < bindings.size(); ++i) {
    const Binding& b = bindings[i];
    accesses[i] = {b.buffer, b.offset, b.range == VK_WHOLE_SIZE ? UINT64_MAX : b.offset + b.range, b.write};
  }
  add(c, std::span(accesses.data(), bindings.size()));
  ++dispatches_;
}

void CommandList::copy(VkBuffer src, size_t src_offset, VkBuffer dst, size_t dst_offset, size_t bytes) {
  Command c{};
  c.bindings[0] = {src, src_offset, bytes, false};
  c.bindings[1] = {dst, dst_offset, bytes, true};
  c.region = {src_offset, dst_offset, bytes};
  const Access accesses[2] = {{src, src_offset, src_offset + bytes, false}, {dst, dst_offset, dst_offset + bytes, true}};
  add(c, accesses);
}

// A barrier goes before c when c depends on a command since the last barrier: it reads what one
// wrote, or writes what one read or wrote.
void CommandList::add(Command c, std::span<const Access> accesses) {
  auto conflicts = [&](const Access& a) {
    for (const Access& p : since_barrier_)
      if (p.buffer == a.buffer && p.begin < a.end && a.begin < p.end && (p.write || a.write)) return true;
    return false;
  };
  c.barrier_before = std::any_of(accesses.begin(), accesses.end(), conflicts);
  if (c.barrier_before) {
    since_barrier_.clear();
    ++barriers_;
  }
  since_barrier_.insert(since_barrier_.end(), accesses.begin(), accesses.end());
  commands_.push_back(c);
}

uint64_t Context::record(const CommandList& list) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  Recording r = record_commands(list);
  ++stats_.recorded;
  stats_.record_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  const uint64_t id = next_recording_++;
  recordings_.emplace(id, r);
  return id;
}

bool Context::submit(uint64_t recording) {
  auto it = recordings_.find(recording);
  if (it == recordings_.end()) return false;
  submit_and_wait(it->second.cmd);
  return true;
}

void Context::forget(uint64_t recording) {
  auto it = recordings_.find(recording);
  if (it == recordings_.end()) return;
  free_recording(it->second);
  recordings_.erase(it);
}

void Context::run(const CommandList& list) {
  if (list.empty()) return;
  Recording r = record_commands(list);
  try {
    submit_and_wait(r.cmd);
  } catch (...) {
    free_recording(r);
    throw;
  }
  free_recording(r);
}

Context::Recording Context::record_commands(const CommandList& list) {
  Recording r;
  const auto& commands = list.commands_;
  try {
    // One descriptor set per distinct (layout, bindings) of the list: a layer's ops bind the
    // same few ranges again and again.
    using Bindings = std::array<std::array<VkDeviceSize, 3>, CommandList::kMaxBuffers>;
    using SetKey = std::pair<VkDescriptorSetLayout, Bindings>;
    auto key_of = [](const CommandList::Command& c) {
      Bindings b{};
      for (uint32_t i = 0; i < c.pipeline->n_buffers; ++i)
        b[i] = {reinterpret_cast<VkDeviceSize>(c.bindings[i].buffer), c.bindings[i].offset, c.bindings[i].range};
      return SetKey{c.pipeline->set_layout, b};
    };
    std::map<SetKey, VkDescriptorSet> sets;
    for (const auto& c : commands) {
      if (c.pipeline) sets.emplace(key_of(c), VK_NULL_HANDLE);
      for (uint32_t i = 0; i < (c.pipeline ? c.pipeline->n_buffers : 2u); ++i) r.buffers.push_back(c.bindings[i].buffer);
    }
    std::sort(r.buffers.begin(), r.buffers.end());
    r.buffers.erase(std::unique(r.buffers.begin(), r.buffers.end()), r.buffers.end());

    if (!sets.empty()) {
      VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, uint32_t(sets.size()) * CommandList::kMaxBuffers};
      auto dpi = vk_struct<VkDescriptorPoolCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO);
      dpi.maxSets = uint32_t(sets.size());
      dpi.poolSizeCount = 1;
      dpi.pPoolSizes = &size;
      check(vkCreateDescriptorPool(device_, &dpi, nullptr, &r.pool), "creating a descriptor pool");
      std::vector<VkDescriptorSetLayout> layouts;
      for (const auto& [key, set] : sets) layouts.push_back(key.first);
      std::vector<VkDescriptorSet> allocated(layouts.size());
      auto ai = vk_struct<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
      ai.descriptorPool = r.pool;
      ai.descriptorSetCount = uint32_t(layouts.size());
      ai.pSetLayouts = layouts.data();
      check(vkAllocateDescriptorSets(device_, &ai, allocated.data()), "allocating descriptor sets");
      std::vector<VkDescriptorBufferInfo> infos;
      std::vector<VkWriteDescriptorSet> writes;
      infos.reserve(sets.size() * CommandList::kMaxBuffers);
      size_t k = 0;
      for (auto& [key, set] : sets) {
        set = allocated[k++];
        for (uint32_t i = 0; i < CommandList::kMaxBuffers && key.second[i][0]; ++i) {
          infos.push_back({reinterpret_cast<VkBuffer>(key.second[i][0]), key.second[i][1], key.second[i][2]});
          auto w = vk_struct<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
          w.dstSet = set;
          w.dstBinding = i;
          w.descriptorCount = 1;
          w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
          w.pBufferInfo = &infos.back();
          writes.push_back(w);
        }
      }
      vkUpdateDescriptorSets(device_, uint32_t(writes.size()), writes.data(), 0, nullptr);
    }

    auto ai = vk_struct<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
    ai.commandPool = command_pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(device_, &ai, &r.cmd), "allocating a command buffer");
    auto bi = vk_struct<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
    check(vkBeginCommandBuffer(r.cmd, &bi), "beginning a command buffer");
    auto mb = vk_struct<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    // Write-after-read needs only the execution dependency; read- and write-after-write need
    // the writes made visible.
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                       VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    const Pipeline* bound = nullptr;
    VkDescriptorSet bound_set = VK_NULL_HANDLE;
    for (const auto& c : commands) {
      if (c.barrier_before) vkCmdPipelineBarrier(r.cmd, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
      if (!c.pipeline) {
        vkCmdCopyBuffer(r.cmd, c.bindings[0].buffer, c.bindings[1].buffer, 1, &c.region);
        continue;
      }
      const Pipeline& p = *c.pipeline;
      if (bound != &p) vkCmdBindPipeline(r.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
      const VkDescriptorSet set = sets.at(key_of(c));
      if (bound != &p || bound_set != set)
        vkCmdBindDescriptorSets(r.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
      bound = &p;
      bound_set = set;
      if (p.push_bytes) vkCmdPushConstants(r.cmd, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p.push_bytes, c.push.data());
      vkCmdDispatch(r.cmd, c.groups[0], c.groups[1], c.groups[2]);
    }
    // What the commands wrote becomes visible to the host's reads after the fence.
    auto hb = vk_struct<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    hb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    hb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(r.cmd, stages, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &hb, 0, nullptr, 0, nullptr);
    check(vkEndCommandBuffer(r.cmd), "ending a command buffer");
  } catch (...) {
    free_recording(r);
    throw;
  }
  return r;
}

void Context::free_recording(Recording& r) {
  if (r.cmd) vkFreeCommandBuffers(device_, command_pool_, 1, &r.cmd);
  if (r.pool) vkDestroyDescriptorPool(device_, r.pool, nullptr);
  r.cmd = VK_NULL_HANDLE;
  r.pool = VK_NULL_HANDLE;
}

void Context::submit_and_wait(VkCommandBuffer cmd) {
  ++stats_.submitted;
  auto si = vk_struct<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  check(vkQueueSubmit(queue_, 1, &si, fence_), "submitting work");
  check(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX), "waiting for the device");
  check(vkResetFences(device_, 1, &fence_), "resetting a fence");
}

}  // namespace latent::backend::vulkan
