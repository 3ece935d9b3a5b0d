// `latent bench index`: the repository index on large real trees, next to universal-ctags on
// the same trees in the same run: cold indexing (files/s, MB/s, lines/s, database size per
// source MB, peak RSS), a no-change re-run, single-file updates (p50/p99), context assembly at
// a 128K budget, and the retrieval quality measure "definition recall": hide one line of a
// real repository at a time and count how many of its identifiers have their definition in
// the context assembled at 4K, 16K and 128K tokens.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

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

// Peak RSS is per process; clearing it lets each phase report its own.
void reset_peak_rss() {
  int fd = open("/proc/self/clear_refs", O_WRONLY);
  if (fd >= 0) {
    (void)!write(fd, "5", 1);
    close(fd);
  }
}

// CPU seconds of this process (all threads): on a shared machine a steadier measure than wall time.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

// universal-ctags over the same tree, timed as a child process; nullopt when not installed.
struct CtagsRun {
  double seconds = 0, cpu = 0;
  uint64_t tags_bytes = 0, peak_rss = 0;
};
std::optional<CtagsRun> run_ctags(const fs::path& list, const fs::path& out) {
  Stopwatch sw;
  pid_t pid = fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::string f = out.string(), l = list.string();
    execlp("ctags", "ctags", "--fields=+n", "-f", f.c_str(), "-L", l.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return CtagsRun{sw.seconds(), cpu, file_size_or_zero(out), static_cast<uint64_t>(ru.ru_maxrss) * 1024};
}

struct TreeResult {
  std::string tree;
  indexer::IndexStats stats;
  double seconds = 0, cpu = 0, rerun_seconds = 0;
  uint64_t db_bytes = 0, peak_rss = 0;
  std::optional<CtagsRun> ctags;
  double update_p50 = 0, update_p99 = 0, context_p50 = 0, context_p99 = 0;
  size_t context_tokens = 0;
};

TreeResult bench_tree(const fs::path& tree, const indexer::TokenCounter& count, int threads, bool quick) {
  TreeResult r;
  r.tree = tree.string();
  TempDir tmp;
  indexer::IndexOptions opt;
  opt.root = tree;
  opt.database = tmp.path() / "index.sqlite";
  opt.threads = threads;
  if (count) opt.count_tokens = count;

  reset_peak_rss();
  {
    auto index = indexer::Index::open(opt);
    Stopwatch sw;
    double cpu0 = cpu_seconds();
    r.stats = index->index_workspace();
    r.seconds = sw.seconds();
    r.cpu = cpu_seconds() - cpu0;
  }
  r.peak_rss = peak_rss_bytes();
  r.db_bytes = file_size_or_zero(opt.database) + file_size_or_zero(fs::path(opt.database.string() + "-wal"));

  auto index = indexer::Index::open(opt);
  {
    Stopwatch sw;
    index->index_workspace();
    r.rerun_seconds = sw.seconds();
  }

  // Files of ordinary size to edit and to place cursors in, chosen reproducibly.
  std::vector<std::string> files;
  for (const auto& hit : index->search("struct class function return", 400))
    if (std::find(files.begin(), files.end(), hit.path) == files.end()) files.push_back(hit.path);
  std::mt19937 rng(42);
  std::shuffle(files.begin(), files.end(), rng);
  if (files.size() > 20) files.resize(20);

  std::vector<double> updates, contexts;
  int rounds = quick ? 10 : 50;
  for (int i = 0; i < rounds && !files.empty(); ++i) {
    const std::string& f = files[i % files.size()];
    std::string content = read_text(tree / f) + "\nint latent_bench_edit_" + std::to_string(i) + ";\n";
    Stopwatch sw;
    index->update_buffer(f, content);
    updates.push_back(sw.seconds() * 1000);
  }
  for (const auto& f : files) index->update_file(f);  // back to the disk versions
  for (int i = 0; i < (quick ? 5 : 20) && !files.empty(); ++i) {
    const std::string& f = files[i % files.size()];
    auto info = index->file_info(f);
    indexer::ContextRequest req;
    req.path = f;
    req.line = info && info->lines ? 1 + static_cast<uint32_t>(rng() % info->lines) : 1;
    req.budget_tokens = 131072;
    if (count) req.count_tokens = count;
    Stopwatch sw;
    indexer::Context ctx = indexer::build_context(*index, req);
    contexts.push_back(sw.seconds() * 1000);
    r.context_tokens = std::max(r.context_tokens, ctx.tokens);
  }
  r.update_p50 = percentile(updates, 0.5);
  r.update_p99 = percentile(updates, 0.99);
  r.context_p50 = percentile(contexts, 0.5);
  r.context_p99 = percentile(contexts, 0.99);
  // ctags reads exactly the files the index holds.
  {
    std::ofstream list(tmp.path() / "files.txt");
    for (const auto& f : index->list_files()) list << (tree / f.path).string() << "\n";
  }
  index.reset();
  r.ctags = run_ctags(tmp.path() / "files.txt", tmp.path() / "tags");
  return r;
}

// Definition recall on a repository: for random (file, line) points, the line is blanked in
// an editor buffer (the index sees the file without it), the context is assembled at the
// cursor, and each identifier of the hidden line whose definition lies elsewhere counts as
// recalled when a piece covers that definition's line (or an outline lists its signature).
struct RecallResult {
  std::string repo;
  size_t samples = 0, identifiers = 0;
  std::vector<std::pair<size_t, double>> recall;  // budget -> fraction
};

RecallResult bench_recall(const fs::path& repo, const indexer::TokenCounter& count, int threads, bool quick) {
  RecallResult out;
  out.repo = repo.string();
  TempDir tmp;
  indexer::IndexOptions opt;
  opt.root = repo;
  opt.database = tmp.path() / "index.sqlite";
  opt.threads = threads;
  if (count) opt.count_tokens = count;
  auto index = indexer::Index::open(opt);
  index->index_workspace();

  std::vector<std::string> files;
  for (const auto& hit : index->search("return if for while const struct def function class", 2000))
    if (std::find(files.begin(), files.end(), hit.path) == files.end()) files.push_back(hit.path);
  std::sort(files.begin(), files.end());
  const std::vector<size_t> budgets = {4096, 16384, 131072};
  std::vector<size_t> hits(budgets.size(), 0);
  std::mt19937 rng(7);
  size_t want = quick ? 25 : 150;
  for (size_t attempt = 0; attempt < want * 20 && out.samples < want && !files.empty(); ++attempt) {
    const std::string& path = files[rng() % files.size()];
    std::string content = read_text(repo / path);
    std::vector<size_t> starts = {0};
    for (size_t i = 0; i < content.size(); ++i)
      if (content[i] == '\n' && i + 1 < content.size()) starts.push_back(i + 1);
    uint32_t line = 1 + static_cast<uint32_t>(rng() % starts.size());
    size_t b = starts[line - 1];
    size_t e = line < starts.size() ? starts[line] - 1 : content.size();
    std::string hidden_line = content.substr(b, e - b);

    // Identifiers of the line with a definition somewhere other than this line.
    std::vector<std::pair<std::string, std::vector<indexer::Definition>>> targets;
    std::set<std::string> seen;
    for (const auto& w : indexer::identifier_words(hidden_line)) {
      if (w.text.size() < 2 || !seen.insert(w.text).second) continue;
      auto defs = index->find_definitions(w.text, 50);
      defs.erase(std::remove_if(defs.begin(), defs.end(),
                                [&](const indexer::Definition& d) { return d.path == path && d.line == line; }),
                 defs.end());
      if (!defs.empty()) targets.emplace_back(w.text, std::move(defs));
    }
    if (targets.empty()) continue;

    std::string hidden = content.substr(0, b) + content.substr(e);
    index->update_buffer(path, hidden);
    for (size_t k = 0; k < budgets.size(); ++k) {
      indexer::ContextRequest req;
      req.path = path;
      req.line = line;
      req.column = 1;
      req.content = hidden;
      req.budget_tokens = budgets[k];
      if (count) req.count_tokens = count;
      indexer::Context ctx = indexer::build_context(*index, req);
      for (const auto& [name, defs] : targets) {
        bool found = false;
        for (const auto& d : defs) {
          for (const auto& p : ctx.pieces) {
            if (p.path != d.path) continue;
            if (p.start_line ? (p.start_line <= d.line && d.line <= p.end_line)
                             : (!d.signature.empty() && p.text.find(d.signature) != std::string::npos)) {
              found = true;
              break;
            }
          }
          if (found) break;
        }
        hits[k] += found;
      }
    }
    index->update_file(path);
    ++out.samples;
    out.identifiers += targets.size();
  }
  for (size_t k = 0; k < budgets.size(); ++k)
    out.recall.emplace_back(budgets[k], out.identifiers ? double(hits[k]) / double(out.identifiers) : 0.0);
  return out;
}

}  // namespace

int bench_index(const ParsedArgs& args) {
  bool quick = args.has("quick");
  int threads = static_cast<int>(args.get_int("threads", -1));
  indexer::TokenCounter count;
  std::string counter_name = "approximate";
  if (auto model = args.get("model")) {
    count = load_model_tokens(*model).count;
    counter_name = fs::path(*model).filename().string();
  }
  std::vector<fs::path> trees;
  if (auto repo = args.get("repo")) {
    trees.push_back(*repo);
  } else {
    trees.push_back("/usr/include");
    fs::path ts = fs::current_path() / "indexer/grammars/node_modules/tree-sitter-typescript";
    if (fs::is_directory(ts)) trees.push_back(ts);
  }
  // Recall is measured on the repository the benchmark runs in (run it from a checkout).
  fs::path recall_repo = fs::current_path();

  std::vector<TreeResult> results;
  for (const auto& t : trees) {
    if (!fs::is_directory(t)) throw std::runtime_error(t.string() + ": not a directory to index");
    std::fprintf(stderr, "indexing %s ...\n", t.string().c_str());
    results.push_back(bench_tree(t, count, threads, quick));
  }
  std::fprintf(stderr, "definition recall on %s ...\n", recall_repo.string().c_str());
  RecallResult recall = bench_recall(recall_repo, count, threads, quick);

  if (args.has("json")) {
    nlohmann::json jt = nlohmann::json::array();
    for (const auto& r : results) {
      const auto& s = r.stats;
      double mb = s.bytes_indexed / 1e6;
      jt.push_back({{"tree", r.tree},
                    {"files", s.files_indexed},
                    {"skipped", s.problems.size()},
                    {"mb", mb},
                    {"lines", s.lines_indexed},
                    {"symbols", s.symbols_indexed},
                    {"chunks", s.chunks_indexed},
                    {"seconds", r.seconds},
                    {"cpu_seconds", r.cpu},
                    {"files_per_s", s.files_indexed / r.seconds},
                    {"mb_per_s", mb / r.seconds},
                    {"lines_per_s", s.lines_indexed / r.seconds},
                    {"db_mb", r.db_bytes / 1e6},
                    {"db_mb_per_source_mb", mb > 0 ? r.db_bytes / 1e6 / mb : 0},
                    {"peak_rss_mb", r.peak_rss / 1e6},
                    {"rerun_seconds", r.rerun_seconds},
                    {"update_ms_p50", r.update_p50},
                    {"update_ms_p99", r.update_p99},
                    {"context_128k_ms_p50", r.context_p50},
                    {"context_128k_ms_p99", r.context_p99},
                    {"context_tokens", r.context_tokens},
                    {"ctags_seconds", r.ctags ? nlohmann::json(r.ctags->seconds) : nlohmann::json()},
                    {"ctags_cpu_seconds", r.ctags ? nlohmann::json(r.ctags->cpu) : nlohmann::json()},
                    {"ctags_mb_per_s", r.ctags ? nlohmann::json(mb / r.ctags->seconds) : nlohmann::json()},
                    {"ctags_peak_rss_mb", r.ctags ? nlohmann::json(r.ctags->peak_rss / 1e6) : nlohmann::json()},
                    {"wall_vs_ctags", r.ctags ? nlohmann::json(r.seconds / r.ctags->seconds) : nlohmann::json()},
                    {"cpu_vs_ctags", r.ctags ? nlohmann::json(r.cpu / r.ctags->cpu) : nlohmann::json()}});
    }
    nlohmann::json jr = nlohmann::json::object();
    for (auto [budget, frac] : recall.recall) jr[std::to_string(budget)] = frac;
    nlohmann::json j = {{"suite", "index"},
                        {"tokenizer", counter_name},
                        {"trees", jt},
                        {"definition_recall", {{"repo", recall.repo}, {"samples", recall.samples},
                                               {"identifiers", recall.identifiers}, {"by_budget", jr}}}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }

  Table cold({"tree", "files", "MB", "s", "cpu s", "MB/s", "db MB/src MB", "peak RSS MB", "ctags s", "ctags cpu s",
               "ctags RSS MB", "wall ×ctags", "cpu ×ctags"});
  for (const auto& r : results) {
    const auto& s = r.stats;
    double mb = s.bytes_indexed / 1e6;
    auto ctags = [&](double v) { return r.ctags ? format_fixed(v, 2) : std::string("n/a"); };
    cold.add({r.tree, std::to_string(s.files_indexed), format_fixed(mb, 1), format_fixed(r.seconds, 2),
              format_fixed(r.cpu, 2), format_fixed(mb / r.seconds, 2), format_fixed(mb > 0 ? r.db_bytes / 1e6 / mb : 0, 2),
              format_fixed(r.peak_rss / 1e6, 0), ctags(r.ctags ? r.ctags->seconds : 0), ctags(r.ctags ? r.ctags->cpu : 0),
              r.ctags ? format_fixed(r.ctags->peak_rss / 1e6, 0) : "n/a",
              ctags(r.ctags ? r.seconds / r.ctags->seconds : 0), ctags(r.ctags ? r.cpu / r.ctags->cpu : 0)});
  }
  std::printf("cold index (%s token counts; ctags = universal-ctags on the same files)\n%s\n",
              counter_name.c_str(), cold.render().c_str());
  Table inc({"tree", "re-run s", "update ms p50", "update ms p99", "context 128K ms p50", "p99", "tokens"});
  for (const auto& r : results)
    inc.add({r.tree, format_fixed(r.rerun_seconds, 2), format_fixed(r.update_p50, 1), format_fixed(r.update_p99, 1),
             format_fixed(r.context_p50, 1), format_fixed(r.context_p99, 1), std::to_string(r.context_tokens)});
  std::printf("incremental (no-change re-run, one-file update) and context assembly\n%s\n", inc.render().c_str());
  Table rec({"budget", "definition recall"});
  for (auto [budget, frac] : recall.recall) rec.add({std::to_string(budget), format_fixed(frac, 3)});
  std::printf("definition recall on %s (%zu hidden lines, %zu identifiers)\n%s", recall.repo.c_str(), recall.samples,
              recall.identifiers, rec.render().c_str());
  return 0;
}

}  // namespace latent::cli
