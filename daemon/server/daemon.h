// latentd as a process: the event loop, the Assistant with the real engine and index, and one
// LSP session on stdio or one per connection on a unix socket. Returns when the (stdio) client
// sends exit or goes away, or on SIGINT/SIGTERM; indexes are closed (their writes committed)
// and the log flushed before it returns.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <vector>
#include <string>

#include "server/log.h"
#include "server/options.h"
#include "server/ports.h"

namespace latent::daemon {

class Assistant;

// Something latentd serves beside LSP (the HTTP API, daemon/http): made once the Assistant
// exists, stopped before it shuts down; runs on its own threads.
class Service {
 public:
  virtual ~Service() = default;
  virtual void stop() = 0;
};
// Throws std::runtime_error (the daemon then exits with 1).
using ServiceFactory = std::function<std::unique_ptr<Service>(Assistant& assistant)>;

struct DaemonOptions {
  Options options;
  std::filesystem::path socket_path;  // empty: speak LSP on stdin/stdout
  bool lsp = true;                    // false: no LSP at all; runs until SIGINT/SIGTERM
  std::vector<ServiceFactory> services;
};

// The factories latentd uses: the engine for models, the repository indexer for workspaces.
GeneratorFactory default_generator_factory();
IndexFactory default_index_factory();

// Runs until the end described above. Returns the process exit code (LSP: 0 after
// shutdown + exit, 1 for exit without shutdown; 0 when the client went away; 1 on a setup error).
int run_daemon(const DaemonOptions& options, GeneratorFactory generators, IndexFactory indexes);

// `latentd --connect PATH`: relays stdin/stdout to the shared daemon's socket, for editors that
// can only start a program. Returns when either side closes (0), or 1 when PATH does not answer.
int run_bridge(const std::filesystem::path& socket_path);

}  // namespace latent::daemon
