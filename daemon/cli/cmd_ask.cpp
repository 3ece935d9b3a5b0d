// `latent ask "QUESTION"`: a repository question. With a shared latentd running (the systemd
// unit's socket, or --socket) the daemon answers: its loaded model, its index and its latent KV
// cache are reused, and --conversation asks a follow-up. Otherwise it is answered in this process
// through latentd's server API: the repository is indexed (incrementally), the most relevant
// sources retrieved, and with --model the answer streams to stdout; without a model the ranked
// sources are printed and it says so. The repository is --repo, else the nearest indexed
// directory at or above the current one (as `latent search` finds it), else the current one.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "cli/command.h"
#include "cli/daemon_client.h"
#include "indexer/index.h"
#include "server/assistant.h"
#include "server/daemon.h"
#include "server/event_loop.h"
#include "server/uri.h"

namespace latent::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The settings a question in this process takes as options; given any of them, the question is
// answered in this process even when a shared daemon runs (it keeps its own model).
constexpr std::string_view kAskSettings[] = {"model",  "backend",     "device",          "gpuLayers",       "threads",
                                             "remote", "remoteModel", "remoteApiKeyEnv", "remoteTimeoutMs", "askSources",
                                             "askMaxTokens"};
constexpr std::string_view kEngineFlags[] = {"model", "backend", "device", "gpu-layers", "threads", "remote"};

// Indexing progress on stderr: one updated line on a terminal, whole lines otherwise (never a
// carriage return into a pipe or a file).
class ProgressLine {
 public:
  ProgressLine() : tty_(isatty(STDERR_FILENO) != 0) {}
  void update(const std::string& text) {
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%s", text.c_str());
    } else if (std::chrono::steady_clock::now() - last_ >= std::chrono::seconds(2)) {
      std::fprintf(stderr, "%s\n", text.c_str());
      last_ = std::chrono::steady_clock::now();
    }
    shown_ = true;
  }
  void end(const std::string& text) {
    if (tty_ && shown_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "%s\n", text.c_str());
  }

 private:
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

void print_answer(const std::string& question, const json& result, bool streamed, bool as_json) {
  if (as_json) {
    std::cout << json{{"question", question}, {"answer", result.value("answer", "")},
                      {"modelUsed", result.value("modelUsed", false)}, {"sources", result.value("sources", json::array())},
                      {"conversation", result.value("conversation", "")}}
                     .dump(2)
              << "\n";
    return;
  }
  if (!streamed) {
    std::cout << result.value("answer", "") << "\n";
  } else {
    std::cout << "\n\nSources:\n";
    for (const auto& s : result.value("sources", json::array()))
      std::cout << "- " << s.value("path", "") << ":" << s.value("line", 0)
                << (s.contains("symbol") ? " (" + s["symbol"].get<std::string>() + ")" : "") << "\n";
  }
  if (auto c = result.value("conversation", ""); !c.empty())
    std::cerr << "(follow up: latent ask --conversation " << c << " \"...\")\n";
}

int ask_daemon(const fs::path& socket, const fs::path& repo, const std::string& question, const ParsedArgs& args) {
  bool as_json = args.has("json");
  DaemonClient client(socket, repo);
  ProgressLine progress;
  // The daemon opens and indexes the folder (or has it already, for an editor): wait for it.
  for (bool waited = false;; waited = true) {
    lsp::StatusResult s;
    lsp::read_value(client.request("latent/status", json::object()), "latent/status", s);
    const lsp::StatusWorkspace* w = nullptr;
    for (const auto& ws : s.workspaces)
      if (fs::path(ws.root) == repo) w = &ws;
    if (!w) throw std::runtime_error("latentd on " + socket.string() + " did not open " + repo.string());
    if (w->state != "opening" && w->state != "indexing") {
      if (waited && !as_json) progress.end(repo.string() + ": " + std::to_string(w->files) + " files in the index");
      break;
    }
    if (!as_json && w->progress)
      progress.update(repo.string() + ": indexing, " + std::to_string(w->progress->filesDone) + "/" +
                      std::to_string(w->progress->filesFound) + " files checked");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  json params = {{"question", question},
                 {"partialResultToken", "latent-cli-ask"},
                 {"textDocument", {{"uri", daemon::path_to_uri(repo)}}}};
  if (auto c = args.get("conversation")) params["conversation"] = *c;
  bool streamed = false;
  json result = client.request(
      "latent/ask", params,
      [&](const std::string& method, const json& p) {
        if (as_json || method != "$/progress" || p.value("token", json()) != "latent-cli-ask") return;
        const json& v = p.value("value", json::object());
        if (!v.contains("text")) return;
        std::string text = v["text"];
        streamed = true;
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
      },
      std::chrono::minutes(30));
  print_answer(question, result, streamed, as_json);
  return 0;
}

int ask_in_process(const fs::path& repo, const std::string& question, const ParsedArgs& args) {
  bool as_json = args.has("json");
  daemon::Options options;
  apply_setting_options(args, kAskSettings, options);
  options.backend = backend_choice(args).backend;
  daemon::configure_log({daemon::LogLevel::Warn, {}, true});

  daemon::EventLoop loop;
  daemon::Assistant assistant(loop, options, daemon::default_generator_factory(), daemon::default_index_factory());
  int exit_code = 0;
  bool streamed = false;
  ProgressLine progress;
  assistant.subscribe([&](const daemon::WorkspaceEvent& ev) {
    if (as_json) return;
    if (ev.kind == daemon::WorkspaceEvent::Kind::End) progress.end(repo.string() + ": " + ev.message);
    else if (ev.kind == daemon::WorkspaceEvent::Kind::Report) progress.update(repo.string() + ": indexing, " + ev.message);
  });
  assistant.add_workspace(repo);
  assistant.when_ready([&] {
    if (!assistant.model_loaded() && (!options.model_path.empty() || options.uses_remote())) {
      std::fprintf(stderr, "latent ask: %s\n", assistant.model_problem().c_str());
      exit_code = 1;
      assistant.shutdown();
      loop.stop();
      return;
    }
    daemon::AskRequest req;
    req.question = question;
    auto on_partial = [&](const daemon::AskPartial& p) {
      if (as_json || p.text.empty()) return;
      streamed = true;
      std::fwrite(p.text.data(), 1, p.text.size(), stdout);
      std::fflush(stdout);
    };
    assistant.ask(req, on_partial, [&](lsp::Result<daemon::AskAnswer> r) {
      if (!r) {
        std::fprintf(stderr, "latent ask: %s\n", r.error().message.c_str());
        exit_code = 1;
      } else {
        json sources = json::array();
        for (const auto& s : r.value().sources) {
          json j = {{"path", s.path}, {"line", s.line}, {"endLine", s.end_line}, {"score", s.score}};
          if (!s.symbol.empty()) j["symbol"] = s.symbol;
          sources.push_back(j);
        }
        // A conversation ends with this process: no follow-up to offer.
        print_answer(question, {{"answer", r.value().answer}, {"modelUsed", r.value().model_used}, {"sources", sources}},
                     streamed, as_json);
      }
      assistant.shutdown();
      loop.stop();
    });
  });
  loop.run();
  return exit_code;
}

int run_ask(const ParsedArgs& args) {
  if (args.positional().size() != 1) throw UsageError("give the question as one argument (quote it)");
  std::string question = args.positional()[0];
  fs::path start = fs::absolute(args.get_or("repo", ".")).lexically_normal();
  if (!fs::is_directory(start)) {
    std::fprintf(stderr, "latent ask: %s is not a directory (--repo DIR)\n", start.c_str());
    return 1;
  }
  fs::path repo = args.has("repo") ? fs::canonical(start) : indexer::find_workspace_root(start).value_or(fs::canonical(start));
  auto socket = daemon_socket(args);
  std::string engine_flag;
  for (auto f : kEngineFlags)
    if (args.has(f)) engine_flag = f;
  if (socket && !engine_flag.empty()) {
    if (args.has("socket")) throw UsageError("--" + engine_flag + " loads a model in this process; the daemon on --socket keeps its own");
    std::fprintf(stderr, "latent ask: --%s given, so the model loads in this process, not in the shared latentd on %s\n",
                 engine_flag.c_str(), socket->c_str());
    socket.reset();
  }
  if (args.has("conversation") && !socket)
    throw UsageError("--conversation follows up in a shared latentd; none runs (see latent status)");
  if (socket) {
    try {
      return ask_daemon(*socket, repo, question, args);
    } catch (const std::exception& e) {
      if (args.has("socket") || args.has("conversation")) throw;
      std::fprintf(stderr, "latent ask: %s; answering in this process\n", e.what());
    }
  }
  return ask_in_process(repo, question, args);
}

}  // namespace

Command ask_command() {
  Command c;
  c.name = "ask";
  c.summary = "answer a question about a repository (ranked sources without a model)";
  c.synopsis = "\"QUESTION\" [--repo DIR] [--conversation ID] [--model FILE | --remote URL] [--json]";
  c.details =
      "A shared latentd (systemctl --user start latentd) answers with its model, index and cache;\n"
      "otherwise this process indexes the repository (incrementally, in DIR/.latent/index.sqlite)\n"
      "and answers with --model, or lists the most relevant places, best first, without one.";
  c.options = daemon_options();
  c.options.push_back({"repo", "DIR", "repository (default: the nearest indexed directory at or above the current one)"});
  c.options.push_back({"conversation", "ID", "a follow-up question in the shared daemon's conversation ID"});
  for (auto& o : setting_options(kAskSettings)) c.options.push_back(o);
  c.options.push_back({"json", "", "print one JSON object: answer, modelUsed, sources, conversation"});
  c.run = run_ask;
  return c;
}

}  // namespace latent::cli
