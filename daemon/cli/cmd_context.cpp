// `latent context FILE:LINE:COL`: the context the model would see for a cursor, assembled from
// the repository index under a token budget, with a breakdown by source (or, with --json, every
// piece in prompt order and the assembled text).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <filesystem>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/model_tokens.h"
#include "gguf/gguf.h"
#include "indexer/context.h"
#include "indexer/index.h"
#include "tokenizer/tokenizer.h"

namespace latent::cli {

std::unique_ptr<indexer::Index> open_workspace_index(const ParsedArgs& args, const std::filesystem::path& near);

ModelTokens load_model_tokens(const std::filesystem::path& model) {
  auto file = std::make_shared<gguf::File>(gguf::File::open(model));
  auto tok = std::make_shared<tokenizer::Tokenizer>(tokenizer::load_gguf_vocab(*file));
  ModelTokens out;
  if (auto arch = file->get_string("general.architecture"))
    out.context_length = file->get_uint(std::string(*arch) + ".context_length").value_or(0);
  out.count = [tok](std::string_view text) { return tok->encode(text, false, false).size(); };
  return out;
}

namespace {

constexpr size_t kMaxBudget = 131072;

struct Cursor {
  std::string path;
  uint32_t line = 1, column = 1;
};

Cursor parse_cursor(const std::string& spec) {
  // FILE:LINE:COL or FILE:LINE; the file name itself may contain ':'.
  Cursor c;
  auto is_number = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 9;
  };
  size_t last = spec.rfind(':');
  if (last == std::string::npos || !is_number(spec.substr(last + 1)))
    throw UsageError("expected FILE:LINE[:COL], got '" + spec + "'");
  size_t prev = spec.rfind(':', last - 1);
  if (last > 0 && prev != std::string::npos && is_number(spec.substr(prev + 1, last - prev - 1))) {
    c.path = spec.substr(0, prev);
    c.line = static_cast<uint32_t>(std::stoul(spec.substr(prev + 1, last - prev - 1)));
    c.column = static_cast<uint32_t>(std::stoul(spec.substr(last + 1)));
  } else {
    c.path = spec.substr(0, last);
    c.line = static_cast<uint32_t>(std::stoul(spec.substr(last + 1)));
  }
  if (c.path.empty() || c.line == 0) throw UsageError("expected FILE:LINE[:COL] with LINE >= 1");
  return c;
}

int run_context(const ParsedArgs& args) {
  if (args.positional().size() != 1) throw UsageError("give one FILE:LINE:COL");
  Cursor cur = parse_cursor(args.positional()[0]);
  std::filesystem::path file = std::filesystem::absolute(cur.path);
  if (!std::filesystem::is_regular_file(file)) throw std::runtime_error(cur.path + ": no such file");
  {
    std::ifstream in(file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) +
                   (text.empty() || text.back() == '\n' ? 0 : 1);
    if (cur.line > std::max<size_t>(lines, 1))
      throw std::runtime_error(cur.path + ":" + std::to_string(cur.line) + ": the file has " + std::to_string(lines) +
                               " lines; give a line in 1.." + std::to_string(std::max<size_t>(lines, 1)));
  }
  auto index = open_workspace_index(args, file.parent_path());

  indexer::ContextRequest req;
  req.path = file.string();
  req.line = cur.line;
  req.column = cur.column;
  req.include_current_file = !args.has("no-current");
  uint64_t context_length = kMaxBudget;
  std::string counter_name = "approximate";
  if (auto model = args.get("model")) {
    ModelTokens mt = load_model_tokens(*model);
    req.count_tokens = mt.count;
    if (mt.context_length) context_length = std::min<uint64_t>(mt.context_length, kMaxBudget);
    counter_name = std::filesystem::path(*model).filename().string();
  }
  int64_t budget = args.get_int("budget", static_cast<int64_t>(context_length));
  if (budget <= 0) throw UsageError("--budget must be positive");
  req.budget_tokens = static_cast<size_t>(budget);

  indexer::Context ctx = indexer::build_context(*index, req);

  if (args.has("json")) {
    nlohmann::json pieces = nlohmann::json::array();
    for (const auto& p : ctx.pieces)
      pieces.push_back({{"path", p.path}, {"start_line", p.start_line}, {"end_line", p.end_line},
                        {"source", indexer::source_kind_name(p.kind)}, {"tokens", p.tokens}});
    nlohmann::json j = {{"file", cur.path},       {"line", cur.line},          {"column", cur.column},
                        {"budget", ctx.budget_tokens}, {"tokens", ctx.tokens}, {"tokenizer", counter_name},
                        {"pieces", pieces},       {"text", ctx.text}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("context for %s:%u:%u: %zu pieces, %zu of %zu tokens (%s token counts)\n", cur.path.c_str(),
              cur.line, cur.column, ctx.pieces.size(), ctx.tokens, ctx.budget_tokens, counter_name.c_str());
  std::map<std::string, std::pair<size_t, size_t>> by_source;
  for (const auto& p : ctx.pieces) {
    auto& [n, t] = by_source[std::string(indexer::source_kind_name(p.kind))];
    ++n;
    t += p.tokens;
  }
  std::printf("\n  %-16s %7s %8s\n", "source", "pieces", "tokens");
  for (const auto& [k, v] : by_source) std::printf("  %-16s %7zu %8zu\n", k.c_str(), v.first, v.second);
  std::printf("\n  %-4s %-15s %7s  %s\n", "#", "source", "tokens", "piece");
  size_t i = 0;
  for (const auto& p : ctx.pieces) {
    std::string where = p.start_line ? p.path + ":" + std::to_string(p.start_line) + "-" + std::to_string(p.end_line)
                                     : p.path + " (outline)";
    std::printf("  %-4zu %-15s %7zu  %s\n", ++i, std::string(indexer::source_kind_name(p.kind)).c_str(), p.tokens,
                where.c_str());
  }
  if (args.has("text")) std::printf("\n%s", ctx.text.c_str());
  return 0;
}

}  // namespace

Command context_command() {
  Command c;
  c.name = "context";
  c.summary = "show the context assembled for a cursor (definitions, search hits, imports, repo map)";
  c.synopsis = "FILE:LINE[:COL] [--budget TOKENS] [--model FILE] [--json] [--text]";
  c.details =
      "Pieces are ordered most stable first (repo map, retrieved definitions and chunks, imports,\n"
      "recent files, the current file) so that consecutive requests share a long prefix.\n";
  c.options = {
      {"budget", "TOKENS", "token budget (default: the model's context length, at most 131072)"},
      {"model", "FILE", "GGUF model whose tokenizer counts tokens (default: an approximation)"},
      {"root", "DIR", "workspace (default: the nearest indexed directory above FILE)"},
      {"db", "FILE", "index database (default: ROOT/.latent/index.sqlite)"},
      {"no-current", "", "leave out the current file (for callers placing it themselves, as FIM)"},
      {"json", "", "one JSON object: every piece in prompt order and the assembled text"},
      {"text", "", "also print the assembled text after the breakdown"},
  };
  c.run = run_context;
  return c;
}

}  // namespace latent::cli
