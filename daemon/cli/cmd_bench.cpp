// `latent bench <suite>`: benchmarks printed as tables (or one JSON object with --json), each
// next to a baseline measured in the same run. Each suite lives in bench_<suite>.cpp.
#include <cstdio>
#include <string>

#include "cli/command.h"

namespace latent::cli {

// Suites (defined in bench_<suite>.cpp), one per line.
int bench_engine(const ParsedArgs& args);
int bench_kv(const ParsedArgs& args);
int bench_lsp(const ParsedArgs& args);
int bench_tokenizer(const ParsedArgs& args);
int bench_quant(const ParsedArgs& args);
int bench_index(const ParsedArgs& args);
int bench_context(const ParsedArgs& args);
int bench_memory(const ParsedArgs& args);

namespace {

struct Suite {
  const char* name;
  const char* summary;
  int (*run)(const ParsedArgs&);
};

const Suite kSuites[] = {
    // {"name", "what it measures", bench_name}, one per line.
    {"engine", "prefill/decode tokens/s vs the memory-bandwidth roofline", bench_engine},
    {"kv", "time to first token cold / warm / after restart with the latent KV store", bench_kv},
    {"lsp", "inline-completion latency p50/p99 under a 30 keys/s typing storm; with --file, tokens evaluated "
            "and latency per keystroke typing in a real file", bench_lsp},
    {"tokenizer", "single-thread tokenize MB/s on source code (needs --model)", bench_tokenizer},
    {"quant", "GB/s of weights through each vec_dot kernel vs memory bandwidth", bench_quant},
    {"index", "index speed vs ctags, updates, 128K context, definition recall", bench_index},
    {"context", "definition recall per language and budget on real code, assembly ms", bench_context},
    {"memory", "read bandwidth GB/s (the roofline's baseline)", bench_memory},
};

int run_bench(const ParsedArgs& args) {
  if (args.positional().empty()) {
    std::string msg = "which suite? one of:";
    for (const auto& s : kSuites) msg += std::string(" ") + s.name;
    throw UsageError(msg);
  }
  const std::string& name = args.positional()[0];
  for (const auto& s : kSuites)
    if (name == s.name) return s.run(args);
  throw UsageError("unknown benchmark suite '" + name + "'");
}

std::string suites_help() {
  std::string s = "suites:\n";
  for (const auto& suite : kSuites) {
    std::string n = std::string("  ") + suite.name;
    n.resize(std::max<size_t>(n.size() + 2, 14), ' ');
    s += n + suite.summary + "\n";
  }
  return s;
}

}  // namespace

Command bench_command() {
  Command c;
  c.name = "bench";
  c.summary = "run a benchmark suite and print its table";
  c.synopsis = "SUITE [options]";
  c.details = suites_help();
  c.options = {
      {"json", "", "print one JSON object instead of a table"},
      {"model", "FILE", "GGUF model to benchmark (engine, kv, lsp)"},
      {"threads", "N", "worker threads (default: all cores)"},
      {"repo", "DIR", "source tree to index or tokenize"},
      {"corpus", "DIR", "context: one repository per language (tests/bench/context_corpus.sh)"},
      {"samples", "N", "context: hidden lines per repository (default 60)"},
      {"split", "SHARES", "context: budget shares current,definitions,types,search,imports,recent"},
      {"quick", "", "shorter runs (smoke test of the benchmark itself)"},
      {"sizes", "LIST", "engine: only these points, e.g. prefill:512,prefill:8192,decode:0,decode:4096"},
      {"max-prompt", "N", "kv: longest prompt measured (default 32768; the machine's time decides)"},
      {"file", "FILE", "lsp: the realistic session in this source file (its directory is indexed)"},
      {"whole-file-baseline", "N", "lsp --file: first N keystrokes with the whole file in the prompt, as the baseline"},
      {"cache-type", "TYPE", "kv: latent cache element type f32, f16 (default), bf16 or q8_0"},
      {"remote", "URL", "lsp: also through this OpenAI-compatible server (a column beside the local --model)"},
      {"remote-model", "NAME", "lsp: the remote server's model (default: its first)"},
  };
  for (auto& o : backend_options()) c.options.push_back(o);
  c.run = run_bench;
  return c;
}

}  // namespace latent::cli
