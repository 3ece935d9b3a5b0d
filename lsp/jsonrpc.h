// JSON-RPC 2.0 messages as LSP uses them: classifying a decoded body as a request,
// notification or response (or the error to answer with), and building outgoing messages.
// Spec: https://www.jsonrpc.org/specification
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "lsp/error_codes.h"
#include "lsp/json_reader.h"

namespace latent::lsp {

struct Message {
  enum class Kind { Request, Notification, Response };
  Kind kind = Kind::Notification;
  Json id;             // Request/Response: integer or string (Response: null allowed)
  std::string method;  // Request/Notification
  Json params;         // object, array or null (absent)
  Json result;         // Response without error
  std::optional<Error> error;  // Response with error
};

// A body that is not a valid JSON-RPC message: the error to answer with, and the id to answer
// to (null when it could not be read).
struct MessageError {
  Json id;
  Error error;
};

std::variant<Message, MessageError> decode_message(std::string_view body);

Json make_response(const Json& id, Json result);
Json make_error_response(const Json& id, const Error& error);
Json make_notification(std::string_view method, Json params);
Json make_request(const Json& id, std::string_view method, Json params);

// Serialises for the wire: invalid UTF-8 in strings is replaced rather than thrown on, because
// document text from a client may contain it and the reply must still go out.
std::string dump_json(const Json& j);

}  // namespace latent::lsp
