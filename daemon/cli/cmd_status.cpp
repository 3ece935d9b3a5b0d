// `latent status`: what latentd knows — model, backend, index state per workspace, completion
// and cache statistics, queue. Asks the shared daemon on its unix socket when one is running
// (--socket, default $XDG_RUNTIME_DIR/latent/latentd.sock as the systemd unit creates it);
// otherwise reports, in this process, on the index of --repo and on --model.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/command.h"
#include "lsp/framing.h"
#include "lsp/jsonrpc.h"
#include "server/assistant.h"
#include "server/daemon.h"
#include "server/event_loop.h"

namespace latent::cli {

namespace {

using nlohmann::json;

std::filesystem::path default_socket() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (!runtime || !*runtime) return {};
  return std::filesystem::path(runtime) / "latent" / "latentd.sock";
}

// A minimal blocking LSP client: initialize, latent/status, shutdown, exit.
std::optional<json> query_daemon(const std::filesystem::path& socket_path, std::string& error) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = "cannot connect to " + socket_path.string() + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return std::nullopt;
  }
  auto send = [&](const json& j) {
    std::string bytes = lsp::encode_frame(j.dump());
    for (size_t off = 0; off < bytes.size();) {
      ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  };
  lsp::FrameDecoder decoder;
  auto wait_response = [&](int id) -> std::optional<json> {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      while (auto ev = decoder.next()) {
        if (ev->kind != lsp::FrameEvent::Kind::Message) continue;
        json m = json::parse(ev->body, nullptr, false);
        if (m.is_object() && m.contains("id") && m["id"] == id && !m.contains("method")) return m;
        if (m.is_object() && m.contains("method") && m.contains("id"))  // a request to us: decline
          send(lsp::make_error_response(m["id"], {lsp::ErrorCode::MethodNotFound, "latent status answers no requests"}));
      }
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, left) <= 0) return std::nullopt;
      char buf[65536];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      decoder.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
  };
  std::optional<json> status;
  if (send(lsp::make_request(1, "initialize", {{"processId", ::getpid()}, {"clientInfo", {{"name", "latent status"}}}, {"capabilities", json::object()}})) &&
      wait_response(1) && send(lsp::make_notification("initialized", json::object())) &&
      send(lsp::make_request(2, "latent/status", json::object()))) {
    if (auto r = wait_response(2)) {
      if (r->contains("result")) status = (*r)["result"];
      else error = "latentd answered latent/status with an error: " + r->dump();
    } else {
      error = "latentd on " + socket_path.string() + " did not answer within 10 s";
    }
  } else {
    error = "latentd on " + socket_path.string() + " closed the connection";
  }
  if (send(lsp::make_request(3, "shutdown", nullptr))) {
    wait_response(3);
    send(lsp::make_notification("exit", nullptr));
  }
  ::close(fd);
  return status;
}

std::string str(const json& j, const char* key, const std::string& fallback = "") {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
}

void print_status(const json& s, const std::string& where) {
  std::cout << "latent status (" << where << ")\n";
  const json& m = s["model"];
  if (m.value("loaded", false)) {
    std::cout << "model:       " << str(m, "name") << " (" << str(m, "path") << ")\n"
              << "             backend " << str(m, "backend") << ", context " << m.value("contextLength", 0)
              << " tokens, FIM " << (m.value("fim", false) ? "yes" : "no") << ", chat format " << str(m, "chatFormat") << "\n";
  } else {
    std::cout << "model:       not loaded: " << str(m, "problem", "unknown reason") << "\n";
  }
  if (s["workspaces"].empty()) std::cout << "workspaces:  none\n";
  for (const auto& w : s["workspaces"]) {
    std::cout << "workspace:   " << str(w, "root") << ": " << str(w, "state");
    if (w.contains("files")) std::cout << ", " << w["files"].get<uint64_t>() << " files indexed";
    if (w.contains("lastRun"))
      std::cout << " (last run: " << w["lastRun"].value("filesIndexed", 0) << " files updated in "
                << w["lastRun"].value("seconds", 0.0) << " s)";
    if (w.contains("error")) std::cout << "; error: " << str(w, "error");
    std::cout << "\n";
  }
  const json& c = s["completions"];
  std::cout << "completions: " << c.value("requests", 0) << " requests, " << c.value("engineRuns", 0) << " engine runs, "
            << c.value("reused", 0) << " reused, " << c.value("superseded", 0) << " superseded, "
            << c.value("cancelled", 0) << " cancelled\n";
  const json& q = s["queue"];
  std::cout << "queue:       " << q.value("pendingCompletions", 0) << " completions, " << q.value("pendingQuestions", 0)
            << " questions, " << q.value("workerJobs", 0) << " worker jobs\n";
  if (s.contains("cache") && !s["cache"].empty()) std::cout << "cache:       " << s["cache"].dump() << "\n";
}

int run_status(const ParsedArgs& args) {
  bool as_json = args.has("json");
  std::filesystem::path socket = args.has("socket") ? std::filesystem::path(*args.get("socket")) : default_socket();
  bool explicit_socket = args.has("socket");
  if (!socket.empty() && (explicit_socket || std::filesystem::exists(socket)) && !args.has("repo")) {
    std::string error;
    if (auto s = query_daemon(socket, error)) {
      if (as_json) std::cout << s->dump(2) << "\n";
      else print_status(*s, "latentd on " + socket.string());
      return 0;
    }
    std::fprintf(stderr, "latent status: %s\n", error.c_str());
    if (explicit_socket) return 1;
  }
  // No daemon: this process opens the repository's index (without re-indexing) and the model.
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
  std::filesystem::path repo = std::filesystem::absolute(args.get_or("repo", ".")).lexically_normal();
  assistant.add_workspace(repo);
  json status;
  assistant.when_ready([&] {
    status = assistant.status();
    assistant.shutdown();
    loop.stop();
  });
  loop.run();
  if (as_json) std::cout << status.dump(2) << "\n";
  else print_status(status, "no daemon running; this process, index of " + repo.string());
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
      "Otherwise the status of DIR's index (default: the current directory) and of --model, read\n"
      "in this process without indexing.";
  c.options = {
      {"socket", "PATH", "latentd's socket (default: $XDG_RUNTIME_DIR/latent/latentd.sock)"},
      {"repo", "DIR", "report on this repository's index in this process"},
      {"model", "FILE", "also open this model and report on it"},
      {"json", "", "print the status as JSON"},
  };
  for (auto& o : backend_options()) c.options.push_back(o);
  c.run = run_status;
  return c;
}

}  // namespace latent::cli
