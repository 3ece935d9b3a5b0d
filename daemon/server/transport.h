// Byte streams between latentd and its clients, on the event loop: stdin/stdout (pipes, a
// terminal, or regular files, which epoll cannot watch and are read on a helper thread) and
// unix-socket connections, plus the listening socket itself. Writes are queued without
// blocking the loop; close() flushes what is queued first (bounded by a timeout, so a client
// that stopped reading cannot keep the daemon alive).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "server/event_loop.h"

namespace latent::daemon {

class Connection {
 public:
  using OnData = std::function<void(std::string_view bytes)>;
  using OnClosed = std::function<void(const std::string& reason)>;

  virtual ~Connection() = default;
  // Starts reading; on_closed runs once when the peer goes away (EOF or error).
  virtual void start(OnData on_data, OnClosed on_closed) = 0;
  virtual void write(std::string bytes) = 0;
  // Stops reading, flushes queued writes (at most `flush_ms`), closes, then runs done.
  virtual void close(std::function<void()> done, uint64_t flush_ms = 2000) = 0;
};

// stdin for reading and stdout for writing. Throws std::runtime_error naming the descriptor.
std::unique_ptr<Connection> open_stdio_connection(EventLoop& loop);

// Connects to a latentd listening on the unix socket at `path`. Throws std::runtime_error
// naming the path (and suggesting how to start the daemon) when nothing listens there, and
// when the socket, its directory or the listening process is not the user's (socket_trust.h).
std::unique_ptr<Connection> connect_socket(EventLoop& loop, const std::filesystem::path& path);

class SocketListener {
 public:
  using OnConnection = std::function<void(std::unique_ptr<Connection>)>;
  // Listens on a unix socket at `path` (missing parent directories created 0700, the socket
  // 0600; socket_trust.h says what is refused). A stale socket of ours left by a dead daemon is
  // replaced; a live one, or any other file, is an error. Connections from another uid are
  // closed at once. Throws std::runtime_error.
  SocketListener(EventLoop& loop, std::filesystem::path path, OnConnection on_connection);
  ~SocketListener();
  void close();
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Impl;
  std::filesystem::path path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace latent::daemon
