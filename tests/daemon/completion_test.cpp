// Inline completions through the server with a fake model and index: the prompt holds a bounded
// window of the file and a repository context kept for the document until the index changes, and a
// keystroke that extends a running generation continues it instead of starting another.
#include <gtest/gtest.h>

#include <string>

#include "fake_ports.h"
#include "lsp/error_codes.h"
#include "test_server.h"

namespace latent::daemon {
namespace {

using testing::FakeRuns;
using testing::Json;
using testing::TestServer;
using namespace std::chrono_literals;

const std::string kUri = "file:///ws/big.cpp";

// A file of `lines` numbered lines.
std::string numbered_file(int lines) {
  std::string text;
  for (int i = 0; i < lines; ++i) text += "  value_" + std::to_string(i) + " = compute(" + std::to_string(i) + ");\n";
  return text;
}

struct Editor {
  TestServer& server;
  std::string text;
  int version = 1;
  size_t cursor = 0;

  Json position() const {
    size_t line_start = text.rfind('\n', cursor == 0 ? 0 : cursor - 1);
    line_start = (cursor == 0 || line_start == std::string::npos) ? 0 : line_start + 1;
    return Json{{"line", std::count(text.begin(), text.begin() + static_cast<long>(cursor), '\n')},
                {"character", cursor - line_start}};
  }
  void move_to_line(int line) {
    cursor = 0;
    for (int i = 0; i < line; ++i) cursor = text.find('\n', cursor) + 1;
  }
  void move_to_end_of_line(int line) {
    move_to_line(line);
    cursor = text.find('\n', cursor);
  }
  void type(char c) {
    Json pos = position();
    text.insert(cursor, 1, c);
    ++cursor;
    server.notify("textDocument/didChange", Json{{"textDocument", {{"uri", kUri}, {"version", ++version}}},
                                                 {"contentChanges", {{{"range", {{"start", pos}, {"end", pos}}}, {"text", std::string(1, c)}}}}});
  }
  int request(Json partial_token = nullptr) {
    Json params{{"textDocument", {{"uri", kUri}}}, {"position", position()}, {"context", {{"triggerKind", 2}}}};
    if (!partial_token.is_null()) params["partialResultToken"] = partial_token;
    return server.request_async("textDocument/inlineCompletion", params);
  }
};

struct Fixture {
  std::shared_ptr<FakeRuns> runs = std::make_shared<FakeRuns>();
  std::shared_ptr<std::atomic<int>> contexts = std::make_shared<std::atomic<int>>(0);
  Options options;
  std::unique_ptr<TestServer> server;
  std::unique_ptr<Editor> editor;

  explicit Fixture(int lines, int prefix_tokens = 300, int suffix_tokens = 40) {
    options.workers = 0;
    options.model_path = "fake.gguf";  // any: the fake generator opens it
    options.debounce_ms = 0;
    options.prefix_tokens = prefix_tokens;
    options.suffix_tokens = suffix_tokens;
    options.context_budget = 100;
    server = std::make_unique<TestServer>(options, testing::fake_generators(runs), testing::fake_indexes(contexts));
    server->initialize(Json{{"general", {{"positionEncodings", {"utf-8"}}}}}, Json{{"rootUri", "file:///ws"}});
    server->block_until_idle();
    editor = std::make_unique<Editor>(Editor{*server, numbered_file(lines)});
    server->notify("textDocument/didOpen",
                   Json{{"textDocument", {{"uri", kUri}, {"languageId", "cpp"}, {"version", 1}, {"text", editor->text}}}});
  }
  // One keystroke, its request answered by the model with `reply`.
  Json keystroke(char c, const std::string& reply = "") {
    size_t started = runs->size();
    editor->type(c);
    int id = editor->request();
    EXPECT_TRUE(runs->wait_started(started + 1));
    runs->finish(started, reply);
    return server->response(id);
  }
  // Returns once the server has handled everything sent before.
  void sync() { server->request("latent/status", Json::object()); }
};

TEST(Completion, ThePromptHoldsABoundedWindowAndAKeptContext) {
  Fixture f(1000);
  f.editor->move_to_line(500);
  const std::string typed = "  int x = 1;\n  return x;\n";
  std::string previous_prefix;
  for (char c : typed) {
    Json r = f.keystroke(c);
    ASSERT_TRUE(r.contains("result")) << r.dump();
    GenerationRequest req = f.runs->request(f.runs->size() - 1);
    // A fake token is 4 bytes: the window's budgets in bytes, plus the kept context.
    EXPECT_LE(req.suffix.size(), 40u * 4u);
    EXPECT_LE(req.prefix.size(), 300u * 4u + 100u);
    EXPECT_TRUE(req.prefix.starts_with("// repository context chosen at line 501\n")) << req.prefix.substr(0, 60);
    EXPECT_TRUE(f.editor->text.substr(0, f.editor->cursor).ends_with(req.prefix.substr(req.prefix.find('\n') + 1)));
    // Typing only appends to the prompt's prefix: the window's start stays.
    EXPECT_TRUE(req.prefix.starts_with(previous_prefix));
    previous_prefix = req.prefix;
  }
  EXPECT_EQ(f.contexts->load(), 1) << "the repository context is chosen once";

  // A jump within the file moves the window and keeps the context.
  f.editor->move_to_line(100);
  f.keystroke('y');
  EXPECT_EQ(f.contexts->load(), 1);
  GenerationRequest jumped = f.runs->request(f.runs->size() - 1);
  EXPECT_TRUE(jumped.prefix.starts_with("// repository context chosen at line 501\n"));
  EXPECT_TRUE(f.editor->text.substr(0, f.editor->cursor).ends_with(jumped.prefix.substr(jumped.prefix.find('\n') + 1)));

  // A change in the index makes the kept context stale: chosen again, for the cursor now.
  f.server->notify("workspace/didChangeWatchedFiles", Json{{"changes", {{{"uri", "file:///ws/other.cpp"}, {"type", 2}}}}});
  f.server->block_until_idle();
  f.keystroke('y');
  EXPECT_EQ(f.contexts->load(), 2);
  EXPECT_TRUE(f.runs->request(f.runs->size() - 1).prefix.starts_with("// repository context chosen at line 101\n"));
}

TEST(Completion, TypingThatExtendsARunningGenerationContinuesIt) {
  Fixture f(20);
  f.editor->move_to_line(10);
  f.editor->type('r');
  int first = f.editor->request();
  ASSERT_TRUE(f.runs->wait_started(1));
  // The user types the next character before the model has answered.
  f.editor->type('e');
  int second = f.editor->request();
  Json r1 = f.server->response(first);
  EXPECT_EQ(r1["error"]["code"], static_cast<int>(lsp::ErrorCode::ContentModified)) << r1.dump();
  f.sync();
  EXPECT_EQ(f.runs->size(), 1u) << "no second generation";
  f.runs->finish(0, "eturn total;");
  Json r2 = f.server->response(second);
  ASSERT_EQ(r2["result"]["items"].size(), 1u) << r2.dump();
  EXPECT_EQ(r2["result"]["items"][0]["insertText"], "turn total;");
  f.server->block_until_idle();
  EXPECT_EQ(f.server->assistant().completion_stats().engine_runs, 1u);
  EXPECT_EQ(f.server->assistant().completion_stats().continued, 1u);
}

TEST(Completion, AContinuedGenerationThatDisagreesWithTheTypingIsRunAgain) {
  Fixture f(20);
  f.editor->move_to_line(10);
  f.editor->type('r');
  f.editor->request();
  ASSERT_TRUE(f.runs->wait_started(1));
  f.editor->type('x');
  int second = f.editor->request();
  f.sync();
  f.runs->finish(0, "eturn total;");
  ASSERT_TRUE(f.runs->wait_started(2)) << "a fresh generation at the new cursor";
  EXPECT_TRUE(f.runs->request(1).prefix.ends_with("rx"));
  f.runs->finish(1, "_axis;");
  Json r2 = f.server->response(second);
  ASSERT_EQ(r2["result"]["items"].size(), 1u) << r2.dump();
  EXPECT_EQ(r2["result"]["items"][0]["insertText"], "_axis;");
}

TEST(Completion, TheFirstLineComesFirstAsAPartialResult) {
  Fixture f(20);
  f.editor->move_to_end_of_line(9);
  f.editor->type('\n');  // a blank line: a multi-line completion
  int id = f.editor->request("first-line");
  ASSERT_TRUE(f.runs->wait_started(1));
  f.runs->stream(0, "  int a = 1;\n  int");
  auto partial = f.server->wait_for([](const Json& m) { return m.value("method", "") == "$/progress"; });
  ASSERT_TRUE(partial) << "no partial result";
  EXPECT_EQ((*partial)["params"]["token"], "first-line");
  EXPECT_EQ((*partial)["params"]["value"]["items"][0]["insertText"], "  int a = 1;");
  EXPECT_EQ((*partial)["params"]["value"]["items"][0]["range"]["start"], f.editor->position());
  f.runs->finish(0, " b = 2;\n");
  Json r = f.server->response(id);
  ASSERT_EQ(r["result"]["items"].size(), 1u) << r.dump();
  EXPECT_EQ(r["result"]["items"][0]["insertText"], "  int a = 1;\n  int b = 2;");
  EXPECT_FALSE(f.server->wait_for([](const Json& m) { return m.value("method", "") == "$/progress"; }, 50ms))
      << "one partial result only";
}

TEST(Completion, NoPartialResultWithoutAToken) {
  Fixture f(20);
  f.editor->move_to_end_of_line(9);
  f.editor->type('\n');
  int id = f.editor->request();
  ASSERT_TRUE(f.runs->wait_started(1));
  f.runs->finish(0, "  int a = 1;\n  int b = 2;\n");
  Json r = f.server->response(id);
  EXPECT_EQ(r["result"]["items"][0]["insertText"], "  int a = 1;\n  int b = 2;");
  EXPECT_FALSE(f.server->wait_for([](const Json& m) { return m.value("method", "") == "$/progress"; }, 50ms));
}

}  // namespace
}  // namespace latent::daemon
