#include "remote/remote_generator.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "remote/fim_format.h"
#include "remote/sse.h"

namespace latent::daemon::remote {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// "http://host:port/base" → ("http://host:port", "/base"); a trailing "/v1" is the API's own
// prefix, which users often include.
std::pair<std::string, std::string> split_url(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos || (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0))
    throw std::runtime_error("remote: '" + url + "' is not an http:// or https:// URL");
  auto slash = url.find('/', scheme + 3);
  std::string origin = url.substr(0, slash);
  std::string base = slash == std::string::npos ? "" : url.substr(slash);
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.size() >= 3 && base.compare(base.size() - 3, 3, "/v1") == 0) base.resize(base.size() - 3);
  return {origin, base};
}

struct Settings {
  std::string url, origin, base, api_key, model;
  FimFormat fim;
  int connect_timeout_ms = 3000, timeout_ms = 60000, retries = 2;
};

std::unique_ptr<httplib::Client> make_client(const Settings& s) {
  auto c = std::make_unique<httplib::Client>(s.origin);
  auto ms = [](int v) { return std::chrono::milliseconds(v); };
  c->set_connection_timeout(ms(s.connect_timeout_ms));
  c->set_read_timeout(ms(s.timeout_ms));
  c->set_write_timeout(ms(s.timeout_ms));
  if (!s.api_key.empty()) c->set_bearer_token_auth(s.api_key);
  return c;
}

std::string describe(httplib::Error e, const Settings& s) {
  switch (e) {
    case httplib::Error::Connection:
    case httplib::Error::ConnectionTimeout:
      return "cannot connect to the remote engine at " + s.url + " (is it running? see the remote setting)";
    case httplib::Error::Read:
      return "the remote engine at " + s.url + " closed the connection or sent nothing for " +
             std::to_string(s.timeout_ms) + " ms (remoteTimeoutMs)";
    default: return "the remote engine at " + s.url + ": " + httplib::to_string(e);
  }
}

std::string server_error(int status, const std::string& body, const Settings& s) {
  std::string message = body.substr(0, 300);
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const json& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) message = e["message"].get<std::string>();
    else if (e.is_string()) message = e.get<std::string>();
  }
  return "the remote engine at " + s.url + " answered HTTP " + std::to_string(status) + ": " + message;
}

// One request in flight.
struct Call {
  std::atomic<bool> cancelled{false};
  std::mutex mu;
  httplib::Client* client = nullptr;  // under mu; stop() unblocks a waiting read
};

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::shared_ptr<Call>> calls;
  uint64_t next_id = 1;
  RemoteHealth health;
};

enum class Api { Completions, Chat, Infill };

// Reads one streamed reply: the text pieces, the end, the usage.
struct ReplyReader {
  Api api = Api::Completions;
  std::function<void(std::string_view)> on_text;
  GenerationEnd end;
  bool finished = false;
  std::string error;
  Clock::time_point sent, first_text;
  bool got_text = false;

  void text(const std::string& t) {
    if (t.empty()) return;
    if (!got_text) first_text = Clock::now();
    got_text = true;
    on_text(t);
  }

  void finish_reason(const json& r) {
    if (r.is_string()) end.reason = r.get<std::string>() == "length" ? GenerationEnd::Reason::Length : GenerationEnd::Reason::Stop;
  }

  // Returns false to stop reading.
  bool event(const std::string& data) {
    if (data == "[DONE]") {
      finished = true;
      return false;
    }
    json j = json::parse(data, nullptr, false);
    if (!j.is_object()) return true;
    if (j.contains("error")) {
      const json& e = j["error"];
      error = e.is_object() ? e.value("message", e.dump()) : e.dump();
      return false;
    }
    if (api == Api::Infill) {
      if (j.contains("content") && j["content"].is_string()) text(j["content"].get<std::string>());
      if (j.value("stop", false)) {
        end.prompt_tokens = j.value("tokens_evaluated", 0);
        end.generated_tokens = j.value("tokens_predicted", 0);
        end.cached_tokens = j.value("tokens_cached", 0);
        end.reason = j.value("stop_type", "") == "limit" ? GenerationEnd::Reason::Length : GenerationEnd::Reason::Stop;
        finished = true;
        return false;
      }
      return true;
    }
    if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) {
      const json& c = j["choices"][0];
      if (api == Api::Chat) {
        if (c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content") && c["delta"]["content"].is_string())
          text(c["delta"]["content"].get<std::string>());
      } else if (c.contains("text") && c["text"].is_string()) {
        text(c["text"].get<std::string>());
      }
      if (c.contains("finish_reason")) finish_reason(c["finish_reason"]);
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      const json& u = j["usage"];
      end.prompt_tokens = u.value("prompt_tokens", 0);
      end.generated_tokens = u.value("completion_tokens", 0);
      if (u.contains("prompt_tokens_details") && u["prompt_tokens_details"].is_object())
        end.cached_tokens = u["prompt_tokens_details"].value("cached_tokens", 0);
    }
    return true;
  }
};

class RemoteGenerator final : public Generator {
 public:
  RemoteGenerator(Settings settings, ModelDescription model) : settings_(std::move(settings)), model_(std::move(model)) {
    shared_->health.url = settings_.url;
    shared_->health.fim_template = settings_.fim.name;
  }

  ~RemoteGenerator() override {
    std::unique_lock lock(shared_->mu);
    for (auto& [id, call] : shared_->calls) stop_call(*call);
    shared_->cv.wait(lock, [&] { return shared_->calls.empty(); });
  }

  const ModelDescription& model() const override { return model_; }

  uint64_t start(const GenerationRequest& request, std::function<void(std::string_view)> on_text,
                 std::function<void(const GenerationEnd&)> on_end) override {
    auto [api, path, body] = build(request);
    auto call = std::make_shared<Call>();
    uint64_t id;
    {
      std::lock_guard lock(shared_->mu);
      id = shared_->next_id++;
      shared_->calls[id] = call;
      shared_->health.requests++;
    }
    std::thread([settings = settings_, shared = shared_, id, call, api, path, body = body.dump(), on_text = std::move(on_text),
                 on_end = std::move(on_end)] {
      GenerationEnd end = run(settings, *shared, *call, api, path, body, on_text);
      {
        std::lock_guard lock(shared->mu);
        if (end.reason == GenerationEnd::Reason::Error) {
          shared->health.errors++;
          shared->health.last_error = end.error;
        }
      }
      on_end(end);
      std::lock_guard lock(shared->mu);
      shared->calls.erase(id);
      shared->cv.notify_all();
    }).detach();
    return id;
  }

  void cancel(uint64_t id) override {
    std::lock_guard lock(shared_->mu);
    auto it = shared_->calls.find(id);
    if (it != shared_->calls.end()) stop_call(*it->second);
  }

  // The served model's tokenizer is not at hand: about 4 bytes a token for code.
  size_t count_tokens(std::string_view text) const override { return (text.size() + 3) / 4; }

  GeneratorLoad load() const override {
    std::lock_guard lock(shared_->mu);
    return {static_cast<int64_t>(shared_->calls.size()), 0};
  }

  std::optional<RemoteHealth> remote() const override {
    std::lock_guard lock(shared_->mu);
    return shared_->health;
  }

 private:
  static void stop_call(Call& call) {
    call.cancelled = true;
    std::lock_guard lock(call.mu);
    if (call.client) call.client->stop();
  }

  std::tuple<Api, std::string, json> build(const GenerationRequest& r) const {
    json body = {{"stream", true}};
    std::vector<std::string> stop = r.stop;
    body["temperature"] = r.temperature;
    body["top_p"] = r.top_p;
    if (r.temperature > 0) body["seed"] = r.seed;
    if (r.kind == GenerationRequest::Kind::Fim && settings_.fim.mode == FimMode::Infill) {
      body.update({{"input_prefix", r.prefix}, {"input_suffix", r.suffix}, {"n_predict", r.max_tokens}, {"cache_prompt", true}});
      body["stop"] = stop;
      return {Api::Infill, settings_.base + "/infill", body};
    }
    body["model"] = settings_.model;
    body["max_tokens"] = r.max_tokens;
    body["stream_options"] = {{"include_usage", true}};
    if (r.kind == GenerationRequest::Kind::Chat) {
      json messages = json::array();
      for (const auto& [role, content] : r.messages) messages.push_back({{"role", role}, {"content", content}});
      body["messages"] = messages;
      if (!stop.empty()) body["stop"] = stop;
      return {Api::Chat, settings_.base + "/v1/chat/completions", body};
    }
    if (r.kind == GenerationRequest::Kind::Text) {
      body["prompt"] = r.text;
    } else if (settings_.fim.mode == FimMode::Suffix) {
      body["prompt"] = r.prefix;
      body["suffix"] = r.suffix;
    } else {
      body["prompt"] = settings_.fim.prompt(r.prefix, r.suffix);
      stop.insert(stop.end(), settings_.fim.stop.begin(), settings_.fim.stop.end());
    }
    if (!stop.empty()) body["stop"] = stop;
    return {Api::Completions, settings_.base + "/v1/completions", body};
  }

  static GenerationEnd run(const Settings& s, Shared& shared, Call& call, Api api, const std::string& path,
                           const std::string& body, const std::function<void(std::string_view)>& on_text) {
    GenerationEnd cancelled;
    cancelled.reason = GenerationEnd::Reason::Cancelled;
    auto failed = [](std::string why) {
      GenerationEnd e;
      e.reason = GenerationEnd::Reason::Error;
      e.error = std::move(why);
      return e;
    };
    for (int attempt = 0;; ++attempt) {
      auto client = make_client(s);
      {
        std::lock_guard lock(call.mu);
        if (call.cancelled) return cancelled;
        call.client = client.get();
      }
      ReplyReader reader;
      reader.api = api;
      reader.on_text = on_text;
      SseParser parser;
      int status = 0;
      std::string error_body;
      bool received = false;
      httplib::Request req;
      req.method = "POST";
      req.path = path;
      req.body = body;
      req.headers = {{"Content-Type", "application/json"}, {"Accept", "text/event-stream"}};
      req.response_handler = [&](const httplib::Response& r) {
        status = r.status;
        return true;
      };
      req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        if (call.cancelled) return false;
        received = true;
        if (status != 200) {
          error_body.append(data, n);
          return error_body.size() < (64u << 10);
        }
        return parser.feed(std::string_view(data, n), [&](const std::string& event) { return reader.event(event); });
      };
      reader.sent = Clock::now();
      httplib::Result result = client->send(req);
      {
        std::lock_guard lock(call.mu);
        call.client = nullptr;
      }
      if (call.cancelled) return cancelled;
      if (reader.got_text) {
        std::lock_guard lock(shared.mu);
        shared.health.last_latency_ms = std::chrono::duration<double, std::milli>(reader.first_text - reader.sent).count();
      }
      if (status != 0 && status != 200) return failed(server_error(status, error_body, s));
      if (!reader.error.empty()) return failed("the remote engine at " + s.url + " failed: " + reader.error);
      if (reader.finished) return reader.end;
      bool connect_error = result.error() == httplib::Error::Connection || result.error() == httplib::Error::ConnectionTimeout;
      if (connect_error && !received && attempt < s.retries) {
        std::unique_lock lock(shared.mu);
        shared.cv.wait_for(lock, std::chrono::milliseconds(200 << attempt), [&] { return call.cancelled.load(); });
        continue;
      }
      if (result) return failed("the remote engine at " + s.url + " ended its reply before the end of the stream");
      if (received) return failed("the remote engine at " + s.url + " closed the connection mid-stream");
      return failed(describe(result.error(), s));
    }
  }

  Settings settings_;
  ModelDescription model_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

}  // namespace

std::unique_ptr<Generator> open_remote_generator(const Options& options) {
  Settings s;
  s.url = options.remote_url;
  std::tie(s.origin, s.base) = split_url(options.remote_url);
  if (!options.remote_api_key_env.empty()) {
    const char* key = std::getenv(options.remote_api_key_env.c_str());
    if (!key || !*key)
      throw std::runtime_error("remote: the environment variable " + options.remote_api_key_env +
                               " (remoteApiKeyEnv) is not set in latentd's environment");
    s.api_key = key;
  }
  s.connect_timeout_ms = options.remote_connect_timeout_ms;
  s.timeout_ms = options.remote_timeout_ms;
  s.retries = options.remote_retries;

  auto list_models = [&s] {
    for (int attempt = 0;; ++attempt) {
      httplib::Result r = make_client(s)->Get(s.base + "/v1/models");
      if (r || attempt >= s.retries) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
    }
  };
  httplib::Result result = list_models();
  if (!result) throw std::runtime_error(describe(result.error(), s));
  if (result->status != 200) throw std::runtime_error(server_error(result->status, result->body, s) + " (GET /v1/models)");
  json models = json::parse(result->body, nullptr, false);
  if (!models.is_object() || !models.contains("data") || !models["data"].is_array() || models["data"].empty())
    throw std::runtime_error("the remote engine at " + s.url + " lists no models (GET /v1/models)");
  const json* chosen = nullptr;
  std::string names;
  for (const auto& m : models["data"]) {
    std::string id = m.value("id", "");
    names += (names.empty() ? "" : ", ") + id;
    if (!chosen && (options.remote_model.empty() || id == options.remote_model)) chosen = &m;
  }
  if (!chosen)
    throw std::runtime_error("the remote engine at " + s.url + " serves no model '" + options.remote_model +
                             "' (remoteModel); it serves: " + names);
  s.model = chosen->value("id", "");
  if (options.fim_template == "auto") {
    s.fim = detect_fim_format(s.model, chosen->value("owned_by", ""));
  } else if (auto f = fim_format_named(options.fim_template)) {
    s.fim = *f;
  } else {
    throw std::runtime_error("fimTemplate: unknown layout '" + options.fim_template + "'");
  }

  ModelDescription d;
  d.name = s.model;
  d.path = s.url;
  d.backend = "remote";
  d.chat_format = "server";
  d.fim = s.fim.mode != FimMode::None;
  if (chosen->contains("max_model_len") && (*chosen)["max_model_len"].is_number_integer())
    d.context_length = (*chosen)["max_model_len"].get<int32_t>();  // vLLM
  else if (chosen->contains("meta") && (*chosen)["meta"].is_object())
    d.context_length = (*chosen)["meta"].value("n_ctx_train", 0);  // llama.cpp, latentd
  return std::make_unique<RemoteGenerator>(std::move(s), std::move(d));
}

}  // namespace latent::daemon::remote
