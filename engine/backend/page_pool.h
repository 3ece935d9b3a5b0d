// Fixed-size pages of backend memory for the latent KV stores (model::PagedLatentStore and
// kv::PrefixStore). A page holds rows_per_page tokens' latent rows for every layer
// ([layer][row][width], the layout backend::LatentRows addresses).
//
// All pages live in one allocation of the backend, because GPU shaders bind one buffer for the
// page table's pages. The allocation starts small and doubles as pages are handed out, up to a
// capacity; growing moves every page to the new allocation, so callers re-read page addresses
// (data()) whenever generation() changes. Freed pages are reused before the pool grows.
// Page contents move between the host and the pool through read()/write() (the disk tier), and
// between pages through copy() (copy-on-write), so the stores work unchanged on any backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.h"

namespace latent::backend {

using PageId = int32_t;

class PagePool {
 public:
  // capacity_pages is the most pages the pool grows to; it is lowered to what the backend can
  // allocate in one piece (max_allocation_bytes()).
  PagePool(std::shared_ptr<Backend> backend, size_t page_bytes, int64_t capacity_pages);
  ~PagePool();
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;

  // A free page, or -1 when every page up to the capacity is in use (or the backend could not
  // grow the allocation: out of device memory counts as full).
  PageId allocate();
  void release(PageId id);

  // Base address of a page (backend memory: a host pointer only on the CPU backend). Valid until
  // generation() changes.
  void* data(PageId id) const;
  uint64_t generation() const { return generation_; }

  void read(PageId id, void* dst) const;    // page_bytes() bytes to host memory
  void write(PageId id, const void* src);   // page_bytes() bytes from host memory
  void copy(PageId from, PageId to);

  size_t page_bytes() const { return page_bytes_; }
  int64_t capacity() const { return capacity_; }
  int64_t in_use() const { return handed_out_ - int64_t(free_.size()); }
  int64_t allocated() const { return handed_out_; }  // pages ever handed out (high-water mark)
  Backend& backend() const { return *backend_; }

 private:
  Tensor page(PageId id) const;
  bool grow();

  std::shared_ptr<Backend> backend_;
  size_t page_bytes_;
  int64_t capacity_;
  Tensor memory_;            // the allocation, [page_bytes, pages] of I8
  int64_t pages_ = 0;        // pages the allocation holds
  int64_t handed_out_ = 0;   // pages [0, handed_out_) have been handed out at least once
  uint64_t generation_ = 0;
  std::vector<PageId> free_;
  std::vector<bool> is_free_;
};

}  // namespace latent::backend
