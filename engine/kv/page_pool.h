// Fixed-size page allocator of the latent KV store. A page holds rows_per_page tokens' latent
// rows for every layer ([layer][row][width], the layout backend::LatentRows addresses).
// Pages are handed out by id; the pool never frees memory back while it lives, and refuses to
// grow past its budget (the store then evicts cached pages to make room).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace latent::kv {

using PageId = int32_t;

class PagePool {
 public:
  PagePool(size_t page_bytes, int64_t capacity_pages);

  // A free page, or -1 when every page up to the capacity is in use.
  PageId allocate();
  void release(PageId id);

  void* data(PageId id) const { return pages_[size_t(id)].get(); }
  size_t page_bytes() const { return page_bytes_; }
  int64_t capacity() const { return capacity_; }
  int64_t in_use() const { return int64_t(pages_.size() - free_.size()); }
  int64_t allocated() const { return int64_t(pages_.size()); }

 private:
  size_t page_bytes_;
  int64_t capacity_;
  std::vector<std::unique_ptr<std::byte[]>> pages_;
  std::vector<PageId> free_;
  std::vector<bool> is_free_;
};

}  // namespace latent::kv
