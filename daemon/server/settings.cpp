#include "server/settings.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace latent::daemon {

namespace {

constexpr std::array<std::string_view, 3> kBackends = {"auto", "cpu", "vulkan"};
constexpr std::array<std::string_view, 9> kFimTemplates = {"auto",      "deepseek", "qwen",   "codestral", "starcoder2",
                                                           "codellama", "suffix",   "infill", "none"};

// One entry per setting. Descriptions are one sentence that reads after "--flag VALUE" and in
// an editor's settings page; a special value's meaning (-1, 0, empty) belongs in it.
constexpr Setting kSettings[] = {
    {.key = "model", .flag = "model", .value_name = "FILE", .field = &Options::model_path,
     .description = "GGUF model (deepseek2 architecture) for completions and answers; empty: none, so completions "
                    "are empty and questions are answered with the ranked sources"},
    {.key = "backend", .flag = "backend", .value_name = "NAME", .field = &Options::backend,
     .description = "inference backend: auto (Vulkan when the machine has a GPU, else the CPU), cpu or vulkan",
     .choices = kBackends},
    {.key = "device", .flag = "device", .value_name = "N", .field = &Options::device,
     .description = "GPU backends: the device index `latent devices` lists; -1: the best one (a discrete GPU, "
                    "else an integrated one)",
     .min = -1, .max = 64},
    {.key = "gpuLayers", .flag = "gpu-layers", .value_name = "N", .field = &Options::gpu_layers,
     .description = "GPU backends: the first N layers run on the GPU, the rest on the CPU; -1: as many as fit",
     .min = -1, .max = 100000},
    {.key = "threads", .flag = "threads", .value_name = "N", .field = &Options::engine_threads,
     .description = "engine threads; 0: all cores", .min = 0, .max = 1024},
    {.key = "remote", .flag = "remote", .value_name = "URL", .field = &Options::remote_url,
     .description = "an OpenAI-compatible server (vLLM, SGLang, llama.cpp's server, Ollama, another latentd "
                    "--http) that runs the model instead of the model file, e.g. http://gpu-box:8000; empty: none"},
    {.key = "remoteModel", .flag = "remote-model", .value_name = "NAME", .field = &Options::remote_model,
     .description = "the remote server's model name; empty: the first one its /v1/models lists"},
    {.key = "remoteApiKeyEnv", .flag = "remote-api-key-env", .value_name = "VAR", .field = &Options::remote_api_key_env,
     .description = "environment variable of latentd holding the remote server's API key (sent as Authorization: "
                    "Bearer); empty: none"},
    {.key = "fimTemplate", .flag = "fim-template", .value_name = "NAME", .field = &Options::fim_template,
     .description = "remote completions' fill-in-the-middle layout: auto (from the model name), deepseek, qwen, "
                    "codestral, starcoder2, codellama, suffix (the server's own, OpenAI's suffix field), infill (llama.cpp's "
                    "/infill) or none (the prefix alone)",
     .choices = kFimTemplates},
    {.key = "remoteConnectTimeoutMs", .flag = "remote-connect-timeout-ms", .value_name = "N",
     .field = &Options::remote_connect_timeout_ms,
     .description = "milliseconds one connection attempt to the remote server may take", .min = 100, .max = 600000},
    {.key = "remoteTimeoutMs", .flag = "remote-timeout-ms", .value_name = "N", .field = &Options::remote_timeout_ms,
     .description = "milliseconds to wait for the remote server's next bytes before the request fails",
     .min = 100, .max = 3600000},
    {.key = "remoteRetries", .flag = "remote-retries", .value_name = "N", .field = &Options::remote_retries,
     .description = "further attempts after a connection error, with exponential backoff", .min = 0, .max = 10},
    {.key = "contextBudget", .flag = "context-budget", .value_name = "N", .field = &Options::context_budget,
     .description = "tokens of repository context (definitions, search hits, repo map) in a completion prompt",
     .min = 0, .max = 1 << 20},
    {.key = "prefixTokens", .flag = "prefix-tokens", .value_name = "N", .field = &Options::prefix_tokens,
     .description = "tokens of the current file before the cursor in a completion prompt (whole lines, starting on "
                    "a 32-line grid so that typing keeps the prompt's cached start)",
     .min = 16, .max = 1 << 20},
    {.key = "suffixTokens", .flag = "suffix-tokens", .value_name = "N", .field = &Options::suffix_tokens,
     .description = "tokens of the current file after the cursor in a completion prompt (whole lines; they are "
                    "evaluated again on every keystroke, so keep this small)",
     .min = 0, .max = 1 << 20},
    {.key = "debounceMs", .flag = "debounce-ms", .value_name = "N", .field = &Options::debounce_ms,
     .description = "milliseconds a completion request waits before the model starts; a newer request for the "
                    "same file replaces it (editors send every keystroke's request at once)",
     .min = 0, .max = 10000},
    {.key = "modelWaitMs", .flag = "model-wait-ms", .value_name = "N", .field = &Options::model_wait_ms,
     .description = "milliseconds a completion requested while the model loads waits for it (then it is answered "
                    "empty)",
     .min = 0, .max = 600000, .scope = SettingScope::flag_only},
    {.key = "maxLines", .flag = "max-lines", .value_name = "N", .field = &Options::max_lines,
     .description = "most lines of a multi-line completion", .min = 1, .max = 1000},
    {.key = "maxTokens", .flag = "max-tokens", .value_name = "N", .field = &Options::max_tokens,
     .description = "most tokens generated for one completion", .min = 1, .max = 8192},
    {.key = "enabledLanguages", .flag = "enabled-languages", .value_name = "IDS", .field = &Options::enabled_languages,
     .description = "language ids that get completions (a list; comma-separated as a flag); empty: all"},
    {.key = "askSources", .flag = "ask-sources", .value_name = "N", .field = &Options::ask_sources,
     .description = "repository places retrieved for a question", .min = 1, .max = 100},
    {.key = "askMaxTokens", .flag = "ask-max-tokens", .value_name = "N", .field = &Options::ask_max_tokens,
     .description = "most tokens of an answer to a question", .min = 1, .max = 32768},
    {.key = "indexOnStartup", .flag = "index", .value_name = "", .field = &Options::index_on_startup,
     .description = "index workspace folders when they are added"},
    {.key = "workers", .flag = "workers", .value_name = "N", .field = &Options::workers,
     .description = "threads for indexing, retrieval and context assembly", .min = 0, .max = 256,
     .scope = SettingScope::flag_only},
};

// Checked when latentd is compiled: one entry per key and per flag, sane integer ranges.
constexpr bool schema_is_consistent() {
  for (size_t i = 0; i < std::size(kSettings); ++i) {
    const Setting& a = kSettings[i];
    if (a.key.empty() || a.flag.empty() || a.description.empty() || a.min > a.max) return false;
    for (size_t j = i + 1; j < std::size(kSettings); ++j)
      if (a.key == kSettings[j].key || a.flag == kSettings[j].flag) return false;
  }
  return true;
}
static_assert(schema_is_consistent(), "kSettings: a key or flag twice, an empty name or description, or min > max");

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

std::string range_text(const Setting& s) { return std::to_string(s.min) + ".." + std::to_string(s.max); }

std::string choices_text(const Setting& s) {
  std::string out;
  for (size_t i = 0; i < s.choices.size(); ++i)
    out += (i == 0 ? "" : i + 1 == s.choices.size() ? " or " : ", ") + std::string(s.choices[i]);
  return out;
}

}  // namespace

std::string_view Setting::type_name() const {
  return std::visit(Overload{[](std::string Options::*) { return std::string_view("string"); },
                             [](int Options::*) { return std::string_view("integer"); },
                             [](bool Options::*) { return std::string_view("boolean"); },
                             [](std::vector<std::string> Options::*) { return std::string_view("array"); }},
                    field);
}

nlohmann::json Setting::value(const Options& o) const {
  return std::visit([&](auto member) { return nlohmann::json(o.*member); }, field);
}

std::string Setting::help() const {
  nlohmann::json d = value(Options());
  std::string text(description);
  if (d.is_boolean()) text += d.get<bool>() ? " (default: on)" : " (default: off)";
  else if (d.is_string() && !d.get<std::string>().empty()) text += " (default: " + d.get<std::string>() + ")";
  else if (d.is_number()) text += " (default: " + d.dump() + ")";
  return text;
}

std::span<const Setting> settings_schema() { return kSettings; }

const Setting* find_setting(std::string_view key) {
  for (const auto& s : kSettings)
    if (s.key == key) return &s;
  return nullptr;
}

std::optional<std::string> apply_setting(const Setting& s, const nlohmann::json& v, Options& o) {
  const std::string name = "setting " + std::string(s.key);
  return std::visit(
      Overload{
          [&](std::string Options::*m) -> std::optional<std::string> {
            if (!v.is_string()) return name + ": expected a string, got " + v.dump();
            std::string text = v.get<std::string>();
            if (!s.choices.empty() && std::find(s.choices.begin(), s.choices.end(), text) == s.choices.end())
              return name + ": expected " + choices_text(s) + ", got " + v.dump();
            o.*m = std::move(text);
            return std::nullopt;
          },
          [&](int Options::*m) -> std::optional<std::string> {
            if (!v.is_number_integer()) return name + ": expected an integer, got " + v.dump();
            // (JSON parsers give non-negative numbers as unsigned; beyond INT64_MAX is out of range.)
            bool huge = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX);
            if (huge || v.get<int64_t>() < s.min || v.get<int64_t>() > s.max)
              return name + ": " + v.dump() + " is outside " + range_text(s);
            o.*m = static_cast<int>(v.get<int64_t>());
            return std::nullopt;
          },
          [&](bool Options::*m) -> std::optional<std::string> {
            if (!v.is_boolean()) return name + ": expected true or false, got " + v.dump();
            o.*m = v.get<bool>();
            return std::nullopt;
          },
          [&](std::vector<std::string> Options::*m) -> std::optional<std::string> {
            bool ok = v.is_array() && std::all_of(v.begin(), v.end(), [](const nlohmann::json& e) { return e.is_string(); });
            if (!ok) return name + ": expected an array of strings, got " + v.dump();
            o.*m = v.get<std::vector<std::string>>();
            return std::nullopt;
          }},
      s.field);
}

std::vector<std::string> apply_settings(const nlohmann::json& settings, Options& o) {
  std::vector<std::string> problems;
  if (settings.is_null()) return problems;
  if (!settings.is_object()) {
    problems.push_back("settings: expected an object, got " + settings.dump());
    return problems;
  }
  for (const auto& [key, v] : settings.items()) {
    if (v.is_null()) continue;
    const Setting* s = find_setting(key);
    if (!s) {
      problems.push_back("unknown setting " + key + " (ignored; `latentd --help` lists the settings)");
    } else if (s->scope == SettingScope::flag_only) {
      problems.push_back("setting " + key + " is fixed when latentd starts (latentd --" + std::string(s->flag) +
                         "); ignored");
    } else if (auto problem = apply_setting(*s, v, o)) {
      problems.push_back(*problem);
    }
  }
  return problems;
}

std::optional<std::string> apply_flag(const Setting& s, std::string_view text, Options& o) {
  nlohmann::json value;
  std::string flag = "--" + std::string(s.flag);
  if (std::holds_alternative<int Options::*>(s.field)) {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p != text.data() + text.size())
      return flag + " expects an integer in " + range_text(s) + ", got '" + std::string(text) + "'";
    value = n;
  } else if (std::holds_alternative<bool Options::*>(s.field)) {
    value = text == "true";  // apply_flag gets "true" for --flag and "false" for --no-flag
  } else if (std::holds_alternative<std::vector<std::string> Options::*>(s.field)) {
    value = nlohmann::json::array();
    for (size_t from = 0; from <= text.size();) {
      size_t comma = std::min(text.find(',', from), text.size());
      if (comma > from) value.push_back(std::string(text.substr(from, comma - from)));
      from = comma + 1;
    }
  } else {
    value = std::string(text);
  }
  auto problem = apply_setting(s, value, o);
  if (!problem) return std::nullopt;
  // "setting key: what" -> "--flag: what"
  return flag + problem->substr(problem->find(':'));
}

nlohmann::json settings_schema_json() {
  const Options defaults;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : kSettings) {
    nlohmann::json j = {{"key", s.key},
                        {"flag", s.flag},
                        {"type", s.type_name()},
                        {"default", s.value(defaults)},
                        {"description", s.description},
                        {"scope", s.scope == SettingScope::everywhere ? "everywhere" : "flag"}};
    if (std::holds_alternative<int Options::*>(s.field)) {
      j["minimum"] = s.min;
      j["maximum"] = s.max;
    }
    if (!s.choices.empty()) j["enum"] = std::vector<std::string>(s.choices.begin(), s.choices.end());
    out.push_back(std::move(j));
  }
  return out;
}

std::string settings_help(std::span<const Setting> settings, size_t column) {
  std::string out;
  for (const auto& s : settings) {
    std::string left = s.value_name.empty() ? "  --[no-]" + std::string(s.flag)
                                            : "  --" + std::string(s.flag) + " " + std::string(s.value_name);
    std::string text = s.help();
    if (s.scope == SettingScope::everywhere) text += "; setting " + std::string(s.key);
    // Wraps the description at 100 columns, continuation lines under its first.
    out += left.size() < column ? left + std::string(column - left.size(), ' ') : left + "\n" + std::string(column, ' ');
    size_t width = 100 - column, line = 0;
    for (size_t from = 0; from < text.size();) {
      size_t end = text.find(' ', from);
      if (end == std::string::npos) end = text.size();
      std::string word = text.substr(from, end - from);
      if (line > 0 && line + 1 + word.size() > width) {
        out += "\n" + std::string(column, ' ');
        line = 0;
      } else if (line > 0) {
        out += ' ';
        ++line;
      }
      out += word;
      line += word.size();
      from = end + 1;
    }
    out += "\n";
  }
  return out;
}

}  // namespace latent::daemon
