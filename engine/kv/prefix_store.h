// PrefixStore: the latent KV store that shares pages between requests. It implements the
// model's LatentStore (so the attention code is unchanged) on top of three separate pieces:
// a page pool (page_pool.h), a radix tree over page-aligned token prefixes (radix_tree.h) and a
// disk tier (disk_tier.h).
//
// A sequence's page table starts with shared pages (tree nodes, immutable: only full pages are
// ever shared) followed by private pages it writes. match_prefix() attaches the longest cached
// prefix of a prompt to a new sequence; publish() hands a sequence's full pages to the tree so
// later requests reuse them; truncating into a shared page copies it first (copy-on-write), so
// one request never changes what another sees. Cached pages nobody uses are evicted least
// recently used first when the memory budget is reached, spilled to the disk tier, and read back
// (verified) by a later request or a later process.
//
// Not thread-safe: the engine's scheduler thread owns it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "kv/disk_tier.h"
#include "backend/page_pool.h"
#include "kv/radix_tree.h"
#include "model/latent_cache.h"

namespace latent::kv {

struct StoreOptions {
  int64_t rows_per_page = 64;
  // In-memory pages (shared and private); 0 = default_memory_budget() of the backend.
  uint64_t memory_budget_bytes = 0;
  // Keep evicted pages (and, at destruction, every cached page) on disk.
  bool disk = true;
  std::filesystem::path disk_dir;  // empty = default_cache_dir()
  uint64_t disk_quota_bytes = uint64_t(8) << 30;
};

struct StoreStats {
  int64_t lookups = 0;
  int64_t hit_rows_memory = 0;  // rows attached from pages in memory
  int64_t hit_rows_disk = 0;    // rows attached from the disk tier
  int64_t published_pages = 0;
  int64_t evictions = 0;
  int64_t cached_pages = 0;    // pages in the radix tree
  int64_t private_pages = 0;   // pages owned by one sequence
  int64_t capacity_pages = 0;
  size_t page_bytes = 0;
  std::optional<DiskStats> disk;
};

// A quarter of the memory the backend can still allocate (host or device), at most 8 GiB.
uint64_t default_memory_budget(const backend::Backend& be);

class PrefixStore final : public model::LatentStore {
 public:
  // Pages are memory of the backends in `placement` (Model::placement(): whose latent ops read
  // them). width/type describe the latent rows (pages are sized by the element type; a width
  // Q8_0's blocks of 32 do not divide is an Error); fingerprint namespaces keys and the disk tier
  // (model_fingerprint() of the model's file). Without an explicit budget, each backend's part
  // of the pages may take default_memory_budget() of that backend.
  PrefixStore(std::vector<model::LayerPlacement> placement, int64_t width, model::CacheType type,
              uint64_t fingerprint, const StoreOptions& options);
  ~PrefixStore() override;  // flush()es to disk when the disk tier is on

  void add_sequence(model::SeqId seq) override;
  void remove_sequence(model::SeqId seq) override;
  void reserve(model::SeqId seq, int64_t n_rows) override;
  void truncate(model::SeqId seq, int64_t n_rows) override;
  backend::LatentRows rows(model::SeqId seq, int64_t layer, int64_t n_rows) const override;
  // Attaches the longest cached page-aligned prefix of `tokens` to an empty sequence (from
  // memory, else from the disk tier); returns the rows attached. Callers keep at least the last
  // prompt token out of `tokens` so that it is evaluated and yields logits.
  int64_t attach_prefix(model::SeqId seq, std::span<const int32_t> tokens) override;
  // The sequence's cache holds these tokens: its full pages join the tree for later requests.
  void publish(model::SeqId seq, std::span<const int32_t> tokens) override;

  // Writes every cached page not yet on disk (shutdown). No-op without the disk tier.
  void flush();
  StoreStats stats() const;
  // Why the disk tier asked for is off (its directory could not be created), or empty.
  const std::string& disk_problem() const { return disk_problem_; }
  int64_t rows_per_page() const { return layout_.rows_per_page(); }
  size_t page_bytes() const { return pool_.page_bytes(); }
  // Consistency of lock references, page ownership and the pool; empty when all hold.
  std::string check_invariants() const;

 private:
  struct Seq {
    std::vector<PageId> pages;    // page ids
    model::PageLayout::Tables tables;  // their addresses per pool part, what LatentRows reads
    std::vector<Node*> shared;    // tree nodes of the leading shared pages
  };
  Seq& seq_of(model::SeqId seq);
  const Seq& seq_of(model::SeqId seq) const;
  void refresh_tables();  // page addresses after the pool grew
  PageId try_allocate();  // -1 when the budget is full of pages in use
  PageId allocate();      // throws when the budget is full of pages in use
  void spill(Node* n);
  void relock(Seq& s, Node* new_deepest);
  uint64_t key_before(const Seq& s) const;

  model::PageLayout layout_;
  uint64_t seed_;
  backend::PagePool pool_;
  std::vector<std::byte> host_page_;  // one page on its way to or from the disk tier
  uint64_t tables_generation_ = 0;
  RadixTree tree_;
  std::unique_ptr<DiskTier> disk_;
  std::string disk_problem_;
  std::unordered_map<model::SeqId, Seq> seqs_;
  StoreStats stats_;
};

}  // namespace latent::kv
