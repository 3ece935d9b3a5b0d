#include "cli/daemon_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "lsp/framing.h"
#include "lsp/jsonrpc.h"
#include "server/socket_trust.h"
#include "server/uri.h"

namespace latent::cli {

namespace fs = std::filesystem;

fs::path default_socket_path() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (!runtime || !*runtime) return {};
  return fs::path(runtime) / "latent" / "latentd.sock";
}

std::optional<fs::path> daemon_socket(const ParsedArgs& args) {
  if (args.has("no-daemon")) return std::nullopt;
  if (auto s = args.get("socket")) return fs::path(*s);
  fs::path d = default_socket_path();
  std::error_code ec;
  if (!d.empty() && fs::exists(d, ec)) return d;
  return std::nullopt;
}

std::vector<OptionSpec> daemon_options() {
  return {
      {"socket", "PATH", "the shared latentd's socket (default: $XDG_RUNTIME_DIR/latent/latentd.sock when it exists)"},
      {"no-daemon", "", "do the work in this process even when a shared latentd runs"},
  };
}

std::vector<int> running_latentd_pids() {
  std::vector<int> out;
  std::error_code ec;
  uid_t me = ::getuid();
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream comm(entry.path() / "comm");
    std::string command;
    std::getline(comm, command);
    if (command != "latentd") continue;
    std::ifstream status(entry.path() / "status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("Uid:", 0) == 0 && std::strtoul(line.c_str() + 4, nullptr, 10) == me) out.push_back(std::stoi(name));
  }
  return out;
}

struct DaemonClient::Decoder {
  lsp::FrameDecoder frames;
};

DaemonClient::DaemonClient(const fs::path& socket, const fs::path& root)
    : socket_(socket), decoder_(std::make_unique<Decoder>()) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.string().size() >= sizeof(addr.sun_path)) throw std::runtime_error(socket.string() + ": socket path too long");
  std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
  if (auto problem = daemon::socket_path_problem(socket)) throw std::runtime_error("will not use latentd: " + *problem);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string why = std::strerror(errno);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("no latentd answers on " + socket.string() + " (" + why +
                             "); start one with `systemctl --user start latentd` or `latentd --socket PATH`");
  }
  if (auto problem = daemon::peer_problem(fd_)) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("will not talk to " + socket.string() + ": " + *problem);
  }
  Json params = {{"processId", ::getpid()}, {"clientInfo", {{"name", "latent CLI"}}}, {"capabilities", Json::object()}};
  if (!root.empty()) {
    std::string uri = daemon::path_to_uri(root);
    params["rootUri"] = uri;
    params["workspaceFolders"] = Json::array({Json{{"uri", uri}, {"name", root.filename().string()}}});
  }
  request("initialize", params);
  send(lsp::make_notification("initialized", Json::object()));
}

DaemonClient::~DaemonClient() {
  if (fd_ < 0) return;
  try {
    request("shutdown", nullptr, {}, std::chrono::seconds(2));
    send(lsp::make_notification("exit", nullptr));
  } catch (const std::exception&) {
    // The daemon went away first; nothing to end.
  }
  ::close(fd_);
}

bool DaemonClient::send(const Json& message) {
  std::string bytes = lsp::encode_frame(message.dump());
  for (size_t off = 0; off < bytes.size();) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

DaemonClient::Json DaemonClient::request(const std::string& method, const Json& params,
                                         const std::function<void(const std::string&, const Json&)>& on_notification,
                                         std::chrono::milliseconds timeout) {
  int id = next_id_++;
  if (!send(lsp::make_request(id, method, params)))
    throw std::runtime_error("latentd on " + socket_.string() + " closed the connection");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    while (auto ev = decoder_->frames.next()) {
      if (ev->kind != lsp::FrameEvent::Kind::Message) continue;
      if (lsp::json_nests_deeper_than(ev->body, lsp::kMaxJsonDepth)) continue;
      Json m = Json::parse(ev->body, nullptr, false);
      if (!m.is_object()) continue;
      if (m.contains("method")) {
        // The CLI advertises no capabilities, so a request to it is declined.
        if (m.contains("id"))
          send(lsp::make_error_response(m["id"], {lsp::ErrorCode::MethodNotFound, "the latent CLI answers no requests"}));
        else if (on_notification)
          on_notification(m["method"].get<std::string>(), m.value("params", Json()));
        continue;
      }
      if (!m.contains("id") || m["id"] != id) continue;
      if (m.contains("error"))
        throw std::runtime_error(method + " failed: " + m["error"].value("message", m["error"].dump()));
      return m.value("result", Json());
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    pollfd p{fd_, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
      throw std::runtime_error("latentd on " + socket_.string() + " did not answer " + method + " in time");
    char buf[65536];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("latentd on " + socket_.string() + " closed the connection");
    decoder_->frames.feed(std::string_view(buf, static_cast<size_t>(n)));
  }
}

}  // namespace latent::cli
