#include "backend/scratch_stack.h"

#include <algorithm>

namespace latent::backend {

ScratchStack::ScratchStack(size_t alignment, size_t min_block, std::function<uintptr_t(size_t)> allocate,
                           std::function<void(uintptr_t)> release)
    : alignment_(alignment), min_block_(min_block), allocate_(std::move(allocate)), release_(std::move(release)) {}

void ScratchStack::add_block(size_t size) {
  const size_t stack_base = blocks_.empty() ? 0 : blocks_.back().stack_base + blocks_.back().size;
  blocks_.push_back(Block{allocate_(size), size, stack_base});
}

void ScratchStack::drop_from(size_t index) {
  while (blocks_.size() > index) {
    release_(blocks_.back().base);
    blocks_.pop_back();
  }
}

uintptr_t ScratchStack::push(size_t bytes) {
  bytes = (bytes + alignment_ - 1) / alignment_ * alignment_;
  if (blocks_.empty() || used_ + bytes > blocks_[cur_].size) {
    const size_t next = blocks_.empty() ? 0 : cur_ + 1;
    if (next >= blocks_.size() || blocks_[next].size < bytes) {
      drop_from(next);
      add_block(std::max(bytes, min_block_));
    }
    cur_ = next;
    used_ = 0;
  }
  const uintptr_t p = blocks_[cur_].base + used_;
  used_ += bytes;
  return p;
}

void ScratchStack::pop_to(size_t mark) {
  if (blocks_.empty()) return;
  if (mark == 0 && blocks_.size() > 1) {
    const size_t total = blocks_.back().stack_base + blocks_.back().size;
    drop_from(0);
    add_block(total);
  }
  cur_ = 0;
  while (cur_ + 1 < blocks_.size() && blocks_[cur_ + 1].stack_base <= mark) ++cur_;
  used_ = mark - blocks_[cur_].stack_base;
}

}  // namespace latent::backend
