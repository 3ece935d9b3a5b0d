// The completion path with a real model (the golden tiny DeepSeek-V2-Lite through the engine):
// an item at the cursor, then typing through the shown completion is answered from it without
// another engine run, and a diverging keystroke runs the engine again. Questions: a follow-up
// in a conversation reuses the cached prompt of the turn before.
#include <gtest/gtest.h>

#include "common/golden.h"
#include "server/engine_generator.h"
#include "test_server.h"

namespace latent::daemon {
namespace {

using testing::Json;
using testing::TestServer;
using namespace std::chrono_literals;

TEST(ModelServer, CompletionThenTypingThroughReusesIt) {
  Options o;
  o.workers = 1;
  o.debounce_ms = 0;
  o.max_tokens = 8;
  o.engine_threads = 2;
  o.model_path = latent::testing::golden_model("ds2-lite-tiny").string();
  TestServer s(o, open_engine_generator);
  s.initialize(Json{{"general", {{"positionEncodings", {"utf-8"}}}}});
  s.block_until_idle();
  ASSERT_TRUE(s.assistant().model_loaded()) << s.assistant().model_problem();

  std::string uri = "file:///reuse.py";
  std::string text = "def area(r):\n    return 3.14 * ";
  s.notify("textDocument/didOpen", Json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", text}}}});
  auto complete = [&](uint32_t character) {
    return s.request("textDocument/inlineCompletion",
                     Json{{"textDocument", {{"uri", uri}}}, {"position", {{"line", 1}, {"character", character}}}}, 60s);
  };
  uint32_t col = static_cast<uint32_t>(text.size() - text.find('\n') - 1);
  Json first = complete(col);
  ASSERT_TRUE(first.contains("result")) << first.dump();
  ASSERT_EQ(first["result"]["items"].size(), 1u) << first.dump();
  std::string shown = first["result"]["items"][0]["insertText"];
  ASSERT_GE(shown.size(), 2u) << "the tiny model's completion is too short to type through: " << shown;
  EXPECT_EQ(first["result"]["items"][0]["range"]["start"], (Json{{"line", 1}, {"character", col}}));
  EXPECT_EQ(s.assistant().completion_stats().engine_runs, 1u);

  // Type the first character of the completion.
  Json pos = {{"line", 1}, {"character", col}};
  s.notify("textDocument/didChange", Json{{"textDocument", {{"uri", uri}, {"version", 2}}},
                                          {"contentChanges", {{{"range", {{"start", pos}, {"end", pos}}}, {"text", shown.substr(0, 1)}}}}});
  Json second = complete(col + 1);
  ASSERT_EQ(second["result"]["items"].size(), 1u) << second.dump();
  EXPECT_EQ(second["result"]["items"][0]["insertText"], shown.substr(1));
  EXPECT_EQ(s.assistant().completion_stats().engine_runs, 1u);
  EXPECT_EQ(s.assistant().completion_stats().reused, 1u);

  // A character that is not the completion's next one: the engine runs again.
  Json pos2 = {{"line", 1}, {"character", col + 1}};
  std::string other = shown[1] == '#' ? "@" : "#";
  s.notify("textDocument/didChange", Json{{"textDocument", {{"uri", uri}, {"version", 3}}},
                                          {"contentChanges", {{{"range", {{"start", pos2}, {"end", pos2}}}, {"text", other}}}}});
  Json third = complete(col + 2);
  ASSERT_TRUE(third.contains("result")) << third.dump();
  s.block_until_idle();
  EXPECT_EQ(s.assistant().completion_stats().engine_runs, 2u);
  // Two runs' prompts (each at least the FIM tokens and the text) were counted.
  Json cache = s.request("latent/status", Json::object())["result"]["cache"];
  EXPECT_GE(cache["promptTokens"].get<uint64_t>(), 2u * 8u) << cache.dump();
  EXPECT_LE(cache["cachedPromptTokens"].get<uint64_t>(), cache["promptTokens"].get<uint64_t>());
  EXPECT_GE(cache["generatedTokens"].get<uint64_t>(), 1u);
}

TEST(ModelServer, FollowUpQuestionReusesTheConversationsCachedPrefix) {
  Options o;
  o.workers = 1;
  o.ask_max_tokens = 8;
  o.engine_threads = 2;
  o.model_path = latent::testing::golden_model("ds2-lite-tiny").string();
  TestServer s(o, open_engine_generator);
  s.initialize();
  s.block_until_idle();
  ASSERT_TRUE(s.assistant().model_loaded()) << s.assistant().model_problem();

  // Long enough for whole cache pages (64 tokens each) to be shared with the follow-up.
  std::string question = "What does the area function compute for a circle?";
  for (int i = 0; i < 12; ++i) question += " It takes the radius r and returns pi times r squared as a float.";
  Json first = s.request("latent/ask", Json{{"question", question}}, 120s);
  ASSERT_TRUE(first.contains("result")) << first.dump();
  ASSERT_TRUE(first["result"]["modelUsed"].get<bool>());
  std::string conversation = first["result"]["conversation"];
  ASSERT_FALSE(conversation.empty());
  s.block_until_idle();
  CompletionStats before = s.assistant().completion_stats();

  Json second = s.request("latent/ask", Json{{"question", "And for a square?"}, {"conversation", conversation}}, 120s);
  ASSERT_TRUE(second.contains("result")) << second.dump();
  EXPECT_EQ(second["result"]["conversation"], conversation);
  s.block_until_idle();
  CompletionStats after = s.assistant().completion_stats();
  // The follow-up's prompt starts with the first question's prompt, which the KV store holds.
  uint64_t first_prompt = before.prompt_tokens;
  EXPECT_GE(after.cached_tokens - before.cached_tokens, first_prompt / 2)
      << "first prompt " << first_prompt << " tokens, follow-up prompt " << after.prompt_tokens - before.prompt_tokens;
  EXPECT_GT(after.prompt_tokens - before.prompt_tokens, first_prompt);

  Json unknown = s.request("latent/ask", Json{{"question", "?"}, {"conversation", "c999"}});
  ASSERT_TRUE(unknown.contains("error")) << unknown.dump();
  EXPECT_EQ(unknown["error"]["code"], static_cast<int>(lsp::ErrorCode::InvalidParams));
  EXPECT_NE(unknown["error"]["message"].get<std::string>().find("ask without it"), std::string::npos);
  EXPECT_EQ(s.request("latent/status", Json::object())["result"]["conversations"], 1);
}

}  // namespace
}  // namespace latent::daemon
