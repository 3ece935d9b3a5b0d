// latentd's HTTP API (`latentd --http HOST:PORT`): the OpenAI-compatible endpoints and
// llama.cpp server's /infill over the model the daemon has loaded, so that other clients
// (llama.vim, llama.vscode, Continue, the `openai` libraries) use Latent's engine and its latent
// prefix cache. HTTP itself is Debian's cpp-httplib; request and response JSON is openai_api.h.
//
//   GET  /health                 {"status":"ok"}, or 503 while no model is loaded
//   GET  /v1/models              the one served model
//   POST /v1/completions         prompt (+ suffix: fill-in-the-middle), stream as server-sent events
//   POST /v1/chat/completions    messages, streamed or not
//   POST /infill                 llama.cpp's shape (input_prefix, input_suffix, input_extra, ...)
//
// Requests run through the engine's scheduler like the editor's (completions and /infill ahead of
// chat). A client that goes away cancels its request: while a reply is pending the server
// writes keep-alive bytes (an SSE comment, or whitespace before a JSON body: the status line
// is sent at once), and a failed write cancels the generation. Errors use OpenAI's error shape.
//
// Security: loopback addresses only, unless an API key file is given; with a key every request
// but /health needs "Authorization: Bearer KEY". The key is never logged. Bodies larger than
// max_body_bytes get 413; more than max_requests generations at once get 429.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "server/daemon.h"
#include "server/ports.h"

namespace latent::daemon::http {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;                          // 0: any free port (HttpServer::port() says which)
  std::filesystem::path api_key_file;    // one line: the key; empty: no authentication
  size_t max_body_bytes = 8u << 20;
  int max_requests = 8;                  // generations at once
};

// "HOST:PORT", "[::1]:PORT" or ":PORT" (loopback). Throws std::runtime_error naming the text.
void parse_listen_address(const std::string& text, HttpOptions& options);
bool is_loopback(const std::string& host);

// The loaded model, or null and why not; called from the server's threads.
using ModelSource = std::function<std::shared_ptr<Generator>(std::string* problem)>;

class HttpServer final : public Service {
 public:
  // Binds and starts serving on its own threads. Throws std::runtime_error naming the address
  // (in use, not loopback without an API key, unreadable key file).
  HttpServer(HttpOptions options, ModelSource model);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  // Stops listening, cancels running generations and joins the server's threads.
  void stop() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// latentd's --http: serves the model of the daemon's Assistant.
ServiceFactory http_service(HttpOptions options);

}  // namespace latent::daemon::http
