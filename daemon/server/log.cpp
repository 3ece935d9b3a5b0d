#include "server/log.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <system_error>

namespace latent::daemon {

namespace {

struct LogState {
  std::mutex mu;
  LogOptions options;
  std::FILE* file = nullptr;
};

LogState& state() {
  static LogState s;
  return s;
}

}  // namespace

std::optional<LogLevel> log_level_from_name(std::string_view name) {
  if (name == "debug") return LogLevel::Debug;
  if (name == "info") return LogLevel::Info;
  if (name == "warn" || name == "warning") return LogLevel::Warn;
  if (name == "error") return LogLevel::Error;
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "info";
}

std::filesystem::path default_log_file() {
  std::filesystem::path base;
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home) base = std::filesystem::path(home) / ".local" / "state";
  else base = std::filesystem::temp_directory_path();
  return base / "latent" / "latentd.log";
}

std::optional<std::string> configure_log(const LogOptions& options) {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  if (s.file) {
    std::fclose(s.file);
    s.file = nullptr;
  }
  s.options = options;
  if (options.file.empty()) return std::nullopt;
  std::error_code ec;
  std::filesystem::create_directories(options.file.parent_path(), ec);
  s.file = std::fopen(options.file.c_str(), "a");
  if (!s.file) {
    s.options.file.clear();
    return "cannot open log file " + options.file.string() + " for appending" +
           (ec ? " (" + ec.message() + ")" : std::string()) + "; logging to stderr only";
  }
  return std::nullopt;
}

bool log_enabled(LogLevel level) {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  return level >= s.options.level;
}

void log(LogLevel level, std::string_view message) {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  if (level < s.options.level) return;
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line = std::string(stamp) + "." + (ms < 10 ? "00" : ms < 100 ? "0" : "") + std::to_string(ms) + "Z " +
                     std::string(log_level_name(level)) + " " + std::string(message) + "\n";
  if (s.options.to_stderr) std::fwrite(line.data(), 1, line.size(), stderr);
  if (s.file) {
    std::fwrite(line.data(), 1, line.size(), s.file);
    if (level >= LogLevel::Warn) std::fflush(s.file);
  }
}

void flush_log() {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  if (s.file) std::fflush(s.file);
  std::fflush(stderr);
}

}  // namespace latent::daemon
