#include "kv/prefix_store.h"

#include <algorithm>
#include <string>

#include "kv/fingerprint.h"

namespace latent::kv {

uint64_t default_memory_budget(const backend::Backend& be) {
  return std::min<uint64_t>(be.memory_available() / 4, uint64_t(8) << 30);
}

namespace {

int64_t capacity_pages(const model::PageLayout& layout, const StoreOptions& options) {
  const auto parts = layout.pool_parts();
  size_t page_bytes = 0;
  for (const auto& p : parts) page_bytes += p.bytes;
  if (options.memory_budget_bytes) return std::max<int64_t>(2, int64_t(options.memory_budget_bytes / page_bytes));
  int64_t pages = INT64_MAX;
  for (const auto& p : parts) pages = std::min(pages, int64_t(default_memory_budget(*p.backend) / p.bytes));
  return std::max<int64_t>(2, pages);
}

}  // namespace

PrefixStore::PrefixStore(std::vector<model::LayerPlacement> placement, int64_t width, model::CacheType type,
                         uint64_t fingerprint, const StoreOptions& options)
    : layout_(std::move(placement), width, type, options.rows_per_page),
      seed_(fingerprint),
      pool_(layout_.pool_parts(), capacity_pages(layout_, options)),
      host_page_(pool_.page_bytes()) {
  if (options.disk) {
    PageFormat f;
    // The element type is part of the disk namespace and of every page header: pages written
    // with another cache type are never read.
    f.element_type = uint32_t(layout_.element_type());
    f.rows_per_page = uint32_t(layout_.rows_per_page());
    f.n_layer = uint32_t(layout_.n_layer());
    f.width = uint32_t(width);
    f.page_bytes = pool_.page_bytes();
    const std::filesystem::path dir = options.disk_dir.empty() ? default_cache_dir() : options.disk_dir;
    // The disk tier only saves recomputation: when its directory cannot be made (read-only or
    // full file system, a file in its place), the cache runs from memory alone.
    try {
      disk_ = std::make_unique<DiskTier>(dir, fingerprint, f, options.disk_quota_bytes);
    } catch (const std::exception& e) {
      disk_problem_ = "the KV cache's disk tier is off (pages are kept in memory only): " + std::string(e.what());
    }
  }
}

PrefixStore::~PrefixStore() {
  try {
    flush();
  } catch (...) {
    // Persisting is best effort at shutdown; the pages are recomputed next time.
  }
}

PrefixStore::Seq& PrefixStore::seq_of(model::SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw model::Error("latent KV store: unknown sequence " + std::to_string(seq));
  return it->second;
}

const PrefixStore::Seq& PrefixStore::seq_of(model::SeqId seq) const {
  return const_cast<PrefixStore*>(this)->seq_of(seq);
}

void PrefixStore::add_sequence(model::SeqId seq) {
  if (!seqs_.emplace(seq, Seq{}).second)
    throw model::Error("latent KV store: sequence " + std::to_string(seq) + " already exists");
}

void PrefixStore::remove_sequence(model::SeqId seq) {
  truncate(seq, 0);
  seqs_.erase(seq);
}

void PrefixStore::spill(Node* n) {
  if (!disk_ || n->on_disk) return;
  pool_.read(n->page, host_page_.data());
  n->on_disk = disk_->store(n->key, n->parent ? n->parent->key : seed_, n->tokens, host_page_.data());
}

void PrefixStore::refresh_tables() {
  if (tables_generation_ == pool_.generation()) return;
  for (auto& [id, s] : seqs_) layout_.refresh(pool_, s.pages, s.tables);
  tables_generation_ = pool_.generation();
}

PageId PrefixStore::try_allocate() {
  PageId id = pool_.allocate();
  refresh_tables();  // growing the pool moves every page
  if (id >= 0) return id;
  Node* victim = tree_.lru_evictable();
  if (!victim) return -1;
  spill(victim);
  stats_.evictions++;
  return tree_.remove_leaf(victim);
}

PageId PrefixStore::allocate() {
  PageId id = try_allocate();
  if (id < 0)
    throw model::Error("latent KV store: the memory budget (" + std::to_string(pool_.capacity()) + " pages of " +
                       std::to_string(pool_.page_bytes() >> 10) +
                       " KiB) is full with pages of running requests; raise the KV memory budget or run fewer "
                       "requests at once");
  return id;
}

void PrefixStore::relock(Seq& s, Node* new_deepest) {
  Node* old = s.shared.empty() ? nullptr : s.shared.back();
  if (old == new_deepest) return;
  if (new_deepest) tree_.lock(new_deepest);
  if (old) tree_.unlock(old);
}

uint64_t PrefixStore::key_before(const Seq& s) const { return s.shared.empty() ? seed_ : s.shared.back()->key; }

void PrefixStore::reserve(model::SeqId seq, int64_t n_rows) {
  Seq& s = seq_of(seq);
  const size_t need = size_t((n_rows + rows_per_page() - 1) / rows_per_page());
  while (s.pages.size() < need) s.pages.push_back(allocate());
  layout_.refresh(pool_, s.pages, s.tables);
}

void PrefixStore::truncate(model::SeqId seq, int64_t n_rows) {
  Seq& s = seq_of(seq);
  const size_t keep = size_t((n_rows + rows_per_page() - 1) / rows_per_page());
  const size_t full = size_t(n_rows / rows_per_page());
  while (s.pages.size() > keep) {
    if (s.pages.size() > s.shared.size()) {
      pool_.release(s.pages.back());
    } else {
      relock(s, s.shared.size() > 1 ? s.shared[s.shared.size() - 2] : nullptr);
      s.shared.pop_back();
    }
    s.pages.pop_back();
  }
  // A shared page kept only in part becomes private: this sequence will write its remaining
  // rows, which other sequences must not see. The lock still held on it keeps it resident
  // while the copy is allocated.
  if (full < s.shared.size()) {
    PageId copy = allocate();
    pool_.copy(s.pages[full], copy);
    s.pages[full] = copy;
    relock(s, full ? s.shared[full - 1] : nullptr);
    s.shared.resize(full);
  }
  layout_.refresh(pool_, s.pages, s.tables);
}

backend::LatentRows PrefixStore::rows(model::SeqId seq, int64_t layer, int64_t n_rows) const {
  const Seq& s = seq_of(seq);
  if (n_rows > int64_t(s.pages.size()) * rows_per_page())
    throw model::Error("latent KV store: sequence " + std::to_string(seq) + " has " +
                       std::to_string(int64_t(s.pages.size()) * rows_per_page()) + " rows reserved, " +
                       std::to_string(n_rows) + " requested");
  return layout_.rows(s.tables, layer, n_rows);
}

int64_t PrefixStore::attach_prefix(model::SeqId seq, std::span<const int32_t> tokens) {
  Seq& s = seq_of(seq);
  if (!s.pages.empty()) throw model::Error("latent KV store: a prefix can only be attached to an empty sequence");
  stats_.lookups++;
  const size_t rpp = size_t(rows_per_page());
  const size_t n_pages = tokens.size() / rpp;
  for (size_t j = 0; j < n_pages; ++j) {
    std::vector<int32_t> page(tokens.begin() + j * rpp, tokens.begin() + (j + 1) * rpp);
    Node* parent = s.shared.empty() ? nullptr : s.shared.back();
    const uint64_t prev = key_before(s);
    const uint64_t key = chain_key(prev, page);
    Node* node = tree_.find(parent, key, page);
    bool from_disk = false;
    if (!node && disk_ && disk_->contains(key)) {
      PageId id = try_allocate();
      if (id < 0) break;  // no room without hurting running requests: compute instead
      if (!disk_->load(key, prev, page, host_page_.data())) {
        pool_.release(id);
        break;
      }
      pool_.write(id, host_page_.data());
      node = tree_.insert(parent, key, std::move(page), id);
      node->on_disk = true;
      from_disk = true;
    }
    if (!node) break;
    relock(s, node);
    tree_.touch(node);
    s.shared.push_back(node);
    s.pages.push_back(node->page);
    (from_disk ? stats_.hit_rows_disk : stats_.hit_rows_memory) += rows_per_page();
  }
  layout_.refresh(pool_, s.pages, s.tables);
  return int64_t(s.shared.size()) * rows_per_page();
}

void PrefixStore::publish(model::SeqId seq, std::span<const int32_t> tokens) {
  Seq& s = seq_of(seq);
  const size_t rpp = size_t(rows_per_page());
  const size_t n_pages = std::min(tokens.size() / rpp, s.pages.size());
  for (size_t j = s.shared.size(); j < n_pages; ++j) {
    std::vector<int32_t> page(tokens.begin() + j * rpp, tokens.begin() + (j + 1) * rpp);
    Node* parent = s.shared.empty() ? nullptr : s.shared.back();
    const uint64_t key = chain_key(key_before(s), page);
    Node* node = tree_.find(parent, key, page);
    if (node) {
      // Another request cached the same prefix meanwhile: use its page, free ours.
      relock(s, node);
      pool_.release(s.pages[j]);
      s.pages[j] = node->page;
    } else {
      node = tree_.insert(parent, key, std::move(page), s.pages[j]);
      relock(s, node);
      stats_.published_pages++;
    }
    s.shared.push_back(node);
  }
  layout_.refresh(pool_, s.pages, s.tables);
}

void PrefixStore::flush() {
  if (!disk_) return;
  std::vector<Node*> pending;
  tree_.for_each([&](const Node& n) {
    if (!n.on_disk) pending.push_back(const_cast<Node*>(&n));
  });
  for (Node* n : pending) spill(n);
}

StoreStats PrefixStore::stats() const {
  StoreStats st = stats_;
  st.cached_pages = tree_.size();
  st.private_pages = pool_.in_use() - tree_.size();
  st.capacity_pages = pool_.capacity();
  st.page_bytes = pool_.page_bytes();
  if (disk_) st.disk = disk_->stats();
  return st;
}

std::string PrefixStore::check_invariants() const {
  std::vector<const Node*> held;
  std::vector<int> owners(size_t(pool_.allocated()), 0);
  tree_.for_each([&](const Node& n) { owners[size_t(n.page)]++; });
  for (const auto& [id, s] : seqs_) {
    if (s.shared.size() > s.pages.size())
      return "sequence " + std::to_string(id) + ": page table sizes disagree";
    for (size_t i = 0; i < s.shared.size(); ++i) {
      if (s.shared[i]->page != s.pages[i]) return "sequence " + std::to_string(id) + ": shared page id mismatch";
      if (s.shared[i]->parent != (i ? s.shared[i - 1] : nullptr))
        return "sequence " + std::to_string(id) + ": shared pages are not a path from the root";
    }
    for (size_t i = s.shared.size(); i < s.pages.size(); ++i) owners[size_t(s.pages[i])]++;
    for (size_t part = 0; part < layout_.parts(); ++part)
      for (size_t i = 0; i < s.pages.size(); ++i)
        if (s.tables.size() <= part || s.tables[part].size() != s.pages.size() || s.tables[part][i] != pool_.data(s.pages[i], part))
          return "sequence " + std::to_string(id) + ": stale page address";
    if (!s.shared.empty()) held.push_back(s.shared.back());
  }
  int64_t owned = 0;
  for (size_t p = 0; p < owners.size(); ++p) {
    if (owners[p] > 1) return "page " + std::to_string(p) + " has " + std::to_string(owners[p]) + " owners";
    owned += owners[p];
  }
  if (owned != pool_.in_use())
    return "pool has " + std::to_string(pool_.in_use()) + " pages in use but " + std::to_string(owned) + " are owned";
  return tree_.check_invariants(held);
}

}  // namespace latent::kv
