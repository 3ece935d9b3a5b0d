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

// Deepest nesting of arrays and objects decode_message accepts. nlohmann's parser is iterative
// but copying, comparing and serialising a value recurse once per level, so a body nested
// 200,000 levels deep would overflow the stack; LSP messages nest a dozen levels at most.
inline constexpr size_t kMaxJsonDepth = 128;

// True when the JSON text opens more than `limit` arrays/objects at once (brackets inside
// strings do not count). A linear scan that runs before parsing; the text need not be valid.
bool json_nests_deeper_than(std::string_view text, size_t limit);

// Bodies nested deeper than kMaxJsonDepth are a ParseError, answered without being parsed.
std::variant<Message, MessageError> decode_message(std::string_view body);

Json make_response(const Json& id, Json result);
Json make_error_response(const Json& id, const Error& error);
Json make_notification(std::string_view method, Json params);
Json make_request(const Json& id, std::string_view method, Json params);

// Serialises for the wire: invalid UTF-8 in strings is replaced rather than thrown on, because
// document text from a client may contain it and the reply must still go out.
std::string dump_json(const Json& j);

}  // namespace latent::lsp
