// `latent symbols NAME`: where a name is defined and where it is used, from the repository index.
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "indexer/index.h"

namespace latent::cli {

// Opens the index of --root, or of the nearest directory above the current one that has one.
std::unique_ptr<indexer::Index> open_workspace_index(const ParsedArgs& args, const std::filesystem::path& near) {
  indexer::IndexOptions opt;
  if (auto root = args.get("root")) {
    opt.root = *root;
  } else if (auto found = indexer::find_workspace_root(near)) {
    opt.root = *found;
  } else {
    throw std::runtime_error("no index found at or above " + std::filesystem::absolute(near).string() +
                             "; run `latent index DIR` first or pass --root DIR");
  }
  if (auto db = args.get("db")) opt.database = *db;
  return indexer::Index::open(opt);
}

namespace {

int run_symbols(const ParsedArgs& args) {
  if (args.positional().size() != 1) throw UsageError("give exactly one NAME");
  const std::string& name = args.positional()[0];
  auto index = open_workspace_index(args, std::filesystem::current_path());
  size_t limit = static_cast<size_t>(args.get_int("limit", 50));
  auto defs = index->find_definitions(name, limit);
  auto refs = index->find_references(name, limit);
  if (args.has("json")) {
    nlohmann::json jd = nlohmann::json::array(), jr = nlohmann::json::array();
    for (const auto& d : defs)
      jd.push_back({{"path", d.path}, {"line", d.line}, {"end_line", d.end_line}, {"column", d.column},
                    {"kind", indexer::symbol_kind_name(d.kind)}, {"scope", d.scope}, {"signature", d.signature}});
    for (const auto& r : refs)
      jr.push_back({{"path", r.path}, {"line", r.line}, {"column", r.column}, {"kind", r.kind}});
    std::printf("%s\n", nlohmann::json{{"name", name}, {"definitions", jd}, {"references", jr}}.dump(2).c_str());
    return defs.empty() && refs.empty() ? 1 : 0;
  }
  if (defs.empty() && refs.empty()) {
    std::printf("%s: not found in the index of %s\n", name.c_str(), index->options().root.string().c_str());
    return 1;
  }
  std::printf("definitions (%zu%s):\n", defs.size(), defs.size() == limit ? ", limited" : "");
  for (const auto& d : defs)
    std::printf("  %s:%u:%u  %s%s%s  %s\n", d.path.c_str(), d.line, d.column,
                std::string(indexer::symbol_kind_name(d.kind)).c_str(), d.scope.empty() ? "" : " in ",
                d.scope.c_str(), d.signature.c_str());
  std::printf("references (%zu%s):\n", refs.size(), refs.size() == limit ? ", limited" : "");
  for (const auto& r : refs) std::printf("  %s:%u:%u  %s\n", r.path.c_str(), r.line, r.column, r.kind.c_str());
  return 0;
}

}  // namespace

Command symbols_command() {
  Command c;
  c.name = "symbols";
  c.summary = "where a name is defined and used (from the index)";
  c.synopsis = "NAME [--root DIR] [--limit N] [--json]";
  c.options = {
      {"root", "DIR", "workspace (default: the nearest indexed directory above the current one)"},
      {"db", "FILE", "index database (default: ROOT/.latent/index.sqlite)"},
      {"limit", "N", "at most N definitions and N references (default: 50)"},
      {"json", "", "print one JSON object"},
  };
  c.run = run_symbols;
  return c;
}

}  // namespace latent::cli
