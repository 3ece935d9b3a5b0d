#include "lsp/framing.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace latent::lsp {

namespace {

constexpr std::string_view kTerminator = "\r\n\r\n";
constexpr std::string_view kLengthHeader = "content-length:";

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Header names are RFC 7230 tokens; anything else means we are looking at body bytes.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

size_t ifind(std::string_view hay, std::string_view needle, size_t from) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (size_t i = from; i + needle.size() <= hay.size(); ++i)
    if (iequals(hay.substr(i, needle.size()), needle)) return i;
  return std::string_view::npos;
}

std::string printable_prefix(std::string_view s, size_t n = 40) {
  std::string out;
  for (char c : s.substr(0, n)) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) out += '?';
    else out += c;
  }
  if (s.size() > n) out += "...";
  return out;
}

}  // namespace

FrameDecoder::FrameDecoder(FramingOptions options) : options_(options) {}

void FrameDecoder::feed(std::string_view bytes) {
  if (skip_remaining_ > 0) {
    size_t n = std::min(skip_remaining_, bytes.size());
    skip_remaining_ -= n;
    bytes.remove_prefix(n);
  }
  buf_.append(bytes);
}

void FrameDecoder::compact() {
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

// After a bad header block, continue at the next "Content-Length:" that could start a header
// (so junk left by a wrong Content-Length is skipped), else at `fallback`.
void FrameDecoder::resync_after(size_t from, size_t fallback) {
  size_t next = ifind(buf_, kLengthHeader, from);
  pos_ = next == std::string::npos ? fallback : next;
}

std::optional<FrameEvent> FrameDecoder::parse_header_block(size_t block_end) {
  const size_t start = pos_;
  std::string_view block(buf_.data() + start, block_end - start);
  std::optional<size_t> length;
  std::string problem;
  size_t line_start = 0;
  while (line_start <= block.size() && problem.empty()) {
    size_t eol = block.find("\r\n", line_start);
    std::string_view line = block.substr(line_start, eol == std::string_view::npos ? std::string_view::npos : eol - line_start);
    size_t colon = line.find(':');
    std::string_view name = colon == std::string_view::npos ? std::string_view{} : trim(line.substr(0, colon));
    if (!is_token(name)) {
      problem = "malformed header line '" + printable_prefix(line) + "'";
      break;
    }
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      size_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || p != value.data() + value.size())
        problem = "invalid Content-Length '" + printable_prefix(value) + "'";
      else if (length && *length != n)
        problem = "conflicting Content-Length headers";
      else
        length = n;
    }
    // Other headers (Content-Type and anything unknown) carry nothing we act on.
    if (eol == std::string_view::npos) break;
    line_start = eol + 2;
  }
  if (problem.empty() && !length) problem = "header block without Content-Length";
  const size_t after_block = block_end + kTerminator.size();
  if (!problem.empty()) {
    resync_after(start + 1, after_block);
    return FrameEvent{FrameEvent::Kind::Error, {}, problem + "; skipped to the next header"};
  }
  pos_ = after_block;
  if (*length > options_.max_content_length) {
    size_t available = buf_.size() - pos_;
    size_t n = std::min(available, *length);
    pos_ += n;
    skip_remaining_ = *length - n;
    return FrameEvent{FrameEvent::Kind::Error, {},
                      "Content-Length " + std::to_string(*length) + " exceeds the limit of " +
                          std::to_string(options_.max_content_length) + " bytes; message skipped"};
  }
  body_length_ = *length;
  return std::nullopt;
}

std::optional<FrameEvent> FrameDecoder::next() {
  for (;;) {
    if (body_length_) {
      if (buf_.size() - pos_ < *body_length_) return std::nullopt;
      FrameEvent ev{FrameEvent::Kind::Message, buf_.substr(pos_, *body_length_), {}};
      pos_ += *body_length_;
      body_length_.reset();
      compact();
      return ev;
    }
    if (pos_ == buf_.size()) {
      compact();
      return std::nullopt;
    }
    size_t end = buf_.find(kTerminator, pos_);
    if (end == std::string::npos) {
      if (buf_.size() - pos_ <= options_.max_header_bytes) return std::nullopt;
      // No blank line within the limit: drop what we hold, keeping a tail that may be the
      // start of a header split across reads.
      size_t keep_from = buf_.size() - std::min<size_t>(kLengthHeader.size(), buf_.size() - pos_);
      resync_after(pos_ + 1, keep_from);
      compact();
      return FrameEvent{FrameEvent::Kind::Error, {},
                        "no header terminator within " + std::to_string(options_.max_header_bytes) +
                            " bytes; discarded the buffered bytes"};
    }
    if (end - pos_ > options_.max_header_bytes) {
      resync_after(pos_ + 1, end + kTerminator.size());
      compact();
      return FrameEvent{FrameEvent::Kind::Error, {},
                        "header block longer than " + std::to_string(options_.max_header_bytes) +
                            " bytes; skipped to the next header"};
    }
    if (auto err = parse_header_block(end)) {
      compact();
      return err;
    }
  }
}

std::string encode_frame(std::string_view body) {
  std::string out = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out.append(body);
  return out;
}

}  // namespace latent::lsp
