// Who may stand at either end of latentd's unix socket. The socket lets anyone who can open it
// drive the daemon (read the indexed code, run the model), and a client sends its documents to
// whatever listens there, so both sides check that the other one is the same user:
//  - the socket's directory must not be writable by other users (they could put their own
//    socket in its place), unless it is sticky like /tmp and the socket itself is ours;
//  - the directory latentd creates for its socket is 0700;
//  - an existing path is only replaced when it is a socket of ours that nobody listens on;
//  - after connecting, each side asks the kernel for the peer's uid (SO_PEERCRED).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace latent::daemon {

// Why the directory holding a socket cannot be trusted, or nullopt. `socket_ours` says the
// socket in it belongs to us (what a sticky, world-writable directory such as /tmp needs).
std::optional<std::string> socket_dir_problem(const std::filesystem::path& dir, bool socket_ours);

// Why the existing path cannot be our socket (not a socket, another user's, its directory
// untrusted), or nullopt. A missing path has no problem of its own; its directory is checked.
std::optional<std::string> socket_path_problem(const std::filesystem::path& socket);

// Creates the socket's missing parent directories with mode 0700, then checks the directory.
// Throws std::runtime_error naming the directory and what to do.
void prepare_socket_dir(const std::filesystem::path& socket);

// Why the process at the other end of a connected unix socket is not us (another uid), or
// nullopt. Only the effective uid is compared: a same-user process could attach with ptrace
// anyway, and any other user must not.
std::optional<std::string> peer_problem(int fd);

// The uid peer_problem() and the directory checks trust (the effective uid).
uid_t trusted_uid();

}  // namespace latent::daemon
