#include "model/latent_cache.h"

#include <string>

namespace latent::model {

PageLayout::PageLayout(std::vector<LayerPlacement> placement, int64_t width, CacheType type, int64_t rows_per_page)
    : placement_(std::move(placement)), width_(width), type_(cache_tensor_type(type)), rows_per_page_(rows_per_page) {
  if (placement_.empty() || rows_per_page <= 0 || width <= 0)
    throw Error("latent cache: layers, width and rows per page must be positive");
  for (const auto& p : placement_) {
    if (!p.backend || p.n_layers <= 0) throw Error("latent cache: every layer placement needs a backend and layers");
    first_layer_.push_back(n_layer_);
    n_layer_ += p.n_layers;
  }
  row_bytes_ = cache_row_bytes(type, width);
}

std::vector<backend::PagePool::Part> PageLayout::pool_parts() const {
  std::vector<backend::PagePool::Part> parts;
  for (const auto& p : placement_) parts.push_back({p.backend, row_bytes_ * size_t(rows_per_page_) * size_t(p.n_layers)});
  return parts;
}

void PageLayout::refresh(const backend::PagePool& pool, const std::vector<backend::PageId>& pages, Tables& tables) const {
  tables.resize(placement_.size());
  for (size_t part = 0; part < placement_.size(); ++part) {
    tables[part].resize(pages.size());
    for (size_t i = 0; i < pages.size(); ++i) tables[part][i] = pool.data(pages[i], part);
  }
}

backend::LatentRows PageLayout::rows(const Tables& tables, int64_t layer, int64_t n_rows) const {
  size_t part = placement_.size() - 1;
  while (part > 0 && first_layer_[part] > layer) --part;
  backend::LatentRows r;
  r.type = type_;
  r.pages = tables.empty() ? nullptr : tables[part].data();
  r.rows_per_page = rows_per_page_;
  r.page_offset = size_t(layer - first_layer_[part]) * size_t(rows_per_page_) * row_bytes_;
  r.row_stride = row_bytes_;
  r.width = width_;
  r.n_rows = n_rows;
  return r;
}

PagedLatentStore::PagedLatentStore(std::vector<LayerPlacement> placement, int64_t width, CacheType type,
                                   int64_t rows_per_page)
    : layout_(std::move(placement), width, type, rows_per_page), pool_(layout_.pool_parts(), INT32_MAX) {}

PagedLatentStore::Seq& PagedLatentStore::seq_of(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw Error("latent cache: unknown sequence " + std::to_string(seq));
  return it->second;
}

const PagedLatentStore::Seq& PagedLatentStore::seq_of(SeqId seq) const {
  return const_cast<PagedLatentStore*>(this)->seq_of(seq);
}

void PagedLatentStore::add_sequence(SeqId seq) {
  if (!seqs_.emplace(seq, Seq{}).second)
    throw Error("latent cache: sequence " + std::to_string(seq) + " already exists");
}

void PagedLatentStore::remove_sequence(SeqId seq) {
  truncate(seq, 0);
  seqs_.erase(seq);
}

void PagedLatentStore::reserve(SeqId seq, int64_t n_rows) {
  Seq& s = seq_of(seq);
  const size_t need = size_t((n_rows + layout_.rows_per_page() - 1) / layout_.rows_per_page());
  while (s.pages.size() < need) {
    const backend::PageId id = pool_.allocate();
    if (id < 0)
      throw Error("latent cache: out of " + std::string(pool_.backend().name()) + " memory after " +
                  std::to_string(pool_.in_use()) + " pages of " + std::to_string(pool_.page_bytes() >> 10) +
                  " KiB; use a shorter context or fewer sequences");
    s.pages.push_back(id);
  }
  // Growing the pool moves every page: then every sequence's addresses change.
  if (tables_generation_ != pool_.generation()) {
    for (auto& [other, t] : seqs_) layout_.refresh(pool_, t.pages, t.tables);
    tables_generation_ = pool_.generation();
  } else {
    layout_.refresh(pool_, s.pages, s.tables);
  }
}

void PagedLatentStore::truncate(SeqId seq, int64_t n_rows) {
  Seq& s = seq_of(seq);
  const size_t keep = size_t((n_rows + layout_.rows_per_page() - 1) / layout_.rows_per_page());
  while (s.pages.size() > keep) {
    pool_.release(s.pages.back());
    s.pages.pop_back();
  }
  layout_.refresh(pool_, s.pages, s.tables);
}

backend::LatentRows PagedLatentStore::rows(SeqId seq, int64_t layer, int64_t n_rows) const {
  const Seq& s = seq_of(seq);
  if (n_rows > int64_t(s.pages.size()) * layout_.rows_per_page())
    throw Error("latent cache: sequence " + std::to_string(seq) + " has " +
                std::to_string(int64_t(s.pages.size()) * layout_.rows_per_page()) + " rows reserved, " +
                std::to_string(n_rows) + " requested");
  return layout_.rows(s.tables, layer, n_rows);
}

}  // namespace latent::model
