#include "server/transport.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "server/log.h"
#include "server/socket_trust.h"

namespace latent::daemon {

namespace {

union AnyStream {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_pipe_t pipe;
  uv_tty_t tty;
};

struct WriteReq {
  uv_write_t req;
  std::string data;
  std::function<void(int)> done;
};

// Opens a libuv stream over an inherited descriptor; nullptr when it is a regular file.
AnyStream* open_fd_stream(uv_loop_t* loop, int fd, bool readable) {
  uv_handle_type type = uv_guess_handle(fd);
  auto* s = new AnyStream();
  int rc = 0;
  if (type == UV_TTY) {
    rc = uv_tty_init(loop, &s->tty, fd, readable ? 1 : 0);
  } else if (type == UV_NAMED_PIPE || type == UV_TCP) {
    rc = uv_pipe_init(loop, &s->pipe, 0);
    if (rc == 0) rc = uv_pipe_open(&s->pipe, fd);
  } else {
    delete s;
    if (type == UV_FILE) return nullptr;
    throw std::runtime_error("file descriptor " + std::to_string(fd) + " is neither a pipe, a terminal nor a file");
  }
  if (rc != 0) {
    delete s;
    throw std::runtime_error("cannot use file descriptor " + std::to_string(fd) + ": " + uv_strerror(rc));
  }
  return s;
}

void close_stream(AnyStream* s) {
  if (!s) return;
  if (uv_is_closing(&s->handle)) return;
  uv_close(&s->handle, [](uv_handle_t* h) { delete reinterpret_cast<AnyStream*>(h); });
}

// A connection over a readable and a writable side, each a libuv stream or (for regular files)
// plain descriptors. The input and output may be the same stream (sockets).
class StreamConnection final : public Connection {
 public:
  StreamConnection(EventLoop& loop, AnyStream* in, AnyStream* out, int in_fd, int out_fd)
      : loop_(loop), in_(in), out_(out), in_fd_(in_fd), out_fd_(out_fd) {
    state_ = std::make_shared<State>();
  }
  ~StreamConnection() override {
    state_->alive = false;
    // Reads of a regular file do not block, so the reader sees `alive` soon.
    if (reader_.joinable()) reader_.join();
    if (out_ != in_) close_stream(out_);
    close_stream(in_);
  }

  void start(OnData on_data, OnClosed on_closed) override {
    state_->on_data = std::move(on_data);
    state_->on_closed = std::move(on_closed);
    if (in_) {
      in_->handle.data = state_.get();
      int rc = uv_read_start(
          &in_->stream,
          [](uv_handle_t*, size_t, uv_buf_t* buf) {
            static thread_local char buffer[64 * 1024];
            *buf = uv_buf_init(buffer, sizeof buffer);
          },
          [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
            auto* st = static_cast<State*>(s->data);
            if (n > 0) {
              st->on_data(std::string_view(buf->base, static_cast<size_t>(n)));
            } else if (n < 0) {
              uv_read_stop(s);
              st->closed_by_peer(n == UV_EOF ? "end of input" : std::string("read error: ") + uv_strerror(static_cast<int>(n)));
            }
          });
      if (rc != 0) throw std::runtime_error(std::string("cannot read from the client: ") + uv_strerror(rc));
    } else {
      // A regular file: epoll cannot watch it, so a helper thread reads and posts.
      auto state = state_;
      EventLoop* loop = &loop_;
      int fd = in_fd_;
      reader_ = std::thread([state, loop, fd] {
        std::vector<char> buf(64 * 1024);
        while (state->alive) {
          ssize_t n = ::read(fd, buf.data(), buf.size());
          if (n > 0) {
            loop->post([state, data = std::string(buf.data(), static_cast<size_t>(n))] {
              if (state->alive) state->on_data(data);
            });
            continue;
          }
          if (n < 0 && errno == EINTR) continue;
          std::string reason = n == 0 ? "end of input" : std::string("read error: ") + std::strerror(errno);
          loop->post([state, reason] {
            if (state->alive) state->closed_by_peer(reason);
          });
          return;
        }
      });
    }
  }

  void write(std::string bytes) override {
    if (state_->write_failed || closing_) return;
    if (!out_) {
      // Regular file: writes do not block for long.
      size_t off = 0;
      while (off < bytes.size()) {
        ssize_t n = ::write(out_fd_, bytes.data() + off, bytes.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          state_->write_failed = true;
          log_error(std::string("cannot write to the client: ") + std::strerror(errno));
          return;
        }
        off += static_cast<size_t>(n);
      }
      return;
    }
    auto* w = new WriteReq();
    w->data = std::move(bytes);
    w->req.data = w;
    ++pending_writes_;
    auto st = state_;
    w->done = [this, st](int status) {
      if (status < 0 && !st->write_failed) {
        st->write_failed = true;
        log_warn(std::string("write to the client failed: ") + uv_strerror(status));
      }
      if (!st->alive) return;
      --pending_writes_;
      if (closing_ && pending_writes_ == 0) finish_close();
    };
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, &out_->stream, &buf, 1, [](uv_write_t* req, int status) {
      auto* w = static_cast<WriteReq*>(req->data);
      auto done = std::move(w->done);
      delete w;
      done(status);
    });
    if (rc != 0) {
      --pending_writes_;
      delete w;
      state_->write_failed = true;
      log_warn(std::string("write to the client failed: ") + uv_strerror(rc));
    }
  }

  void close(std::function<void()> done, uint64_t flush_ms) override {
    if (closing_) return;
    closing_ = true;
    on_closed_ = std::move(done);
    if (in_ && !uv_is_closing(&in_->handle)) uv_read_stop(&in_->stream);
    if (pending_writes_ == 0 || state_->write_failed) {
      finish_close();
      return;
    }
    flush_timer_ = loop_.after(flush_ms, [this] {
      log_warn("the client did not read the last replies within the flush timeout; closing anyway");
      finish_close();
    });
  }

 private:
  struct State {
    OnData on_data;
    OnClosed on_closed;
    std::atomic<bool> alive{true};
    bool peer_closed = false;
    bool write_failed = false;
    void closed_by_peer(const std::string& reason) {
      if (peer_closed) return;
      peer_closed = true;
      if (on_closed) on_closed(reason);
    }
  };

  void finish_close() {
    if (finished_) return;
    finished_ = true;
    if (flush_timer_) flush_timer_->cancel();
    if (out_ != in_) close_stream(out_);
    close_stream(in_);
    out_ = in_ = nullptr;
    if (on_closed_) {
      auto fn = std::move(on_closed_);
      fn();
    }
  }

  EventLoop& loop_;
  AnyStream* in_;
  AnyStream* out_;
  int in_fd_, out_fd_;
  std::shared_ptr<State> state_;
  std::thread reader_;
  size_t pending_writes_ = 0;
  bool closing_ = false;
  bool finished_ = false;
  std::function<void()> on_closed_;
  std::unique_ptr<EventLoop::Timer> flush_timer_;
};

}  // namespace

std::unique_ptr<Connection> open_stdio_connection(EventLoop& loop) {
  AnyStream* in = open_fd_stream(loop.uv(), 0, true);
  AnyStream* out = nullptr;
  try {
    out = open_fd_stream(loop.uv(), 1, false);
  } catch (...) {
    close_stream(in);
    throw;
  }
  return std::make_unique<StreamConnection>(loop, in, out, 0, 1);
}

struct SocketListener::Impl {
  EventLoop& loop;
  OnConnection on_connection;
  uv_pipe_t* server = nullptr;
  Impl(EventLoop& l, OnConnection cb) : loop(l), on_connection(std::move(cb)) {}
};

namespace {

// True when a daemon accepts connections on the socket at `path`.
bool socket_is_live(const std::filesystem::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

}  // namespace

std::unique_ptr<Connection> connect_socket(EventLoop& loop, const std::filesystem::path& path) {
  sockaddr_un addr{};
  if (path.string().size() >= sizeof addr.sun_path) throw std::runtime_error("socket path " + path.string() + " is too long");
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (auto problem = socket_path_problem(path)) throw std::runtime_error("will not connect to latentd: " + *problem);
  // A local connect either succeeds or fails at once, so it may block the (not yet running) loop.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string reason = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot connect to latentd at " + path.string() + ": " + reason +
                             " (start it with `systemctl --user start latentd` or `latentd --socket " + path.string() + "`)");
  }
  if (auto problem = peer_problem(fd)) {
    ::close(fd);
    throw std::runtime_error("will not talk to " + path.string() + ": " + *problem);
  }
  auto* s = new AnyStream();
  uv_pipe_init(loop.uv(), &s->pipe, 0);
  if (int rc = uv_pipe_open(&s->pipe, fd); rc != 0) {
    ::close(fd);
    close_stream(s);
    throw std::runtime_error("cannot use the connection to " + path.string() + ": " + uv_strerror(rc));
  }
  return std::make_unique<StreamConnection>(loop, s, s, -1, -1);
}

SocketListener::SocketListener(EventLoop& loop, std::filesystem::path path, OnConnection on_connection)
    : path_(std::move(path)), impl_(std::make_unique<Impl>(loop, std::move(on_connection))) {
  if (path_.string().size() >= sizeof(sockaddr_un{}.sun_path))
    throw std::runtime_error("socket path " + path_.string() + " is too long for a unix socket (" +
                             std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes at most); choose a shorter --socket path");
  // Refuses a path that is not a socket of ours, and a directory other users could write.
  prepare_socket_dir(path_);
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(path_))) {
    if (socket_is_live(path_))
      throw std::runtime_error("another latentd is already listening on " + path_.string() +
                               "; connect to it, or stop it first");
    std::filesystem::remove(path_, ec);
    log_info("removed the stale socket " + path_.string());
  }
  impl_->server = new uv_pipe_t();
  uv_pipe_init(loop.uv(), impl_->server, 0);
  impl_->server->data = impl_.get();
  // Created with a restrictive umask so that no other user can connect before the chmod.
  mode_t old_mask = ::umask(0077);
  int rc = uv_pipe_bind(impl_->server, path_.c_str());
  ::umask(old_mask);
  if (rc == 0) ::chmod(path_.c_str(), 0600);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(impl_->server), 16, [](uv_stream_t* server, int status) {
      auto* impl = static_cast<Impl*>(server->data);
      if (status < 0) {
        log_warn(std::string("accepting a connection failed: ") + uv_strerror(status));
        return;
      }
      auto* client = new AnyStream();
      uv_pipe_init(impl->loop.uv(), &client->pipe, 0);
      if (uv_accept(server, &client->stream) != 0) {
        close_stream(client);
        return;
      }
      uv_os_fd_t fd = -1;
      uv_fileno(&client->handle, &fd);
      if (auto problem = peer_problem(fd)) {
        log_warn("refused a connection: " + *problem);
        close_stream(client);
        return;
      }
      impl->on_connection(std::make_unique<StreamConnection>(impl->loop, client, client, -1, -1));
    });
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(impl_->server), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    impl_->server = nullptr;
    throw std::runtime_error("cannot listen on " + path_.string() + ": " + uv_strerror(rc));
  }
}

SocketListener::~SocketListener() { close(); }

void SocketListener::close() {
  if (!impl_->server) return;
  uv_close(reinterpret_cast<uv_handle_t*>(impl_->server), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
  impl_->server = nullptr;
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

}  // namespace latent::daemon
