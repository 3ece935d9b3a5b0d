#include "server/completion_window.h"

#include <algorithm>
#include <vector>

namespace latent::daemon {

namespace {

// Reserved for the FIM marker tokens and BOS around prefix and suffix.
constexpr int64_t kFimOverhead = 16;

// Moves `at` forward off UTF-8 continuation bytes, so a cut never splits a character.
size_t char_boundary(std::string_view text, size_t at) {
  while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
  return at;
}

// A line too long for its budget is cut to about that many tokens (3 bytes a token is generous
// for code), keeping the side next to the cursor.
size_t bytes_for(size_t tokens) { return std::max<size_t>(tokens, 1) * 3; }

}  // namespace

PromptBudget fit_prompt_budget(PromptBudget wanted, int64_t context_length, int64_t reply_tokens) {
  int64_t available = std::max<int64_t>(0, context_length - reply_tokens - kFimOverhead);
  PromptBudget out;
  out.suffix = std::min<size_t>(wanted.suffix, static_cast<size_t>(available / 4));
  available -= static_cast<int64_t>(out.suffix);
  out.prefix = std::min<size_t>(wanted.prefix, static_cast<size_t>(available));
  available -= static_cast<int64_t>(out.prefix);
  out.context = std::min<size_t>(wanted.context, static_cast<size_t>(available));
  return out;
}

CompletionWindow choose_completion_window(std::string_view text, size_t cursor, const PromptBudget& budget,
                                          const TokenCounter& count, std::optional<uint32_t> keep_begin_line) {
  cursor = std::min(cursor, text.size());
  std::vector<size_t> starts = {0};  // line starts up to the cursor's line
  for (size_t i = 0; i < cursor; ++i)
    if (text[i] == '\n') starts.push_back(i + 1);
  const uint32_t cursor_line = static_cast<uint32_t>(starts.size() - 1);
  auto tokens = [&](size_t from, size_t to) { return count(text.substr(from, to - from)); };

  CompletionWindow w;
  // The prefix.
  if (keep_begin_line && *keep_begin_line <= cursor_line) {
    size_t n = tokens(starts[*keep_begin_line], cursor);
    if (n <= budget.prefix && (*keep_begin_line == 0 || n >= budget.prefix / 2)) {
      w.begin_line = *keep_begin_line;
      w.begin = starts[w.begin_line];
    } else {
      keep_begin_line.reset();
    }
  } else {
    keep_begin_line.reset();
  }
  if (!keep_begin_line) {
    uint32_t g = cursor_line / kWindowGridLines * kWindowGridLines;
    size_t total = tokens(starts[g], cursor);
    if (total <= budget.prefix) {
      // Whole grid blocks backwards while they fit (their token counts add up to at least the
      // count of their concatenation: pieces split at line starts never merge into fewer tokens).
      while (g >= kWindowGridLines) {
        size_t block = tokens(starts[g - kWindowGridLines], starts[g]);
        if (total + block > budget.prefix) break;
        total += block;
        g -= kWindowGridLines;
      }
      w.begin_line = g;
      w.begin = starts[g];
    } else {
      // The cursor's own grid block is over the budget (very long lines): the first line from
      // which the prefix fits, or the cursor's line cut.
      uint32_t l = g;
      while (l < cursor_line && tokens(starts[l], cursor) > budget.prefix) ++l;
      w.begin_line = l;
      w.begin = starts[l];
      if (tokens(w.begin, cursor) > budget.prefix && cursor - w.begin > bytes_for(budget.prefix))
        w.begin = char_boundary(text, cursor - bytes_for(budget.prefix));
    }
  }

  // The suffix: the rest of the cursor's line, then whole lines while they fit.
  auto line_end = [&](size_t from) {
    size_t nl = text.find('\n', from);
    return nl == std::string_view::npos ? text.size() : nl + 1;
  };
  w.end = line_end(cursor);
  size_t total = tokens(cursor, w.end);
  if (total > budget.suffix && w.end - cursor > bytes_for(budget.suffix)) {
    w.end = char_boundary(text, cursor + bytes_for(budget.suffix));
    return w;
  }
  while (w.end < text.size()) {
    size_t next = line_end(w.end);
    size_t n = tokens(w.end, next);
    if (total + n > budget.suffix) break;
    total += n;
    w.end = next;
  }
  return w;
}

bool kept_context_holds(const KeptContext& kept, size_t budget, uint64_t index_epoch) {
  return kept.budget == budget && kept.index_epoch == index_epoch;
}

}  // namespace latent::daemon
