// An open text document as the client sees it: UTF-8 text, version, language, with LSP's full
// and incremental content changes applied in order (each change's range refers to the text as
// left by the previous change, LSP 3.17 "DidChangeTextDocumentParams").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lsp/position.h"

namespace latent::lsp {

class TextDocument {
 public:
  TextDocument(std::string uri, std::string language_id, int64_t version, std::string text);

  const std::string& uri() const { return uri_; }
  const std::string& language_id() const { return language_id_; }
  int64_t version() const { return version_; }
  void set_version(int64_t v) { version_ = v; }
  const std::string& text() const { return text_; }

  // A change without a range replaces the whole text. Returns an error message (and leaves the
  // text unchanged) when the range's start comes after its end.
  std::optional<std::string> apply_change(const std::optional<Range>& range, std::string_view new_text,
                                          PositionEncoding enc);

  size_t offset_of(Position pos, PositionEncoding enc) const;
  Position position_of(size_t offset, PositionEncoding enc) const;
  const LineIndex& lines() const;

 private:
  std::string uri_;
  std::string language_id_;
  int64_t version_ = 0;
  std::string text_;
  mutable std::optional<LineIndex> lines_;  // rebuilt lazily after each change
};

}  // namespace latent::lsp
