// The `latent` CLI's subcommand model: each subcommand declares its options once, and the
// parser, the error messages and `latent <cmd> --help` are all derived from that declaration.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace latent::daemon {
struct Options;
}

namespace latent::cli {

// A user error on the command line: printed with the command's usage, exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string name;        // without the leading "--"
  std::string value_name;  // empty: a flag that takes no value
  std::string help;
};

class ParsedArgs {
 public:
  bool has(std::string_view name) const;
  std::optional<std::string> get(std::string_view name) const;
  std::string get_or(std::string_view name, std::string fallback) const;
  std::string require(std::string_view name) const;  // throws UsageError naming the option
  int64_t get_int(std::string_view name, int64_t fallback) const;
  double get_double(std::string_view name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

  std::map<std::string, std::string, std::less<>> values_;
  std::vector<std::string> positional_;
};

struct Command {
  std::string name;
  std::string summary;   // one line, for `latent --help`
  std::string synopsis;  // e.g. "--model FILE (--text TEXT | --file PATH) [--json]"
  std::string details;   // free text after the option list; may be empty
  std::vector<OptionSpec> options;
  int (*run)(const ParsedArgs&) = nullptr;
};

// Where a command runs the model: --backend, --device and --gpu-layers, the settings of the same
// names (server/settings.h) with their defaults and checks; "auto" is resolved.
struct BackendChoice {
  std::string backend = "cpu";  // "cpu" or "vulkan"
  int device = -1;
  int gpu_layers = -1;
};
std::vector<OptionSpec> backend_options();
BackendChoice backend_choice(const ParsedArgs& args);  // throws UsageError on a bad value

// Options named after latentd's settings (server/settings.h: flag, value name, description and
// default from the schema), and applying those given to `o` (UsageError for a bad value).
std::vector<OptionSpec> setting_options(std::span<const std::string_view> keys);
void apply_setting_options(const ParsedArgs& args, std::span<const std::string_view> keys, daemon::Options& o);

// Parses args (everything after the subcommand name). Throws UsageError on unknown options,
// a missing value, or a repeated option.
ParsedArgs parse_args(const Command& cmd, const std::vector<std::string>& args);
std::string command_help(const Command& cmd);

// Every subcommand, in the order `latent --help` lists them.
const std::vector<Command>& all_commands();

}  // namespace latent::cli
