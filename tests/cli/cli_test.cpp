#include <gtest/gtest.h>

#include "cli/bench_util.h"
#include "cli/cmd_status.h"
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

TEST(cli, index_usage_names_every_option) {
  for (const auto& c : latent::cli::all_commands()) {
    if (c.name != "index") continue;
    for (const auto& o : c.options) EXPECT_NE(c.synopsis.find("--" + o.name), std::string::npos) << o.name;
  }
}

TEST(cli, backend_options_are_the_settings_of_the_schema) {
  auto options = latent::cli::backend_options();
  ASSERT_EQ(options.size(), 3u);
  EXPECT_EQ(options[0].name, "backend");
  EXPECT_NE(options[0].help.find("(default: auto)"), std::string::npos) << options[0].help;
  EXPECT_EQ(options[2].name, "gpu-layers");
  Command c = sample();
  c.options = options;
  auto error = [&](std::vector<std::string> args) {
    try {
      latent::cli::backend_choice(parse_args(c, args));
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error({"--backend", "tpu"}).find("expected auto, cpu or vulkan"), std::string::npos) << error({"--backend", "tpu"});
  EXPECT_NE(error({"--device", "-5"}).find("-1..64"), std::string::npos);
  EXPECT_NE(error({"--backend", "cpu", "--device", "0"}).find("add --backend vulkan"), std::string::npos);
  EXPECT_EQ(latent::cli::backend_choice(parse_args(c, {"--backend", "cpu"})).backend, "cpu");
}

TEST(cli, status_is_rendered_for_people) {
  latent::lsp::StatusResult s;
  s.model.loaded = false;
  s.model.problem = "no model configured: set the model setting";
  latent::lsp::StatusWorkspace w;
  w.root = "/repo";
  w.state = "ready";
  w.files = 5;
  w.lastRun = latent::lsp::StatusIndexRun{35, 5, 5, 29, 0, 1, false, 0.5};
  s.workspaces.push_back(w);
  s.cache = {1000, 800, 40, 0.8};
  s.settings = {{"debounceMs", 50}, {"backend", "auto"}};
  std::string text = latent::cli::render_status(s);
  EXPECT_NE(text.find("model        not loaded: no model configured"), std::string::npos) << text;
  EXPECT_NE(text.find("workspace    /repo: ready, 5 files in the index"), std::string::npos) << text;
  EXPECT_NE(text.find("35 files checked, 5 updated, 0 removed, 29 skipped by rule, 1 problem, 0.5 s"), std::string::npos) << text;
  EXPECT_NE(text.find("800 of 1000 prompt tokens from the latent KV cache (80%)"), std::string::npos) << text;
  EXPECT_NE(text.find("backend=auto debounceMs=50"), std::string::npos) << text;
  EXPECT_EQ(text.find('{'), std::string::npos) << "no raw JSON in:\n" << text;
  // What latentd sends reads back into the same struct.
  latent::lsp::StatusResult back;
  latent::lsp::read_value(latent::lsp::Json(s), "status", back);
  EXPECT_EQ(latent::cli::render_status(back), text);
}

// `latent bench engine --sizes`: the points named, in order, divided like --quick's; anything
// else is a usage error naming the item.
TEST(cli, bench_engine_sizes_name_prefill_and_decode_points) {
  auto s = latent::cli::parse_engine_sizes("prefill:512,decode:0,prefill:8192,decode:4096", 1);
  EXPECT_EQ(s.prefill, (std::vector<int64_t>{512, 8192}));
  EXPECT_EQ(s.decode, (std::vector<int64_t>{0, 4096}));
  s = latent::cli::parse_engine_sizes("prefill:512,decode:4096", 8);
  EXPECT_EQ(s.prefill, (std::vector<int64_t>{64}));
  EXPECT_EQ(s.decode, (std::vector<int64_t>{512}));
  for (const char* bad : {"", "prefill", "prefill:", "prefill:0", "decode:-1", "decode:4k", "tokens:5", "prefill:512,"}) {
    try {
      latent::cli::parse_engine_sizes(bad, 1);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--sizes"), std::string::npos) << e.what();
    }
  }
}
