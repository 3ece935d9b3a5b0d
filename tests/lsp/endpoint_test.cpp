// The endpoint end to end on bytes: dispatch, InvalidParams naming fields, MethodNotFound,
// $/cancelRequest answering at once, exactly-once replies, calls to the client, the gate.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lsp/endpoint.h"
#include "lsp/protocol.h"

namespace latent::lsp {
namespace {

struct Harness {
  std::vector<Json> sent;
  std::vector<std::string> logs;
  FrameDecoder out;
  Endpoint ep{[this](std::string bytes) {
                out.feed(bytes);
                while (auto ev = out.next()) sent.push_back(Json::parse(ev->body));
              },
              [this](LogLevel, const std::string& m) { logs.push_back(m); }};

  void send(const Json& j) { ep.feed(encode_frame(j.dump())); }
  Json request(int id, const std::string& method, Json params) {
    return Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
  }
};

TEST(Endpoint, DispatchesRequestsAndParsesParams) {
  Harness h;
  h.ep.on_request<TextDocumentIdentifier, Json>("doc/uri", [](TextDocumentIdentifier p, Callback<Json> cb) {
    cb(Json{{"got", p.uri}});
  });
  h.send(h.request(1, "doc/uri", {{"uri", "file:///a"}}));
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0]["id"], 1);
  EXPECT_EQ(h.sent[0]["result"]["got"], "file:///a");
}

TEST(Endpoint, InvalidParamsNameTheField) {
  Harness h;
  h.ep.on_request<InlineCompletionParams, Json>("textDocument/inlineCompletion",
                                                [](InlineCompletionParams, Callback<Json> cb) { cb(Json()); });
  h.send(h.request(2, "textDocument/inlineCompletion",
                   {{"textDocument", {{"uri", "file:///a"}}}, {"position", {{"line", 1}, {"character", "x"}}}}));
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0]["error"]["code"], static_cast<int>(ErrorCode::InvalidParams));
  std::string msg = h.sent[0]["error"]["message"];
  EXPECT_NE(msg.find("params.position.character"), std::string::npos) << msg;
}

TEST(Endpoint, UnknownMethodAndUnknownNotification) {
  Harness h;
  h.send(h.request(3, "no/such", Json::object()));
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0]["error"]["code"], static_cast<int>(ErrorCode::MethodNotFound));
  h.send(Json{{"jsonrpc", "2.0"}, {"method", "$/setTrace"}, {"params", {{"value", "off"}}}});
  h.send(Json{{"jsonrpc", "2.0"}, {"method", "some/notification"}});
  EXPECT_EQ(h.sent.size(), 1u);  // notifications are never answered
}

TEST(Endpoint, MalformedMessagesAreAnswered) {
  Harness h;
  h.ep.feed(encode_frame("{oops"));
  h.ep.feed(encode_frame(R"({"jsonrpc":"2.0","id":9,"method":4})"));
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.sent[0]["error"]["code"], static_cast<int>(ErrorCode::ParseError));
  EXPECT_TRUE(h.sent[0]["id"].is_null());
  EXPECT_EQ(h.sent[1]["error"]["code"], static_cast<int>(ErrorCode::InvalidRequest));
  EXPECT_EQ(h.sent[1]["id"], 9);
}

TEST(Endpoint, DeeplyNestedRequestIsAnsweredAndTheEndpointServesOn) {
  Harness h;
  h.ep.on_request<Json, Json>("echo", [](Json p, Callback<Json> cb) { cb(p); });
  const size_t depth = 200000;
  std::string body = R"({"jsonrpc":"2.0","id":1,"method":"echo","params":)" + std::string(depth, '[') +
                     std::string(depth, ']') + "}";
  h.ep.feed(encode_frame(body));
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0]["error"]["code"], static_cast<int>(ErrorCode::ParseError));
  h.send(h.request(2, "echo", {{"ok", true}}));
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.sent[1]["result"]["ok"], true);
}

TEST(Endpoint, CancelAnswersAtOnceAndDropsTheLateReply) {
  Harness h;
  Callback<Json> saved;
  bool cancelled = false;
  h.ep.on_cancellable_request<Json, Json>("slow", [&](Json, Callback<Json> cb, CancelSignalPtr cancel) {
    saved = cb;
    cancel->on_cancel([&] { cancelled = true; });
  });
  h.send(h.request(10, "slow", Json::object()));
  EXPECT_TRUE(h.sent.empty());
  EXPECT_EQ(h.ep.pending_incoming(), 1u);
  h.send(Json{{"jsonrpc", "2.0"}, {"method", "$/cancelRequest"}, {"params", {{"id", 10}}}});
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0]["id"], 10);
  EXPECT_EQ(h.sent[0]["error"]["code"], static_cast<int>(ErrorCode::RequestCancelled));
  EXPECT_TRUE(cancelled);
  saved(Json("late"));
  EXPECT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.ep.pending_incoming(), 0u);
  // Cancelling an id that is not pending (or the string "10") changes nothing.
  h.send(Json{{"jsonrpc", "2.0"}, {"method", "$/cancelRequest"}, {"params", {{"id", "10"}}}});
  EXPECT_EQ(h.sent.size(), 1u);
}

TEST(Endpoint, RepliesExactlyOnce) {
  Harness h;
  h.ep.on_request<Json, Json>("twice", [](Json, Callback<Json> cb) {
    cb(Json(1));
    cb(Json(2));
  });
  h.send(h.request(11, "twice", nullptr));
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0]["result"], 1);
}

TEST(Endpoint, HandlerExceptionBecomesInternalError) {
  Harness h;
  h.ep.on_request<Json, Json>("throws", [](Json, Callback<Json>) { throw std::runtime_error("boom"); });
  h.send(h.request(12, "throws", nullptr));
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0]["error"]["code"], static_cast<int>(ErrorCode::InternalError));
}

TEST(Endpoint, DuplicatePendingIdIsRefused) {
  Harness h;
  h.ep.on_request<Json, Json>("hold", [](Json, Callback<Json>) {});
  h.send(h.request(13, "hold", nullptr));
  h.send(h.request(13, "hold", nullptr));
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0]["error"]["code"], static_cast<int>(ErrorCode::InvalidRequest));
}

TEST(Endpoint, CallsToTheClientGetTheirResponse) {
  Harness h;
  Json got;
  h.ep.call("workspace/configuration", Json{{"items", Json::array()}}, [&](Result<Json> r) { got = r.value(); });
  ASSERT_EQ(h.sent.size(), 1u);
  Json id = h.sent[0]["id"];
  EXPECT_EQ(h.sent[0]["method"], "workspace/configuration");
  h.send(Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", Json::array({1})}});
  EXPECT_EQ(got, Json::array({1}));
  EXPECT_EQ(h.ep.pending_outgoing(), 0u);

  Error err;
  h.ep.call("window/workDoneProgress/create", Json::object(), [&](Result<Json> r) { err = r.error(); });
  h.ep.close("gone");
  EXPECT_EQ(err.code, ErrorCode::RequestFailed);
}

TEST(Endpoint, GateRefusesRequestsAndDropsNotifications) {
  Harness h;
  int notes = 0;
  h.ep.on_notification<Json>("note", [&](Json) { ++notes; });
  h.ep.on_request<Json, Json>("req", [](Json, Callback<Json> cb) { cb(Json(true)); });
  h.ep.set_gate([](const std::string&, bool) -> std::optional<Error> {
    return Error{ErrorCode::ServerNotInitialized, "not yet"};
  });
  h.send(h.request(14, "req", nullptr));
  h.send(Json{{"jsonrpc", "2.0"}, {"method", "note"}});
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0]["error"]["code"], static_cast<int>(ErrorCode::ServerNotInitialized));
  EXPECT_EQ(notes, 0);
}

TEST(Endpoint, NotificationWithInvalidParamsIsDroppedAndLogged) {
  Harness h;
  int opened = 0;
  h.ep.on_notification<DidOpenTextDocumentParams>("textDocument/didOpen", [&](DidOpenTextDocumentParams) { ++opened; });
  h.send(Json{{"jsonrpc", "2.0"}, {"method", "textDocument/didOpen"}, {"params", {{"textDocument", {{"uri", "u"}}}}}});
  EXPECT_EQ(opened, 0);
  EXPECT_TRUE(h.sent.empty());
  bool logged = false;
  for (auto& l : h.logs) logged = logged || l.find("params.textDocument.languageId") != std::string::npos;
  EXPECT_TRUE(logged);
}

}  // namespace
}  // namespace latent::lsp
