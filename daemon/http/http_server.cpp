#include "http/http_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "http/openai_api.h"
#include "server/assistant.h"
#include "server/log.h"

namespace latent::daemon::http {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

void parse_listen_address(const std::string& text, HttpOptions& options) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--http expects HOST:PORT (e.g. 127.0.0.1:8012), got '" + text + "'");
  std::string host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  int p = -1;
  try {
    size_t used = 0;
    p = std::stoi(port, &used);
    if (used != port.size()) p = -1;
  } catch (const std::exception&) {
  }
  if (p < 0 || p > 65535) throw std::runtime_error("--http: '" + port + "' is not a port number (0-65535)");
  options.host = host;
  options.port = p;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

namespace {

constexpr auto kKeepAlive = std::chrono::milliseconds(250);
// A reply that is not streamed starts its keep-alive whitespace only after this, so that quick
// answers are plain JSON bodies.
constexpr auto kQuietStart = std::chrono::milliseconds(1000);

std::string read_key(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read the API key file " + file.string());
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
  if (key.empty()) throw std::runtime_error("the API key file " + file.string() + " is empty (its first line is the key)");
  return key;
}

// Compares without stopping at the first difference, so timing tells nothing about the key's
// contents (its length is no secret).
bool same_secret(const std::string& given, const std::string& key) {
  if (given.size() != key.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < key.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ key[i]);
  return diff == 0;
}

void send_error(httplib::Response& res, int status, const std::string& message, const std::string& type,
                const std::string& param = {}, const std::string& code = {}) {
  res.status = status;
  res.set_content(error_body(message, type, param, code).dump(), "application/json");
}

std::string sse(const json& j) { return "data: " + j.dump() + "\n\n"; }

// What the generator's threads hand to the response writer.
struct Reply {
  std::mutex mu;
  std::condition_variable cv;
  std::string pending;
  bool ended = false;
  GenerationEnd end;
  Clock::time_point start = Clock::now(), first_text;
  bool got_text = false;
};

}  // namespace

struct HttpServer::Impl {
  HttpOptions options;
  ModelSource model;
  std::string key;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
  std::atomic<uint64_t> next_id{1};

  bool authorized(const httplib::Request& req) const {
    if (key.empty() || req.path == "/health") return true;
    std::string header = req.get_header_value("Authorization");
    const std::string bearer = "Bearer ";
    return header.rfind(bearer, 0) == 0 && same_secret(header.substr(bearer.size()), key);
  }

  void generate(Endpoint endpoint, const httplib::Request& req, httplib::Response& res);
};

void HttpServer::Impl::generate(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
  std::string problem;
  std::shared_ptr<Generator> gen = model(&problem);
  if (!gen) return send_error(res, 503, "no model is loaded: " + problem, "server_error", "", "model_not_loaded");
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return send_error(res, 400, "the request body is not valid JSON", "invalid_request_error");
  ParsedRequest parsed;
  try {
    parsed = parse_request(endpoint, body, gen->model());
  } catch (const BadRequest& e) {
    return send_error(res, 400, e.what(), "invalid_request_error", e.param);
  }
  if (active.fetch_add(1) >= options.max_requests) {
    active.fetch_sub(1);
    return send_error(res, 429,
                      "latentd is already running " + std::to_string(options.max_requests) +
                          " requests; retry later",
                      "rate_limit_error");
  }
  auto reply = std::make_shared<Reply>();
  uint64_t gen_id = 0;
  try {
    gen_id = gen->start(
        parsed.generation,
        [reply](std::string_view text) {
          std::lock_guard lock(reply->mu);
          if (!reply->got_text) reply->first_text = Clock::now();
          reply->got_text = true;
          reply->pending += text;
          reply->cv.notify_one();
        },
        [reply](const GenerationEnd& end) {
          std::lock_guard lock(reply->mu);
          reply->ended = true;
          reply->end = end;
          reply->cv.notify_one();
        });
  } catch (const std::exception& e) {
    active.fetch_sub(1);
    return send_error(res, 400, e.what(), "invalid_request_error");
  }

  ResponseIds ids;
  ids.id = (endpoint == Endpoint::ChatCompletions ? "chatcmpl-" : "cmpl-") + std::to_string(next_id.fetch_add(1));
  ids.created = static_cast<int64_t>(std::time(nullptr));
  ids.model = gen->model().name;
  const bool stream = parsed.stream;
  const bool discard = parsed.discard_text;
  const bool include_usage = parsed.include_usage;
  auto finished = std::make_shared<std::atomic<bool>>(false);

  auto provider = [this, gen, gen_id, reply, ids, endpoint, stream, discard, include_usage, finished](
                      size_t, httplib::DataSink& sink) mutable {
    std::string all;
    auto last_write = Clock::now();
    auto cancel = [&] {
      gen->cancel(gen_id);
      return false;
    };
    GenerationEnd end;
    for (;;) {
      std::string text;
      bool ended = false;
      {
        std::unique_lock lock(reply->mu);
        reply->cv.wait_for(lock, kKeepAlive, [&] { return !reply->pending.empty() || reply->ended; });
        text.swap(reply->pending);
        ended = reply->ended;
        end = reply->end;
      }
      if (stopping && !ended) return cancel();
      if (discard) text.clear();
      auto now = Clock::now();
      if (!text.empty()) {
        if (stream) {
          std::string event = sse(stream_chunk(endpoint, ids, text, nullptr));
          if (!sink.write(event.data(), event.size())) return cancel();
          last_write = now;
        } else {
          all += text;
        }
      }
      if (ended) break;
      // Keep-alive bytes find out whether the client is still there (a write to a closed
      // connection fails), so its generation is cancelled instead of running on.
      bool quiet = !stream && now - reply->start < kQuietStart;
      if (!quiet && now - last_write >= kKeepAlive) {
        const char* ping = stream ? ": keep-alive\n\n" : "\n";
        if (!sink.write(ping, std::strlen(ping))) return cancel();
        last_write = now;
      }
    }
    finished->store(true);
    {
      std::lock_guard lock(reply->mu);
      auto first = reply->got_text ? reply->first_text : Clock::now();
      ids.prompt_ms = std::chrono::duration<double, std::milli>(first - reply->start).count();
      ids.predicted_ms = std::chrono::duration<double, std::milli>(Clock::now() - first).count();
    }
    std::string out;
    if (end.reason == GenerationEnd::Reason::Error || end.reason == GenerationEnd::Reason::Cancelled) {
      std::string why = end.reason == GenerationEnd::Reason::Error ? end.error : "the request was cancelled (latentd is stopping)";
      json err = error_body("generation failed: " + why, "server_error");
      out = stream ? sse(err) : err.dump();
    } else if (stream) {
      out = sse(stream_chunk(endpoint, ids, "", &end));
      if (include_usage && endpoint != Endpoint::Infill) out += sse(usage_chunk(endpoint, ids, end));
    } else {
      out = full_response(endpoint, ids, all, end).dump();
    }
    if (stream && endpoint != Endpoint::Infill) out += "data: [DONE]\n\n";
    if (!sink.write(out.data(), out.size())) return false;
    sink.done();
    return true;
  };
  auto releaser = [this, gen, gen_id, finished](bool) {
    if (!finished->load()) gen->cancel(gen_id);
    active.fetch_sub(1);
  };
  res.set_chunked_content_provider(stream ? "text/event-stream" : "application/json", provider, releaser);
}

HttpServer::HttpServer(HttpOptions options, ModelSource model) : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  im.options = std::move(options);
  im.model = std::move(model);
  std::string where = im.options.host + ":" + std::to_string(im.options.port);
  if (!im.options.api_key_file.empty()) im.key = read_key(im.options.api_key_file);
  if (!is_loopback(im.options.host) && im.key.empty())
    throw std::runtime_error("--http " + where + " is not a loopback address: serving the network needs --api-key-file FILE "
                             "(clients then send Authorization: Bearer KEY)");

  httplib::Server& s = im.server;
  int threads = im.options.max_requests + 4;  // room for /health and the requests answered 429
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(im.options.max_body_bytes);
  s.set_pre_routing_handler([&im](const httplib::Request& req, httplib::Response& res) {
    if (im.authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, 401, "missing or wrong API key: send Authorization: Bearer KEY", "invalid_request_error", "",
               "invalid_api_key");
    return httplib::Server::HandlerResponse::Handled;
  });
  // Statuses the library sets itself (404, 413, ...) get a body in OpenAI's shape.
  s.set_error_handler(httplib::Server::HandlerWithResponse([&im](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = res.status == 404   ? "no such endpoint: " + req.method + " " + req.path
                          : res.status == 413 ? "the request body is larger than " + std::to_string(im.options.max_body_bytes) + " bytes"
                                              : "HTTP " + std::to_string(res.status);
    send_error(res, res.status, message, res.status == 404 ? "not_found_error" : "invalid_request_error");
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    log_debug("http " + req.method + " " + req.path + " " + std::to_string(res.status));
  });

  s.Get("/health", [&im](const httplib::Request&, httplib::Response& res) {
    std::string problem;
    if (im.model(&problem)) {
      res.set_content(R"({"status":"ok"})", "application/json");
    } else {
      send_error(res, 503, "no model is loaded: " + problem, "server_error", "", "model_not_loaded");
    }
  });
  auto models = [&im](const httplib::Request&, httplib::Response& res) {
    std::string problem;
    auto gen = im.model(&problem);
    if (!gen) return send_error(res, 503, "no model is loaded: " + problem, "server_error", "", "model_not_loaded");
    res.set_content(models_response(gen->model(), static_cast<int64_t>(std::time(nullptr))).dump(), "application/json");
  };
  s.Get("/v1/models", models);
  s.Get("/models", models);
  auto route = [&im](Endpoint e) {
    return [&im, e](const httplib::Request& req, httplib::Response& res) { im.generate(e, req, res); };
  };
  for (const char* path : {"/v1/completions", "/completions"}) s.Post(path, route(Endpoint::Completions));
  for (const char* path : {"/v1/chat/completions", "/chat/completions"}) s.Post(path, route(Endpoint::ChatCompletions));
  s.Post("/infill", route(Endpoint::Infill));

  if (im.options.port == 0) {
    im.port = s.bind_to_any_port(im.options.host);
  } else {
    im.port = s.bind_to_port(im.options.host, im.options.port) ? im.options.port : -1;
  }
  if (im.port <= 0) throw std::runtime_error("--http: cannot listen on " + where + " (address in use, or not this machine's)");
  im.thread = std::thread([&im] { im.server.listen_after_bind(); });
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::port() const { return impl_->port; }

void HttpServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping = true;
  impl_->server.stop();
  impl_->thread.join();
}

ServiceFactory http_service(HttpOptions options) {
  return [options](Assistant& assistant) -> std::unique_ptr<Service> {
    auto server = std::make_unique<HttpServer>(
        options, [&assistant](std::string* problem) { return assistant.shared_generator(problem); });
    log_info("latentd serving HTTP on http://" + (options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host) +
             ":" + std::to_string(server->port()) + (options.api_key_file.empty() ? "" : " (API key required)"));
    return server;
  };
}

}  // namespace latent::daemon::http
