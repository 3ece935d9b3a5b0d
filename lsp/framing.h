// LSP base protocol framing: "Content-Length: N\r\n[other headers]\r\n\r\n" followed by N bytes
// of JSON. The decoder takes bytes as they arrive (partial reads, several messages in one read,
// a message split across reads) and yields complete bodies or framing errors. It never throws,
// never waits for bytes it will not use, and bounds what it buffers: a Content-Length over the
// limit is skipped byte by byte instead of being buffered, and an oversized header block is
// dropped. After a malformed header block it resynchronises on the next "Content-Length:".
// Spec: https://microsoft.github.io/language-server-protocol/specifications/lsp/3.17/specification/#baseProtocol
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace latent::lsp {

struct FramingOptions {
  // Largest header block (all header lines) accepted; clients send ~50 bytes.
  size_t max_header_bytes = 8 * 1024;
  // Largest body accepted; larger messages are skipped (and reported) without being buffered.
  // 64 MiB covers didOpen of any source file an editor would send.
  size_t max_content_length = 64u * 1024 * 1024;
};

struct FrameEvent {
  enum class Kind { Message, Error };
  Kind kind = Kind::Message;
  std::string body;   // Message: the JSON text
  std::string error;  // Error: what was wrong and what was dropped
};

class FrameDecoder {
 public:
  explicit FrameDecoder(FramingOptions options = {});

  void feed(std::string_view bytes);
  // The next complete message or framing error; nullopt when more bytes are needed.
  std::optional<FrameEvent> next();
  // Bytes held for messages not yet complete (bounded by the options).
  size_t buffered_bytes() const { return buf_.size() - pos_; }

 private:
  std::optional<FrameEvent> parse_header_block(size_t block_end);
  void resync_after(size_t from, size_t fallback);
  void compact();

  FramingOptions options_;
  std::string buf_;
  size_t pos_ = 0;
  std::optional<size_t> body_length_;  // header parsed, waiting for this many body bytes
  size_t skip_remaining_ = 0;          // oversized body being discarded
};

// One framed message: the Content-Length header, a blank line, the body.
std::string encode_frame(std::string_view body);

}  // namespace latent::lsp
