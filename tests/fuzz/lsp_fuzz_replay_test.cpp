// Runs the LSP fuzz target (lsp_fuzz.cpp) on hand-written seeds and on seeded random mutations
// of them, so that gcc builds exercise it too; the libFuzzer binary explores further.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

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
  std::mt19937 rng(1234);
  for (const std::string& seed : seeds()) {
    for (int round = 0; round < 400; ++round) {
      std::string input(1, static_cast<char>(rng()));
      input += seed;
      int edits = round == 0 ? 0 : 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits && !input.empty(); ++e) {
        size_t at = rng() % input.size();
        switch (rng() % 4) {
          case 0: input[at] = static_cast<char>(rng()); break;
          case 1: input.erase(at, 1 + rng() % 8); break;
          case 2: input.insert(at, input.substr(rng() % input.size(), rng() % 16)); break;
          case 3: input.insert(at, 1, "{}[]\":,\\\r\n0"[rng() % 12]); break;
        }
      }
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    }
  }
  SUCCEED();
}

}  // namespace
