// daemon/http: the OpenAI / llama.cpp request parsing, and the server over real loopback HTTP
// (cpp-httplib's client) with a scripted generator: bodies, SSE streams, errors, API key,
// limits, and cancellation when the client goes away.
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "http/http_server.h"
#include "http/openai_api.h"
#include "scripted_generator.h"

namespace latent::daemon::http {
namespace {

using nlohmann::json;
using testing::ScriptedGenerator;

ModelDescription fim_model() {
  ModelDescription m;
  m.name = "m";
  m.fim = true;
  m.context_length = 1000;
  return m;
}

TEST(OpenAiApi, CompletionWithSuffixIsFillInTheMiddle) {
  auto p = parse_request(Endpoint::Completions, json{{"prompt", "def f("}, {"suffix", "\n"}, {"max_tokens", 5}}, fim_model());
  EXPECT_EQ(p.generation.kind, GenerationRequest::Kind::Fim);
  EXPECT_EQ(p.generation.prefix, "def f(");
  EXPECT_EQ(p.generation.suffix, "\n");
  EXPECT_EQ(p.generation.max_tokens, 5);
  EXPECT_TRUE(p.generation.interactive);
  EXPECT_FLOAT_EQ(p.generation.temperature, 1.0f);  // OpenAI's default
}

TEST(OpenAiApi, CompletionWithoutSuffixIsPlainTextWithOpenAiDefaults) {
  auto p = parse_request(Endpoint::Completions,
                         json{{"prompt", json::array({"abc"})}, {"temperature", 0}, {"stop", "\n"}, {"seed", 9}, {"stream", true}},
                         fim_model());
  EXPECT_EQ(p.generation.kind, GenerationRequest::Kind::Text);
  EXPECT_EQ(p.generation.text, "abc");
  EXPECT_EQ(p.generation.max_tokens, 16);
  EXPECT_EQ(p.generation.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(p.generation.seed, 9u);
  EXPECT_TRUE(p.stream);
}

TEST(OpenAiApi, RejectsWhatItCannotServeNamingTheField) {
  auto param_of = [](Endpoint e, const json& body, ModelDescription m = fim_model()) {
    try {
      parse_request(e, body, m);
    } catch (const BadRequest& b) {
      return b.param;
    }
    return std::string("accepted");
  };
  EXPECT_EQ(param_of(Endpoint::Completions, json{{"max_tokens", 3}}), "prompt");
  EXPECT_EQ(param_of(Endpoint::Completions, json{{"prompt", "x"}, {"n", 2}}), "n");
  EXPECT_EQ(param_of(Endpoint::Completions, json{{"prompt", "x"}, {"temperature", 3}}), "temperature");
  EXPECT_EQ(param_of(Endpoint::Completions, json{{"prompt", "x"}, {"max_tokens", 0}}), "max_tokens");
  EXPECT_EQ(param_of(Endpoint::Completions, json{{"prompt", "x"}, {"stop", 5}}), "stop");
  ModelDescription no_fim = fim_model();
  no_fim.fim = false;
  EXPECT_EQ(param_of(Endpoint::Completions, json{{"prompt", "x"}, {"suffix", "y"}}, no_fim), "suffix");
  EXPECT_EQ(param_of(Endpoint::ChatCompletions, json{{"messages", json::array()}}), "messages");
  EXPECT_EQ(param_of(Endpoint::ChatCompletions, json{{"messages", json::array({{{"role", "tool"}, {"content", "x"}}})}}),
            "messages[0].role");
  EXPECT_EQ(param_of(Endpoint::Infill, json{{"input_prefix", "x"}}, no_fim), "input_prefix");
  EXPECT_EQ(param_of(Endpoint::Completions, json{{"prompt", "x"}}), "accepted");
}

TEST(OpenAiApi, ChatTakesRolesAndTextParts) {
  json body = {{"messages", json::array({{{"role", "developer"}, {"content", "be brief"}},
                                         {{"role", "user"},
                                          {"content", json::array({{{"type", "text"}, {"text", "a"}},
                                                                   {{"type", "text"}, {"text", "b"}}})}}})}};
  auto p = parse_request(Endpoint::ChatCompletions, body, fim_model());
  ASSERT_EQ(p.generation.messages.size(), 2u);
  EXPECT_EQ(p.generation.messages[0], (std::pair<std::string, std::string>{"system", "be brief"}));
  EXPECT_EQ(p.generation.messages[1].second, "ab");
  EXPECT_FALSE(p.generation.interactive);  // questions run after completions
  EXPECT_EQ(p.generation.max_tokens, 1000);  // to the end of the context
}

TEST(OpenAiApi, InfillPutsExtraChunksThenPrefixThenTypedMiddle) {
  json body = {{"input_extra", json::array({{{"filename", "a.py"}, {"text", "A\n"}}, {{"text", "B\n"}}})},
               {"input_prefix", "P\n"},
               {"prompt", "  x"},
               {"input_suffix", "S"},
               {"n_predict", 0},
               {"cache_prompt", true}};
  auto p = parse_request(Endpoint::Infill, body, fim_model());
  EXPECT_EQ(p.generation.prefix, "A\nB\nP\n  x");
  EXPECT_EQ(p.generation.suffix, "S");
  EXPECT_TRUE(p.discard_text);  // n_predict 0: a cache warm-up
  EXPECT_EQ(p.generation.max_tokens, 1);
  EXPECT_FLOAT_EQ(p.generation.temperature, 0.0f);
}

TEST(OpenAiApi, UsageReportsCachedPromptTokens) {
  GenerationEnd end;
  end.prompt_tokens = 10;
  end.cached_tokens = 4;
  end.generated_tokens = 2;
  json u = usage(end);
  EXPECT_EQ(u["total_tokens"], 12);
  EXPECT_EQ(u["prompt_tokens_details"]["cached_tokens"], 4);
}

// ---------------------------------------------------------------------------------------------

struct Served {
  std::shared_ptr<ScriptedGenerator> gen = std::make_shared<ScriptedGenerator>();
  std::unique_ptr<HttpServer> server;
  explicit Served(HttpOptions options = {}) {
    std::signal(SIGPIPE, SIG_IGN);
    server = std::make_unique<HttpServer>(options, [this](std::string*) { return gen; });
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(std::chrono::seconds(10));
    return c;
  }
};

json post(const Served& s, const std::string& path, const json& body, int expect_status, const httplib::Headers& h = {}) {
  auto res = s.client().Post(path, h, body.dump(), "application/json");
  EXPECT_TRUE(res) << path;
  if (!res) return {};
  EXPECT_EQ(res->status, expect_status) << res->body;
  return json::parse(res->body, nullptr, false);
}

TEST(HttpServer, CompletionAndChatAnswerInOpenAiShape) {
  Served s;
  json c = post(s, "/v1/completions", {{"prompt", "x"}}, 200);
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["choices"][0]["text"], "Hello, world");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(c["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
  EXPECT_EQ(c["model"], "scripted-coder");
  json chat = post(s, "/v1/chat/completions", {{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}}, 200);
  EXPECT_EQ(chat["object"], "chat.completion");
  EXPECT_EQ(chat["choices"][0]["message"]["content"], "Hello, world");
  auto requests = s.gen->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(requests[0].interactive);
  EXPECT_FALSE(requests[1].interactive);
}

TEST(HttpServer, StreamsServerSentEventsEndingWithDone) {
  Served s;
  auto res = s.client().Post("/v1/chat/completions",
                             json{{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})},
                                  {"stream", true},
                                  {"stream_options", {{"include_usage", true}}}}
                                 .dump(),
                             "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  std::string text;
  bool done = false, usage_seen = false;
  size_t pos = 0;
  for (;;) {
    size_t end = res->body.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string event = res->body.substr(pos, end - pos);
    pos = end + 2;
    if (event.rfind("data: ", 0) != 0) continue;
    std::string data = event.substr(6);
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    json j = json::parse(data);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    if (j.contains("usage")) usage_seen = true;
    else if (j["choices"][0]["delta"].contains("content")) text += j["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, "Hello, world");
  EXPECT_TRUE(done);
  EXPECT_TRUE(usage_seen);
}

TEST(HttpServer, InfillAnswersInLlamaCppShape) {
  Served s;
  json r = post(s, "/infill", {{"input_prefix", "a"}, {"input_suffix", "b"}, {"n_predict", 8}}, 200);
  EXPECT_EQ(r["content"], "Hello, world");
  EXPECT_EQ(r["stop"], true);
  EXPECT_EQ(r["tokens_cached"], 3);
  EXPECT_TRUE(r["timings"].contains("predicted_n"));
  json warm = post(s, "/infill", {{"input_prefix", "a"}, {"n_predict", 0}}, 200);
  EXPECT_EQ(warm["content"], "");
}

TEST(HttpServer, ErrorsUseTheOpenAiShape) {
  Served s;
  json bad = post(s, "/v1/completions", {{"prompt", 3}}, 400);
  EXPECT_EQ(bad["error"]["type"], "invalid_request_error");
  EXPECT_EQ(bad["error"]["param"], "prompt");
  json missing = post(s, "/v1/nothing", json::object(), 404);
  EXPECT_EQ(missing["error"]["type"], "not_found_error");
  auto res = s.client().Post("/v1/completions", "{not json", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  s.gen->reason = GenerationEnd::Reason::Error;
  json failed = post(s, "/v1/completions", {{"prompt", "x"}}, 200);
  EXPECT_NE(failed["error"]["message"].get<std::string>().find("scripted failure"), std::string::npos);
}

TEST(HttpServer, NoModelIs503) {
  std::signal(SIGPIPE, SIG_IGN);
  HttpServer server({}, [](std::string* problem) {
    *problem = "loading x.gguf";
    return std::shared_ptr<Generator>();
  });
  httplib::Client c("127.0.0.1", server.port());
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  auto r = c.Post("/v1/completions", R"({"prompt":"x"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("loading x.gguf"), std::string::npos);
}

TEST(HttpServer, ApiKeyGuardsEverythingButHealth) {
  auto key_file = std::filesystem::temp_directory_path() / ("latent-http-key-" + std::to_string(::getpid()));
  std::ofstream(key_file) << "s3cret\n";
  HttpOptions o;
  o.api_key_file = key_file;
  Served s(o);
  json denied = post(s, "/v1/completions", {{"prompt", "x"}}, 401);
  EXPECT_EQ(denied["error"]["code"], "invalid_api_key");
  post(s, "/v1/completions", {{"prompt", "x"}}, 401, {{"Authorization", "Bearer s3cre"}});
  post(s, "/v1/completions", {{"prompt", "x"}}, 200, {{"Authorization", "Bearer s3cret"}});
  auto health = s.client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  std::filesystem::remove(key_file);
}

TEST(HttpServer, OtherAddressesNeedAKey) {
  HttpOptions o;
  o.host = "0.0.0.0";
  EXPECT_THROW(HttpServer(o, [](std::string*) { return nullptr; }), std::runtime_error);
  HttpOptions parsed;
  parse_listen_address("[::1]:8012", parsed);
  EXPECT_EQ(parsed.host, "::1");
  EXPECT_EQ(parsed.port, 8012);
  EXPECT_TRUE(is_loopback(parsed.host));
  EXPECT_THROW(parse_listen_address("localhost", parsed), std::runtime_error);
}

TEST(HttpServer, LimitsBodySizeAndConcurrentRequests) {
  HttpOptions o;
  o.max_body_bytes = 100;
  o.max_requests = 1;
  Served s(o);
  json big = post(s, "/v1/completions", {{"prompt", std::string(200, 'x')}}, 413);
  EXPECT_TRUE(big.contains("error"));
  s.gen->hold = true;
  std::atomic<bool> release{false};
  std::thread held([&] {
    // Streamed, so keep-alives arrive until the test lets it go.
    auto c = s.client();
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = R"({"prompt":"x","stream":true})";
    req.headers = {{"Content-Type", "application/json"}};
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return !release.load(); };
    c.send(req);
  });
  for (int i = 0; i < 100 && s.gen->requests().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  json busy = post(s, "/v1/completions", {{"prompt", "x"}}, 429);
  EXPECT_EQ(busy["error"]["type"], "rate_limit_error");
  release = true;
  held.join();
}

TEST(HttpServer, ClientGoingAwayCancelsTheGeneration) {
  for (bool stream : {true, false}) {
    Served s;
    s.gen->hold = true;
    {
      // Streamed: the client hangs up at the first keep-alive; not streamed: it stops waiting.
      auto c = s.client();
      c.set_read_timeout(std::chrono::milliseconds(300));
      httplib::Request req;
      req.method = "POST";
      req.path = "/v1/completions";
      req.body = json{{"prompt", "x"}, {"stream", stream}}.dump();
      req.headers = {{"Content-Type", "application/json"}};
      req.content_receiver = [](const char*, size_t, uint64_t, uint64_t) { return false; };
      auto res = c.send(req);
      EXPECT_FALSE(res);
    }
    EXPECT_TRUE(s.gen->wait_cancelled(std::chrono::seconds(5))) << (stream ? "streamed" : "not streamed");
  }
}

}  // namespace
}  // namespace latent::daemon::http
