// Server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html), as far as
// streamed completions use them: bytes arrive in arbitrary pieces; an event ends at a blank line;
// its "data:" lines, joined by newlines, are its payload; comment lines (":") and other fields
// are ignored.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace latent::daemon::remote {

class SseParser {
 public:
  // Feeds bytes; calls on_event with each complete event's data. Returns false as soon as
  // on_event does (the reader wants no more).
  bool feed(std::string_view bytes, const std::function<bool(const std::string& data)>& on_event);

 private:
  std::string line_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace latent::daemon::remote
