#include "server/daemon.h"

#include <csignal>
#include <list>
#include <memory>

#include "remote/remote_generator.h"
#include "server/assistant.h"
#include "server/engine_generator.h"
#include "server/event_loop.h"
#include "server/indexer_workspace.h"
#include "server/lsp_session.h"
#include "server/transport.h"

namespace latent::daemon {

GeneratorFactory default_generator_factory() {
  return [](const Options& options) {
    return options.uses_remote() ? remote::open_remote_generator(options) : open_engine_generator(options);
  };
}
IndexFactory default_index_factory() { return open_indexer_workspace; }

namespace {

struct Client {
  std::unique_ptr<Connection> connection;
  std::unique_ptr<LspSession> session;
  bool closing = false;
};

}  // namespace

int run_daemon(const DaemonOptions& daemon_options, GeneratorFactory generators, IndexFactory indexes) {
  // A client that vanishes mid-write must not kill the daemon with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  EventLoop loop;
  Assistant assistant(loop, daemon_options.options, std::move(generators), std::move(indexes));
  int exit_code = 0;
  bool finishing = false;
  std::list<std::shared_ptr<Client>> clients;
  std::unique_ptr<SocketListener> listener;
  std::vector<std::unique_ptr<Service>> services;

  uv_signal_t sigint, sigterm;
  uv_signal_init(loop.uv(), &sigint);
  uv_signal_init(loop.uv(), &sigterm);

  // Ends the daemon: commits the indexes, flushes and closes every client, closes the loop.
  std::function<void(int)> finish = [&](int code) {
    if (finishing) return;
    finishing = true;
    exit_code = code;
    for (auto& service : services) service->stop();
    assistant.shutdown();
    if (listener) listener->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
    auto remaining = std::make_shared<size_t>(clients.size());
    auto stop_when_done = [&loop, remaining] {
      if (--*remaining == 0) loop.stop();
    };
    if (clients.empty()) loop.stop();
    for (auto& c : clients) {
      c->closing = true;
      c->connection->close(stop_when_done);
    }
    flush_log();
  };

  auto on_signal = [](uv_signal_t* h, int signum) {
    log_info(std::string("received ") + (signum == SIGINT ? "SIGINT" : "SIGTERM") + "; shutting down");
    (*static_cast<std::function<void(int)>*>(h->data))(0);
  };
  sigint.data = &finish;
  sigterm.data = &finish;
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);

  auto attach = [&](std::unique_ptr<Connection> connection, bool owns_daemon) {
    auto client = std::make_shared<Client>();
    client->connection = std::move(connection);
    std::weak_ptr<Client> weak = client;
    Connection* conn = client->connection.get();
    // Stdio: the session's end is the daemon's end. Socket: only that client goes.
    auto drop = [&, weak, owns_daemon](int code) {
      if (owns_daemon) {
        loop.post([&finish, code] { finish(code); });
        return;
      }
      auto c = weak.lock();
      if (!c || c->closing) return;
      c->closing = true;
      // Destroyed from a fresh loop turn: this may run inside the session's own handler.
      c->connection->close([&loop, &clients, c] { loop.post([&clients, c] { clients.remove(c); }); });
    };
    client->session = std::make_unique<LspSession>(assistant, [conn](std::string bytes) { conn->write(std::move(bytes)); }, drop);
    LspSession* session = client->session.get();
    clients.push_back(client);
    conn->start([session](std::string_view bytes) { session->receive(bytes); },
                [session](const std::string& reason) { session->end(reason); });
  };

  try {
    for (const auto& make : daemon_options.services) services.push_back(make(assistant));
    if (!daemon_options.lsp) {
      log_info("latentd serving without LSP; stop it with SIGINT or SIGTERM");
    } else if (daemon_options.socket_path.empty()) {
      attach(open_stdio_connection(loop), true);
      log_info("latentd serving LSP on stdio");
    } else {
      listener = std::make_unique<SocketListener>(loop, daemon_options.socket_path, [&](std::unique_ptr<Connection> c) {
        log_info("client connected on " + daemon_options.socket_path.string());
        attach(std::move(c), false);
      });
      log_info("latentd listening on " + daemon_options.socket_path.string());
    }
  } catch (const std::exception& e) {
    log_error(e.what());
    finish(1);
    loop.run();
    return 1;
  }
  loop.run();
  clients.clear();
  services.clear();
  flush_log();
  return exit_code;
}

int run_bridge(const std::filesystem::path& socket_path) {
  std::signal(SIGPIPE, SIG_IGN);
  EventLoop loop;
  std::unique_ptr<Connection> editor, server;
  try {
    server = connect_socket(loop, socket_path);
    editor = open_stdio_connection(loop);
  } catch (const std::exception& e) {
    log_error(e.what());
    return 1;
  }
  bool closing = false;
  int open = 2;
  auto finish = [&](const std::string& why) {
    if (closing) return;
    closing = true;
    log_info("bridge to " + socket_path.string() + " closing: " + why);
    auto done = [&] {
      if (--open == 0) loop.stop();
    };
    editor->close(done);
    server->close(done);
  };
  editor->start([&](std::string_view bytes) { server->write(std::string(bytes)); },
                [&](const std::string& reason) { finish("editor: " + reason); });
  server->start([&](std::string_view bytes) { editor->write(std::string(bytes)); },
                [&](const std::string& reason) { finish("latentd: " + reason); });
  loop.run();
  return 0;
}

}  // namespace latent::daemon
