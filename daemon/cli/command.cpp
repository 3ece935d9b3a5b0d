#include "cli/command.h"

#include <charconv>
#include <sstream>

#include "api/engine.h"
#include "server/settings.h"

namespace latent::cli {

bool ParsedArgs::has(std::string_view name) const { return values_.find(name) != values_.end(); }

std::optional<std::string> ParsedArgs::get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string ParsedArgs::get_or(std::string_view name, std::string fallback) const {
  auto v = get(name);
  return v ? *v : std::move(fallback);
}

std::string ParsedArgs::require(std::string_view name) const {
  auto v = get(name);
  if (!v) throw UsageError("missing required option --" + std::string(name));
  return *v;
}

int64_t ParsedArgs::get_int(std::string_view name, int64_t fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size())
    throw UsageError("--" + std::string(name) + " expects an integer, got '" + *v + "'");
  return out;
}

double ParsedArgs::get_double(std::string_view name, double fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  try {
    size_t used = 0;
    double d = std::stod(*v, &used);
    if (used == v->size()) return d;
  } catch (const std::exception&) {
  }
  throw UsageError("--" + std::string(name) + " expects a number, got '" + *v + "'");
}

ParsedArgs parse_args(const Command& cmd, const std::vector<std::string>& args) {
  ParsedArgs out;
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positional || a.size() < 3 || a.rfind("--", 0) != 0) {
      if (a == "--") {
        only_positional = true;
        continue;
      }
      out.positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec* spec = nullptr;
    for (const auto& o : cmd.options)
      if (o.name == name) spec = &o;
    if (!spec) throw UsageError("unknown option --" + name + " for 'latent " + cmd.name + "'");
    if (out.has(name)) throw UsageError("option --" + name + " given twice");
    if (spec->value_name.empty()) {
      if (inline_value) throw UsageError("option --" + name + " takes no value");
      out.values_[name] = "";
    } else if (inline_value) {
      out.values_[name] = *inline_value;
    } else {
      if (i + 1 >= args.size()) throw UsageError("option --" + name + " needs a value (" + spec->value_name + ")");
      out.values_[name] = args[++i];
    }
  }
  return out;
}

std::string command_help(const Command& cmd) {
  std::ostringstream s;
  s << "usage: latent " << cmd.name;
  if (!cmd.synopsis.empty()) s << ' ' << cmd.synopsis;
  s << "\n\n" << cmd.summary << "\n";
  if (!cmd.options.empty()) {
    s << "\noptions:\n";
    for (const auto& o : cmd.options) {
      std::string left = "  --" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
      s << left;
      if (left.size() < 28) s << std::string(28 - left.size(), ' ');
      else s << "\n" << std::string(28, ' ');
      s << o.help << "\n";
    }
  }
  s << "  --help                    show this help\n";
  if (!cmd.details.empty()) s << "\n" << cmd.details << (cmd.details.back() == '\n' ? "" : "\n");
  return s.str();
}

std::vector<OptionSpec> setting_options(std::span<const std::string_view> keys) {
  std::vector<OptionSpec> out;
  for (auto key : keys) {
    const daemon::Setting& s = *daemon::find_setting(key);
    out.push_back({std::string(s.flag), std::string(s.value_name), s.help()});
  }
  return out;
}

void apply_setting_options(const ParsedArgs& args, std::span<const std::string_view> keys, daemon::Options& o) {
  for (auto key : keys) {
    const daemon::Setting& s = *daemon::find_setting(key);
    if (auto v = args.get(s.flag))
      if (auto problem = daemon::apply_flag(s, *v, o)) throw UsageError(*problem);
  }
}

namespace {
constexpr std::string_view kBackendSettings[] = {"backend", "device", "gpuLayers"};
}  // namespace

std::vector<OptionSpec> backend_options() { return setting_options(kBackendSettings); }

BackendChoice backend_choice(const ParsedArgs& args) {
  daemon::Options o;
  apply_setting_options(args, kBackendSettings, o);
  if (o.backend == "cpu" && (args.has("device") || args.has("gpu-layers")))
    throw UsageError("--device and --gpu-layers choose a GPU; add --backend vulkan (or auto)");
  return BackendChoice{engine::resolve_backend(o.backend), o.device, o.gpu_layers};
}

}  // namespace latent::cli
