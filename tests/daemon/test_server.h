// The real server (event loop thread, Assistant, one LspSession) against an in-memory client:
// the test writes framed JSON-RPC and reads what the server writes, with timeouts.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "lsp/framing.h"
#include "lsp/jsonrpc.h"
#include "server/assistant.h"
#include "server/event_loop.h"
#include "server/lsp_session.h"

namespace latent::daemon::testing {

using lsp::Json;
using namespace std::chrono_literals;

class TestServer {
 public:
  explicit TestServer(Options options, GeneratorFactory generators = {}, IndexFactory indexes = {}) {
    assistant_ = std::make_unique<Assistant>(loop_, std::move(options), std::move(generators), std::move(indexes));
    session_ = std::make_unique<LspSession>(
        *assistant_, [this](std::string bytes) { on_bytes(bytes); },
        [this](int code) {
          std::lock_guard lock(mu_);
          exit_code_ = code;
          cv_.notify_all();
        });
    thread_ = std::thread([this] { loop_.run(); });
  }

  ~TestServer() {
    loop_.post([this] {
      session_.reset();
      assistant_->shutdown();
      loop_.stop();
    });
    thread_.join();
  }

  void send(const Json& message) { send_raw(lsp::encode_frame(message.dump())); }
  void send_raw(std::string bytes) {
    loop_.post([this, bytes = std::move(bytes)] {
      if (session_) session_->receive(bytes);
    });
  }
  int request_async(const std::string& method, Json params) {
    int id = next_id_++;
    send(Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    return id;
  }
  void notify(const std::string& method, Json params) {
    send(Json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }
  Json response(int id, std::chrono::milliseconds timeout = 10s) {
    auto r = wait_for([id](const Json& m) { return m.contains("id") && m["id"] == id && !m.contains("method"); }, timeout);
    if (!r) throw std::runtime_error("no response to request " + std::to_string(id));
    return *r;
  }
  Json request(const std::string& method, Json params, std::chrono::milliseconds timeout = 10s) {
    return response(request_async(method, std::move(params)), timeout);
  }
  Json initialize(Json capabilities = Json::object(), Json extra = Json::object()) {
    Json params = {{"processId", nullptr}, {"capabilities", std::move(capabilities)}};
    for (auto& [k, v] : extra.items()) params[k] = v;
    Json r = request("initialize", params);
    notify("initialized", Json::object());
    return r;
  }

  // Removes and returns the first message (in arrival order) matching pred.
  std::optional<Json> wait_for(const std::function<bool(const Json&)>& pred, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto it = inbox_.begin(); it != inbox_.end(); ++it)
        if (pred(*it)) {
          Json m = std::move(*it);
          inbox_.erase(it);
          return m;
        }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
    }
  }
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return exit_code_.has_value(); });
    return exit_code_;
  }
  Assistant& assistant() { return *assistant_; }
  void block_until_idle() { assistant_->block_until_idle_for_test(); }

 private:
  void on_bytes(const std::string& bytes) {
    decoder_.feed(bytes);
    std::lock_guard lock(mu_);
    while (auto ev = decoder_.next()) {
      if (ev->kind == lsp::FrameEvent::Kind::Message) inbox_.push_back(Json::parse(ev->body));
    }
    cv_.notify_all();
  }

  EventLoop loop_;
  std::unique_ptr<Assistant> assistant_;
  std::unique_ptr<LspSession> session_;
  std::thread thread_;
  lsp::FrameDecoder decoder_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Json> inbox_;
  std::optional<int> exit_code_;
  int next_id_ = 1;
};

}  // namespace latent::daemon::testing
