// One JSON-RPC peer over LSP framing, with no I/O: bytes come in through feed(), framed bytes go
// out through a writer function. It decodes messages, answers malformed ones with the right
// JSON-RPC error (or logs and drops what cannot be answered), routes each method to its
// on_xxx(params, callback) handler, parses params into protocol structs (InvalidParams names
// the field), makes sure each request is answered exactly once, and implements $/cancelRequest:
// a cancelled request is answered RequestCancelled at once and its CancelSignal fires so the
// work behind it can stop; the handler's later reply is dropped.
// Not thread-safe: it lives on the thread that owns the connection (the daemon's loop thread).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsp/error_codes.h"
#include "lsp/framing.h"
#include "lsp/json_reader.h"
#include "lsp/jsonrpc.h"

namespace latent::lsp {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

// Fired when the client cancels a request (or the connection goes away).
class CancelSignal {
 public:
  bool cancelled() const { return cancelled_; }
  // Runs fn when cancelled; at once if already cancelled.
  void on_cancel(std::function<void()> fn);
  void fire();

 private:
  bool cancelled_ = false;
  std::vector<std::function<void()>> listeners_;
};
using CancelSignalPtr = std::shared_ptr<CancelSignal>;

struct EndpointOptions {
  FramingOptions framing;
};

class Endpoint {
 public:
  using Writer = std::function<void(std::string bytes)>;
  using LogFn = std::function<void(LogLevel, const std::string&)>;
  // Decides before dispatch whether a message may run; an Error refuses a request (and drops a
  // notification). Used for the lifecycle: nothing but initialize before initialize, etc.
  using Gate = std::function<std::optional<Error>(const std::string& method, bool is_request)>;
  using RawHandler = std::function<void(const Json& params, Callback<Json> reply, CancelSignalPtr cancel)>;
  using RawNotificationHandler = std::function<void(const Json& params)>;

  Endpoint(Writer writer, LogFn log, EndpointOptions options = {});
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  void feed(std::string_view bytes);

  template <class P, class R>
  void on_request(const std::string& method, std::function<void(P, Callback<R>)> handler) {
    on_cancellable_request<P, R>(method, [h = std::move(handler)](P p, Callback<R> cb, CancelSignalPtr) {
      h(std::move(p), std::move(cb));
    });
  }
  template <class P, class R>
  void on_cancellable_request(const std::string& method, std::function<void(P, Callback<R>, CancelSignalPtr)> handler) {
    on_raw_request(method, [method, h = std::move(handler)](const Json& params, Callback<Json> reply,
                                                            CancelSignalPtr cancel) {
      P p{};
      try {
        read_value(params, "params", p);
      } catch (const ProtocolError& e) {
        reply(Error{ErrorCode::InvalidParams, method + ": " + e.what()});
        return;
      }
      h(std::move(p), [reply](Result<R> r) {
        if (r) reply(Json(std::move(r).value()));
        else reply(r.error());
      }, std::move(cancel));
    });
  }
  template <class P>
  void on_notification(const std::string& method, std::function<void(P)> handler) {
    on_raw_notification(method, [this, method, h = std::move(handler)](const Json& params) {
      P p{};
      try {
        read_value(params, "params", p);
      } catch (const ProtocolError& e) {
        log(LogLevel::Warn, "dropped " + method + " notification with invalid params: " + e.what());
        return;
      }
      h(std::move(p));
    });
  }
  void on_raw_request(const std::string& method, RawHandler handler);
  void on_raw_notification(const std::string& method, RawNotificationHandler handler);
  void set_gate(Gate gate);

  void notify(std::string_view method, Json params);
  // A request to the client; on_response gets its result or error exactly once.
  void call(std::string_view method, Json params, Callback<Json> on_response);
  // Fails every outstanding call and cancels every pending incoming request (connection lost).
  void close(const std::string& reason);

  size_t pending_incoming() const;
  size_t pending_outgoing() const;
  void log(LogLevel level, const std::string& message) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace latent::lsp
