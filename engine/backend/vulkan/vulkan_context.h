// The Vulkan plumbing under the Vulkan backend: instance (with the Khronos validation layer when
// LATENT_VULKAN_VALIDATION=1), physical device selection, one compute queue, buffers, compute
// pipelines built from the SPIR-V embedded at build time, and one command buffer that records
// dispatches until flush() submits it and waits on a fence.
//
// Work is recorded, not run, when an op is called: each dispatch is followed by a compute ->
// compute memory barrier, so ops run in call order on the device, and only a transfer to or
// from the host (or running out of descriptor sets) submits. Every buffer is bound whole and
// shaders take element offsets in push constants, so views at any 4-byte offset need neither
// copies nor minStorageBufferOffsetAlignment.
#pragma once

#include <vulkan/vulkan.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace latent::backend::vulkan {

// What `latent devices` prints and what the backend picks its shader variants from.
struct DeviceInfo {
  uint32_t index = 0;
  std::string name;
  std::string type;  // "discrete", "integrated", "virtual", "cpu", "other"
  uint64_t device_local_bytes = 0;  // size of the largest device-local heap
  uint32_t subgroup_size = 0;
  bool subgroup_arithmetic = false;  // subgroupAdd in compute shaders
  bool float16 = false;              // shaderFloat16
  bool int8 = false;                 // shaderInt8
  bool storage16 = false;            // storageBuffer16BitAccess
};

struct ContextOptions {
  // Index into list_devices(); -1 picks the first discrete GPU, else integrated, else any.
  int device = -1;
  // Khronos validation layer; by default on when the environment sets LATENT_VULKAN_VALIDATION=1.
  bool validation = false;
  // Use subgroup reductions where the device has them; false forces the shared-memory fallback
  // (tests run both).
  bool allow_subgroups = true;
  // Leaves device-local memory unmapped even where it is host-visible, so transfers go through
  // the staging buffer as on a discrete GPU (tests run both paths on lavapipe).
  bool force_staging = false;
};

// True when LATENT_VULKAN_VALIDATION=1 is set.
bool validation_requested();

// Every Vulkan device the loader reports. Throws backend::Error when there is no Vulkan loader,
// no driver, or no device.
std::vector<DeviceInfo> list_devices();

struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  void* mapped = nullptr;  // non-null when the memory is host-visible (UMA, lavapipe, staging)
  size_t size = 0;
};

struct Pipeline {
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
  uint32_t n_buffers = 0;
  uint32_t push_bytes = 0;
};

class Context {
 public:
  explicit Context(const ContextOptions& options);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const DeviceInfo& info() const { return info_; }
  bool use_subgroups() const { return use_subgroups_; }
  uint32_t max_group_count() const { return max_group_count_; }
  // Largest range one storage-buffer binding may cover; bigger tensors are rejected by name.
  uint64_t max_binding_bytes() const { return max_binding_bytes_; }
  // Bytes of the buffers alive now (what create_buffer() allocated minus what was destroyed).
  uint64_t bytes_allocated() const { return bytes_allocated_; }
  // Messages of severity error the validation layer reported so far.
  uint64_t validation_errors() const { return validation_errors_; }

  // A storage buffer. host_visible forces host-visible memory (staging, uploads); otherwise
  // device-local memory is preferred and mapped when it is also host-visible. `what` names the
  // tensor in the out-of-memory error.
  std::unique_ptr<Buffer> create_buffer(size_t bytes, bool host_visible, std::string_view what);
  // Waits for recorded work first, since it may still use the buffer.
  void destroy_buffer(std::unique_ptr<Buffer> buffer);

  // The pipeline of an embedded shader (built on first use): `n_buffers` storage buffers at
  // bindings 0.., and push constants of `push_bytes`.
  const Pipeline& pipeline(std::string_view shader, uint32_t n_buffers, uint32_t push_bytes);

  // Records a dispatch over whole buffers, followed by a barrier.
  void dispatch(const Pipeline& p, std::span<const VkBuffer> buffers, const void* push,
                uint32_t gx, uint32_t gy = 1, uint32_t gz = 1);
  // Records a buffer copy, followed by a barrier.
  void copy(VkBuffer src, size_t src_offset, VkBuffer dst, size_t dst_offset, size_t bytes);
  // Submits what was recorded and waits for it.
  void flush();
  bool pending() const { return recording_; }

 private:
  void begin();
  void barrier();
  void release();  // destroys every Vulkan object (the destructor, and a failed constructor)

  DeviceInfo info_;
  bool use_subgroups_ = false;
  bool force_staging_ = false;
  uint32_t max_group_count_ = 65535;
  uint64_t max_binding_bytes_ = 0;
  uint64_t validation_errors_ = 0;
  uint64_t bytes_allocated_ = 0;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_{};
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkDescriptorPool descriptor_pool_ = VK_NULL_HANDLE;
  uint32_t sets_used_ = 0;
  bool recording_ = false;
  std::map<std::string, Pipeline, std::less<>> pipelines_;
};

}  // namespace latent::backend::vulkan
