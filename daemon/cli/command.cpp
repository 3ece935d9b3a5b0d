#include "cli/command.h"

#include <charconv>
#include <sstream>

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

std::vector<OptionSpec> backend_options() {
  return {
      {"backend", "NAME", "cpu (default) or vulkan"},
      {"device", "N", "GPU backends: device index from `latent devices` (default: the best one)"},
      {"gpu-layers", "N", "GPU backends: run the first N layers on the device, the rest on the CPU "
                          "(default: as many as fit)"},
  };
}

BackendChoice backend_choice(const ParsedArgs& args) {
  BackendChoice c;
  c.backend = args.get_or("backend", "cpu");
  c.device = static_cast<int>(args.get_int("device", -1));
  c.gpu_layers = static_cast<int>(args.get_int("gpu-layers", -1));
  if (c.device < -1) throw UsageError("--device must be a device index from `latent devices`");
  if (c.gpu_layers < -1) throw UsageError("--gpu-layers must be 0 or more");
  if (c.backend == "cpu" && (args.has("device") || args.has("gpu-layers")))
    throw UsageError("--device and --gpu-layers choose a GPU; add --backend vulkan");
  return c;
}

}  // namespace latent::cli
