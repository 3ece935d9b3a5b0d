#include "lsp/jsonrpc.h"

namespace latent::lsp {

namespace {

MessageError invalid(const Json& id, std::string message) {
  return MessageError{id, Error{ErrorCode::InvalidRequest, std::move(message)}};
}

bool valid_id(const Json& id) { return id.is_string() || id.is_number_integer() || id.is_number_unsigned(); }

}  // namespace

bool json_nests_deeper_than(std::string_view text, size_t limit) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

std::variant<Message, MessageError> decode_message(std::string_view body) {
  if (json_nests_deeper_than(body, kMaxJsonDepth))
    return MessageError{nullptr, Error{ErrorCode::ParseError, "message body nests arrays/objects deeper than " +
                                                                  std::to_string(kMaxJsonDepth) + " levels"}};
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return MessageError{nullptr, Error{ErrorCode::ParseError, "message body is not valid JSON"}};
  if (!j.is_object())
    return invalid(nullptr, "message must be a JSON object, got " + json_type_name(j) +
                                (j.is_array() ? " (batches are not used by LSP)" : ""));
  Json id = nullptr;
  bool has_id = false;
  if (auto it = j.find("id"); it != j.end()) {
    if (!it->is_null() && !valid_id(*it)) return invalid(nullptr, "id must be an integer or a string, got " + json_type_name(*it));
    id = *it;
    has_id = !it->is_null();
  }
  auto version = j.find("jsonrpc");
  if (version == j.end() || !version->is_string() || version->get_ref<const std::string&>() != "2.0")
    return invalid(id, "\"jsonrpc\" must be \"2.0\"");

  Message m;
  m.id = id;
  if (auto method = j.find("method"); method != j.end()) {
    if (!method->is_string()) return invalid(id, "method must be a string, got " + json_type_name(*method));
    m.method = method->get<std::string>();
    if (auto params = j.find("params"); params != j.end()) {
      if (!params->is_object() && !params->is_array() && !params->is_null())
        return invalid(id, "params must be an object or an array, got " + json_type_name(*params));
      m.params = *params;
    }
    m.kind = has_id ? Message::Kind::Request : Message::Kind::Notification;
    return m;
  }
  auto result = j.find("result");
  auto error = j.find("error");
  if (!j.contains("id") || (result == j.end()) == (error == j.end()))
    return invalid(id, "message has no method and is not a response (needs id and exactly one of result/error)");
  m.kind = Message::Kind::Response;
  if (result != j.end()) {
    m.result = *result;
  } else {
    if (!error->is_object() || !error->contains("code") || !(*error)["code"].is_number_integer())
      return invalid(id, "response error must be an object with an integer code");
    Error e;
    e.code = static_cast<ErrorCode>((*error)["code"].get<int>());
    if (auto msg = error->find("message"); msg != error->end() && msg->is_string()) e.message = msg->get<std::string>();
    m.error = std::move(e);
  }
  return m;
}

Json make_response(const Json& id, Json result) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

Json make_error_response(const Json& id, const Error& error) {
  return Json{{"jsonrpc", "2.0"},
              {"id", id},
              {"error", Json{{"code", static_cast<int>(error.code)}, {"message", error.message}}}};
}

Json make_notification(std::string_view method, Json params) {
  Json j{{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) j["params"] = std::move(params);
  return j;
}

Json make_request(const Json& id, std::string_view method, Json params) {
  Json j{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) j["params"] = std::move(params);
  return j;
}

std::string dump_json(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace latent::lsp
