// The one schema of latentd's settings: for each, its name, type, default, range and
// description, and the Options field it sets. Everything else is derived from this table:
//  - latentd's flags and `latentd --help` (--<flag> VALUE; booleans as --<flag> / --no-<flag>),
//  - the settings editors send (initializationOptions and the "latent" section of
//    workspace/configuration, by `key`), parsed and range-checked by apply_setting,
//  - the `latent` CLI's --backend/--device/--gpu-layers/--threads options,
//  - `latentd --settings-schema` (JSON), from which plugins/sync_settings.mjs generates VS Code's
//    package.json contributions, the Neovim plugin's defaults (lua/latent/schema.lua) and their
//    documentation, and checks them in CI.
// Defaults are the initialisers of the Options fields (options.h), read through the table.
//
// Adding a setting: a field in Options (with its default), one entry in kSettings
// (settings.cpp), then `node plugins/sync_settings.mjs --write` to regenerate the plugin files.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/options.h"

namespace latent::daemon {

enum class SettingScope {
  everywhere,  // a flag of latentd and a setting editors may send
  flag_only,   // fixed when latentd starts (e.g. the size of its worker pool)
};

using SettingField = std::variant<std::string Options::*, int Options::*, bool Options::*,
                                  std::vector<std::string> Options::*>;

struct Setting {
  std::string_view key;         // camelCase, as editors send it (VS Code: latent.<key>)
  std::string_view flag;        // latentd --<flag>
  std::string_view value_name;  // FILE, N, ...; empty for booleans
  SettingField field;
  std::string_view description; // one sentence, lower case, no final period
  int64_t min = 0, max = 0;     // integers: the accepted range
  std::span<const std::string_view> choices = {};  // strings: the accepted values (empty: any)
  SettingScope scope = SettingScope::everywhere;

  // "string", "integer", "boolean" or "array" (of strings), as JSON Schema names them.
  std::string_view type_name() const;
  // The value in `o` as JSON (the default, for a default-constructed Options).
  nlohmann::json value(const Options& o) const;
  // The description followed by the default: "... (default: 2048)", "... (default: on)".
  std::string help() const;
};

// Every setting, in the order help texts list them.
std::span<const Setting> settings_schema();
const Setting* find_setting(std::string_view key);

// Applies one value (JSON as editors send it) to `o`. Returns the problem, naming the key and
// what was expected, when the value has the wrong type or is out of range; `o` is unchanged then.
std::optional<std::string> apply_setting(const Setting& s, const nlohmann::json& value, Options& o);
// Applies the keys present in `settings` (a JSON object; null values are ignored). Unknown keys
// and flag-only settings are reported, as are bad values (skipped). Returns the reports.
std::vector<std::string> apply_settings(const nlohmann::json& settings, Options& options);

// Command-line text for a setting's value: integers in decimal, booleans from the flag's form,
// lists comma-separated. Returns the problem as apply_setting does, naming the flag.
std::optional<std::string> apply_flag(const Setting& s, std::string_view text, Options& o);

// The schema as JSON: [{key, flag, type, default, minimum?, maximum?, enum?, description,
// scope}], what `latentd --settings-schema` prints.
nlohmann::json settings_schema_json();

// One "  --flag VALUE   description (default: X)" line per setting for --help, the description
// column starting at `column`.
std::string settings_help(std::span<const Setting> settings, size_t column);

}  // namespace latent::daemon
