// The Vulkan plumbing under the Vulkan backend: instance (with the Khronos validation layer when
// LATENT_VULKAN_VALIDATION=1), physical device selection, one compute queue, buffers, compute
// pipelines built from the SPIR-V embedded at build time, and command buffers recorded from a
// CommandList.
//
// A CommandList is the commands of one compiled graph (or of one transfer) in order. Each command
// names the buffer ranges it binds and whether it writes them; the list puts a barrier before a
// command only when it touches a range that a command since the last barrier wrote, or writes a
// range one of them read (read-after-write, write-after-read, write-after-write), so independent
// commands (a layer's q and kv projections, an FFN's gate and up) run without one between them.
// Shaders take element offsets relative to their binding in push constants; a binding starts at
// the range's first byte rounded down to minStorageBufferOffsetAlignment, so views at any 4-byte
// offset need no copies and the synchronization validation layer sees the ranges each command
// really uses.
#pragma once

#include <vulkan/vulkan.h>

#include <cstddef>
#include <cstdint>
#include <array>
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
  // What the driver says this process can still allocate there (VK_EXT_memory_budget: the
  // budget left after every process's use); 0 where the driver does not say.
  uint64_t device_local_free = 0;
  bool memory_budget = false;  // VK_EXT_memory_budget
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

// Command buffers recorded and submitted since the context was made.
struct SubmitStats {
  uint64_t recorded = 0;
  uint64_t submitted = 0;
  double record_seconds = 0;  // host time spent recording
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

// A buffer range a command binds (range VK_WHOLE_SIZE: to the end), and whether it writes it.
struct Binding {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0;
  VkDeviceSize range = VK_WHOLE_SIZE;
  bool write = false;
};

class CommandList {
 public:
  static constexpr uint32_t kMaxBuffers = 5;
  static constexpr uint32_t kMaxPushBytes = 128;  // the limit every device guarantees

  // A dispatch of `p` over the bindings (offsets must be aligned as Context::binding_alignment()).
  void dispatch(const Pipeline& p, std::span<const Binding> bindings, const void* push, uint32_t gx,
                uint32_t gy = 1, uint32_t gz = 1);
  // A copy of `bytes` from src.offset to dst.offset.
  void copy(VkBuffer src, size_t src_offset, VkBuffer dst, size_t dst_offset, size_t bytes);

  bool empty() const { return commands_.empty(); }
  size_t dispatches() const { return dispatches_; }
  size_t copies() const { return commands_.size() - dispatches_; }
  size_t barriers() const { return barriers_; }  // between commands (the final one to the host not counted)

 private:
  friend class Context;
  struct Command {
    const Pipeline* pipeline;  // null for a copy
    std::array<Binding, kMaxBuffers> bindings;
    VkBufferCopy region;
    std::array<uint32_t, 3> groups;
    std::array<uint8_t, kMaxPushBytes> push;
    bool barrier_before;
  };
  struct Access {
    VkBuffer buffer;
    VkDeviceSize begin, end;
    bool write;
  };
  void add(Command c, std::span<const Access> accesses);

  std::vector<Command> commands_;
  std::vector<Access> since_barrier_;
  size_t dispatches_ = 0;
  size_t barriers_ = 0;
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
  // minStorageBufferOffsetAlignment: where a binding may start.
  uint64_t binding_alignment() const { return binding_alignment_; }
  // Bytes of the buffers alive now (what create_buffer() allocated minus what was destroyed).
  uint64_t bytes_allocated() const { return bytes_allocated_; }
  // Device-local memory that can still be allocated: the driver's budget where it has
  // VK_EXT_memory_budget (other processes' use included), else the heap size minus this
  // context's buffers.
  uint64_t memory_free() const;
  // Messages of severity error the validation layer reported so far.
  uint64_t validation_errors() const { return validation_errors_; }
  const SubmitStats& submit_stats() const { return stats_; }

  // A storage buffer. host_visible forces host-visible memory (staging, uploads); otherwise
  // device-local memory is preferred and mapped when it is also host-visible. `what` names the
  // tensor in the out-of-memory error.
  std::unique_ptr<Buffer> create_buffer(size_t bytes, bool host_visible, std::string_view what);
  // Forgets the recordings that bind the buffer (nothing is in flight between calls).
  void destroy_buffer(std::unique_ptr<Buffer> buffer);

  // The pipeline of an embedded shader (built on first use): `n_buffers` storage buffers at
  // bindings 0.., and push constants of `push_bytes`.
  const Pipeline& pipeline(std::string_view shader, uint32_t n_buffers, uint32_t push_bytes);

  // Records the list into a command buffer kept until forget() or until a buffer it binds is
  // destroyed; returns its handle.
  uint64_t record(const CommandList& list);
  // Submits a recording and waits for it. False when it is gone (a buffer it bound was
  // destroyed): record the list again.
  bool submit(uint64_t recording);
  void forget(uint64_t recording);
  // Records, submits, waits and forgets: transfers and one-off work.
  void run(const CommandList& list);

 private:
  struct Recording {
    std::vector<VkBuffer> buffers;  // sorted: what it binds, to forget it when one is destroyed
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkDescriptorPool pool = VK_NULL_HANDLE;
  };
  Recording record_commands(const CommandList& list);
  void free_recording(Recording& r);
  void submit_and_wait(VkCommandBuffer cmd);
  void release();  // destroys every Vulkan object (the destructor, and a failed constructor)

  DeviceInfo info_;
  bool use_subgroups_ = false;
  bool force_staging_ = false;
  uint32_t max_group_count_ = 65535;
  uint64_t max_binding_bytes_ = 0;
  uint64_t binding_alignment_ = 256;
  uint64_t validation_errors_ = 0;
  uint64_t bytes_allocated_ = 0;
  SubmitStats stats_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_{};
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  std::map<uint64_t, Recording> recordings_;
  uint64_t next_recording_ = 1;
  std::map<std::string, Pipeline, std::less<>> pipelines_;
};

}  // namespace latent::backend::vulkan
