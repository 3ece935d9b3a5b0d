// The Vulkan plumbing under the Vulkan backend: instance (with the Khronos validation layer when
// LATENT_VULKAN_VALIDATION=1), physical device selection, one compute queue, buffers, compute
// pipelines built from the SPIR-V embedded at build time, and command buffers that are recorded
// once per sequence of commands and replayed.
//
// dispatch() and copy() only describe a command; flush() turns the commands since the last flush
// into a submission and waits for it. When the same sequence (pipelines, buffers, push
// constants, group counts) was submitted before, its command buffer and descriptor sets are
// submitted again as they are: a decode step repeats the previous one's sequence exactly, since
// what changes per step (token ids, positions, cache lengths, page tables) reaches the shaders
// through buffer contents, not through the commands. Otherwise the sequence is recorded (each
// command followed by a compute -> compute memory barrier, so commands run in order) and kept
// for next time. Every buffer is bound whole and shaders take element offsets in push
// constants, so views at any 4-byte offset need neither copies nor
// minStorageBufferOffsetAlignment.
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
  // Replays the command buffer of a sequence of commands submitted before; false records every
  // submission anew (the baseline the tests compare replay with; LATENT_VULKAN_REPLAY=0 sets it
  // for the backend).
  bool reuse_commands = true;
};

// Submissions since the context was made: recorded into a new command buffer, or replayed.
struct SubmitStats {
  uint64_t recorded = 0;
  uint64_t replayed = 0;
  double record_seconds = 0;  // host time spent recording (what a replay saves)
  double match_seconds = 0;   // host time spent looking for a recording to replay
};

// True when LATENT_VULKAN_VALIDATION=1 is set.
bool validation_requested();
// True when LATENT_VULKAN_REPLAY=0 is set: every submission is recorded anew (to rule replay out
// when a driver misbehaves, and to measure what it saves).
bool replay_disabled();

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
  // Submits pending work first, since it may still use the buffer, and forgets the recorded
  // command buffers that bind it.
  void destroy_buffer(std::unique_ptr<Buffer> buffer);

  // The pipeline of an embedded shader (built on first use): `n_buffers` storage buffers at
  // bindings 0.., and push constants of `push_bytes`.
  const Pipeline& pipeline(std::string_view shader, uint32_t n_buffers, uint32_t push_bytes);

  // Adds a dispatch over whole buffers to the pending commands.
  void dispatch(const Pipeline& p, std::span<const VkBuffer> buffers, const void* push,
                uint32_t gx, uint32_t gy = 1, uint32_t gz = 1);
  // Adds a buffer copy to the pending commands.
  void copy(VkBuffer src, size_t src_offset, VkBuffer dst, size_t dst_offset, size_t bytes);
  // Submits the pending commands and waits for them.
  void flush();
  bool pending() const { return !pending_.empty(); }
  // Submissions so far: memory the pending commands read (the upload buffer) is free to reuse
  // once this changes.
  uint64_t submissions() const { return submissions_; }

 private:
  static constexpr uint32_t kMaxBuffers = 4;
  static constexpr uint32_t kMaxPushBytes = 128;  // the limit every device guarantees
  // One dispatch (pipeline set) or copy (pipeline null). Trivially copyable without padding
  // and zeroed where unused, so sequences compare with memcmp.
  struct Command {
    const Pipeline* pipeline;
    std::array<VkBuffer, kMaxBuffers> buffers;
    VkBufferCopy region;
    std::array<uint32_t, 3> groups;
    uint32_t push_bytes;
    std::array<uint8_t, kMaxPushBytes> push;
  };
  // A recorded sequence of commands, kept for replay.
  struct Recording {
    uint64_t hash = 0;
    std::vector<Command> commands;
    std::vector<VkBuffer> buffers;  // sorted: what it binds, to forget it when one is destroyed
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    uint64_t last_used = 0;
  };
  Recording record(const std::vector<Command>& commands, uint64_t hash);
  void free_recording(Recording& r);
  void submit(VkCommandBuffer cmd);
  void release();  // destroys every Vulkan object (the destructor, and a failed constructor)

  DeviceInfo info_;
  bool use_subgroups_ = false;
  bool force_staging_ = false;
  uint32_t max_group_count_ = 65535;
  uint64_t max_binding_bytes_ = 0;
  uint64_t validation_errors_ = 0;
  uint64_t bytes_allocated_ = 0;
  bool reuse_commands_ = true;
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
  std::vector<Command> pending_;
  std::vector<Recording> recordings_;
  uint64_t submissions_ = 0;
  std::map<std::string, Pipeline, std::less<>> pipelines_;
};

}  // namespace latent::backend::vulkan
