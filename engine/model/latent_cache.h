// The latent attention cache as the model sees it: per sequence and layer, rows of
// kv_lora_rank + qk_rope_head_dim values `[c_kv | k_pe]` in the cache's element type (CacheType),
// stored in pages of a fixed number of tokens (one page holds those tokens' rows for every
// layer) and reached through a per-sequence page table.
//
// LatentStore is the interface the attention code depends on; PagedLatentStore is the simple
// private implementation (pages of backend memory from a backend::PagePool, one page table per
// sequence).
// The radix-tree store of engine/kv, which shares pages between sequences with a common prefix,
// implements the same interface, so the attention code does not change when it arrives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/page_pool.h"
#include "model/model.h"

namespace latent::model {

class LatentStore {
 public:
  virtual ~LatentStore() = default;
  // Registers an empty sequence.
  virtual void add_sequence(SeqId seq) = 0;
  // Drops a sequence and releases its pages.
  virtual void remove_sequence(SeqId seq) = 0;
  // Makes rows [0, n_rows) of every layer addressable (allocating pages as needed). Rows at
  // and after the sequence's current length are about to be written: a store that shares
  // pages between sequences must hand this sequence private pages for them (copy on write).
  virtual void reserve(SeqId seq, int64_t n_rows) = 0;
  // Keeps rows [0, n_rows); later pages are released.
  virtual void truncate(SeqId seq, int64_t n_rows) = 0;
  // Rows [0, n_rows) of one layer; n_rows must be reserved.
  virtual backend::LatentRows rows(SeqId seq, int64_t layer, int64_t n_rows) const = 0;
  // Prefix reuse (engine/kv's PrefixStore shares pages; a private store caches nothing):
  // attaches cached rows for the longest known prefix of `tokens` to an empty sequence and
  // returns how many rows it holds now.
  virtual int64_t attach_prefix(SeqId, std::span<const int32_t>) { return 0; }
  // The sequence's cache holds `tokens`: offers its rows for reuse by later sequences.
  virtual void publish(SeqId, std::span<const int32_t>) {}
};

// How a latent store's pages split over the backends of the model's layers (one PagePool part
// per placement), and the LatentRows of a layer given a sequence's page tables (one per part).
class PageLayout {
 public:
  // Throws Error for an empty placement, non-positive sizes, or a width Q8_0's blocks do not divide.
  PageLayout(std::vector<LayerPlacement> placement, int64_t width, CacheType type, int64_t rows_per_page);

  std::vector<backend::PagePool::Part> pool_parts() const;
  int64_t n_layer() const { return n_layer_; }
  int64_t rows_per_page() const { return rows_per_page_; }
  gguf::TensorType element_type() const { return type_; }
  size_t parts() const { return placement_.size(); }
  const LayerPlacement& placement(size_t part) const { return placement_[part]; }

  // tables[part][i] = address of page i's part (PagePool::data); rebuilt by refresh().
  using Tables = std::vector<std::vector<void*>>;
  void refresh(const backend::PagePool& pool, const std::vector<backend::PageId>& pages, Tables& tables) const;
  backend::LatentRows rows(const Tables& tables, int64_t layer, int64_t n_rows) const;

 private:
  std::vector<LayerPlacement> placement_;
  std::vector<int64_t> first_layer_;  // per part
  int64_t n_layer_ = 0;
  int64_t width_;
  gguf::TensorType type_;
  int64_t rows_per_page_;
  size_t row_bytes_;
};

class PagedLatentStore final : public LatentStore {
 public:
  // Pages are memory of the backends in `placement` (Model::placement()). width: kv_lora_rank +
  // qk_rope; rows_per_page tokens per page.
  PagedLatentStore(std::vector<LayerPlacement> placement, int64_t width, CacheType type, int64_t rows_per_page = 64);

  void add_sequence(SeqId seq) override;
  void remove_sequence(SeqId seq) override;
  void reserve(SeqId seq, int64_t n_rows) override;
  void truncate(SeqId seq, int64_t n_rows) override;
  backend::LatentRows rows(SeqId seq, int64_t layer, int64_t n_rows) const override;

  int64_t pages_in_use() const { return pool_.in_use(); }
  size_t page_bytes() const { return pool_.page_bytes(); }

 private:
  struct Seq {
    std::vector<backend::PageId> pages;
    PageLayout::Tables tables;
  };
  Seq& seq_of(SeqId seq);
  const Seq& seq_of(SeqId seq) const;

  PageLayout layout_;
  backend::PagePool pool_;
  uint64_t tables_generation_ = 0;
  std::unordered_map<SeqId, Seq> seqs_;
};

}  // namespace latent::model
