#include "server/stop_rules.h"

namespace latent::daemon {

namespace {

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t") == std::string_view::npos; }

std::string_view trim_right(std::string_view s) {
  size_t end = s.find_last_not_of(" \t\r\n");
  return end == std::string_view::npos ? std::string_view{} : s.substr(0, end + 1);
}

std::string_view trim(std::string_view s) {
  s = trim_right(s);
  size_t b = s.find_first_not_of(" \t");
  return b == std::string_view::npos ? std::string_view{} : s.substr(b);
}

size_t indent_width(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && (line[n] == ' ' || line[n] == '\t')) ++n;
  return n;
}

bool ends_with_opener(std::string_view prefix) {
  std::string_view t = trim_right(prefix);
  if (t.empty()) return false;
  char c = t.back();
  return c == '{' || c == '(' || c == '[' || c == ':' || (t.size() >= 2 && t.substr(t.size() - 2) == "=>");
}

bool is_closer(char c) { return c == ')' || c == ']' || c == '}'; }
bool is_opener(char c) { return c == '(' || c == '[' || c == '{'; }

}  // namespace

CompletionMode choose_completion_mode(std::string_view line_prefix, std::string_view line_suffix) {
  std::string_view rest = trim(line_suffix);
  // Only closing brackets after the cursor (as an editor's auto-pairing leaves) still allow a
  // block to be written before them.
  bool suffix_is_closers = rest.find_first_not_of(")]};,") == std::string_view::npos;
  if (!suffix_is_closers) return CompletionMode::SingleLine;
  if (is_blank(line_prefix)) return CompletionMode::MultiLine;
  std::string_view t = trim_right(line_prefix);
  char c = t.back();
  if (c == '{' || c == ':' || (t.size() >= 2 && t.substr(t.size() - 2) == "=>")) return CompletionMode::MultiLine;
  // "f(" at the end of a line starts arguments on the next lines; "f(|)" is filled in place.
  if ((c == '(' || c == '[') && rest.empty()) return CompletionMode::MultiLine;
  return CompletionMode::SingleLine;
}

CompletionStopper::CompletionStopper(std::string line_prefix, std::string line_suffix, CompletionMode mode,
                                     int max_lines)
    : line_prefix_(std::move(line_prefix)),
      line_suffix_(std::move(line_suffix)),
      mode_(mode),
      max_lines_(max_lines < 1 ? 1 : max_lines) {
  base_indent_ = indent_width(line_prefix_);
  after_opener_ = ends_with_opener(line_prefix_);
}

void CompletionStopper::stop_at(size_t pos) {
  cut_ = pos;
  done_ = true;
}

bool CompletionStopper::feed(std::string_view piece) {
  if (done_) return true;
  size_t i = text_.size();
  text_.append(piece);
  for (; i < text_.size() && !done_; ++i) {
    char c = text_[i];
    if (c == '\n') {
      if (mode_ == CompletionMode::SingleLine) {
        stop_at(i);
        break;
      }
      if (closing_line_ || lines_ >= max_lines_) {
        stop_at(i);
        break;
      }
      ++lines_;
      at_line_start_ = true;
      line_start_ = i + 1;
      indent_ = 0;
      in_string_ = 0;
      escaped_ = false;
      continue;
    }
    if (c == '\r') continue;
    if (at_line_start_) {
      if (c == ' ' || c == '\t') {
        ++indent_;
        continue;
      }
      at_line_start_ = false;
      // line_start_ - 1 is the line break before this line; cutting there drops the line.
      if (indent_ < base_indent_) {
        stop_at(line_start_ - 1);
        break;
      }
      if (after_opener_ && indent_ <= base_indent_) {
        if (is_closer(c) && depth_ == 0) {
          closing_line_ = true;
        } else {
          stop_at(line_start_ - 1);
          break;
        }
      }
    }
    if (in_string_) {
      if (escaped_) escaped_ = false;
      else if (c == '\\') escaped_ = true;
      else if (c == in_string_) in_string_ = 0;
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') {
      in_string_ = c;
      continue;
    }
    if (is_opener(c)) {
      ++depth_;
    } else if (is_closer(c)) {
      if (depth_ > 0) {
        --depth_;
      } else if (closing_line_ && depth_ == 0 && i >= line_start_) {
        // The closer of the cursor line's opener: kept, and the line ends the completion.
        depth_ = -1;
      } else {
        stop_at(i);
        break;
      }
    }
  }
  return done_;
}

std::string CompletionStopper::result() const {
  std::string_view out(text_);
  if (cut_ != std::string::npos) out = out.substr(0, cut_);
  out = trim_right(out);
  // The model may repeat what follows the cursor on its line (")" or ");"); it is already there.
  std::string_view tail = trim(line_suffix_);
  if (!tail.empty() && out.size() >= tail.size() && out.substr(out.size() - tail.size()) == tail)
    out = trim_right(out.substr(0, out.size() - tail.size()));
  return std::string(out);
}

}  // namespace latent::daemon
