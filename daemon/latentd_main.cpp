// `latentd`: the Language Server Protocol daemon that editors start (stdio) or share (unix socket).
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "latent/version.h"
#include "server/daemon.h"
#include "server/log.h"

namespace {

struct Flag {
  const char* name;
  const char* value;  // nullptr: takes no value
  const char* help;
};

const Flag kFlags[] = {
    {"--stdio", nullptr, "speak LSP on stdin/stdout (the default)"},
    {"--socket", "PATH", "listen on a unix socket instead; several editors share one daemon"},
    {"--connect", "PATH", "relay stdin/stdout to the latentd listening on PATH (an editor's\n"
                          "                         command for the shared daemon of the systemd unit)"},
    {"--log-file", "PATH", "log file (default: $XDG_STATE_HOME/latent/latentd.log,\n"
                           "                         else ~/.local/state/latent/latentd.log)"},
    {"--no-log-file", nullptr, "log to stderr only"},
    {"--log-level", "LEVEL", "debug, info (default), warn or error"},
    {"--model", "FILE", "GGUF model (deepseek2) for completions and answers; editors may\n"
                        "                         also set it (latent.model); without one, completions are\n"
                        "                         empty and latent/ask returns ranked sources"},
    {"--backend", "NAME", "cpu (default) or vulkan"},
    {"--device", "N", "GPU backends: device index from `latent devices` (default: the best)"},
    {"--gpu-layers", "N", "GPU backends: first N layers on the device, the rest on the CPU\n"
                          "                         (default: as many as fit)"},
    {"--threads", "N", "engine threads (default 0: all cores)"},
    {"--workers", "N", "threads for indexing and retrieval (default 2)"},
    {"--context-budget", "N", "tokens of repository context per completion (default 2048)"},
    {"--debounce-ms", "N", "delay before a completion starts the model (default 50)"},
    {"--max-lines", "N", "most lines of a multi-line completion (default 12)"},
    {"--no-index", nullptr, "do not index workspace folders when they are added"},
    {"--help", nullptr, "show this help"},
    {"--version", nullptr, "print the version"},
};

std::string usage() {
  std::string s =
      "usage: latentd [options]\n\n"
      "Latent's language server: serves inline completions (textDocument/inlineCompletion) and\n"
      "repository questions (latent/ask) over the Language Server Protocol. Editors start it and\n"
      "speak LSP on its stdin/stdout, or connect to its unix socket (--socket). Logs go to the log\n"
      "file and stderr, never stdout.\n\noptions:\n";
  for (const auto& f : kFlags) {
    std::string left = std::string("  ") + f.name + (f.value ? std::string(" ") + f.value : "");
    if (left.size() < 25) left.resize(25, ' ');
    else left += "\n" + std::string(25, ' ');
    s += left + f.help + "\n";
  }
  return s;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "latentd: %s (see latentd --help)\n", message.c_str());
  return 2;
}

bool parse_int(const std::string& s, int64_t lo, int64_t hi, int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out >= lo && out <= hi;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace latent::daemon;
  DaemonOptions d;
  std::string connect_path;
  LogOptions log_options;
  log_options.file = default_log_file();
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      value = a.substr(eq + 1);
      a.resize(eq);
      args.insert(args.begin() + static_cast<long>(i) + 1, value);
    }
    if (a == "-h") a = "--help";
    if (a == "-V") a = "--version";
    const Flag* flag = nullptr;
    for (const auto& f : kFlags)
      if (a == f.name) flag = &f;
    if (!flag) return fail("unknown option '" + a + "'");
    if (flag->value) {
      if (i + 1 >= args.size()) return fail(std::string("option ") + flag->name + " needs a value (" + flag->value + ")");
      value = args[++i];
    }
    std::string name = flag->name;
    int64_t n = 0;
    if (name == "--help") {
      std::fputs(usage().c_str(), stdout);
      return 0;
    } else if (name == "--version") {
      std::printf("latentd %s\n", LATENT_VERSION);
      return 0;
    } else if (name == "--stdio") {
      d.socket_path.clear();
    } else if (name == "--socket") {
      d.socket_path = value;
    } else if (name == "--connect") {
      connect_path = value;
    } else if (name == "--log-file") {
      log_options.file = value;
    } else if (name == "--no-log-file") {
      log_options.file.clear();
    } else if (name == "--log-level") {
      auto level = log_level_from_name(value);
      if (!level) return fail("--log-level expects debug, info, warn or error, got '" + value + "'");
      log_options.level = *level;
    } else if (name == "--model") {
      d.options.model_path = value;
    } else if (name == "--backend") {
      if (value != "cpu" && value != "vulkan") return fail("--backend expects cpu or vulkan, got '" + value + "'");
      d.options.backend = value;
    } else if (name == "--device") {
      if (!parse_int(value, 0, 64, n)) return fail("--device expects a device index from `latent devices`, got '" + value + "'");
      d.options.device = static_cast<int>(n);
    } else if (name == "--gpu-layers") {
      if (!parse_int(value, 0, 100000, n)) return fail("--gpu-layers expects a layer count, got '" + value + "'");
      d.options.gpu_layers = static_cast<int>(n);
    } else if (name == "--threads") {
      if (!parse_int(value, 0, 1024, n)) return fail("--threads expects 0..1024, got '" + value + "'");
      d.options.engine_threads = static_cast<int>(n);
    } else if (name == "--workers") {
      if (!parse_int(value, 0, 256, n)) return fail("--workers expects 0..256, got '" + value + "'");
      d.options.workers = static_cast<int>(n);
    } else if (name == "--context-budget") {
      if (!parse_int(value, 0, 1 << 20, n)) return fail("--context-budget expects a token count, got '" + value + "'");
      d.options.context_budget = static_cast<int32_t>(n);
    } else if (name == "--debounce-ms") {
      if (!parse_int(value, 0, 10000, n)) return fail("--debounce-ms expects 0..10000, got '" + value + "'");
      d.options.debounce_ms = static_cast<int32_t>(n);
    } else if (name == "--max-lines") {
      if (!parse_int(value, 1, 1000, n)) return fail("--max-lines expects 1..1000, got '" + value + "'");
      d.options.max_lines = static_cast<int32_t>(n);
    } else if (name == "--no-index") {
      d.options.index_on_startup = false;
    }
  }
  if (auto problem = configure_log(log_options)) std::fprintf(stderr, "latentd: %s\n", problem->c_str());
  if (!connect_path.empty()) return run_bridge(connect_path);
  log_info(std::string("latentd ") + LATENT_VERSION + " starting" +
           (d.options.model_path.empty() ? ", no model configured yet" : ", model " + d.options.model_path));
  return run_daemon(d, default_generator_factory(), default_index_factory());
}
