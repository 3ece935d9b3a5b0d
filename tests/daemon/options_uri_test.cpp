// Settings from the client and file:// URIs.
#include <gtest/gtest.h>

#include "server/options.h"
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

TEST(Options, EditorAliases) {
  Options o;
  auto problems = apply_settings(nlohmann::json::parse(R"({"modelPath": "/x.gguf", "languages": ["lua"], "backend": "auto"})"), o);
  EXPECT_TRUE(problems.empty()) << problems[0];
  EXPECT_EQ(o.model_path, "/x.gguf");
  EXPECT_EQ(o.enabled_languages, std::vector<std::string>{"lua"});
  EXPECT_EQ(o.backend, "cpu");
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
