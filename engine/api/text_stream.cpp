#include "api/text_stream.h"

#include <algorithm>

#include "tokenizer/tokenizer.h"

namespace latent::engine {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the sequence a lead byte starts (1-4), or 0 for a byte that cannot start one.
size_t sequence_length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Whether continuation byte `b` may follow at index i of a sequence starting with `lead`
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_continuation(unsigned char lead, size_t i, unsigned char b) {
  if ((b & 0xC0) != 0x80) return false;
  if (i != 1) return true;
  if (lead == 0xE0) return b >= 0xA0;
  if (lead == 0xED) return b <= 0x9F;
  if (lead == 0xF0) return b >= 0x90;
  if (lead == 0xF4) return b <= 0x8F;
  return true;
}

}  // namespace

std::string reply_piece(const tokenizer::Tokenizer& tokenizer, int32_t token) {
  return tokenizer.is_special(token) ? std::string() : tokenizer.token_to_piece(token, false);
}

std::string Utf8Assembler::push(std::string_view bytes) {
  pending_.append(bytes);
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    unsigned char lead = pending_[i];
    size_t len = sequence_length(lead);
    if (len == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    size_t j = 1;
    while (j < len && i + j < pending_.size() && valid_continuation(lead, j, pending_[i + j])) ++j;
    if (j == len) {
      out.append(pending_, i, len);
      i += len;
    } else if (i + j == pending_.size()) {
      break;  // an unfinished character at the end: wait for the next token's bytes
    } else {
      out += kReplacement;  // a broken sequence: replace its valid part, resync at the bad byte
      i += j;
    }
  }
  pending_.erase(0, i);
  return out;
}

std::string Utf8Assembler::finish() {
  std::string out = pending_.empty() ? "" : std::string(kReplacement);
  pending_.clear();
  return out;
}

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

namespace {

// Earliest complete occurrence of any stop string in `text` (longest on ties); npos if none.
size_t find_stop(const std::vector<std::string>& stops, const std::string& text, std::string* which) {
  size_t best = std::string::npos;
  for (const auto& s : stops) {
    size_t pos = text.find(s);
    if (pos == std::string::npos) continue;
    if (pos < best || (pos == best && s.size() > which->size())) {
      best = pos;
      *which = s;
    }
  }
  return best;
}

}  // namespace

StopMatcher::Result StopMatcher::push(std::string_view text) {
  held_.append(text);
  Result r;
  size_t match = find_stop(stops_, held_, &r.matched);
  // Where the earliest suffix starts that is a proper prefix of some stop string: the text from
  // there on may still become a stop string. It begins with a stop string's first byte, so the
  // split falls on a UTF-8 character boundary.
  size_t partial = held_.size();
  for (const auto& s : stops_) {
    size_t from = held_.size() > s.size() - 1 ? held_.size() - (s.size() - 1) : 0;
    for (size_t p = from; p < partial; ++p) {
      if (held_.compare(p, std::string::npos, s, 0, held_.size() - p) == 0) {
        partial = p;
        break;
      }
    }
  }
  if (match != std::string::npos && match <= partial) {
    r.stopped = true;
    r.emit = held_.substr(0, match);
    held_.clear();
    return r;
  }
  r.matched.clear();
  r.emit = held_.substr(0, partial);
  held_.erase(0, partial);
  return r;
}

StopMatcher::Result StopMatcher::finish() {
  Result r;
  size_t match = find_stop(stops_, held_, &r.matched);
  r.stopped = match != std::string::npos;
  r.emit = r.stopped ? held_.substr(0, match) : held_;
  held_.clear();
  return r;
}

}  // namespace latent::engine
