// `latent bench context`: how often the assembled context holds the definitions a completion
// needs, on real public code in several languages (the corpus laid out by
// tests/bench/context_corpus.sh: one repository per language). Ground truth comes from
// universal-ctags, not from our indexer: code entities only (functions, methods, classes and
// other types, macros, file-level values), names with at most two definitions. For sampled
// lines (seeded), the line is blanked in an editor buffer, the index updated, and the context
// assembled at the line for each budget; an identifier of the line whose definition lies
// elsewhere counts as recalled when a piece covers the definition's line (or an outline lists
// it). Printed per language x budget with the assembly time p50/p99, and the fraction of the
// context that a request shares as a prefix with the previous one while the hidden line is typed
// back character by character at a 4K budget (what a prompt cache can reuse).
#include <stdio.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/bench_util.h"
#include "cli/model_tokens.h"
#include "cli/command.h"
#include "indexer/context.h"
#include "indexer/index.h"
#include "indexer/parse.h"

namespace latent::cli {


namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<size_t> kBudgets = {2048, 4096, 16384, 131072};

struct Tag {
  std::string path;
  uint32_t line = 0;
  std::string text;  // the definition's line, trimmed (what an outline would show)
};

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

// ctags writes the line as a search pattern: /^text$/ with '/' and '\' escaped.
std::string pattern_line(std::string_view p) {
  if (p.size() >= 2 && p.front() == '/' && p.back() == '/') p = p.substr(1, p.size() - 2);
  if (!p.empty() && p.front() == '^') p.remove_prefix(1);
  if (!p.empty() && p.back() == '$') p.remove_suffix(1);
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\' && i + 1 < p.size() && (p[i + 1] == '/' || p[i + 1] == '\\')) ++i;
    out += p[i];
  }
  return trim(out);
}

// Functions, methods, classes and other types, macros and file-level values; not fields,
// enumerators, locals, parameters, namespaces or imports. A JavaScript `const x = require(...)`
// binds an import, it defines nothing.
bool is_code_entity(const json& t) {
  static const std::set<std::string> kinds = {"function", "func", "method",  "class",     "struct",
                                              "union",    "enum", "typedef", "type",      "interface",
                                              "trait",    "macro", "generator"};
  static const std::set<std::string> values = {"variable", "var", "constant", "const"};
  std::string kind = t.value("kind", ""), language = t.value("language", "");
  if (t.value("pattern", "").find("require(") != std::string::npos) return false;
  if (kind == "member") return language == "Python";  // a method there, a field elsewhere
  if (kinds.count(kind)) return true;
  if (!values.count(kind)) return false;
  std::string scope = t.value("scopeKind", "");
  return scope.empty() || scope == "namespace" || scope == "package";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Definitions by name (names with at most two), from universal-ctags over the repository.
std::map<std::string, std::vector<Tag>> ctags_definitions(const fs::path& repo) {
  std::string cmd = "cd " + shell_quote(repo.string()) +
                    " && ctags -R --output-format=json --fields=+nKZl -f - . 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run ctags");
  std::map<std::string, std::vector<Tag>> defs;
  std::string line;
  char buf[65536];
  while (fgets(buf, sizeof buf, pipe)) {
    line += buf;
    if (line.empty() || line.back() != '\n') continue;
    json t = json::parse(line, nullptr, false);
    line.clear();
    if (t.is_discarded() || t.value("_type", "") != "tag" || !is_code_entity(t)) continue;
    std::string path = t.value("path", "");
    if (path.rfind("./", 0) == 0) path = path.substr(2);
    defs[t.value("name", "")].push_back({path, t.value("line", 0u), pattern_line(t.value("pattern", ""))});
  }
  int status = pclose(pipe);
  if (status != 0 || defs.empty())
    throw std::runtime_error("universal-ctags found no definitions in " + repo.string() +
                             ": install it (apt-get install universal-ctags) and lay out the corpus with "
                             "tests/bench/context_corpus.sh");
  for (auto it = defs.begin(); it != defs.end();) it = it->second.size() > 2 ? defs.erase(it) : std::next(it);
  return defs;
}

bool in_context(const indexer::Context& ctx, const Tag& d) {
  for (const auto& p : ctx.pieces) {
    if (p.path != d.path) continue;
    if (p.start_line ? p.start_line <= d.line && d.line <= p.end_line
                     : !d.text.empty() && p.text.find(d.text) != std::string::npos)
      return true;
  }
  return false;
}

bool is_comment(const std::string& line) {
  for (const char* c : {"//", "#", "/*", "*", "--", "\"\"\""})
    if (line.rfind(c, 0) == 0 && !(line.rfind("#include", 0) == 0 || line.rfind("#define", 0) == 0 ||
                                   line.rfind("#if", 0) == 0))
      return true;
  return false;
}

struct RepoResult {
  std::string name, language;
  size_t files = 0, samples = 0, identifiers = 0;
  std::vector<size_t> hits = std::vector<size_t>(kBudgets.size());
  std::vector<std::vector<double>> ms = std::vector<std::vector<double>>(kBudgets.size());
  size_t typed_bytes = 0, shared_bytes = 0;
  double shared() const { return typed_bytes ? double(shared_bytes) / double(typed_bytes) : 0; }
  double recall(size_t k) const { return identifiers ? double(hits[k]) / double(identifiers) : 0; }
};

RepoResult bench_repo(const fs::path& repo, const indexer::TokenCounter& count, int threads, size_t want,
                      const indexer::BudgetSplit& split) {
  RepoResult r;
  r.name = repo.filename().string();
  r.language = r.name.substr(0, r.name.find('-'));
  auto defs = ctags_definitions(repo);
  TempDir tmp;
  indexer::IndexOptions opt;
  opt.root = repo;
  opt.database = tmp.path() / "index.sqlite";
  opt.threads = threads;
  if (count) opt.count_tokens = count;
  auto index = indexer::Index::open(opt);
  index->index_workspace();

  // Lines are sampled uniformly over the repository's source lines.
  std::vector<std::pair<std::string, uint32_t>> files;  // path, lines
  uint64_t total = 0;
  for (const auto& f : index->list_files()) {
    if (f.language == "text" || f.lines == 0) continue;
    files.emplace_back(f.path, f.lines);
    total += f.lines;
  }
  r.files = files.size();
  std::mt19937_64 rng(20261207);
  for (size_t attempt = 0; attempt < want * 50 && r.samples < want && total > 0; ++attempt) {
    uint64_t pick = rng() % total;
    size_t fi = 0;
    while (pick >= files[fi].second) pick -= files[fi++].second;
    const std::string& path = files[fi].first;
    uint32_t line = static_cast<uint32_t>(pick) + 1;
    std::string content = read_text(repo / path);
    std::vector<size_t> starts = {0};
    for (size_t i = 0; i < content.size(); ++i)
      if (content[i] == '\n' && i + 1 < content.size()) starts.push_back(i + 1);
    if (line > starts.size()) continue;
    size_t b = starts[line - 1];
    size_t e = content.find('\n', b);
    if (e == std::string::npos) e = content.size();
    std::string text = trim(std::string_view(content).substr(b, e - b));
    if (text.empty() || is_comment(text)) continue;

    std::vector<std::vector<Tag>> targets;
    std::set<std::string> seen;
    for (const auto& w : indexer::identifier_words(text)) {
      auto it = defs.find(w.text);
      if (it == defs.end() || !seen.insert(w.text).second) continue;
      std::vector<Tag> elsewhere;
      for (const auto& d : it->second)
        if (!(d.path == path && d.line == line)) elsewhere.push_back(d);
      if (elsewhere.size() == it->second.size()) targets.push_back(std::move(elsewhere));
    }
    if (targets.empty()) continue;

    std::string hidden = content.substr(0, b) + content.substr(e);
    index->update_buffer(path, hidden);
    for (size_t k = 0; k < kBudgets.size(); ++k) {
      indexer::ContextRequest req;
      req.path = path;
      req.line = line;
      req.column = 1;
      req.content = hidden;
      req.budget_tokens = kBudgets[k];
      req.split = split;
      if (count) req.count_tokens = count;
      Stopwatch sw;
      indexer::Context ctx = indexer::build_context(*index, req);
      r.ms[k].push_back(sw.seconds() * 1000);
      for (const auto& t : targets)
        r.hits[k] += std::any_of(t.begin(), t.end(), [&](const Tag& d) { return in_context(ctx, d); });
    }
    // Typing the line back (the first lines sampled only, every third keystroke).
    if (r.samples < 10) {
      std::string prev;
      for (size_t n = 0; n <= text.size(); n += 3) {
        size_t indent = content.find_first_not_of(" \t", b);
        std::string typed = content.substr(0, b) + content.substr(b, indent - b) + text.substr(0, n) + content.substr(e);
        index->update_buffer(path, typed);
        indexer::ContextRequest req;
        req.path = path;
        req.line = line;
        req.column = static_cast<uint32_t>(indent - b + n + 1);
        req.content = typed;
        req.budget_tokens = 4096;
        req.split = split;
        if (count) req.count_tokens = count;
        std::string now = indexer::build_context(*index, req).text;
        if (n > 0) {
          size_t common = 0;
          while (common < now.size() && common < prev.size() && now[common] == prev[common]) ++common;
          r.typed_bytes += now.size();
          r.shared_bytes += common;
        }
        prev = std::move(now);
      }
    }
    index->update_file(path);
    ++r.samples;
    r.identifiers += targets.size();
  }
  return r;
}

std::string budget_name(size_t b) { return std::to_string(b / 1024) + "K"; }

}  // namespace

int bench_context(const ParsedArgs& args) {
  bool quick = args.has("quick");
  int threads = static_cast<int>(args.get_int("threads", -1));
  size_t samples = static_cast<size_t>(args.get_int("samples", quick ? 20 : 60));
  indexer::TokenCounter count;
  std::string counter_name = "approximate";
  if (auto model = args.get("model")) {
    count = load_model_tokens(*model).count;
    counter_name = fs::path(*model).filename().string();
  }
  fs::path corpus = args.get("corpus").value_or("build/bench-corpus");
  // Another budget split to compare with the default (the shares of BudgetSplit, in order).
  indexer::BudgetSplit split;
  if (auto s = args.get("split")) {
    double* shares[] = {&split.current, &split.definitions, &split.types, &split.search, &split.imports, &split.recent};
    size_t i = 0, pos = 0;
    for (; i < std::size(shares) && pos <= s->size(); ++i) {
      size_t comma = s->find(',', pos);
      *shares[i] = std::stod(s->substr(pos, comma - pos));
      pos = comma == std::string::npos ? s->size() + 1 : comma + 1;
    }
    if (i != std::size(shares) || pos <= s->size())
      throw UsageError("--split takes six shares: current,definitions,types,search,imports,recent");
  }
  if (!fs::is_directory(corpus))
    throw std::runtime_error(corpus.string() + ": no corpus there; lay it out with tests/bench/context_corpus.sh " +
                             corpus.string());
  std::vector<fs::path> repos;
  for (const auto& e : fs::directory_iterator(corpus))
    if (e.is_directory()) repos.push_back(e.path());
  std::sort(repos.begin(), repos.end());

  std::vector<RepoResult> results;
  for (const auto& repo : repos) {
    std::fprintf(stderr, "definition recall on %s ...\n", repo.filename().string().c_str());
    results.push_back(bench_repo(repo, count, threads, samples, split));
  }
  std::vector<double> mean(kBudgets.size(), 0);
  for (const auto& r : results)
    for (size_t k = 0; k < kBudgets.size(); ++k) mean[k] += r.recall(k) / double(results.size());

  if (args.has("json")) {
    json jr = json::array();
    for (const auto& r : results) {
      json by = json::object();
      for (size_t k = 0; k < kBudgets.size(); ++k)
        by[std::to_string(kBudgets[k])] = {{"recall", r.recall(k)},
                                           {"ms_p50", percentile(r.ms[k], 0.5)},
                                           {"ms_p99", percentile(r.ms[k], 0.99)}};
      jr.push_back({{"repo", r.name}, {"language", r.language}, {"files", r.files}, {"lines", r.samples},
                    {"identifiers", r.identifiers}, {"by_budget", by}, {"prefix_shared_while_typing", r.shared()}});
    }
    json jm = json::object();
    for (size_t k = 0; k < kBudgets.size(); ++k) jm[std::to_string(kBudgets[k])] = mean[k];
    std::printf("%s\n", json({{"suite", "context"}, {"tokenizer", counter_name}, {"repos", jr}, {"mean_recall", jm}})
                            .dump(2)
                            .c_str());
    return 0;
  }
  std::vector<std::string> head = {"language", "repository", "files", "lines", "identifiers"};
  for (size_t b : kBudgets) head.push_back(budget_name(b));
  for (size_t b : kBudgets) head.push_back(budget_name(b) + " ms p50/p99");
  head.push_back("prefix kept");
  Table t(head);
  for (const auto& r : results) {
    std::vector<std::string> row = {r.language, r.name, std::to_string(r.files), std::to_string(r.samples),
                                    std::to_string(r.identifiers)};
    for (size_t k = 0; k < kBudgets.size(); ++k) row.push_back(format_fixed(r.recall(k), 2));
    for (size_t k = 0; k < kBudgets.size(); ++k)
      row.push_back(format_fixed(percentile(r.ms[k], 0.5), 1) + "/" + format_fixed(percentile(r.ms[k], 0.99), 1));
    row.push_back(format_fixed(r.shared(), 2));
    t.add(row);
  }
  std::vector<std::string> row = {"mean", "", "", "", ""};
  for (double m : mean) row.push_back(format_fixed(m, 2));
  row.resize(head.size());
  t.add(row);
  std::printf("definition recall by budget (%s token counts; ground truth: universal-ctags; prefix kept: "
              "share of a 4K context equal to the previous request's while a line is typed)\n%s",
              counter_name.c_str(), t.render().c_str());
  return 0;
}

}  // namespace latent::cli
