#include "remote/sse.h"

namespace latent::daemon::remote {

bool SseParser::feed(std::string_view bytes, const std::function<bool(const std::string& data)>& on_event) {
  for (char c : bytes) {
    if (c != '\n') {
      line_ += c;
      continue;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) {
      if (has_data_) {
        std::string data;
        data.swap(data_);
        has_data_ = false;
        if (!on_event(data)) return false;
      }
    } else if (line_.rfind("data:", 0) == 0) {
      std::string_view value = std::string_view(line_).substr(5);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (has_data_) data_ += '\n';
      data_ += value;
      has_data_ = true;
    }
    line_.clear();
  }
  return true;
}

}  // namespace latent::daemon::remote
