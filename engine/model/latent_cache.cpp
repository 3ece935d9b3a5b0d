#include "model/latent_cache.h"

#include <string>

namespace latent::model {

PagedLatentStore::PagedLatentStore(std::shared_ptr<backend::Backend> be, int64_t n_layer, int64_t width,
                                   CacheType type, int64_t rows_per_page)
    : n_layer_(n_layer),
      width_(width),
      type_(cache_tensor_type(type)),
      rows_per_page_(rows_per_page),
      row_bytes_(width > 0 ? cache_row_bytes(type, width) : 0),
      pool_(std::move(be), std::max<size_t>(1, row_bytes_ * size_t(std::max<int64_t>(rows_per_page, 0)) * size_t(std::max<int64_t>(n_layer, 0))),
            INT32_MAX) {
  if (rows_per_page <= 0 || width <= 0 || n_layer <= 0)
    throw Error("latent cache: layers, width and rows per page must be positive");
}

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
  const size_t need = size_t((n_rows + rows_per_page_ - 1) / rows_per_page_);
  while (s.pages.size() < need) {
    const backend::PageId id = pool_.allocate();
    if (id < 0)
      throw Error("latent cache: out of " + std::string(pool_.backend().name()) + " memory after " +
                  std::to_string(pool_.in_use()) + " pages of " + std::to_string(pool_.page_bytes() >> 10) +
                  " KiB; use a shorter context or fewer sequences");
    s.pages.push_back(id);
    s.table.push_back(nullptr);
  }
  // Growing the pool moves every page: refresh the addresses of all sequences.
  if (tables_generation_ != pool_.generation()) {
    for (auto& [other, t] : seqs_)
      for (size_t i = 0; i < t.pages.size(); ++i) t.table[i] = pool_.data(t.pages[i]);
    tables_generation_ = pool_.generation();
  } else {
    for (size_t i = 0; i < s.pages.size(); ++i) s.table[i] = pool_.data(s.pages[i]);
  }
}

void PagedLatentStore::truncate(SeqId seq, int64_t n_rows) {
  Seq& s = seq_of(seq);
  const size_t keep = size_t((n_rows + rows_per_page_ - 1) / rows_per_page_);
  while (s.pages.size() > keep) {
    pool_.release(s.pages.back());
    s.pages.pop_back();
    s.table.pop_back();
  }
}

backend::LatentRows PagedLatentStore::rows(SeqId seq, int64_t layer, int64_t n_rows) const {
  const Seq& s = seq_of(seq);
  if (n_rows > int64_t(s.pages.size()) * rows_per_page_)
    throw Error("latent cache: sequence " + std::to_string(seq) + " has " +
                std::to_string(int64_t(s.pages.size()) * rows_per_page_) + " rows reserved, " +
                std::to_string(n_rows) + " requested");
  backend::LatentRows r;
  r.type = type_;
  r.pages = s.table.data();
  r.rows_per_page = rows_per_page_;
  r.page_offset = size_t(layer) * size_t(rows_per_page_) * row_bytes_;
  r.row_stride = row_bytes_;
  r.width = width_;
  r.n_rows = n_rows;
  return r;
}

}  // namespace latent::model
