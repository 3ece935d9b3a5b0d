#include "lsp/endpoint.h"

#include <exception>
#include <variant>

namespace latent::lsp {

void CancelSignal::on_cancel(std::function<void()> fn) {
  if (cancelled_) fn();
  else listeners_.push_back(std::move(fn));
}

void CancelSignal::fire() {
  if (cancelled_) return;
  cancelled_ = true;
  auto listeners = std::move(listeners_);
  listeners_.clear();
  for (auto& fn : listeners) fn();
}

struct Endpoint::Impl {
  Writer writer;
  LogFn log;
  FrameDecoder decoder;
  Gate gate;
  std::map<std::string, RawHandler, std::less<>> requests;
  std::map<std::string, RawNotificationHandler, std::less<>> notifications;
  struct Incoming {
    Json id;
    std::string method;
    CancelSignalPtr cancel;
  };
  std::map<std::string, Incoming> incoming;  // by id.dump(): 1 and "1" are different ids
  std::map<std::string, Callback<Json>> outgoing;
  int64_t next_id = 1;
  bool closed = false;

  Impl(Writer w, LogFn l, const EndpointOptions& o) : writer(std::move(w)), log(std::move(l)), decoder(o.framing) {}

  void send(const Json& j) {
    if (!closed) writer(encode_frame(dump_json(j)));
  }

  void reply(const std::string& key, Result<Json> r) {
    auto it = incoming.find(key);
    if (it == incoming.end()) return;  // already answered (cancelled) or the connection closed
    Json id = it->second.id;
    incoming.erase(it);
    if (r) send(make_response(id, std::move(r).value()));
    else send(make_error_response(id, r.error()));
  }
};

Endpoint::Endpoint(Writer writer, LogFn log_fn, EndpointOptions options)
    : impl_(std::make_shared<Impl>(std::move(writer), std::move(log_fn), options)) {
  // $/cancelRequest is answered here: the request gets RequestCancelled now, its work is told
  // to stop, and whatever it replies later is dropped.
  on_raw_notification("$/cancelRequest", [this](const Json& params) {
    if (!params.is_object() || !params.contains("id")) {
      log(LogLevel::Warn, "dropped $/cancelRequest without params.id");
      return;
    }
    std::string key = params["id"].dump();
    auto it = impl_->incoming.find(key);
    if (it == impl_->incoming.end()) {
      log(LogLevel::Debug, "$/cancelRequest for " + key + ", which is not pending");
      return;
    }
    CancelSignalPtr cancel = it->second.cancel;
    std::string method = it->second.method;
    impl_->reply(key, Error{ErrorCode::RequestCancelled, method + " " + key + " was cancelled by the client"});
    cancel->fire();
  });
}

Endpoint::~Endpoint() {
  if (!impl_->closed) close("connection closed");
}

void Endpoint::log(LogLevel level, const std::string& message) const {
  if (impl_->log) impl_->log(level, message);
}

void Endpoint::on_raw_request(const std::string& method, RawHandler handler) {
  impl_->requests[method] = std::move(handler);
}

void Endpoint::on_raw_notification(const std::string& method, RawNotificationHandler handler) {
  impl_->notifications[method] = std::move(handler);
}

void Endpoint::set_gate(Gate gate) { impl_->gate = std::move(gate); }

void Endpoint::notify(std::string_view method, Json params) { impl_->send(make_notification(method, std::move(params))); }

void Endpoint::call(std::string_view method, Json params, Callback<Json> on_response) {
  if (impl_->closed) {
    on_response(Error{ErrorCode::RequestFailed, "connection closed before " + std::string(method) + " was sent"});
    return;
  }
  Json id = "latent-" + std::to_string(impl_->next_id++);
  impl_->outgoing[id.dump()] = std::move(on_response);
  impl_->send(make_request(id, method, std::move(params)));
}

void Endpoint::close(const std::string& reason) {
  if (impl_->closed) return;
  impl_->closed = true;
  auto outgoing = std::move(impl_->outgoing);
  impl_->outgoing.clear();
  for (auto& [id, cb] : outgoing) cb(Error{ErrorCode::RequestFailed, reason});
  auto incoming = std::move(impl_->incoming);
  impl_->incoming.clear();
  for (auto& [id, in] : incoming) in.cancel->fire();
}

size_t Endpoint::pending_incoming() const { return impl_->incoming.size(); }
size_t Endpoint::pending_outgoing() const { return impl_->outgoing.size(); }

void Endpoint::feed(std::string_view bytes) {
  // Handlers may close or even destroy the connection's owner; keep the state alive meanwhile.
  std::shared_ptr<Impl> impl = impl_;
  impl->decoder.feed(bytes);
  while (!impl->closed) {
    std::optional<FrameEvent> ev = impl->decoder.next();
    if (!ev) break;
    if (ev->kind == FrameEvent::Kind::Error) {
      log(LogLevel::Warn, "framing: " + ev->error);
      continue;
    }
    auto decoded = decode_message(ev->body);
    if (auto* err = std::get_if<MessageError>(&decoded)) {
      log(LogLevel::Warn, std::string(error_code_name(err->error.code)) + ": " + err->error.message);
      impl->send(make_error_response(err->id, err->error));
      continue;
    }
    Message& m = std::get<Message>(decoded);
    if (m.kind == Message::Kind::Response) {
      auto it = impl->outgoing.find(m.id.dump());
      if (it == impl->outgoing.end()) {
        log(LogLevel::Warn, "dropped a response to unknown request id " + m.id.dump());
        continue;
      }
      Callback<Json> cb = std::move(it->second);
      impl->outgoing.erase(it);
      if (m.error) cb(*m.error);
      else cb(std::move(m.result));
      continue;
    }
    const bool is_request = m.kind == Message::Kind::Request;
    if (impl->gate) {
      if (std::optional<Error> refused = impl->gate(m.method, is_request)) {
        if (is_request) impl->send(make_error_response(m.id, *refused));
        else log(LogLevel::Info, "dropped " + m.method + ": " + refused->message);
        continue;
      }
    }
    if (!is_request) {
      auto it = impl->notifications.find(m.method);
      if (it == impl->notifications.end()) {
        // "$/" notifications are optional by spec; others are worth a line in the log.
        log(m.method.rfind("$/", 0) == 0 ? LogLevel::Debug : LogLevel::Info, "ignored notification " + m.method);
        continue;
      }
      try {
        it->second(m.params);
      } catch (const std::exception& e) {
        log(LogLevel::Error, m.method + " failed: " + e.what());
      }
      continue;
    }
    std::string key = m.id.dump();
    if (impl->incoming.count(key)) {
      impl->send(make_error_response(m.id, Error{ErrorCode::InvalidRequest,
                                                 "request id " + key + " is already in use by a pending request"}));
      continue;
    }
    auto it = impl->requests.find(m.method);
    if (it == impl->requests.end()) {
      impl->send(make_error_response(m.id, Error{ErrorCode::MethodNotFound, "unknown method " + m.method}));
      continue;
    }
    auto cancel = std::make_shared<CancelSignal>();
    impl->incoming[key] = Impl::Incoming{m.id, m.method, cancel};
    std::weak_ptr<Impl> weak = impl;
    Callback<Json> reply = [weak, key](Result<Json> r) {
      if (auto self = weak.lock()) self->reply(key, std::move(r));
    };
    try {
      it->second(m.params, reply, cancel);
    } catch (const std::exception& e) {
      reply(Error{ErrorCode::InternalError, m.method + " failed: " + e.what()});
    }
  }
}

}  // namespace latent::lsp
