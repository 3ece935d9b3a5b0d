// The CLI's way to a running shared latentd (the systemd unit's, or any `latentd --socket`): a
// small blocking LSP client on its unix socket. `latent status`, `latent ask` and `latent doctor`
// use it, so that they see the daemon's state and reuse its loaded model, index and KV cache
// instead of loading everything again in the CLI's own process.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"

namespace latent::cli {

// $XDG_RUNTIME_DIR/latent/latentd.sock, where packaging/systemd/latentd.service listens; empty
// when XDG_RUNTIME_DIR is unset.
std::filesystem::path default_socket_path();

// The socket a command should use: --socket when given, else the default one when it exists;
// nothing with --no-daemon or when neither applies.
std::optional<std::filesystem::path> daemon_socket(const ParsedArgs& args);
// The --socket and --no-daemon options of the commands that use a daemon.
std::vector<OptionSpec> daemon_options();

// Process ids of the latentd processes of this user (editors' stdio daemons and shared ones).
std::vector<int> running_latentd_pids();

class DaemonClient {
 public:
  using Json = nlohmann::json;
  // Connects and sends initialize (with `root` as the workspace folder when given) and
  // initialized. Throws std::runtime_error naming the socket and what failed.
  DaemonClient(const std::filesystem::path& socket, const std::filesystem::path& root = {});
  // Ends the session (shutdown, exit); the daemon keeps running.
  ~DaemonClient();
  DaemonClient(const DaemonClient&) = delete;
  DaemonClient& operator=(const DaemonClient&) = delete;

  // Sends a request and waits for its result; notifications that arrive meanwhile go to
  // `on_notification` (method, params). Throws std::runtime_error on an error response, a
  // closed connection, or no answer within `timeout`.
  Json request(const std::string& method, const Json& params,
               const std::function<void(const std::string&, const Json&)>& on_notification = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  bool send(const Json& message);
  int fd_ = -1;
  int next_id_ = 1;
  std::filesystem::path socket_;
  struct Decoder;
  std::unique_ptr<Decoder> decoder_;
};

}  // namespace latent::cli
