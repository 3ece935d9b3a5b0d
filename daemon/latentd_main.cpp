// `latentd`: the Language Server Protocol daemon that editors start (stdio) or share (unix socket).
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_server.h"
#include "latent/version.h"
#include "server/daemon.h"
#include "server/log.h"
#include "server/settings.h"

namespace {

struct Flag {
  const char* name;
  const char* value;  // nullptr: takes no value
  const char* help;
};

// The process's own flags; the settings' flags (--model, --backend, ...) come from the
// settings schema (server/settings.h).
const Flag kFlags[] = {
    {"--stdio", nullptr, "speak LSP on stdin/stdout (the default)"},
    {"--socket", "PATH", "listen on a unix socket instead; several editors and the latent CLI share one\n"
                         "                         daemon (the systemd unit's: $XDG_RUNTIME_DIR/latent/latentd.sock)"},
    {"--connect", "PATH", "relay stdin/stdout to the latentd listening on PATH (an editor's\n"
                          "                         command for the shared daemon of the systemd unit)"},
    {"--http", "HOST:PORT", "also serve the HTTP API (OpenAI-compatible /v1/completions, /v1/chat/completions,\n"
                            "                         /v1/models; llama.cpp's /infill) on HOST:PORT, e.g. 127.0.0.1:8012"},
    {"--no-lsp", nullptr, "serve no LSP (with --http: an HTTP-only engine server; stop it with SIGTERM)"},
    {"--api-key-file", "FILE", "HTTP: clients must send Authorization: Bearer <the file's first line>;\n"
                               "                         required to --http on an address other than loopback"},
    {"--http-max-requests", "N", "HTTP: generations at once; more are answered 429 (default 8)"},
    {"--http-max-body-bytes", "N", "HTTP: largest request body; larger ones are answered 413 (default 8388608)"},
    {"--log-file", "PATH", "log file (default: $XDG_STATE_HOME/latent/latentd.log,\n"
                           "                         else ~/.local/state/latent/latentd.log)"},
    {"--no-log-file", nullptr, "log to stderr only"},
    {"--log-level", "LEVEL", "debug, info (default), warn or error"},
    {"--settings-schema", nullptr, "print the settings' schema as JSON (name, type, default, range, description)"},
    {"--help", nullptr, "show this help"},
    {"--version", nullptr, "print the version"},
};

constexpr size_t kHelpColumn = 25;

std::string usage() {
  std::string s =
      "usage: latentd [options]\n\n"
      "Latent's language server: serves inline completions (textDocument/inlineCompletion) and\n"
      "repository questions (latent/ask) over the Language Server Protocol. Editors start it and\n"
      "speak LSP on its stdin/stdout, or connect to its unix socket (--socket). Logs go to the log\n"
      "file and stderr, never stdout.\n\noptions:\n";
  for (const auto& f : kFlags) {
    std::string left = std::string("  ") + f.name + (f.value ? std::string(" ") + f.value : "");
    if (left.size() < kHelpColumn) left.resize(kHelpColumn, ' ');
    else left += "\n" + std::string(kHelpColumn, ' ');
    s += left + f.help + "\n";
  }
  s += "\nsettings (editors send the same as initializationOptions or the \"latent\" section of\n"
       "workspace/configuration, by the name after \"setting\"):\n";
  s += latent::daemon::settings_help(latent::daemon::settings_schema(), kHelpColumn);
  return s;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "latentd: %s (see latentd --help)\n", message.c_str());
  return 2;
}

// The setting whose flag is `arg` ("--model", "--no-index"), and the value a boolean takes.
const latent::daemon::Setting* setting_flag(std::string_view arg, std::string& bool_value) {
  if (arg.rfind("--", 0) != 0) return nullptr;
  std::string_view name = arg.substr(2);
  for (const auto& s : latent::daemon::settings_schema()) {
    bool is_bool = s.value_name.empty();
    if (name == s.flag) {
      bool_value = "true";
      return &s;
    }
    if (is_bool && name.rfind("no-", 0) == 0 && name.substr(3) == s.flag) {
      bool_value = "false";
      return &s;
    }
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace latent::daemon;
  DaemonOptions d;
  std::string connect_path;
  http::HttpOptions http;
  bool serve_http = false;
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
    std::string bool_value;
    if (const auto* setting = setting_flag(a, bool_value)) {
      if (!setting->value_name.empty()) {
        if (i + 1 >= args.size()) return fail("option " + a + " needs a value (" + std::string(setting->value_name) + ")");
        value = args[++i];
      } else {
        value = bool_value;
      }
      if (auto problem = apply_flag(*setting, value, d.options)) return fail(*problem);
      continue;
    }
    const Flag* flag = nullptr;
    for (const auto& f : kFlags)
      if (a == f.name) flag = &f;
    if (!flag) return fail("unknown option '" + a + "'");
    if (flag->value) {
      if (i + 1 >= args.size()) return fail(std::string("option ") + flag->name + " needs a value (" + flag->value + ")");
      value = args[++i];
    }
    std::string name = flag->name;
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
    } else if (name == "--http") {
      serve_http = true;
      try {
        http::parse_listen_address(value, http);
      } catch (const std::exception& e) {
        return fail(e.what());
      }
    } else if (name == "--no-lsp") {
      d.lsp = false;
    } else if (name == "--api-key-file") {
      http.api_key_file = value;
    } else if (name == "--http-max-requests" || name == "--http-max-body-bytes") {
      long long n = -1;
      try {
        n = std::stoll(value);
      } catch (const std::exception&) {
      }
      if (n < 1) return fail(name + " expects a positive number, got '" + value + "'");
      if (name == "--http-max-requests") http.max_requests = static_cast<int>(std::min(n, 4096LL));
      else http.max_body_bytes = static_cast<size_t>(n);
    } else if (name == "--log-file") {
      log_options.file = value;
    } else if (name == "--no-log-file") {
      log_options.file.clear();
    } else if (name == "--log-level") {
      auto level = log_level_from_name(value);
      if (!level) return fail("--log-level expects debug, info, warn or error, got '" + value + "'");
      log_options.level = *level;
    } else if (name == "--settings-schema") {
      std::printf("%s\n", settings_schema_json().dump(2).c_str());
      return 0;
    }
  }
  if (serve_http) {
    d.services.push_back(http::http_service(http));
  } else if (!d.lsp) {
    return fail("--no-lsp leaves nothing to serve without --http HOST:PORT");
  }
  if (auto problem = configure_log(log_options)) std::fprintf(stderr, "latentd: %s\n", problem->c_str());
  if (!connect_path.empty()) return run_bridge(connect_path);
  log_info(std::string("latentd ") + LATENT_VERSION + " starting" +
           (d.options.model_path.empty() ? ", no model configured yet" : ", model " + d.options.model_path));
  return run_daemon(d, default_generator_factory(), default_index_factory());
}
