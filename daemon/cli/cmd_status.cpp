// `latent status`: what latentd knows — model, backend, index state per workspace, completion
// and cache statistics, queue — rendered for people (or as latent/status JSON with --json).
// Asks the shared daemon on its unix socket when one runs (--socket, default
// $XDG_RUNTIME_DIR/latent/latentd.sock as the systemd unit creates it); otherwise reports, in
// this process, on the index of --repo and on --model, and names the editors' own daemons.
#include "cli/cmd_status.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/daemon_client.h"
#include "indexer/index.h"
#include "server/assistant.h"
#include "server/daemon.h"
#include "server/event_loop.h"

namespace latent::cli {

namespace {

std::string plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string render_status(const lsp::StatusResult& s) {
  std::ostringstream o;
  const auto& m = s.model;
  if (m.loaded) {
    o << "model        " << m.name << " (" << m.path << "): backend " << m.backend << ", context " << m.contextLength
      << " tokens, fill-in-the-middle " << (m.fim ? "yes" : "no (no completions)") << ", chat format " << m.chatFormat
      << "\n";
    for (const auto& w : m.warnings) o << "warning      " << w << "\n";
  } else {
    o << "model        not loaded: " << m.problem << "\n";
  }
  if (const auto& r = m.remote) {
    o << "remote       " << r->url << ": " << r->requests << " requests, " << r->errors << " errors, last latency "
      << r->lastLatencyMs << " ms, completions as " << r->fimTemplate << "\n";
    if (!r->lastError.empty()) o << "             last error: " << r->lastError << "\n";
  }
  if (s.workspaces.empty()) o << "workspace    none open\n";
  for (const auto& w : s.workspaces) {
    o << "workspace    " << w.root << ": " << w.state << ", " << plural(w.files, "file", "files") << " in the index";
    if (w.progress)
      o << "; checking " << w.progress->filesDone << "/" << w.progress->filesFound << " files"
        << (w.progress->walkDone ? "" : " found so far");
    if (const auto& r = w.lastRun) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.1f", r->seconds);
      o << "\n             last run" << (r->cancelled ? " (cancelled)" : "") << ": " << r->filesChecked
        << " files checked, " << r->filesIndexed << " updated, " << r->filesRemoved << " removed, " << r->filesSkipped
        << " skipped by rule, " << plural(r->problems, "problem", "problems") << ", " << secs << " s";
    }
    if (w.watching == "limited")
      o << "\n             watching " << plural(w.watchedDirectories, "directory", "directories")
        << " (watch limit reached: the editor's file events cover the rest)";
    else if (!w.watching.empty())
      o << "\n             " << w.watching << " " << plural(w.watchedDirectories, "directory", "directories") << ", "
        << plural(w.watchBatches, "batch", "batches") << " of changes seen";
    if (!w.error.empty()) o << "\n             error: " << w.error;
    o << "\n";
  }
  const auto& c = s.completions;
  o << "completions  " << plural(c.requests, "request", "requests") << ": " << c.engineRuns << " ran the model, "
    << c.reused << " reused the shown completion, " << c.superseded << " superseded, " << c.cancelled
    << " cancelled, " << c.empty << " empty\n";
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.0f%%", 100 * s.cache.hitRate);
  o << "cache        " << s.cache.cachedPromptTokens << " of " << s.cache.promptTokens
    << " prompt tokens from the latent KV cache (" << rate << "), " << s.cache.generatedTokens << " tokens generated\n";
  const auto& q = s.queue;
  o << "queue        " << q.pendingCompletions << " completions, " << q.pendingQuestions << " questions, "
    << q.workerJobs << " worker jobs; the engine runs " << q.engineLive << " and holds " << q.engineQueued << "\n";
  if (s.conversations) o << "questions    " << plural(s.conversations, "conversation", "conversations") << " kept for follow-ups\n";
  if (s.session)
    o << "session      " << s.session->client << ", " << plural(s.session->openDocuments, "open document", "open documents")
      << ", positions in " << s.session->positionEncoding << "\n";
  if (!s.settings.empty()) {
    o << "settings    ";
    for (const auto& [key, value] : s.settings.items()) {
      o << " " << key << "=";
      if (value.is_string()) o << value.get<std::string>();
      else if (value.is_array())
        for (size_t i = 0; i < value.size(); ++i) o << (i ? "," : "") << value[i].get<std::string>();
      else o << value.dump();
    }
    o << "\n";
  }
  return o.str();
}

namespace {

int run_status(const ParsedArgs& args) {
  bool as_json = args.has("json");
  auto print = [&](const lsp::StatusResult& s, const std::string& heading) {
    if (as_json) std::cout << nlohmann::json(s).dump(2) << "\n";
    else std::cout << heading << "\n" << render_status(s);
  };
  if (auto socket = daemon_socket(args); socket && !args.has("repo")) {
    try {
      DaemonClient client(*socket);
      lsp::StatusResult s;
      lsp::read_value(client.request("latent/status", nlohmann::json::object()), "latent/status", s);
      print(s, "latentd " + s.version + " (pid " + std::to_string(s.pid) + "), shared on " + socket->string());
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "latent status: %s\n", e.what());
      if (args.has("socket")) return 1;
    }
  }
  // No shared daemon: this process opens the repository's index (without re-indexing) and the model.
  daemon::Options options;
  options.model_path = args.get_or("model", "");
  const BackendChoice bc = backend_choice(args);
  options.backend = bc.backend;
  options.device = bc.device;
  options.gpu_layers = bc.gpu_layers;
  options.index_on_startup = false;
  daemon::configure_log({daemon::LogLevel::Warn, {}, true});
  daemon::EventLoop loop;
  daemon::Assistant assistant(loop, options, daemon::default_generator_factory(), daemon::default_index_factory());
  std::filesystem::path start = std::filesystem::absolute(args.get_or("repo", ".")).lexically_normal();
  std::filesystem::path repo = args.has("repo") ? start : indexer::find_workspace_root(start).value_or(start);
  assistant.add_workspace(repo);
  lsp::StatusResult status;
  assistant.when_ready([&] {
    status = assistant.status();
    assistant.shutdown();
    loop.stop();
  });
  loop.run();
  std::string heading = "no shared latentd";
  if (auto socket = default_socket_path(); !socket.empty()) heading += " on " + socket.string();
  auto pids = running_latentd_pids();
  if (!pids.empty()) {
    heading += "; " + plural(static_cast<int64_t>(pids.size()), "latentd runs", "latentd processes run") + " (pid";
    for (int p : pids) heading += " " + std::to_string(p);
    heading += ") for editors over stdio, private to them (a shared one: systemctl --user enable --now latentd)";
  }
  heading += ".\nThis process, on the index of " + repo.string() + ":";
  print(status, heading);
  return 0;
}

}  // namespace

Command status_command() {
  Command c;
  c.name = "status";
  c.summary = "model, index state, completion statistics and queue of latentd";
  c.synopsis = "[--socket PATH | --repo DIR] [--model FILE] [--json]";
  c.details =
      "With a shared latentd running (systemctl --user start latentd), its status over the socket.\n"
      "Otherwise the status of the index of DIR (default: the nearest indexed directory at or above\n"
      "the current one) and of --model, read in this process without indexing.";
  c.options = daemon_options();
  c.options.push_back({"repo", "DIR", "report on this repository's index in this process"});
  c.options.push_back({"model", "FILE", "also open this model and report on it"});
  c.options.push_back({"json", "", "print latent/status as JSON"});
  for (auto& o : backend_options()) c.options.push_back(o);
  c.run = run_status;
  return c;
}

}  // namespace latent::cli
