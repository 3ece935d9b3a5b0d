// latentd's log: one line per event to a file (XDG_STATE_HOME/latent/latentd.log, or
// ~/.local/state/latent/latentd.log) and to stderr, never to stdout, which belongs to the LSP
// stream. Thread-safe; lines carry a timestamp, the level and the thread's role.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace latent::daemon {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

std::optional<LogLevel> log_level_from_name(std::string_view name);  // debug|info|warn|error
std::string_view log_level_name(LogLevel level);

// The default log file: $XDG_STATE_HOME/latent/latentd.log, else ~/.local/state/latent/latentd.log.
std::filesystem::path default_log_file();

struct LogOptions {
  LogLevel level = LogLevel::Info;
  std::filesystem::path file;  // empty: no file
  bool to_stderr = true;
};

// (Re)configures the process-wide log. Returns an error message when the file cannot be
// opened (logging then continues on stderr only).
std::optional<std::string> configure_log(const LogOptions& options);
void log(LogLevel level, std::string_view message);
bool log_enabled(LogLevel level);
void flush_log();

inline void log_debug(std::string_view m) { log(LogLevel::Debug, m); }
inline void log_info(std::string_view m) { log(LogLevel::Info, m); }
inline void log_warn(std::string_view m) { log(LogLevel::Warn, m); }
inline void log_error(std::string_view m) { log(LogLevel::Error, m); }

}  // namespace latent::daemon
