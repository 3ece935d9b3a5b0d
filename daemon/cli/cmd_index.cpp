// `latent index [DIR]`: brings the repository index of DIR (default: the current directory) up
// to date, with a progress bar on a terminal and plain progress lines otherwise.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "indexer/index.h"

namespace latent::cli {
namespace {

std::string clock_text(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

int run_index(const ParsedArgs& args) {
  if (args.positional().size() > 1) throw UsageError("one directory at most");
  indexer::IndexOptions opt;
  opt.root = args.positional().empty() ? std::filesystem::current_path() : std::filesystem::path(args.positional()[0]);
  if (auto db = args.get("db")) opt.database = *db;
  opt.threads = static_cast<int>(args.get_int("threads", -1));
  opt.max_file_bytes = static_cast<uint64_t>(args.get_int("max-file-kb", 1024)) * 1024;
  bool json = args.has("json");
  bool tty = !json && isatty(STDERR_FILENO);
  auto index = indexer::Index::open(opt);

  double last_line = 0;
  auto progress = [&](const indexer::Progress& p) {
    double rate = p.seconds > 0 ? p.files_done / p.seconds : 0;
    if (tty) {
      if (!p.walk_done) {
        std::fprintf(stderr, "\r\033[Kscanning: %llu files found", (unsigned long long)p.files_found);
      } else {
        double frac = p.files_found ? double(p.files_done) / double(p.files_found) : 1.0;
        int width = 30, filled = static_cast<int>(frac * width);
        std::string bar(filled, '=');
        if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
        double eta = rate > 0 ? (p.files_found - p.files_done) / rate : 0;
        std::fprintf(stderr, "\r\033[K[%s] %llu/%llu files  %.0f files/s  %.1f MB  ETA %s", bar.c_str(),
                     (unsigned long long)p.files_done, (unsigned long long)p.files_found, rate,
                     p.bytes_indexed / 1e6, clock_text(eta).c_str());
      }
      std::fflush(stderr);
    } else if (!json && p.seconds - last_line >= 2.0) {
      last_line = p.seconds;
      std::fprintf(stderr, "indexing: %llu/%llu files, %.0f files/s\n", (unsigned long long)p.files_done,
                   (unsigned long long)p.files_found, rate);
    }
  };
  indexer::IndexStats st = index->index_workspace(progress);
  if (tty) std::fprintf(stderr, "\r\033[K");

  if (json) {
    auto list = [](const std::vector<indexer::FileProblem>& files) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& p : files) out.push_back({{"path", p.path}, {"message", p.message}});
      return out;
    };
    nlohmann::json j = {{"root", index->options().root.string()},
                        {"database", index->options().database.string()},
                        {"files_checked", st.files_checked},
                        {"files_total", st.files_total},
                        {"files_indexed", st.files_indexed},
                        {"files_unchanged", st.files_unchanged},
                        {"files_removed", st.files_removed},
                        {"bytes_indexed", st.bytes_indexed},
                        {"lines_indexed", st.lines_indexed},
                        {"symbols_indexed", st.symbols_indexed},
                        {"chunks_indexed", st.chunks_indexed},
                        {"seconds", st.seconds},
                        {"skipped", list(st.skipped)},
                        {"problems", list(st.problems)}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%s: %llu files checked, %llu in the index; %llu indexed, %llu unchanged, %llu removed in %.2f s\n",
              index->options().root.string().c_str(), (unsigned long long)st.files_checked,
              (unsigned long long)st.files_total,
              (unsigned long long)st.files_indexed, (unsigned long long)st.files_unchanged,
              (unsigned long long)st.files_removed, st.seconds);
  if (st.files_indexed)
    std::printf("  %.1f MB, %llu lines, %llu symbols, %llu chunks (%.0f files/s, %.1f MB/s)\n", st.bytes_indexed / 1e6,
                (unsigned long long)st.lines_indexed, (unsigned long long)st.symbols_indexed,
                (unsigned long long)st.chunks_indexed, st.files_indexed / st.seconds,
                st.bytes_indexed / 1e6 / st.seconds);
  bool verbose = args.has("verbose");
  if (!st.skipped.empty()) {
    std::printf("%zu file(s) skipped as expected (binary, generated, minified or over the size limit)%s\n",
                st.skipped.size(), verbose ? ":" : "; --verbose lists them");
    if (verbose)
      for (const auto& p : st.skipped) std::printf("  %s: %s\n", p.path.c_str(), p.message.c_str());
  }
  if (!st.problems.empty()) {
    size_t shown = verbose ? st.problems.size() : std::min<size_t>(st.problems.size(), 10);
    std::printf("%zu file(s) could not be indexed cleanly:\n", st.problems.size());
    for (size_t i = 0; i < shown; ++i)
      std::printf("  %s: %s\n", st.problems[i].path.c_str(), st.problems[i].message.c_str());
    if (shown < st.problems.size()) std::printf("  ... (--verbose lists all)\n");
  }
  return 0;
}

}  // namespace

Command index_command() {
  Command c;
  c.name = "index";
  c.summary = "index a repository (symbols, references, chunks, full-text) for search and context";
  c.synopsis = "[DIR] [--db FILE] [--threads N] [--max-file-kb N] [--json] [--verbose]";
  c.details =
      "Walks DIR (default: the current directory) respecting .gitignore, parses code with\n"
      "tree-sitter and stores it in DIR/.latent/index.sqlite. A re-run re-reads only changed files.\n";
  c.options = {
      {"db", "FILE", "index database (default: DIR/.latent/index.sqlite)"},
      {"threads", "N", "parser threads (default: all cores)"},
      {"max-file-kb", "N", "skip files larger than this (default: 1024)"},
      {"json", "", "print the run's statistics as one JSON object"},
      {"verbose", "", "list every file that was skipped and every problem"},
  };
  c.run = run_index;
  return c;
}

}  // namespace latent::cli
