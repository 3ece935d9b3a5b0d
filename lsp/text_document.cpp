#include "lsp/text_document.h"

namespace latent::lsp {

TextDocument::TextDocument(std::string uri, std::string language_id, int64_t version, std::string text)
    : uri_(std::move(uri)), language_id_(std::move(language_id)), version_(version), text_(std::move(text)) {}

const LineIndex& TextDocument::lines() const {
  if (!lines_) lines_.emplace(text_);
  return *lines_;
}

size_t TextDocument::offset_of(Position pos, PositionEncoding enc) const {
  return lines().offset_of(text_, pos, enc);
}

Position TextDocument::position_of(size_t offset, PositionEncoding enc) const {
  return lines().position_of(text_, offset, enc);
}

std::optional<std::string> TextDocument::apply_change(const std::optional<Range>& range, std::string_view new_text,
                                                      PositionEncoding enc) {
  if (!range) {
    text_.assign(new_text);
    lines_.reset();
    return std::nullopt;
  }
  if (range->end < range->start)
    return "change range ends (" + std::to_string(range->end.line) + ":" + std::to_string(range->end.character) +
           ") before it starts (" + std::to_string(range->start.line) + ":" +
           std::to_string(range->start.character) + ")";
  size_t begin = offset_of(range->start, enc);
  size_t end = offset_of(range->end, enc);
  // Clamping can map an in-range start past a clamped end on a short line; keep it well-formed.
  if (end < begin) end = begin;
  text_.replace(begin, end - begin, new_text);
  lines_.reset();
  return std::nullopt;
}

}  // namespace latent::lsp
