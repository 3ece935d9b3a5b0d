// Protocol structs: parse failures name the field's path; outgoing JSON uses LSP's names.
#include <gtest/gtest.h>

#include "lsp/protocol.h"

namespace latent::lsp {
namespace {

template <class T>
std::string parse_error(const Json& j) {
  try {
    parse<T>(j);
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "";
}

TEST(Protocol, ErrorsNameTheFieldPath) {
  EXPECT_EQ(parse_error<InlineCompletionParams>(Json::parse(R"({"position":{"line":0,"character":0}})")),
            "params.textDocument: required field is missing");
  EXPECT_EQ(parse_error<InlineCompletionParams>(
                Json::parse(R"({"textDocument":{"uri":"u"},"position":{"line":"3","character":0}})")),
            "params.position.line: expected an unsigned integer, got string");
  EXPECT_EQ(parse_error<InlineCompletionParams>(
                Json::parse(R"({"textDocument":{"uri":"u"},"position":{"line":-1,"character":0}})")),
            "params.position.line: -1 is out of range for an unsigned integer");
  EXPECT_EQ(parse_error<DidChangeTextDocumentParams>(Json::parse(
                R"({"textDocument":{"uri":"u","version":2},"contentChanges":[{"text":"a"},{"range":{"start":{"line":0,"character":true},"end":{"line":0,"character":0}},"text":"b"}]})")),
            "params.contentChanges[1].range.start.character: expected an unsigned integer, got boolean");
  EXPECT_EQ(parse_error<DidOpenTextDocumentParams>(Json::array()), "params: expected object, got array");
  EXPECT_EQ(parse_error<AskParams>(Json::parse(R"({"question":"q","partialResultToken":{"a":1}})")),
            "params.partialResultToken: expected integer or string, got object");
  EXPECT_EQ(parse_error<DidChangeWatchedFilesParams>(Json::parse(R"({"changes":[{"uri":"u","type":7}]})")),
            "params.changes[0].type: expected 1 (Created), 2 (Changed) or 3 (Deleted), got 7");
}

TEST(Protocol, InitializeReadsWhatLatentUses) {
  auto p = parse<InitializeParams>(Json::parse(R"({
    "processId": null, "rootUri": "file:///r",
    "clientInfo": {"name": "nvim", "version": "0.9"},
    "workspaceFolders": [{"uri": "file:///a", "name": "a"}, {"uri": "file:///b", "name": "b"}],
    "capabilities": {"general": {"positionEncodings": ["utf-8", "utf-16"]},
                     "workspace": {"configuration": true},
                     "window": {"workDoneProgress": true},
                     "textDocument": {"inlineCompletion": {}}},
    "initializationOptions": {"model": "m.gguf"}})"));
  EXPECT_FALSE(p.processId);
  EXPECT_EQ(p.clientInfo->name, "nvim");
  ASSERT_TRUE(p.workspaceFolders);
  EXPECT_EQ(p.workspaceFolders->size(), 2u);
  EXPECT_EQ(p.capabilities.positionEncodings, (std::vector<std::string>{"utf-8", "utf-16"}));
  EXPECT_TRUE(p.capabilities.workspaceConfiguration);
  EXPECT_TRUE(p.capabilities.workDoneProgress);
  EXPECT_TRUE(p.capabilities.inlineCompletion);
  EXPECT_EQ(p.initializationOptions["model"], "m.gguf");
}

TEST(Protocol, OutgoingShapes) {
  InlineCompletionList list;
  list.items.push_back({"x + 1", Range{{1, 2}, {1, 2}}});
  EXPECT_EQ(Json(list), Json::parse(R"({"items":[{"insertText":"x + 1","range":{"start":{"line":1,"character":2},"end":{"line":1,"character":2}}}]})"));
  AskResult r;
  r.answer = "a";
  r.sources.push_back(AskSource{Location{"file:///f", Range{{4, 0}, {6, 0}}}, "f", 5, "", 1.5});
  Json j = r;
  EXPECT_EQ(j["sources"][0]["location"]["range"]["start"]["line"], 4);
  EXPECT_EQ(j["sources"][0]["line"], 5);
  EXPECT_FALSE(j["sources"][0].contains("symbol"));
  EXPECT_EQ(progress_begin("t", "", 5, false), Json::parse(R"({"kind":"begin","title":"t","cancellable":false,"percentage":5})"));
}

}  // namespace
}  // namespace latent::lsp
