// When an inline completion is complete. The engine stops at the model's end of FIM / end of
// sequence; these rules stop earlier, on the text itself, so that a completion fits where it is
// inserted:
//  - single-line mode (the cursor is inside a line, or after text that does not open a block):
//    the first line break ends it;
//  - multi-line mode (the cursor is on a blank line, or after a block opener such as "{" or
//    ":"): a line whose indentation returns left of the cursor's line ends it before that line;
//    after an opener, a line back at the cursor line's level ends it too, unless that line
//    closes the opener (then it ends after that line);
//  - balanced brackets: a closing bracket that closes something opened before the cursor ends
//    it before that bracket (the code after the cursor already has it), except as above;
//  - max lines.
// Brackets inside string literals on the same line are not counted. Trailing whitespace is
// dropped, and so is a tail that repeats the text after the cursor on its line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace latent::daemon {

enum class CompletionMode { SingleLine, MultiLine };

// From the cursor's line: text before and after the cursor (no line terminators).
CompletionMode choose_completion_mode(std::string_view line_prefix, std::string_view line_suffix);

class CompletionStopper {
 public:
  CompletionStopper(std::string line_prefix, std::string line_suffix, CompletionMode mode, int max_lines);

  // Appends generated text. Returns true once the completion is complete; further text is
  // ignored, and the caller should stop the engine.
  bool feed(std::string_view piece);
  bool done() const { return done_; }
  // The completion: the text fed so far cut at the stop point, cleaned as described above.
  std::string result() const;
  CompletionMode mode() const { return mode_; }

 private:
  void stop_at(size_t pos);

  std::string line_prefix_, line_suffix_;
  CompletionMode mode_;
  int max_lines_;
  size_t base_indent_ = 0;
  bool after_opener_ = false;

  std::string text_;
  size_t cut_ = std::string::npos;
  bool done_ = false;
  // Scanner state.
  int depth_ = 0;
  int lines_ = 1;
  bool at_line_start_ = false;  // the first line continues the cursor's line
  size_t line_start_ = 0;       // offset in text_ of the current line
  size_t indent_ = 0;
  char in_string_ = 0;
  bool escaped_ = false;
  bool closing_line_ = false;   // the current line closes the cursor line's opener
};

}  // namespace latent::daemon
