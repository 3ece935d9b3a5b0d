// The stack of scratch memory every backend hands out for intermediates (Backend::scratch,
// scratch_mark, release_scratch). Memory comes in blocks from the backend (host arrays, device
// buffers); when a push overflows the current block it moves to the next one, dropping later
// blocks that are too small, and when the stack is emptied with several blocks they merge into
// one of their total size, so a steady state runs in a single block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace latent::backend {

class ScratchStack {
 public:
  // allocate(bytes) returns the address of a new block of `bytes` bytes aligned to `alignment`;
  // release(address) frees it.
  ScratchStack(size_t alignment, size_t min_block, std::function<uintptr_t(size_t)> allocate,
               std::function<void(uintptr_t)> release);
  ~ScratchStack() { clear(); }
  ScratchStack(const ScratchStack&) = delete;
  ScratchStack& operator=(const ScratchStack&) = delete;

  // Address of `bytes` fresh bytes (rounded up to the alignment) on top of the stack.
  uintptr_t push(size_t bytes);
  size_t mark() const { return blocks_.empty() ? 0 : blocks_[cur_].stack_base + used_; }
  // Frees everything pushed after mark() returned `mark`.
  void pop_to(size_t mark);
  // Releases every block.
  void clear() { drop_from(0); }

 private:
  struct Block {
    uintptr_t base;
    size_t size;
    size_t stack_base;  // stack offset of the block's first byte
  };
  void add_block(size_t size);
  void drop_from(size_t index);

  size_t alignment_;
  size_t min_block_;
  std::function<uintptr_t(size_t)> allocate_;
  std::function<void(uintptr_t)> release_;
  std::vector<Block> blocks_;
  size_t cur_ = 0;   // block holding the top of the stack
  size_t used_ = 0;  // bytes used in blocks_[cur_]
};

}  // namespace latent::backend
