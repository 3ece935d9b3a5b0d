// JSON-RPC 2.0 message classification and the error each malformed message gets.
#include <gtest/gtest.h>

#include "lsp/jsonrpc.h"

namespace latent::lsp {
namespace {

MessageError expect_error(std::string_view body) {
  auto r = decode_message(body);
  EXPECT_TRUE(std::holds_alternative<MessageError>(r)) << body;
  return std::holds_alternative<MessageError>(r) ? std::get<MessageError>(r) : MessageError{};
}

Message expect_message(std::string_view body) {
  auto r = decode_message(body);
  EXPECT_TRUE(std::holds_alternative<Message>(r)) << body;
  return std::holds_alternative<Message>(r) ? std::get<Message>(r) : Message{};
}

TEST(JsonRpc, Classification) {
  Message req = expect_message(R"({"jsonrpc":"2.0","id":7,"method":"m","params":{"a":1}})");
  EXPECT_EQ(req.kind, Message::Kind::Request);
  EXPECT_EQ(req.id, 7);
  EXPECT_EQ(req.method, "m");
  EXPECT_EQ(req.params["a"], 1);

  Message str_id = expect_message(R"({"jsonrpc":"2.0","id":"abc","method":"m"})");
  EXPECT_EQ(str_id.kind, Message::Kind::Request);
  EXPECT_EQ(str_id.id, "abc");

  Message note = expect_message(R"({"jsonrpc":"2.0","method":"n"})");
  EXPECT_EQ(note.kind, Message::Kind::Notification);

  Message resp = expect_message(R"({"jsonrpc":"2.0","id":3,"result":null})");
  EXPECT_EQ(resp.kind, Message::Kind::Response);
  EXPECT_FALSE(resp.error);

  Message err = expect_message(R"({"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"nope"}})");
  ASSERT_TRUE(err.error);
  EXPECT_EQ(err.error->code, ErrorCode::MethodNotFound);
  EXPECT_EQ(err.error->message, "nope");
}

TEST(JsonRpc, Errors) {
  MessageError e = expect_error("{not json");
  EXPECT_EQ(e.error.code, ErrorCode::ParseError);
  EXPECT_TRUE(e.id.is_null());

  EXPECT_EQ(expect_error("").error.code, ErrorCode::ParseError);
  EXPECT_EQ(expect_error("[1,2]").error.code, ErrorCode::InvalidRequest);
  EXPECT_EQ(expect_error("42").error.code, ErrorCode::InvalidRequest);

  MessageError no_version = expect_error(R"({"id":5,"method":"m"})");
  EXPECT_EQ(no_version.error.code, ErrorCode::InvalidRequest);
  EXPECT_EQ(no_version.id, 5);  // answered to the id it had

  EXPECT_EQ(expect_error(R"({"jsonrpc":"1.0","id":5,"method":"m"})").error.code, ErrorCode::InvalidRequest);
  EXPECT_EQ(expect_error(R"({"jsonrpc":"2.0","id":5,"method":17})").error.code, ErrorCode::InvalidRequest);
  EXPECT_EQ(expect_error(R"({"jsonrpc":"2.0","id":{"x":1},"method":"m"})").error.code, ErrorCode::InvalidRequest);
  EXPECT_EQ(expect_error(R"({"jsonrpc":"2.0","id":1.5,"method":"m"})").error.code, ErrorCode::InvalidRequest);
  EXPECT_EQ(expect_error(R"({"jsonrpc":"2.0","id":1,"method":"m","params":3})").error.code, ErrorCode::InvalidRequest);
  EXPECT_EQ(expect_error(R"({"jsonrpc":"2.0","id":1})").error.code, ErrorCode::InvalidRequest);
  EXPECT_EQ(expect_error(R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1}})").error.code,
            ErrorCode::InvalidRequest);
}

std::string nested(size_t depth, char open, char close, std::string_view inner = "1") {
  std::string body = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":)";
  for (size_t i = 0; i < depth; ++i) body += open == '{' ? std::string(R"({"a":)") : std::string(1, open);
  body += inner;
  body += std::string(depth, close);
  return body + "}";
}

// A body nested far deeper than any LSP message is refused before parsing: copying such a value
// recursed once per level and overflowed the stack (issue 20, item 1).
TEST(JsonRpc, DeeplyNestedBodiesAreParseErrors) {
  for (char open : {'[', '{'}) {
    char close = open == '[' ? ']' : '}';
    MessageError e = expect_error(nested(200000, open, close));
    EXPECT_EQ(e.error.code, ErrorCode::ParseError);
    EXPECT_NE(e.error.message.find("deeper than"), std::string::npos) << e.error.message;
    // The limit counts the message's own object: params may nest kMaxJsonDepth - 1 levels.
    EXPECT_EQ(expect_message(nested(kMaxJsonDepth - 1, open, close)).kind, Message::Kind::Request);
    EXPECT_EQ(expect_error(nested(kMaxJsonDepth, open, close)).error.code, ErrorCode::ParseError);
  }
  // Brackets inside strings (escaped quotes included) are text, not nesting.
  std::string deep_string = "\"\\\"" + std::string(100000, '[') + "\"";
  EXPECT_EQ(expect_message(nested(2, '[', ']', deep_string)).kind, Message::Kind::Request);
  EXPECT_FALSE(json_nests_deeper_than("[[]][[]]", 2));
  EXPECT_TRUE(json_nests_deeper_than("[[[]]]", 2));
}

TEST(JsonRpc, OutgoingMessages) {
  Json r = make_response(1, Json{{"x", 1}});
  EXPECT_EQ(r, Json::parse(R"({"jsonrpc":"2.0","id":1,"result":{"x":1}})"));
  Json e = make_error_response(nullptr, Error{ErrorCode::RequestCancelled, "c"});
  EXPECT_EQ(e, Json::parse(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32800,"message":"c"}})"));
  EXPECT_EQ(make_notification("n", nullptr), Json::parse(R"({"jsonrpc":"2.0","method":"n"})"));
  EXPECT_EQ(static_cast<int>(ErrorCode::ContentModified), -32801);
  EXPECT_EQ(static_cast<int>(ErrorCode::ServerNotInitialized), -32002);
}

TEST(JsonRpc, InvalidUtf8IsReplacedOnOutput) {
  Json j = {{"text", std::string("a\xff" "b")}};
  std::string out = dump_json(j);
  EXPECT_TRUE(Json::accept(out));
}

}  // namespace
}  // namespace latent::lsp
