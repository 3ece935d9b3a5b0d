// `latent search QUERY`: BM25 full-text search over the index's syntax chunks, best first.
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "indexer/index.h"

namespace latent::cli {

std::unique_ptr<indexer::Index> open_workspace_index(const ParsedArgs& args, const std::filesystem::path& near);

namespace {

int run_search(const ParsedArgs& args) {
  if (args.positional().empty()) throw UsageError("give a QUERY");
  std::string query;
  for (const auto& p : args.positional()) query += (query.empty() ? "" : " ") + p;
  auto index = open_workspace_index(args, std::filesystem::current_path());
  auto hits = index->search(query, static_cast<size_t>(args.get_int("limit", 10)));
  if (args.has("json")) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& h : hits)
      j.push_back({{"path", h.path}, {"start_line", h.start_line}, {"end_line", h.end_line},
                   {"symbol", h.symbol}, {"score", h.score}, {"text", h.text}});
    std::printf("%s\n", j.dump(2).c_str());
    return hits.empty() ? 1 : 0;
  }
  if (hits.empty()) {
    std::printf("no matches for \"%s\"\n", query.c_str());
    return 1;
  }
  int rank = 0;
  for (const auto& h : hits) {
    std::printf("%2d. %s:%u-%u  %.2f%s%s\n", ++rank, h.path.c_str(), h.start_line, h.end_line, h.score,
                h.symbol.empty() ? "" : "  ", h.symbol.c_str());
    // The first few non-blank lines as a preview.
    size_t pos = 0;
    int shown = 0;
    while (pos < h.text.size() && shown < 3) {
      size_t nl = h.text.find('\n', pos);
      std::string line = h.text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? h.text.size() : nl + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (line.size() > 110) line = line.substr(0, 107) + "...";
      std::printf("      %s\n", line.c_str());
      ++shown;
    }
  }
  return 0;
}

}  // namespace

Command search_command() {
  Command c;
  c.name = "search";
  c.summary = "full-text search (BM25) over the index's code chunks";
  c.synopsis = "QUERY... [--root DIR] [--limit N] [--json]";
  c.options = {
      {"root", "DIR", "workspace (default: the nearest indexed directory above the current one)"},
      {"db", "FILE", "index database (default: ROOT/.latent/index.sqlite)"},
      {"limit", "N", "number of results (default: 10)"},
      {"json", "", "print a JSON array of hits"},
  };
  c.run = run_search;
  return c;
}

}  // namespace latent::cli
