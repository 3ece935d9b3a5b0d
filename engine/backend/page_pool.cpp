#include "backend/page_pool.h"

#include <algorithm>
#include <string>

namespace latent::backend {
namespace {
constexpr int64_t kFirstPages = 16;
}

PagePool::PagePool(std::shared_ptr<Backend> backend, size_t page_bytes, int64_t capacity_pages)
    : backend_(std::move(backend)), page_bytes_(page_bytes), capacity_(capacity_pages) {
  if (!backend_) throw Error("page pool: no backend");
  if (page_bytes == 0 || capacity_pages <= 0) throw Error("page pool: empty pages or zero capacity");
  capacity_ = std::min<int64_t>(capacity_, int64_t(std::min<uint64_t>(backend_->max_allocation_bytes() / page_bytes,
                                                                       uint64_t(INT32_MAX))));
  if (capacity_ < 1)
    throw Error("page pool: a page of " + std::to_string(page_bytes >> 10) + " KiB exceeds what the " +
                std::string(backend_->name()) + " backend allocates in one piece");
}

PagePool::~PagePool() {
  if (memory_.data) backend_->deallocate(memory_);
}

Tensor PagePool::page(PageId id) const {
  return memory_.view({int64_t(page_bytes_), 1, 1, 1}, {1, page_bytes_, page_bytes_, page_bytes_},
                      size_t(id) * page_bytes_, "kv_page");
}

void* PagePool::data(PageId id) const { return static_cast<char*>(memory_.data) + size_t(id) * page_bytes_; }

bool PagePool::grow() {
  const int64_t pages = std::min(capacity_, std::max(kFirstPages, pages_ * 2));
  if (pages <= pages_) return false;
  Tensor bigger;
  try {
    bigger = backend_->allocate(TensorType::I8, {int64_t(page_bytes_), pages, 1, 1}, "kv_pages");
  } catch (const Error&) {
    // Out of memory: the pool stays at its size and the store evicts instead.
    capacity_ = pages_;
    return false;
  }
  if (memory_.data) {
    backend_->copy(memory_.view({int64_t(page_bytes_), handed_out_, 1, 1},
                                {1, page_bytes_, page_bytes_ * size_t(handed_out_), page_bytes_ * size_t(handed_out_)},
                                0, "kv_pages"),
                   bigger.view({int64_t(page_bytes_), handed_out_, 1, 1},
                               {1, page_bytes_, page_bytes_ * size_t(handed_out_), page_bytes_ * size_t(handed_out_)},
                               0, "kv_pages"));
    backend_->deallocate(memory_);
  }
  memory_ = bigger;
  pages_ = pages;
  ++generation_;
  return true;
}

PageId PagePool::allocate() {
  if (!free_.empty()) {
    const PageId id = free_.back();
    free_.pop_back();
    is_free_[size_t(id)] = false;
    return id;
  }
  if (handed_out_ == pages_ && !grow()) return -1;
  is_free_.push_back(false);
  return PageId(handed_out_++);
}

void PagePool::release(PageId id) {
  if (id < 0 || id >= handed_out_ || is_free_[size_t(id)])
    throw Error("page pool: release of page " + std::to_string(id) + " that is not in use");
  is_free_[size_t(id)] = true;
  free_.push_back(id);
}

void PagePool::read(PageId id, void* dst) const { backend_->read(page(id), dst, page_bytes_); }
void PagePool::write(PageId id, const void* src) { backend_->write(page(id), src, page_bytes_); }
void PagePool::copy(PageId from, PageId to) { backend_->copy(page(from), page(to)); }

}  // namespace latent::backend
