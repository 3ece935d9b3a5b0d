#include "server/options.h"

#include <algorithm>

namespace latent::daemon {

bool Options::language_enabled(const std::string& language_id) const {
  if (enabled_languages.empty()) return true;
  return std::find(enabled_languages.begin(), enabled_languages.end(), language_id) != enabled_languages.end() ||
         std::find(enabled_languages.begin(), enabled_languages.end(), "*") != enabled_languages.end();
}

namespace {

bool read_int(const nlohmann::json& v, const std::string& key, int64_t lo, int64_t hi, int64_t& out,
              std::vector<std::string>& problems) {
  if (!v.is_number_integer() && !v.is_number_unsigned()) {
    problems.push_back("setting " + key + ": expected an integer, got " + v.dump());
    return false;
  }
  int64_t x = v.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), INT64_MAX)) : v.get<int64_t>();
  if (x < lo || x > hi) {
    problems.push_back("setting " + key + ": " + std::to_string(x) + " is outside " + std::to_string(lo) + ".." +
                       std::to_string(hi));
    return false;
  }
  out = x;
  return true;
}

}  // namespace

std::vector<std::string> apply_settings(const nlohmann::json& settings, Options& o) {
  std::vector<std::string> problems;
  if (settings.is_null()) return problems;
  if (!settings.is_object()) {
    problems.push_back("settings: expected an object, got " + settings.dump());
    return problems;
  }
  for (const auto& [key, v] : settings.items()) {
    if (v.is_null()) continue;
    int64_t n = 0;
    if (key == "model" || key == "modelPath") {
      if (v.is_string()) o.model_path = v.get<std::string>();
      else problems.push_back("setting model: expected a file path string, got " + v.dump());
    } else if (key == "backend") {
      std::string b = v.is_string() ? v.get<std::string>() : std::string();
      // "auto" lets the daemon choose; it chooses the CPU backend, the one every machine has.
      if (b == "auto") o.backend = "cpu";
      else if (b == "cpu" || b == "vulkan") o.backend = b;
      else problems.push_back("setting backend: expected \"cpu\", \"vulkan\" or \"auto\", got " + v.dump());
    } else if (key == "device") {
      if (read_int(v, key, -1, 64, n, problems)) o.device = static_cast<int>(n);
    } else if (key == "gpuLayers") {
      if (read_int(v, key, -1, 100000, n, problems)) o.gpu_layers = static_cast<int>(n);
    } else if (key == "threads") {
      if (read_int(v, key, 0, 1024, n, problems)) o.engine_threads = static_cast<int>(n);
    } else if (key == "contextBudget") {
      if (read_int(v, key, 0, 1 << 20, n, problems)) o.context_budget = static_cast<int32_t>(n);
    } else if (key == "debounceMs") {
      if (read_int(v, key, 0, 10000, n, problems)) o.debounce_ms = static_cast<int32_t>(n);
    } else if (key == "maxLines") {
      if (read_int(v, key, 1, 1000, n, problems)) o.max_lines = static_cast<int32_t>(n);
    } else if (key == "maxTokens") {
      if (read_int(v, key, 1, 8192, n, problems)) o.max_tokens = static_cast<int32_t>(n);
    } else if (key == "askMaxTokens") {
      if (read_int(v, key, 1, 32768, n, problems)) o.ask_max_tokens = static_cast<int32_t>(n);
    } else if (key == "askSources") {
      if (read_int(v, key, 1, 100, n, problems)) o.ask_sources = static_cast<int32_t>(n);
    } else if (key == "indexOnStartup") {
      if (v.is_boolean()) o.index_on_startup = v.get<bool>();
      else problems.push_back("setting indexOnStartup: expected true or false, got " + v.dump());
    } else if (key == "enabledLanguages" || key == "languages") {
      bool ok = v.is_array() && std::all_of(v.begin(), v.end(), [](const nlohmann::json& e) { return e.is_string(); });
      if (ok) o.enabled_languages = v.get<std::vector<std::string>>();
      else problems.push_back("setting enabledLanguages: expected an array of language ids, got " + v.dump());
    } else {
      problems.push_back("unknown setting " + key + " (ignored)");
    }
  }
  return problems;
}

}  // namespace latent::daemon
