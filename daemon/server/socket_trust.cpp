#include "server/socket_trust.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace latent::daemon {

namespace fs = std::filesystem;

uid_t trusted_uid() { return ::geteuid(); }

std::optional<std::string> socket_dir_problem(const fs::path& dir_in, bool socket_ours) {
  fs::path dir = dir_in.empty() ? fs::path(".") : dir_in;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return dir.string() + ": " + std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) return dir.string() + " is not a directory";
  if (st.st_uid != trusted_uid() && st.st_uid != 0)
    return dir.string() + " belongs to uid " + std::to_string(st.st_uid) +
           ", not to you; put the socket in a directory of your own (e.g. $XDG_RUNTIME_DIR/latent)";
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) == 0) return std::nullopt;
  // Others may create files here; only the sticky bit stops them renaming or deleting ours.
  if ((st.st_mode & S_ISVTX) && socket_ours) return std::nullopt;
  return dir.string() + " is writable by other users, who could replace the socket; use a directory only you can write "
                        "(chmod go-w, or e.g. $XDG_RUNTIME_DIR/latent)";
}

std::optional<std::string> socket_path_problem(const fs::path& socket) {
  struct stat st {};
  if (::lstat(socket.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return socket.string() + " exists and is not a socket; refusing to use or remove it (choose another --socket path)";
    if (st.st_uid != trusted_uid())
      return socket.string() + " belongs to uid " + std::to_string(st.st_uid) + ", not to you";
  }
  // From here on the socket is ours, or missing and about to be created by us. A missing
  // directory holds nothing to distrust (connecting fails with its own message).
  std::error_code ec;
  if (!fs::exists(socket.parent_path().empty() ? fs::path(".") : socket.parent_path(), ec)) return std::nullopt;
  return socket_dir_problem(socket.parent_path(), /*socket_ours=*/true);
}

void prepare_socket_dir(const fs::path& socket) {
  fs::path dir = socket.parent_path();
  if (!dir.empty()) {
    // Missing directories are made one by one so that each is 0700 whatever the umask.
    fs::path partial;
    for (const auto& part : dir) {
      partial /= part;
      if (::mkdir(partial.c_str(), 0700) == 0) {
        ::chmod(partial.c_str(), 0700);
      } else if (errno != EEXIST) {
        throw std::runtime_error("cannot create " + partial.string() + " for the socket: " + std::strerror(errno));
      }
    }
  }
  if (auto problem = socket_path_problem(socket)) throw std::runtime_error(*problem);
}

std::optional<std::string> peer_problem(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return std::string("cannot tell who is at the other end of the socket: ") + std::strerror(errno);
  if (cred.uid != trusted_uid())
    return "the process at the other end of the socket (pid " + std::to_string(cred.pid) + ") runs as uid " +
           std::to_string(cred.uid) + ", not as you";
  return std::nullopt;
}

}  // namespace latent::daemon
