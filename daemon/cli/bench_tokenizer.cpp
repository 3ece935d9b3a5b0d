// `latent bench tokenizer`: single-thread tokenizer throughput on a large body of real source
// code (default: the C/C++ headers under /usr/include), next to its own baselines from the same
// run: the pre-tokenizer alone (regex splitting, no BPE) and decoding.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/bench_util.h"
#include "cli/command.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace latent::cli {
namespace {

bool looks_like_source(const std::filesystem::path& p) {
  static const char* kExt[] = {".h", ".hh", ".hpp", ".hxx", ".c", ".cc", ".cpp", ".cxx", ".inc", ".tcc",
                               ".py", ".rs", ".go", ".js", ".ts", ".java", ".lua", ".sh", ".rb", ".cs"};
  const std::string ext = p.extension().string();
  if (ext.empty()) return p.parent_path().filename().string().find("c++") != std::string::npos;  // libstdc++ headers
  return std::any_of(std::begin(kExt), std::end(kExt), [&](const char* e) { return ext == e; });
}

// Source files under `root` in path order, read until `cap` bytes.
std::vector<std::string> read_corpus(const std::filesystem::path& root, size_t cap, size_t& n_files) {
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           root, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && looks_like_source(it->path())) paths.push_back(it->path());
  }
  if (ec) throw std::runtime_error(root.string() + ": cannot walk the directory: " + ec.message());
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> texts;
  size_t total = 0;
  for (const auto& p : paths) {
    if (total >= cap) break;
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.empty() || text.find('\0') != std::string::npos) continue;  // binary
    total += text.size();
    texts.push_back(std::move(text));
  }
  n_files = texts.size();
  return texts;
}

// CPU time of this thread: with other processes competing for the cores, wall time overstates
// the tokenizer's cost, so both are reported.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

struct Timing {
  double wall = 0, cpu = 0;
};

template <typename F>
Timing timed(F&& f) {
  Stopwatch wall;
  const double cpu0 = thread_cpu_seconds();
  f();
  return {wall.seconds(), thread_cpu_seconds() - cpu0};
}

}  // namespace

int bench_tokenizer(const ParsedArgs& args) {
  const std::string model = args.require("model");
  const std::filesystem::path repo = args.get_or("repo", "/usr/include");
  const size_t cap = args.has("quick") ? (size_t(4) << 20) : (size_t(50) << 20);

  Stopwatch load_timer;
  const tokenizer::Tokenizer tok(tokenizer::load_vocab_file(model));
  const double load_s = load_timer.seconds();

  size_t n_files = 0;
  const auto corpus = read_corpus(repo, cap, n_files);
  if (corpus.empty()) throw std::runtime_error(repo.string() + ": no source files found; pass --repo DIR");
  size_t bytes = 0, chars = 0, repaired_bytes = 0;
  for (const auto& t : corpus) {
    bytes += t.size();
    for (unsigned char c : t) chars += (c & 0xC0) != 0x80;
    // Invalid UTF-8 (Latin-1 comments, say) is tokenized as U+FFFD, which decodes to 3 bytes.
    repaired_bytes += tokenizer::sanitize_utf8(t).size();
  }

  // Baseline: regex splitting only.
  size_t pieces = 0;
  const Timing split = timed([&] {
    std::vector<std::string_view> words;
    std::string repaired;
    for (const auto& t : corpus) {
      tok.pre_tokenizer().split(t, repaired, words);
      pieces += words.size();
    }
  });

  std::vector<std::vector<int32_t>> ids;
  ids.reserve(corpus.size());
  size_t tokens = 0;
  const Timing encode = timed([&] {
    for (const auto& t : corpus) {
      ids.push_back(tok.encode(t, false, false));
      tokens += ids.back().size();
    }
  });

  size_t decoded = 0;
  const Timing decode = timed([&] {
    for (const auto& v : ids) decoded += tok.decode(v).size();
  });
  if (decoded != repaired_bytes)
    throw std::runtime_error("decode(encode(text)) changed the corpus size: the tokenizer is broken");

  const double mb = bytes / 1e6;
  if (args.has("json")) {
    nlohmann::json j = {
        {"suite", "tokenizer"},
        {"model", model},
        {"pre", tok.vocab().pre},
        {"corpus", repo.string()},
        {"files", n_files},
        {"bytes", bytes},
        {"tokens", tokens},
        {"threads", 1},
        {"load_s", load_s},
        {"encode_mb_per_s", mb / encode.wall},
        {"encode_mb_per_cpu_s", mb / encode.cpu},
        {"encode_tokens_per_s", tokens / encode.wall},
        {"pretokenize_mb_per_s", mb / split.wall},
        {"pretokenize_mb_per_cpu_s", mb / split.cpu},
        {"decode_mb_per_s", mb / decode.wall},
        {"chars_per_token", double(chars) / tokens},
        {"bytes_per_token", double(bytes) / tokens},
        {"peak_rss_bytes", peak_rss_bytes()},
    };
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("tokenizer: %s (pre %s, %d tokens, loaded in %.2f s)\n", model.c_str(), tok.vocab().pre.c_str(),
              tok.n_vocab(), load_s);
  std::printf("corpus: %s, %zu files, %.1f MB, %zu pieces, %zu tokens; one thread\n\n", repo.string().c_str(),
              n_files, mb, pieces, tokens);
  Table t({"stage", "wall s", "cpu s", "MB/s", "MB/cpu-s", "tokens/s"});
  const auto row = [&](const char* name, const Timing& tm, bool with_tokens) {
    t.add({name, format_fixed(tm.wall, 2), format_fixed(tm.cpu, 2), format_fixed(mb / tm.wall, 1),
           format_fixed(mb / tm.cpu, 1), with_tokens ? format_fixed(tokens / tm.wall, 0) : "-"});
  };
  row("pre-tokenize only (baseline)", split, false);
  row("encode (split + BPE)", encode, true);
  row("decode", decode, true);
  std::printf("%s\n", t.render().c_str());
  std::printf("chars/token %.2f, bytes/token %.2f, peak RSS %.0f MB\n", double(chars) / tokens,
              double(bytes) / tokens, peak_rss_bytes() / 1e6);
  return 0;
}

}  // namespace latent::cli
