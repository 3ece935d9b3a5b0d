// The settings schema: settings from the client, flags, defaults, help; and file:// URIs.
#include <gtest/gtest.h>

#include "server/options.h"
#include "server/settings.h"
#include "server/uri.h"

namespace latent::daemon {
namespace {

TEST(Options, AppliesKnownKeysAndReportsProblems) {
  Options o;
  auto problems = apply_settings(nlohmann::json::parse(R"({
    "model": "/m.gguf", "backend": "vulkan", "debounceMs": 120, "contextBudget": 999,
    "enabledLanguages": ["python", "cpp"], "maxLines": "many", "colour": "blue", "threads": null})"), o);
  EXPECT_EQ(o.model_path, "/m.gguf");
  EXPECT_EQ(o.backend, "vulkan");
  EXPECT_EQ(o.debounce_ms, 120);
  EXPECT_EQ(o.context_budget, 999);
  EXPECT_EQ(o.max_lines, Options().max_lines);
  EXPECT_TRUE(o.language_enabled("cpp"));
  EXPECT_FALSE(o.language_enabled("rust"));
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("unknown setting colour"), std::string::npos);
  EXPECT_NE(problems[1].find("maxLines"), std::string::npos);
  EXPECT_FALSE(apply_settings(nlohmann::json::parse(R"({"backend": "tpu"})"), o).empty());
  EXPECT_EQ(o.backend, "vulkan");
}

TEST(Settings, FlagsParseThroughTheSameChecksAsSettings) {
  Options o;
  auto flag = [&](std::string_view key, std::string_view text) { return apply_flag(*find_setting(key), text, o); };
  EXPECT_EQ(flag("contextBudget", "4096"), std::nullopt);
  EXPECT_EQ(o.context_budget, 4096);
  EXPECT_EQ(flag("indexOnStartup", "false"), std::nullopt);
  EXPECT_FALSE(o.index_on_startup);
  EXPECT_EQ(flag("enabledLanguages", "python,cpp"), std::nullopt);
  EXPECT_EQ(o.enabled_languages, (std::vector<std::string>{"python", "cpp"}));
  EXPECT_EQ(flag("backend", "auto"), std::nullopt);
  EXPECT_EQ(o.backend, "auto");
  // A bad value names the flag and what it takes, and changes nothing.
  auto bad = flag("debounceMs", "99999");
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("--debounce-ms"), std::string::npos) << *bad;
  EXPECT_NE(bad->find("0..10000"), std::string::npos) << *bad;
  EXPECT_EQ(o.debounce_ms, Options().debounce_ms);
  bad = flag("backend", "tpu");
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("auto, cpu or vulkan"), std::string::npos) << *bad;
  EXPECT_TRUE(flag("threads", "many"));
  // The same value as a setting is refused the same way, below the range too.
  EXPECT_EQ(apply_settings(nlohmann::json{{"debounceMs", 99999}}, o).size(), 1u);
  EXPECT_EQ(apply_settings(nlohmann::json::parse(R"({"maxLines": 0, "askSources": 18446744073709551615})"), o).size(), 2u);
  EXPECT_EQ(o.max_lines, Options().max_lines);
  EXPECT_EQ(o.debounce_ms, Options().debounce_ms);
}

TEST(Settings, FlagOnlySettingsAreNotTakenFromEditors) {
  Options o;
  auto problems = apply_settings(nlohmann::json{{"workers", 8}, {"modelPath", "/x.gguf"}}, o);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("unknown setting modelPath"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("fixed when latentd starts (latentd --workers)"), std::string::npos) << problems[1];
  EXPECT_EQ(o.workers, Options().workers);
}

TEST(Settings, SchemaJsonCarriesEverySettingWithItsDefault) {
  nlohmann::json schema = settings_schema_json();
  ASSERT_EQ(schema.size(), settings_schema().size());
  const Options defaults;
  for (const auto& entry : schema) {
    const Setting* s = find_setting(entry["key"].get<std::string>());
    ASSERT_NE(s, nullptr) << entry.dump();
    EXPECT_EQ(entry["default"], s->value(defaults)) << entry.dump();
    EXPECT_EQ(entry["type"], s->type_name());
    if (entry["type"] == "integer") {
      EXPECT_GE(entry["default"].get<int64_t>(), entry["minimum"].get<int64_t>()) << entry.dump();
      EXPECT_LE(entry["default"].get<int64_t>(), entry["maximum"].get<int64_t>()) << entry.dump();
    }
    // Every default passes the setting's own checks.
    Options o;
    EXPECT_EQ(apply_setting(*s, entry["default"], o), std::nullopt) << entry.dump();
  }
  EXPECT_EQ(find_setting("debounceMs")->value(defaults), 50);
}

TEST(Settings, HelpListsEveryFlagWithItsDefault) {
  std::string help = settings_help(settings_schema(), 25);
  for (const auto& s : settings_schema()) {
    std::string flag = (s.value_name.empty() ? "--[no-]" : "--") + std::string(s.flag);
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(help.find("--[no-]index "), std::string::npos) << help;
  EXPECT_NE(help.find("(default: 2048)"), std::string::npos) << help;
}

TEST(Uri, RoundTripsAndRejectsOtherSchemes) {
  std::filesystem::path p = "/home/u/my project/\xc3\xa9t\xc3\xa9 #1.py";
  std::string uri = path_to_uri(p);
  EXPECT_EQ(uri, "file:///home/u/my%20project/%C3%A9t%C3%A9%20%231.py");
  EXPECT_EQ(uri_to_path(uri), p);
  EXPECT_EQ(uri_to_path("file://localhost/etc/x"), std::filesystem::path("/etc/x"));
  EXPECT_EQ(uri_to_path("FILE:///a%2fb"), std::filesystem::path("/a/b"));
  EXPECT_FALSE(uri_to_path("untitled:Untitled-1"));
  EXPECT_FALSE(uri_to_path("file://server/share/x"));
  EXPECT_FALSE(uri_to_path("file:///bad%zz"));
}

}  // namespace
}  // namespace latent::daemon
