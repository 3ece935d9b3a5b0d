#include "backend/scratch_arena.h"

#include <algorithm>

namespace latent::backend {

ScratchArena::ScratchArena(size_t alignment, size_t min_block, std::function<uintptr_t(size_t)> allocate,
                           std::function<void(uintptr_t)> release)
    : alignment_(alignment), min_block_(min_block), allocate_(std::move(allocate)), release_(std::move(release)) {}

uintptr_t ScratchArena::push(size_t bytes) {
  bytes = std::max<size_t>((bytes + alignment_ - 1) / alignment_ * alignment_, alignment_);
  if (blocks_.empty() || bytes > left_) {
    const size_t size = std::max(bytes, min_block_);
    blocks_.push_back(allocate_(size));
    left_ = size;
    next_ = blocks_.back();
  }
  const uintptr_t p = next_;
  next_ += bytes;
  left_ -= bytes;
  return p;
}

void ScratchArena::clear() {
  for (uintptr_t b : blocks_) release_(b);
  blocks_.clear();
  left_ = 0;
}

}  // namespace latent::backend
