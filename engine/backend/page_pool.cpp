#include "backend/page_pool.h"

#include <algorithm>
#include <string>

namespace latent::backend {
namespace {
constexpr int64_t kFirstPages = 16;

// [bytes, n] of I8 from the start of t.
Tensor rows_of(const Tensor& t, size_t bytes, int64_t n, size_t offset) {
  return t.view({int64_t(bytes), n, 1, 1}, {1, bytes, bytes * size_t(n), bytes * size_t(n)}, offset, "kv_pages");
}
}  // namespace

PagePool::PagePool(std::vector<Part> parts, int64_t capacity_pages) : capacity_(capacity_pages) {
  if (parts.empty() || capacity_pages <= 0) throw Error("page pool: no parts or zero capacity");
  for (auto& p : parts) {
    if (!p.backend || p.bytes == 0) throw Error("page pool: a part without backend or bytes");
    capacity_ = std::min<int64_t>(capacity_, int64_t(std::min<uint64_t>(p.backend->max_allocation_bytes() / p.bytes,
                                                                         uint64_t(INT32_MAX))));
    if (capacity_ < 1)
      throw Error("page pool: a page of " + std::to_string(p.bytes >> 10) + " KiB exceeds what the " +
                  std::string(p.backend->name()) + " backend allocates in one piece");
    page_bytes_ += p.bytes;
    parts_.push_back({std::move(p), Tensor{}});
  }
}

PagePool::PagePool(std::shared_ptr<Backend> backend, size_t page_bytes, int64_t capacity_pages)
    : PagePool(std::vector<Part>{{std::move(backend), page_bytes}}, capacity_pages) {}

PagePool::~PagePool() {
  for (auto& p : parts_)
    if (p.memory.data) p.spec.backend->deallocate(p.memory);
}

Tensor PagePool::page(PageId id, size_t part) const {
  const size_t bytes = parts_[part].spec.bytes;
  return rows_of(parts_[part].memory, bytes, 1, size_t(id) * bytes);
}

void* PagePool::data(PageId id, size_t part) const {
  return static_cast<char*>(parts_[part].memory.data) + size_t(id) * parts_[part].spec.bytes;
}

bool PagePool::grow() {
  const int64_t pages = std::min(capacity_, std::max(kFirstPages, pages_ * 2));
  if (pages <= pages_) return false;
  std::vector<Tensor> bigger;
  try {
    for (const auto& p : parts_)
      bigger.push_back(p.spec.backend->allocate(TensorType::I8, {int64_t(p.spec.bytes), pages, 1, 1}, "kv_pages"));
  } catch (const Error&) {
    // Out of memory: the pool stays at its size and the store evicts instead.
    for (size_t i = 0; i < bigger.size(); ++i) parts_[i].spec.backend->deallocate(bigger[i]);
    capacity_ = pages_;
    return false;
  }
  for (size_t i = 0; i < parts_.size(); ++i) {
    Held& p = parts_[i];
    if (p.memory.data) {
      p.spec.backend->copy(rows_of(p.memory, p.spec.bytes, handed_out_, 0),
                           rows_of(bigger[i], p.spec.bytes, handed_out_, 0));
      p.spec.backend->deallocate(p.memory);
    }
    p.memory = bigger[i];
  }
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

void PagePool::read(PageId id, void* dst) const {
  auto* out = static_cast<char*>(dst);
  for (size_t i = 0; i < parts_.size(); ++i) {
    parts_[i].spec.backend->read(page(id, i), out, parts_[i].spec.bytes);
    out += parts_[i].spec.bytes;
  }
}

void PagePool::write(PageId id, const void* src) {
  const auto* in = static_cast<const char*>(src);
  for (size_t i = 0; i < parts_.size(); ++i) {
    parts_[i].spec.backend->write(page(id, i), in, parts_[i].spec.bytes);
    in += parts_[i].spec.bytes;
  }
}

void PagePool::copy(PageId from, PageId to) {
  for (size_t i = 0; i < parts_.size(); ++i) parts_[i].spec.backend->copy(page(from, i), page(to, i));
}

}  // namespace latent::backend
