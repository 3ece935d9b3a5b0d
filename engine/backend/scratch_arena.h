// Memory for the tensors a caller makes on a backend with Backend::scratch() (tests, tools):
// handed out from blocks the backend allocates (host arrays, device buffers) and freed with the
// backend. A model's intermediates live in the arena of its graph instead (backend/graph.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace latent::backend {

class ScratchArena {
 public:
  // allocate(bytes) returns the address of a new block of `bytes` bytes aligned to `alignment`;
  // release(address) frees it.
  ScratchArena(size_t alignment, size_t min_block, std::function<uintptr_t(size_t)> allocate,
               std::function<void(uintptr_t)> release);
  ~ScratchArena() { clear(); }
  ScratchArena(const ScratchArena&) = delete;
  ScratchArena& operator=(const ScratchArena&) = delete;

  // Address of `bytes` fresh bytes (rounded up to the alignment).
  uintptr_t push(size_t bytes);
  // Releases every block.
  void clear();

 private:
  size_t alignment_;
  size_t min_block_;
  std::function<uintptr_t(size_t)> allocate_;
  std::function<void(uintptr_t)> release_;
  std::vector<uintptr_t> blocks_;
  uintptr_t next_ = 0;  // the last block's first free byte
  size_t left_ = 0;     // bytes free after it
};

}  // namespace latent::backend
