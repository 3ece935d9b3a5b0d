// The Vulkan backend: backend::Backend on a Vulkan compute device (any GPU with a Vulkan 1.2
// driver, or lavapipe on the CPU), compared op by op with the CPU backend in tests/vulkan.
//
// Tensor::data of this backend is not a host pointer. Every device buffer owns a range of a
// private address space ([base, base + size), bases 2^40 apart from 2^40 upwards, never
// dereferenced); data is base + byte offset, so Tensor::view and row() keep working, and the
// backend maps an address back to (buffer, offset) with one ordered-map lookup. Host data moves
// only through write()/read(), which copy through a staging buffer (or directly where the
// device memory is host-visible, as on lavapipe and UMA GPUs).
//
// compute() runs a graph as one submission of a command buffer recorded the first time the
// graph was seen (per length bucket of its caches: page tables and dispatch sizes that depend
// on the cache length are chosen per power-of-two bucket), with barriers only between commands
// that depend on each other (vulkan_context.h). Each step writes the graph's inputs (token ids,
// positions, output rows) and page tables into the upload buffer, where the recording reads
// them, submits, and reads the outputs back. Intermediates live in one arena buffer placed by
// the graph's memory plan; kernels' temporaries in a ring buffer.
// supports_op() is exact about weight and cache types (kernel_types.cpp lists them); anything
// else throws an Error naming op and type.
//
// The latent-cache ops (store_latent, load_latent, attention_latent) need LatentRows whose pages
// are memory of this backend in one buffer: the KV stores allocate their page pool through
// allocate() (backend::PagePool), so the pages live in device memory and only their page table
// is uploaded per op.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "backend/vulkan/vulkan_context.h"

namespace latent::backend {

struct VulkanOptions {
  int device = -1;              // index from `latent devices`; -1 picks the best device
  bool validation = false;      // Khronos validation layer (also on with LATENT_VULKAN_VALIDATION=1)
  bool allow_subgroups = true;  // false forces the shared-memory reductions
  bool force_staging = false;   // transfers through the staging buffer even on UMA (tests)
};

class VulkanBackend : public Backend {
 public:
  // Messages of severity error from the validation layer so far (0 without validation).
  virtual uint64_t validation_errors() const = 0;
  // The device's name and whether the subgroup shader variants are in use.
  virtual std::string_view device_name() const = 0;
  virtual bool uses_subgroups() const = 0;
  // Graphs compiled (a command buffer recorded) and runs that reused a compiled one, and the
  // commands of the last graph run: what a decode step costs the device's command processor.
  struct GraphStats {
    uint64_t compiled = 0, reused = 0;
    double compile_seconds = 0;  // host time compiling (what reuse saves)
    size_t dispatches = 0, barriers = 0, copies = 0;
  };
  virtual GraphStats graph_stats() const = 0;
};

// Throws backend::Error when there is no Vulkan driver or device, naming what to install.
std::unique_ptr<VulkanBackend> make_vulkan_backend(const VulkanOptions& options);

}  // namespace latent::backend
