// libFuzzer target for latentd's front door: LSP framing, JSON-RPC decoding, params parsing
// and dispatch, and document edits with position conversions. The input is split into reads
// of varying sizes (the first byte picks them). Whatever the bytes, the endpoint must neither
// crash nor hang, and everything it writes must be a well-formed frame holding a JSON-RPC
// response or notification.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "lsp/endpoint.h"
#include "lsp/protocol.h"
#include "lsp/text_document.h"

namespace {

using namespace latent::lsp;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  FrameDecoder out;
  std::map<std::string, TextDocument> documents;
  FramingOptions framing;
  framing.max_content_length = 1 << 16;
  framing.max_header_bytes = 512;
  Endpoint ep(
      [&](std::string bytes) {
        out.feed(bytes);
        while (auto ev = out.next()) {
          check(ev->kind == FrameEvent::Kind::Message);
          Json j = Json::parse(ev->body, nullptr, false);
          check(!j.is_discarded() && j.is_object() && j["jsonrpc"] == "2.0");
        }
      },
      [](LogLevel, const std::string&) {}, EndpointOptions{framing});
  ep.on_notification<DidOpenTextDocumentParams>("textDocument/didOpen", [&](DidOpenTextDocumentParams p) {
    documents.insert_or_assign(p.textDocument.uri, TextDocument(p.textDocument.uri, p.textDocument.languageId,
                                                                p.textDocument.version, p.textDocument.text));
  });
  ep.on_notification<DidChangeTextDocumentParams>("textDocument/didChange", [&](DidChangeTextDocumentParams p) {
    auto it = documents.find(p.textDocument.uri);
    if (it == documents.end()) return;
    for (const auto& c : p.contentChanges) it->second.apply_change(c.range, c.text, PositionEncoding::Utf16);
  });
  ep.on_cancellable_request<InlineCompletionParams, InlineCompletionList>(
      "textDocument/inlineCompletion",
      [&](InlineCompletionParams p, Callback<InlineCompletionList> reply, CancelSignalPtr) {
        auto it = documents.find(p.textDocument.uri);
        if (it == documents.end()) {
          reply(Error{ErrorCode::InvalidParams, "not open"});
          return;
        }
        for (auto enc : {PositionEncoding::Utf8, PositionEncoding::Utf16, PositionEncoding::Utf32}) {
          size_t off = it->second.offset_of(p.position, enc);
          check(off <= it->second.text().size());
          Position back = it->second.position_of(off, enc);
          check(it->second.offset_of(back, enc) == off);
        }
        reply(InlineCompletionList{});
      });
  // Held replies exercise $/cancelRequest and late replies.
  std::vector<Callback<Json>> held;
  ep.on_request<AskParams, Json>("latent/ask", [&](AskParams, Callback<Json> reply) { held.push_back(reply); });
  ep.on_request<InitializeParams, Json>("initialize", [](InitializeParams, Callback<Json> reply) { reply(Json::object()); });

  for (size_t pos = 0; pos < input.size(); pos += chunk) ep.feed(input.substr(pos, chunk));
  for (auto& r : held) r(Json(nullptr));
  return 0;
}
