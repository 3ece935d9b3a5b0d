#include "kv/page_pool.h"

#include <stdexcept>
#include <string>

namespace latent::kv {

PagePool::PagePool(size_t page_bytes, int64_t capacity_pages)
    : page_bytes_(page_bytes), capacity_(capacity_pages) {
  if (page_bytes == 0 || capacity_pages <= 0) throw std::invalid_argument("page pool: empty pages or zero capacity");
}

PageId PagePool::allocate() {
  if (!free_.empty()) {
    PageId id = free_.back();
    free_.pop_back();
    is_free_[size_t(id)] = false;
    return id;
  }
  if (int64_t(pages_.size()) >= capacity_) return -1;
  pages_.emplace_back(new std::byte[page_bytes_]);
  is_free_.push_back(false);
  return PageId(pages_.size() - 1);
}

void PagePool::release(PageId id) {
  if (id < 0 || size_t(id) >= pages_.size() || is_free_[size_t(id)])
    throw std::logic_error("page pool: release of page " + std::to_string(id) + " that is not in use");
  is_free_[size_t(id)] = true;
  free_.push_back(id);
}

}  // namespace latent::kv
