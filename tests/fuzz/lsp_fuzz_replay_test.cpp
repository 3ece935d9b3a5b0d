// Runs the LSP fuzz target (lsp_fuzz.cpp) on hand-written seeds and on seeded random mutations
// of them, so that gcc builds exercise it too; the libFuzzer binary explores further.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fuzz/mutate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string frame(const std::string& body) { return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body; }

std::vector<std::string> seeds() {
  std::string open =
      frame(R"({"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///a","languageId":"py","version":1,"text":"a\r\n😀b\rc\n"}}})");
  std::string change = frame(
      R"({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///a","version":2},"contentChanges":[{"range":{"start":{"line":1,"character":1},"end":{"line":2,"character":9}},"text":"x\ny"}]}})");
  std::string complete = frame(
      R"({"jsonrpc":"2.0","id":3,"method":"textDocument/inlineCompletion","params":{"textDocument":{"uri":"file:///a"},"position":{"line":1,"character":1}}})");
  std::string ask = frame(R"({"jsonrpc":"2.0","id":"q","method":"latent/ask","params":{"question":"why"}})");
  std::string cancel = frame(R"({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"q"}})");
  return {open + change + complete, ask + cancel + ask, "Content-Length: 3\r\n\r\n{}}" + complete,
          frame("{bad") + frame("[]") + frame(R"({"jsonrpc":"2.0","id":1})"), std::string(600, 'C') + "\r\n\r\n" + ask};
}

TEST(LspFuzzReplay, SeedsAndMutations) {
  latent::fuzz::replay(seeds(), 400, "{}[]\":,\\\r\n0", 1234, LLVMFuzzerTestOneInput);
  SUCCEED();
}

// Nesting deep enough to overflow the stack when the value was copied (issue 20, item 1).
TEST(LspFuzzReplay, DeeplyNestedParams) {
  std::string body = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":)" + std::string(30000, '[') +
                     std::string(30000, ']') + "}";
  std::string input(1, '\x3f');  // reads of 64 bytes
  input += frame(body) + frame(R"({"jsonrpc":"2.0","id":2,"method":"shutdown"})");
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  SUCCEED();
}

}  // namespace
