// latentd's server on its loop thread against an in-memory client: lifecycle, encoding
// negotiation, supersession, a cancellation storm, questions without a model, and indexing
// progress with the real repository index.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "lsp/error_codes.h"
#include "server/indexer_workspace.h"
#include "server/uri.h"
#include "test_server.h"

namespace latent::daemon {
namespace {

using lsp::ErrorCode;
using testing::Json;
using testing::TestServer;
using namespace std::chrono_literals;

int error_code(const Json& response) { return response.contains("error") ? response["error"]["code"].get<int>() : 0; }

Options quiet_options() {
  Options o;
  o.workers = 1;
  o.debounce_ms = 0;
  return o;
}

Json open_params(const std::string& uri, const std::string& text, const std::string& lang = "python") {
  return Json{{"textDocument", {{"uri", uri}, {"languageId", lang}, {"version", 1}, {"text", text}}}};
}

Json completion_params(const std::string& uri, int line, int character) {
  return Json{{"textDocument", {{"uri", uri}}},
              {"position", {{"line", line}, {"character", character}}},
              {"context", {{"triggerKind", 2}}}};
}

TEST(Server, Lifecycle) {
  TestServer s(quiet_options());
  EXPECT_EQ(error_code(s.request("latent/status", Json::object())), static_cast<int>(ErrorCode::ServerNotInitialized));
  Json init = s.initialize(Json{{"general", {{"positionEncodings", {"utf-16", "utf-8"}}}}});
  const Json& caps = init["result"]["capabilities"];
  EXPECT_EQ(caps["positionEncoding"], "utf-8");
  EXPECT_EQ(caps["inlineCompletionProvider"], true);
  EXPECT_EQ(caps["textDocumentSync"]["change"], 2);
  EXPECT_EQ(init["result"]["serverInfo"]["name"], "latentd");
  EXPECT_EQ(error_code(s.request("initialize", Json{{"capabilities", Json::object()}})),
            static_cast<int>(ErrorCode::InvalidRequest));
  Json status = s.request("latent/status", Json::object());
  EXPECT_EQ(status["result"]["model"]["loaded"], false);
  EXPECT_NE(status["result"]["model"]["problem"].get<std::string>().find("no model configured"), std::string::npos);
  Json shut = s.request("shutdown", nullptr);
  EXPECT_TRUE(shut.contains("result") && shut["result"].is_null());
  EXPECT_EQ(error_code(s.request("latent/status", Json::object())), static_cast<int>(ErrorCode::InvalidRequest));
  s.notify("exit", nullptr);
  EXPECT_EQ(s.wait_exit(), 0);
}

TEST(Server, ExitWithoutShutdownIsCodeOne) {
  TestServer s(quiet_options());
  s.initialize();
  s.notify("exit", nullptr);
  EXPECT_EQ(s.wait_exit(), 1);
}

TEST(Server, PositionEncodingNegotiation) {
  {
    TestServer s(quiet_options());
    EXPECT_EQ(s.initialize(Json{{"general", {{"positionEncodings", {"utf-32"}}}}})["result"]["capabilities"]["positionEncoding"],
              "utf-16");
  }
  {
    TestServer s(quiet_options());
    EXPECT_EQ(s.initialize()["result"]["capabilities"]["positionEncoding"], "utf-16");
  }
}

TEST(Server, InvalidParamsAndUnknownDocuments) {
  TestServer s(quiet_options());
  s.initialize();
  Json bad = s.request("textDocument/inlineCompletion", Json{{"textDocument", {{"uri", 5}}}});
  EXPECT_EQ(error_code(bad), static_cast<int>(ErrorCode::InvalidParams));
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("params.textDocument.uri"), std::string::npos);
  Json unknown = s.request("textDocument/inlineCompletion", completion_params("file:///nowhere.py", 0, 0));
  EXPECT_EQ(error_code(unknown), static_cast<int>(ErrorCode::InvalidParams));
  EXPECT_NE(unknown["error"]["message"].get<std::string>().find("didOpen"), std::string::npos);
}

TEST(Server, WithoutAModelCompletionsAreEmpty) {
  TestServer s(quiet_options());
  s.initialize();
  s.notify("textDocument/didOpen", open_params("file:///a.py", "def f():\n    "));
  Json r = s.request("textDocument/inlineCompletion", completion_params("file:///a.py", 1, 4));
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_EQ(r["result"]["items"], Json::array());
  s.block_until_idle();
  EXPECT_EQ(s.assistant().completion_stats().engine_runs, 0u);
}

// A model that replies `reply` to everything, from its own thread as the engine does.
class FakeGenerator final : public Generator {
 public:
  explicit FakeGenerator(std::string reply, std::shared_ptr<std::atomic<bool>> file_changed = {})
      : reply_(std::move(reply)), file_changed_(std::move(file_changed)) {
    model_.name = "fake";
    model_.fim = true;
    model_.context_length = 4096;
  }
  ~FakeGenerator() override {
    std::lock_guard lock(mu_);
    for (auto& t : threads_) t.join();
  }
  const ModelDescription& model() const override { return model_; }
  uint64_t start(const GenerationRequest&, std::function<void(std::string_view)> on_text,
                 std::function<void(const GenerationEnd&)> on_end) override {
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, on_text, on_end] {
      on_text(reply_);
      on_end(GenerationEnd{});
    });
    return threads_.size();
  }
  void cancel(uint64_t) override {}
  size_t count_tokens(std::string_view text) const override { return text.size() / 4 + 1; }
  GeneratorLoad load() const override { return {}; }
  std::string model_file_problem() const override {
    return file_changed_ && file_changed_->load() ? "model.gguf was replaced by another file" : "";
  }

 private:
  std::string reply_;
  std::shared_ptr<std::atomic<bool>> file_changed_;
  ModelDescription model_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

// A factory whose model opens only when the test says so.
struct SlowModel {
  std::promise<void> opened;
  std::shared_future<void> gate = opened.get_future().share();
  GeneratorFactory factory() {
    return [gate = gate](const Options&) -> std::unique_ptr<Generator> {
      gate.wait();
      return std::make_unique<FakeGenerator>("ready()");
    };
  }
};

// A completion requested while the model loads is held until it is ready, not answered empty
// (issue 20, item 7).
TEST(Server, CompletionRequestedWhileTheModelLoadsWaitsForIt) {
  SlowModel model;
  Options o = quiet_options();
  o.model_path = "model.gguf";
  TestServer s(o, model.factory());
  s.initialize();
  s.notify("textDocument/didOpen", open_params("file:///a.py", "x = "));
  int id = s.request_async("textDocument/inlineCompletion", completion_params("file:///a.py", 0, 4));
  auto answered = [id](const Json& m) { return m.contains("id") && m["id"] == id; };
  EXPECT_FALSE(s.wait_for(answered, 300ms)) << "answered before the model was loaded";
  model.opened.set_value();
  Json r = s.response(id);
  ASSERT_TRUE(r.contains("result")) << r.dump();
  ASSERT_EQ(r["result"]["items"].size(), 1u) << r.dump();
  EXPECT_EQ(r["result"]["items"][0]["insertText"], "ready()");
}

// The wait is bounded (modelWaitMs) and a held request can be cancelled.
TEST(Server, WaitingForTheModelIsBoundedAndCancellable) {
  SlowModel model;
  Options o = quiet_options();
  o.model_path = "model.gguf";
  o.model_wait_ms = 200;
  TestServer s(o, model.factory());
  s.initialize();
  s.notify("textDocument/didOpen", open_params("file:///a.py", "x = "));
  s.notify("textDocument/didOpen", open_params("file:///b.py", "y = "));
  auto start = std::chrono::steady_clock::now();
  int bounded = s.request_async("textDocument/inlineCompletion", completion_params("file:///a.py", 0, 4));
  Json r = s.response(bounded, 5s);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_EQ(r["result"]["items"], Json::array()) << r.dump();

  int cancelled = s.request_async("textDocument/inlineCompletion", completion_params("file:///b.py", 0, 4));
  s.notify("$/cancelRequest", Json{{"id", cancelled}});
  EXPECT_EQ(error_code(s.response(cancelled, 150ms)), static_cast<int>(ErrorCode::RequestCancelled));
  model.opened.set_value();
  s.block_until_idle();
  EXPECT_EQ(s.assistant().completion_stats().engine_runs, 0u);
}

// A model file that changed on disk is reported in status and loaded again before the next
// request uses it (issue 20, item 4); when it no longer loads, latentd serves on without one.
TEST(Server, AChangedModelFileIsReportedAndLoadedAgain) {
  auto changed = std::make_shared<std::atomic<bool>>(false);
  auto opens = std::make_shared<std::atomic<int>>(0);
  GeneratorFactory factory = [changed, opens](const Options&) -> std::unique_ptr<Generator> {
    if (opens->fetch_add(1) == 2) throw std::runtime_error("model.gguf: file is truncated");
    changed->store(false);
    return std::make_unique<FakeGenerator>("ready()", changed);
  };
  Options o = quiet_options();
  o.model_path = "model.gguf";
  TestServer s(o, factory);
  s.initialize();
  s.block_until_idle();
  ASSERT_EQ(opens->load(), 1);
  s.notify("textDocument/didOpen", open_params("file:///a.py", "x = "));
  changed->store(true);
  Json status = s.request("latent/status", Json::object());
  ASSERT_TRUE(status["result"]["model"].contains("warnings")) << status.dump();
  EXPECT_NE(status["result"]["model"]["warnings"].dump().find("replaced"), std::string::npos) << status.dump();

  Json r = s.request("textDocument/inlineCompletion", completion_params("file:///a.py", 0, 4));
  EXPECT_EQ(opens->load(), 2);
  ASSERT_EQ(r["result"]["items"].size(), 1u) << r.dump();  // answered by the reloaded model

  changed->store(true);  // and now the file no longer loads
  r = s.request("textDocument/inlineCompletion", completion_params("file:///a.py", 0, 4));
  EXPECT_EQ(r["result"]["items"], Json::array()) << r.dump();
  EXPECT_EQ(opens->load(), 3);
  status = s.request("latent/status", Json::object());
  EXPECT_EQ(status["result"]["model"]["loaded"], false) << status.dump();
  EXPECT_NE(status["result"]["model"]["problem"].get<std::string>().find("truncated"), std::string::npos) << status.dump();
}

TEST(Server, NewerRequestSupersedesTheOlderForTheSameDocument) {
  Options o = quiet_options();
  o.debounce_ms = 300;
  TestServer s(o);
  s.initialize();
  s.notify("textDocument/didOpen", open_params("file:///a.py", "x = 1\n"));
  s.notify("textDocument/didOpen", open_params("file:///b.py", "y = 2\n"));
  int first = s.request_async("textDocument/inlineCompletion", completion_params("file:///a.py", 0, 5));
  int other = s.request_async("textDocument/inlineCompletion", completion_params("file:///b.py", 0, 5));
  int second = s.request_async("textDocument/inlineCompletion", completion_params("file:///a.py", 0, 4));
  Json r1 = s.response(first);
  EXPECT_EQ(error_code(r1), static_cast<int>(ErrorCode::ContentModified)) << r1.dump();
  EXPECT_EQ(s.response(second)["result"]["items"], Json::array());
  EXPECT_EQ(s.response(other)["result"]["items"], Json::array());
  s.block_until_idle();
  CompletionStats st = s.assistant().completion_stats();
  EXPECT_EQ(st.requests, 3u);
  EXPECT_EQ(st.superseded, 1u);
}

TEST(Server, CancellationStormLeavesTheServerResponsive) {
  Options o = quiet_options();
  o.debounce_ms = 20;
  TestServer s(o);
  s.initialize();
  s.notify("textDocument/didOpen", open_params("file:///storm.py", "value = compute(\n"));
  std::vector<int> ids;
  for (int i = 0; i < 400; ++i) {
    int id = s.request_async("textDocument/inlineCompletion", completion_params("file:///storm.py", 0, 8 + i % 8));
    ids.push_back(id);
    if (i % 4 != 3) s.notify("$/cancelRequest", Json{{"id", id}});
  }
  int cancelled = 0, superseded = 0, answered = 0;
  for (int id : ids) {
    Json r = s.response(id);
    int code = error_code(r);
    if (code == static_cast<int>(ErrorCode::RequestCancelled)) ++cancelled;
    else if (code == static_cast<int>(ErrorCode::ContentModified)) ++superseded;
    else if (code == 0) ++answered;
    else ADD_FAILURE() << r.dump();
  }
  EXPECT_EQ(cancelled, 300);
  EXPECT_EQ(cancelled + superseded + answered, 400);
  auto t0 = std::chrono::steady_clock::now();
  Json status = s.request("latent/status", Json::object(), 2s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(status["result"]["queue"]["pendingCompletions"], 0);
  EXPECT_EQ(status["result"]["session"]["pendingRequests"], 1);  // the status request itself
}

TEST(Server, AskWithoutModelSaysSoAndStreamsSources) {
  TestServer s(quiet_options());
  s.initialize();
  int id = s.request_async("latent/ask", Json{{"question", "where is the parser?"}, {"partialResultToken", "tok"}});
  auto partial = s.wait_for([](const Json& m) { return m.value("method", "") == "$/progress"; });
  ASSERT_TRUE(partial);
  EXPECT_EQ((*partial)["params"]["token"], "tok");
  EXPECT_TRUE((*partial)["params"]["value"]["sources"].is_array());
  Json r = s.response(id);
  EXPECT_EQ(r["result"]["modelUsed"], false);
  EXPECT_NE(r["result"]["answer"].get<std::string>().find("No model is loaded"), std::string::npos);
}

std::filesystem::path make_repo(const std::string& name) {
  auto root = std::filesystem::temp_directory_path() / ("latent-daemon-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root / "src");
  std::ofstream(root / "src" / "checksum.py") << "import zlib\n\n\ndef compute_checksum(data):\n    return zlib.crc32(data)\n";
  std::ofstream(root / "src" / "main.py") << "from checksum import compute_checksum\n\nprint(compute_checksum(b'x'))\n";
  return root;
}

TEST(Server, IndexesTheWorkspaceWithProgressAndAnswersWithSources) {
  auto root = make_repo("index");
  TestServer s(quiet_options(), {}, open_indexer_workspace);
  s.initialize(Json{{"window", {{"workDoneProgress", true}}}}, Json{{"rootUri", path_to_uri(root)}});
  auto create = s.wait_for([](const Json& m) { return m.value("method", "") == "window/workDoneProgress/create"; });
  ASSERT_TRUE(create);
  Json token = (*create)["params"]["token"];
  s.send(Json{{"jsonrpc", "2.0"}, {"id", (*create)["id"]}, {"result", nullptr}});
  auto begin = s.wait_for([&](const Json& m) {
    return m.value("method", "") == "$/progress" && m["params"]["token"] == token && m["params"]["value"]["kind"] == "begin";
  });
  ASSERT_TRUE(begin);
  auto end = s.wait_for([&](const Json& m) {
    return m.value("method", "") == "$/progress" && m["params"]["token"] == token && m["params"]["value"]["kind"] == "end";
  });
  ASSERT_TRUE(end);
  s.block_until_idle();

  Json status = s.request("latent/status", Json::object());
  ASSERT_EQ(status["result"]["workspaces"].size(), 1u);
  EXPECT_EQ(status["result"]["workspaces"][0]["state"], "ready");
  EXPECT_EQ(status["result"]["workspaces"][0]["files"], 2);

  Json r = s.request("latent/ask", Json{{"question", "compute_checksum"}});
  ASSERT_TRUE(r.contains("result")) << r.dump();
  const Json& sources = r["result"]["sources"];
  ASSERT_FALSE(sources.empty()) << r.dump();
  bool found = false;
  for (const auto& src : sources) {
    if (src["path"] == "src/checksum.py") {
      found = true;
      EXPECT_EQ(src["location"]["uri"], path_to_uri(root / "src" / "checksum.py"));
      EXPECT_GE(src["line"].get<int>(), 1);
    }
  }
  EXPECT_TRUE(found) << sources.dump();
  EXPECT_NE(r["result"]["answer"].get<std::string>().find("src/checksum.py:"), std::string::npos);
  std::filesystem::remove_all(root);
}

TEST(Server, SeveralWorkspaceFoldersAndConfiguration) {
  auto a = make_repo("folder-a");
  auto b = make_repo("folder-b");
  TestServer s(quiet_options(), {}, open_indexer_workspace);
  s.initialize(Json{{"workspace", {{"configuration", true}, {"workspaceFolders", true}}}},
               Json{{"workspaceFolders", {{{"uri", path_to_uri(a)}, {"name", "a"}}, {{"uri", path_to_uri(b)}, {"name", "b"}}}},
                    {"initializationOptions", {{"maxLines", 5}}}});
  // Settings: initializationOptions first, then the client's "latent" configuration section.
  auto config = s.wait_for([](const Json& m) { return m.value("method", "") == "workspace/configuration"; });
  ASSERT_TRUE(config);
  EXPECT_EQ((*config)["params"]["items"][0]["section"], "latent");
  s.send(Json{{"jsonrpc", "2.0"}, {"id", (*config)["id"]}, {"result", Json::array({Json{{"debounceMs", 123}}})}});
  s.block_until_idle();
  Json status = s.request("latent/status", Json::object())["result"];
  EXPECT_EQ(status["settings"]["debounceMs"], 123);
  EXPECT_EQ(status["settings"]["maxLines"], 5);
  ASSERT_EQ(status["workspaces"].size(), 2u);
  for (const auto& w : status["workspaces"]) EXPECT_EQ(w["files"], 2) << w.dump();

  s.notify("workspace/didChangeWorkspaceFolders",
           Json{{"event", {{"added", Json::array()}, {"removed", {{{"uri", path_to_uri(a)}, {"name", "a"}}}}}}});
  s.block_until_idle();
  status = s.request("latent/status", Json::object())["result"];
  ASSERT_EQ(status["workspaces"].size(), 1u);
  EXPECT_EQ(status["workspaces"][0]["root"], b.string());
  std::filesystem::remove_all(a);
  std::filesystem::remove_all(b);
}

}  // namespace
}  // namespace latent::daemon
