// The shared daemon's socket (issue 20, items 2 and 3): an existing file that is not a socket is
// never removed, directories other users can write are refused (sticky ones such as /tmp only
// for a socket of ours), directories latentd creates are 0700, and a peer of another uid is
// recognised through SO_PEERCRED.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "common/temp_dir.h"
#include "server/event_loop.h"
#include "server/socket_trust.h"
#include "server/transport.h"

namespace latent::daemon {
namespace {

namespace fs = std::filesystem;

std::string what_listening_throws(const fs::path& path) {
  EventLoop loop;
  try {
    SocketListener listener(loop, path, [](std::unique_ptr<Connection>) {});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// A bound unix socket, listening or (after close) stale.
int bind_socket(const fs::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  EXPECT_EQ(::listen(fd, 4), 0);
  return fd;
}

TEST(SocketTrust, ARegularFileInTheSocketsPlaceIsKept) {
  latent::testing::TempDir dir;
  fs::path path = dir.file("latentd.sock");
  std::ofstream(path) << "precious";
  std::string error = what_listening_throws(path);
  EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST(SocketTrust, AStaleSocketOfOursIsReplaced) {
  latent::testing::TempDir dir;
  fs::path path = dir.file("latentd.sock");
  ::close(bind_socket(path));  // bound, nobody listens any more
  EXPECT_EQ(what_listening_throws(path), "");
}

TEST(SocketTrust, CreatedDirectoriesArePrivate) {
  latent::testing::TempDir dir;
  fs::path path = dir.path() / "a" / "b" / "latentd.sock";
  mode_t old = ::umask(0);  // even with a permissive umask
  std::string error = what_listening_throws(path);
  ::umask(old);
  EXPECT_EQ(error, "");
  EXPECT_EQ(mode_of(dir.path() / "a"), 0700u);
  EXPECT_EQ(mode_of(dir.path() / "a" / "b"), 0700u);
}

TEST(SocketTrust, DirectoriesOthersCanWriteAreRefused) {
  latent::testing::TempDir dir;
  fs::path shared = dir.path() / "shared";
  fs::create_directory(shared);
  ::chmod(shared.c_str(), 0777);
  std::string error = what_listening_throws(shared / "latentd.sock");
  EXPECT_NE(error.find("writable by other users"), std::string::npos) << error;
  ::chmod(shared.c_str(), 0770);
  EXPECT_NE(what_listening_throws(shared / "latentd.sock"), "");

  // The client refuses too, before connecting to whatever listens there.
  int fd = bind_socket(shared / "planted.sock");
  EventLoop loop;
  try {
    connect_socket(loop, shared / "planted.sock");
    ADD_FAILURE() << "connected through a directory other users can write";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("writable by other users"), std::string::npos) << e.what();
  }
  ::close(fd);

  // Sticky like /tmp: others cannot remove or rename our socket, so it is accepted.
  ::chmod(shared.c_str(), 01777);
  EXPECT_EQ(what_listening_throws(shared / "latentd.sock"), "");
}

TEST(SocketTrust, AnotherUsersDirectoryOrSocketIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give files to another uid";
  latent::testing::TempDir dir;
  fs::path theirs = dir.path() / "theirs";
  fs::create_directory(theirs);
  ASSERT_EQ(::chown(theirs.c_str(), 4242, 4242), 0);
  EXPECT_NE(socket_dir_problem(theirs, true).value_or("").find("belongs to uid 4242"), std::string::npos);

  fs::path sock = dir.file("their.sock");
  int fd = bind_socket(sock);
  ASSERT_EQ(::chown(sock.c_str(), 4242, 4242), 0);
  EXPECT_NE(socket_path_problem(sock).value_or("").find("belongs to uid 4242"), std::string::npos);
  ::close(fd);
}

TEST(SocketTrust, PeerCredentialsNameAnotherUid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  latent::testing::TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  fs::path sock = dir.file("peer.sock");
  int server = bind_socket(sock);
  ::chmod(sock.c_str(), 0777);

  auto connect_as = [&](uid_t uid) {
    pid_t child = ::fork();
    if (child == 0) {
      if (uid != ::geteuid() && ::setuid(uid) != 0) _exit(2);
      int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(3);
      char byte;
      (void)::read(fd, &byte, 1);  // until the parent has looked
      _exit(0);
    }
    int conn = ::accept(server, nullptr, nullptr);
    std::optional<std::string> problem = peer_problem(conn);
    ::close(conn);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return problem;
  };
  EXPECT_EQ(connect_as(::geteuid()), std::nullopt);
  std::optional<std::string> other = connect_as(65534);
  ASSERT_TRUE(other);
  EXPECT_NE(other->find("uid 65534"), std::string::npos) << *other;
  ::close(server);
}

}  // namespace
}  // namespace latent::daemon
