#include "model/latent_cache.h"

#include <string>

namespace latent::model {

PagedLatentStore::PagedLatentStore(int64_t n_layer, int64_t width, CacheType type, int64_t rows_per_page)
    : n_layer_(n_layer), width_(width), type_(cache_tensor_type(type)), rows_per_page_(rows_per_page) {
  if (rows_per_page <= 0 || width <= 0 || n_layer <= 0)
    throw Error("latent cache: layers, width and rows per page must be positive");
  row_bytes_ = cache_row_bytes(type, width);
  page_bytes_ = row_bytes_ * size_t(rows_per_page) * size_t(n_layer);
}

const std::vector<void*>& PagedLatentStore::table(SeqId seq) const {
  auto it = tables_.find(seq);
  if (it == tables_.end()) throw Error("latent cache: unknown sequence " + std::to_string(seq));
  return it->second;
}

void PagedLatentStore::add_sequence(SeqId seq) {
  if (!tables_.emplace(seq, std::vector<void*>{}).second)
    throw Error("latent cache: sequence " + std::to_string(seq) + " already exists");
}

void PagedLatentStore::remove_sequence(SeqId seq) {
  truncate(seq, 0);
  tables_.erase(seq);
}

void* PagedLatentStore::allocate_page() {
  if (!free_.empty()) {
    void* p = free_.back();
    free_.pop_back();
    return p;
  }
  pages_.emplace_back(new std::byte[page_bytes_]);
  return pages_.back().get();
}

void PagedLatentStore::reserve(SeqId seq, int64_t n_rows) {
  table(seq);
  auto& t = tables_[seq];
  const size_t need = size_t((n_rows + rows_per_page_ - 1) / rows_per_page_);
  while (t.size() < need) t.push_back(allocate_page());
}

void PagedLatentStore::truncate(SeqId seq, int64_t n_rows) {
  table(seq);
  auto& t = tables_[seq];
  const size_t keep = size_t((n_rows + rows_per_page_ - 1) / rows_per_page_);
  while (t.size() > keep) {
    free_.push_back(t.back());
    t.pop_back();
  }
}

backend::LatentRows PagedLatentStore::rows(SeqId seq, int64_t layer, int64_t n_rows) const {
  const auto& t = table(seq);
  if (n_rows > int64_t(t.size()) * rows_per_page_)
    throw Error("latent cache: sequence " + std::to_string(seq) + " has " +
                std::to_string(int64_t(t.size()) * rows_per_page_) + " rows reserved, " +
                std::to_string(n_rows) + " requested");
  backend::LatentRows r;
  r.type = type_;
  r.pages = t.data();
  r.rows_per_page = rows_per_page_;
  r.page_offset = size_t(layer) * size_t(rows_per_page_) * row_bytes_;
  r.row_stride = row_bytes_;
  r.width = width_;
  r.n_rows = n_rows;
  return r;
}

}  // namespace latent::model
