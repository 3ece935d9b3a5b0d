#include "indexer/ranking.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace latent::indexer {

namespace {

std::string language_family(std::string_view language) {
  if (language == "c" || language == "cpp") return "c";
  if (language == "javascript" || language == "typescript" || language == "tsx") return "js";
  return std::string(language);
}

}  // namespace

// The repo map's ranking: PageRank over the graph "file A uses a name that file B defines at
// top level", each use split evenly among the name's definers. Uses only link files of one
// language family (a C++ variable named `path` says nothing about a JavaScript `path`
// constant); module-level variables and constants and names with many definers (overloads,
// common typedefs) say little about which file matters and are left out.
void compute_file_ranks(WriteContext& w) {
  constexpr size_t kMaxDefiners = 8;
  std::vector<int64_t> files;
  std::unordered_map<int64_t, size_t> index_of;
  std::vector<std::string> family;
  {
    Statement q = w.db.prepare("SELECT id, language FROM files ORDER BY id");
    while (q.step()) {
      index_of[q.int64(0)] = files.size();
      files.push_back(q.int64(0));
      family.push_back(language_family(q.text_view(1)));
    }
  }
  if (files.empty()) {
    w.db.exec("DELETE FROM file_rank");
    return;
  }
  std::unordered_map<int64_t, std::vector<size_t>> definers;
  {
    Statement q = w.db.prepare(
        "SELECT DISTINCT s.name_id, s.file_id FROM symbols s JOIN names n ON n.id = s.name_id "
        "WHERE s.top_level = 1 AND s.kind NOT IN (?, ?) AND length(n.name) >= 3");
    q.bind(1, int64_t(SymbolKind::constant)).bind(2, int64_t(SymbolKind::variable));
    while (q.step()) {
      auto f = index_of.find(q.int64(1));
      if (f == index_of.end()) continue;
      auto& v = definers[q.int64(0)];
      if (v.size() <= kMaxDefiners) v.push_back(f->second);
    }
  }
  std::vector<std::map<size_t, double>> out(files.size());
  {
    Statement q = w.db.prepare("SELECT file_id, name_id FROM refs");
    while (q.step()) {
      auto it = definers.find(q.int64(1));
      if (it == definers.end() || it->second.size() > kMaxDefiners) continue;
      auto from = index_of.find(q.int64(0));
      if (from == index_of.end()) continue;
      size_t src = from->second;
      size_t same_family = 0;
      for (size_t dst : it->second) same_family += dst != src && family[dst] == family[src];
      if (same_family == 0) continue;
      double share = 1.0 / static_cast<double>(same_family);
      for (size_t dst : it->second)
        if (dst != src && family[dst] == family[src]) out[src][dst] += share;
    }
  }
  const double d = 0.85;
  size_t n = files.size();
  std::vector<double> rank(n, 1.0 / static_cast<double>(n)), next(n);
  std::vector<double> out_weight(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (auto& [j, wgt] : out[i]) out_weight[i] += wgt;
  for (int iter = 0; iter < 40; ++iter) {
    double dangling = 0;
    for (size_t i = 0; i < n; ++i)
      if (out_weight[i] == 0) dangling += rank[i];
    std::fill(next.begin(), next.end(), (1 - d) / static_cast<double>(n) + d * dangling / static_cast<double>(n));
    for (size_t i = 0; i < n; ++i)
      for (auto& [j, wgt] : out[i]) next[j] += d * rank[i] * wgt / out_weight[i];
    double delta = 0;
    for (size_t i = 0; i < n; ++i) delta += std::fabs(next[i] - rank[i]);
    rank.swap(next);
    if (delta < 1e-9) break;
  }
  w.db.exec("DELETE FROM file_rank");
  Statement ins = w.db.prepare("INSERT INTO file_rank(file_id, rank) VALUES (?,?)");
  for (size_t i = 0; i < n; ++i) ins.bind(1, files[i]).bind(2, rank[i]).run();
}

}  // namespace latent::indexer
