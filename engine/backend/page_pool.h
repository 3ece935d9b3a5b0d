// Fixed-size pages of backend memory for the latent KV stores (model::PagedLatentStore and
// kv::PrefixStore). A page holds rows_per_page tokens' latent rows for every layer
// ([layer][row][width], the layout backend::LatentRows addresses).
//
// A page may be split into parts, one per backend, when the model's layers run on several
// (partial offload: the first layers on a GPU, the rest on the CPU): part i holds its layers'
// rows in the memory of its backend, and every part shares the page ids. Each part lives in one
// allocation of its backend, because GPU shaders bind one buffer for the page table's pages. The
// allocations start small and double as pages are handed out, up to a capacity; growing moves
// every page, so callers re-read page addresses (data()) whenever generation() changes. Freed
// pages are reused before the pool grows.
//
// Page contents move between the host and the pool through read()/write() (the disk tier, which
// sees a page as its parts in order), and between pages through copy() (copy-on-write), so the
// stores work unchanged on any backend.
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
  struct Part {
    std::shared_ptr<Backend> backend;
    size_t bytes = 0;  // of every page held by this part
  };

  // capacity_pages is the most pages the pool grows to; it is lowered to what every backend can
  // allocate in one piece (max_allocation_bytes()).
  PagePool(std::vector<Part> parts, int64_t capacity_pages);
  PagePool(std::shared_ptr<Backend> backend, size_t page_bytes, int64_t capacity_pages);
  ~PagePool();
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;

  // A free page, or -1 when every page up to the capacity is in use (or a backend could not
  // grow its allocation: out of device memory counts as full).
  PageId allocate();
  void release(PageId id);

  // Base address of a page's part (backend memory: a host pointer only on the CPU backend).
  // Valid until generation() changes.
  void* data(PageId id, size_t part = 0) const;
  uint64_t generation() const { return generation_; }

  void read(PageId id, void* dst) const;   // page_bytes() bytes to host memory, parts in order
  void write(PageId id, const void* src);  // page_bytes() bytes from host memory
  void copy(PageId from, PageId to);

  size_t parts() const { return parts_.size(); }
  size_t page_bytes() const { return page_bytes_; }  // all parts
  int64_t capacity() const { return capacity_; }
  int64_t in_use() const { return handed_out_ - int64_t(free_.size()); }
  int64_t allocated() const { return handed_out_; }  // pages ever handed out (high-water mark)
  Backend& backend(size_t part = 0) const { return *parts_[part].spec.backend; }

 private:
  struct Held {
    Part spec;
    Tensor memory;  // [bytes, pages] of I8
  };
  Tensor page(PageId id, size_t part) const;
  bool grow();

  std::vector<Held> parts_;
  size_t page_bytes_ = 0;
  int64_t capacity_;
  int64_t pages_ = 0;       // pages every allocation holds
  int64_t handed_out_ = 0;  // pages [0, handed_out_) have been handed out at least once
  uint64_t generation_ = 0;
  std::vector<PageId> free_;
  std::vector<bool> is_free_;
};

}  // namespace latent::backend
