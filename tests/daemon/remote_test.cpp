// daemon/remote: FIM layouts, the SSE parser, and the remote Generator over real loopback HTTP:
// against latentd's own HTTP server (with a scripted model behind it) and against servers
// that fail (HTTP 500, silence, a stream cut off, nothing listening).
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <future>

#include "http/http_server.h"
#include "remote/fim_format.h"
#include "remote/remote_generator.h"
#include "remote/sse.h"
#include "scripted_generator.h"

namespace latent::daemon::remote {
namespace {

using testing::ScriptedGenerator;
using namespace std::chrono_literals;

TEST(FimFormat, LayoutsFollowEachModelFamily) {
  EXPECT_EQ(fim_format_named("deepseek")->prompt("P", "S"), "<｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>");
  EXPECT_EQ(fim_format_named("qwen")->prompt("P", "S"), "<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>");
  EXPECT_EQ(fim_format_named("codestral")->prompt("P", "S"), "[SUFFIX]S[PREFIX]P");
  EXPECT_EQ(fim_format_named("starcoder2")->prompt("P", "S"), "<fim_prefix>P<fim_suffix>S<fim_middle>");
  EXPECT_EQ(fim_format_named("codellama")->prompt("P", "S"), "<PRE> P <SUF>S <MID>");
  EXPECT_EQ(fim_format_named("none")->prompt("P", "S"), "P");
  EXPECT_FALSE(fim_format_named("auto"));
}

TEST(FimFormat, DetectedFromTheServerThenTheModelName) {
  EXPECT_EQ(detect_fim_format("deepseek-ai/DeepSeek-Coder-V2-Lite-Base", "vllm").name, "deepseek");
  EXPECT_EQ(detect_fim_format("Qwen/Qwen2.5-Coder-7B", "vllm").name, "qwen");
  EXPECT_EQ(detect_fim_format("qwen3-coder:30b", "library").name, "qwen");
  EXPECT_EQ(detect_fim_format("Qwen/Qwen2.5-7B-Instruct", "vllm").name, "none");
  EXPECT_EQ(detect_fim_format("codestral-latest", "mistralai").name, "codestral");
  EXPECT_EQ(detect_fim_format("bigcode/starcoder2-15b", "sglang").name, "starcoder2");
  EXPECT_EQ(detect_fim_format("codellama/CodeLlama-13b-hf", "vllm").name, "codellama");
  EXPECT_EQ(detect_fim_format("deepseek-coder", "latent").name, "suffix");
  EXPECT_EQ(detect_fim_format("qwen2.5-coder", "llamacpp").name, "infill");
}

TEST(Sse, EventsSplitAnywhere) {
  std::string stream = ": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\ndata: one\ndata: two\n\nevent: x\ndata: [DONE]\n\n";
  SseParser parser;
  std::vector<std::string> events;
  for (char c : stream) parser.feed(std::string_view(&c, 1), [&](const std::string& d) {
      events.push_back(d);
      return true;
    });
  EXPECT_EQ(events, (std::vector<std::string>{"{\"a\":1}", "one\ntwo", "[DONE]"}));
  SseParser stopping;
  int seen = 0;
  EXPECT_FALSE(stopping.feed("data: a\n\ndata: b\n\n", [&](const std::string&) { return ++seen < 1; }));
  EXPECT_EQ(seen, 1);
}

struct Outcome {
  std::string text;
  GenerationEnd end;
};

Outcome run(Generator& g, const GenerationRequest& r) {
  auto text = std::make_shared<std::string>();
  std::promise<GenerationEnd> done;
  g.start(r, [text](std::string_view t) { *text += t; }, [&done](const GenerationEnd& e) { done.set_value(e); });
  auto f = done.get_future();
  EXPECT_EQ(f.wait_for(20s), std::future_status::ready);
  return {*text, f.get()};
}

GenerationRequest fim(std::string prefix, std::string suffix) {
  GenerationRequest r;
  r.kind = GenerationRequest::Kind::Fim;
  r.prefix = std::move(prefix);
  r.suffix = std::move(suffix);
  return r;
}

GenerationRequest chat(std::string question) {
  GenerationRequest r;
  r.kind = GenerationRequest::Kind::Chat;
  r.messages = {{"user", std::move(question)}};
  r.interactive = false;
  return r;
}

Options remote_options(int port) {
  Options o;
  o.remote_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  o.remote_timeout_ms = 500;
  o.remote_connect_timeout_ms = 500;
  o.remote_retries = 1;
  return o;
}

// latentd --http with a scripted model: what `latentd --remote` talks to in the e2e test.
struct Latentd {
  std::shared_ptr<ScriptedGenerator> model = std::make_shared<ScriptedGenerator>();
  http::HttpServer server{http::HttpOptions{}, [this](std::string*) { return model; }};
  Latentd() { std::signal(SIGPIPE, SIG_IGN); }
};

TEST(RemoteGenerator, CompletesAndAnswersThroughAnotherLatentd) {
  Latentd latentd;
  auto g = open_remote_generator(remote_options(latentd.server.port()));
  EXPECT_EQ(g->model().name, "scripted-coder");
  EXPECT_EQ(g->model().backend, "remote");
  EXPECT_EQ(g->model().context_length, 4096);
  ASSERT_TRUE(g->remote());
  EXPECT_EQ(g->remote()->fim_template, "suffix");  // latentd lays out its own FIM prompt

  Outcome c = run(*g, fim("def f(", "):"));
  EXPECT_EQ(c.text, "Hello, world");
  EXPECT_EQ(c.end.reason, GenerationEnd::Reason::Stop);
  EXPECT_EQ(c.end.cached_tokens, 3);  // the server's usage, passed on
  Outcome a = run(*g, chat("why?"));
  EXPECT_EQ(a.text, "Hello, world");

  auto seen = latentd.model->requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].kind, GenerationRequest::Kind::Fim);
  EXPECT_EQ(seen[0].prefix, "def f(");
  EXPECT_EQ(seen[0].suffix, "):");
  EXPECT_TRUE(seen[0].interactive);
  EXPECT_EQ(seen[1].kind, GenerationRequest::Kind::Chat);
  EXPECT_EQ(seen[1].messages[0].second, "why?");
  EXPECT_EQ(g->remote()->requests, 2u);
  EXPECT_EQ(g->remote()->errors, 0u);
}

TEST(RemoteGenerator, InfillAndTemplatesReachTheServerAsLaidOut) {
  Latentd latentd;
  Options o = remote_options(latentd.server.port());
  o.fim_template = "infill";
  auto infill = open_remote_generator(o);
  EXPECT_EQ(run(*infill, fim("a", "b")).text, "Hello, world");
  o.fim_template = "deepseek";
  auto templated = open_remote_generator(o);
  EXPECT_EQ(run(*templated, fim("a", "b")).text, "Hello, world");
  auto seen = latentd.model->requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].kind, GenerationRequest::Kind::Fim);
  EXPECT_EQ(seen[0].prefix, "a");
  EXPECT_EQ(seen[1].kind, GenerationRequest::Kind::Text);
  EXPECT_EQ(seen[1].text, "<｜fim▁begin｜>a<｜fim▁hole｜>b<｜fim▁end｜>");
  EXPECT_NE(std::find(seen[1].stop.begin(), seen[1].stop.end(), "<｜end▁of▁sentence｜>"), seen[1].stop.end());
}

TEST(RemoteGenerator, CancelClosesTheStreamAndTheServerStops) {
  Latentd latentd;
  auto g = open_remote_generator(remote_options(latentd.server.port()));
  latentd.model->hold = true;
  std::promise<GenerationEnd> done;
  uint64_t id = g->start(chat("long"), [](std::string_view) {}, [&](const GenerationEnd& e) { done.set_value(e); });
  for (int i = 0; i < 200 && latentd.model->requests().empty(); ++i) std::this_thread::sleep_for(10ms);
  g->cancel(id);
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get().reason, GenerationEnd::Reason::Cancelled);
  EXPECT_TRUE(latentd.model->wait_cancelled(5s));  // latentd --http saw the client go
}

// A server that lists one model and answers completions as `behaviour` says.
struct BadServer {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  explicit BadServer(std::function<void(const httplib::Request&, httplib::Response&)> behaviour) {
    std::signal(SIGPIPE, SIG_IGN);
    server.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"Qwen2.5-Coder-1.5B","owned_by":"vllm"}]})", "application/json");
    });
    server.Post("/v1/completions", behaviour);
    server.Post("/v1/chat/completions", behaviour);
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~BadServer() {
    server.stop();
    thread.join();
  }
};

TEST(RemoteGenerator, ServerErrorsBecomeErrorsNamingTheServer) {
  BadServer s([](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content(R"({"error":{"message":"CUDA out of memory","type":"server_error"}})", "application/json");
  });
  auto g = open_remote_generator(remote_options(s.port));
  EXPECT_EQ(g->remote()->fim_template, "qwen");
  Outcome o = run(*g, fim("a", "b"));
  EXPECT_EQ(o.end.reason, GenerationEnd::Reason::Error);
  EXPECT_NE(o.end.error.find("HTTP 500: CUDA out of memory"), std::string::npos) << o.end.error;
  EXPECT_EQ(g->remote()->errors, 1u);
  EXPECT_EQ(g->remote()->last_error, o.end.error);
}

TEST(RemoteGenerator, ASilentServerTimesOut) {
  BadServer s([](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(1500ms);
    res.set_content("{}", "application/json");
  });
  auto g = open_remote_generator(remote_options(s.port));
  auto t0 = std::chrono::steady_clock::now();
  Outcome o = run(*g, chat("x"));
  EXPECT_EQ(o.end.reason, GenerationEnd::Reason::Error);
  EXPECT_NE(o.end.error.find("remoteTimeoutMs"), std::string::npos) << o.end.error;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1400ms);  // the 500 ms timeout, not the server's 1.5 s
}

TEST(RemoteGenerator, AStreamCutOffIsAnErrorAfterItsText) {
  BadServer s([](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/event-stream", [](size_t, httplib::DataSink& sink) {
      std::string event = "data: {\"choices\":[{\"index\":0,\"text\":\"par\",\"finish_reason\":null}]}\n\n";
      sink.write(event.data(), event.size());
      return false;  // the connection drops
    });
  });
  auto g = open_remote_generator(remote_options(s.port));
  Outcome o = run(*g, fim("a", "b"));
  EXPECT_EQ(o.text, "par");
  EXPECT_EQ(o.end.reason, GenerationEnd::Reason::Error);
  EXPECT_NE(o.end.error.find("mid-stream"), std::string::npos) << o.end.error;
}

TEST(RemoteGenerator, NothingListeningFailsToOpenAfterRetrying) {
  // A port that was free a moment ago and has no listener.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  int port = ntohs(addr.sin_port);
  Options o = remote_options(port);
  o.remote_retries = 2;
  auto t0 = std::chrono::steady_clock::now();
  try {
    open_remote_generator(o);
    FAIL() << "opened a remote engine where nothing listens";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 600ms);  // backoff 200 + 400 ms
  o.remote_model = "no-such-model";
  Latentd latentd;
  o.remote_url = "http://127.0.0.1:" + std::to_string(latentd.server.port());
  EXPECT_THROW(open_remote_generator(o), std::runtime_error);
}

}  // namespace
}  // namespace latent::daemon::remote
