#include <gtest/gtest.h>

#include "cli/command.h"

using latent::cli::Command;
using latent::cli::parse_args;
using latent::cli::UsageError;

namespace {

Command sample() {
  Command c;
  c.name = "sample";
  c.summary = "a sample command";
  c.synopsis = "--model FILE [--json] [PATH...]";
  c.options = {{"model", "FILE", "model to load"}, {"json", "", "print JSON"}, {"n", "N", "count"}};
  return c;
}

}  // namespace

TEST(cli, parses_values_flags_and_positionals) {
  auto a = parse_args(sample(), {"--model", "m.gguf", "x", "--json", "--n=7", "--", "--not-an-option"});
  EXPECT_EQ(a.require("model"), "m.gguf");
  EXPECT_TRUE(a.has("json"));
  EXPECT_EQ(a.get_int("n", 0), 7);
  ASSERT_EQ(a.positional().size(), 2u);
  EXPECT_EQ(a.positional()[0], "x");
  EXPECT_EQ(a.positional()[1], "--not-an-option");
}

TEST(cli, rejects_bad_command_lines_with_a_reason) {
  auto message = [](std::vector<std::string> args) {
    try {
      parse_args(sample(), args);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message({"--bogus"}), "unknown option --bogus for 'latent sample'");
  EXPECT_EQ(message({"--model"}), "option --model needs a value (FILE)");
  EXPECT_EQ(message({"--json=1"}), "option --json takes no value");
  EXPECT_EQ(message({"--n", "1", "--n", "2"}), "option --n given twice");
  auto a = parse_args(sample(), {"--n", "seven"});
  EXPECT_THROW(a.get_int("n", 0), UsageError);
  EXPECT_THROW(a.require("model"), UsageError);
}

TEST(cli, help_lists_every_option) {
  std::string h = latent::cli::command_help(sample());
  EXPECT_NE(h.find("usage: latent sample --model FILE"), std::string::npos);
  EXPECT_NE(h.find("--model FILE"), std::string::npos);
  EXPECT_NE(h.find("--json"), std::string::npos);
  EXPECT_NE(h.find("--help"), std::string::npos);
}

TEST(cli, command_names_are_unique) {
  std::set<std::string> seen;
  for (const auto& c : latent::cli::all_commands()) {
    EXPECT_TRUE(seen.insert(c.name).second) << c.name;
    EXPECT_NE(c.run, nullptr) << c.name;
    EXPECT_FALSE(c.summary.empty()) << c.name;
  }
}
