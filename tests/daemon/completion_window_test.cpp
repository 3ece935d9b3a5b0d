// The completion window: bounded to its budgets in whole lines, starting on the line grid, and
// stable while the user types, so that consecutive keystrokes' prompts share all but the typed
// tokens and the suffix.
#include "server/completion_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace latent::daemon {
namespace {

// A stand-in tokenizer: a run of word characters, a run of spaces or one other character is
// a token. Like BPE, pieces split at line starts never count fewer than their concatenation.
size_t count_tokens(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    size_t j = i + 1;
    if (word(s[i]))
      while (j < s.size() && word(s[j])) ++j;
    else if (s[i] == ' ')
      while (j < s.size() && s[j] == ' ') ++j;
    ++n;
    i = j;
  }
  return n;
}
const TokenCounter kCount = count_tokens;

// A source file of `lines` lines of varied code.
std::string source_file(int lines) {
  std::string text;
  for (int i = 0; i < lines; ++i) {
    if (i % 12 == 0) text += "int function_" + std::to_string(i) + "(int a, int b) {\n";
    else if (i % 12 == 11) text += "}\n";
    else text += "  total += compute(a * " + std::to_string(i) + ", b - value_" + std::to_string(i % 7) + ");\n";
  }
  return text;
}

size_t line_start(const std::string& text, int line) {
  size_t at = 0;
  for (int i = 0; i < line; ++i) at = text.find('\n', at) + 1;
  return at;
}

std::string prompt(const std::string& text, size_t cursor, const CompletionWindow& w) {
  return "# repository context\n" + text.substr(w.begin, cursor - w.begin) + "<HOLE>" + text.substr(cursor, w.end - cursor);
}

// Tokens of `now` after the longest byte prefix it shares with `before`: what the engine
// evaluates again.
size_t recomputed(const std::string& before, const std::string& now) {
  size_t same = std::mismatch(before.begin(), before.end(), now.begin(), now.end()).first - before.begin();
  // The token the change falls into is evaluated again too.
  while (same > 0 && now[same - 1] != '\n') --same;
  return count_tokens(std::string_view(now).substr(same));
}

double percentile(std::vector<size_t> v, double p) {
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))]);
}

TEST(CompletionWindow, BoundedInWholeLinesOnTheGrid) {
  std::string text = source_file(1000);
  size_t cursor = line_start(text, 500) + 10;
  PromptBudget b{1000, 60, 0};
  CompletionWindow w = choose_completion_window(text, cursor, b, kCount);
  EXPECT_LE(count_tokens(std::string_view(text).substr(w.begin, cursor - w.begin)), b.prefix);
  EXPECT_LE(count_tokens(std::string_view(text).substr(cursor, w.end - cursor)), b.suffix);
  EXPECT_EQ(w.begin_line % kWindowGridLines, 0u);
  EXPECT_EQ(w.begin, line_start(text, static_cast<int>(w.begin_line)));
  EXPECT_EQ(text[w.end - 1], '\n');
  // Tight: one grid block earlier, or one more line after, would be over the budget.
  ASSERT_GE(w.begin_line, kWindowGridLines);
  size_t earlier = line_start(text, static_cast<int>(w.begin_line - kWindowGridLines));
  EXPECT_GT(count_tokens(std::string_view(text).substr(earlier, cursor - earlier)), b.prefix);
  size_t next_end = text.find('\n', w.end) + 1;
  EXPECT_GT(count_tokens(std::string_view(text).substr(cursor, next_end - cursor)), b.suffix);
}

TEST(CompletionWindow, AShortFileIsWhole) {
  std::string text = "int main() {\n  return 0;\n}\n";
  size_t cursor = text.find("return");
  CompletionWindow w = choose_completion_window(text, cursor, {2048, 256, 0}, kCount);
  EXPECT_EQ(w.begin, 0u);
  EXPECT_EQ(w.end, text.size());
}

TEST(CompletionWindow, ALongLineIsCutNearTheCursor) {
  auto many = [](const char* piece) {
    std::string s;
    for (int i = 0; i < 15000; ++i) s += piece;
    return s;
  };
  std::string text = "x = [" + many("1,") + "]\n" + many("y;");
  size_t cursor = text.find(']');
  CompletionWindow w = choose_completion_window(text, cursor, {100, 50, 0}, kCount);
  EXPECT_LE(cursor - w.begin, 3u * 100u);
  EXPECT_GT(cursor, w.begin);
  EXPECT_LE(w.end - cursor, 3u * 50u);
}

// Natural typing mid-file (a new function body, newlines included): each keystroke's prompt
// shares everything with the previous one but the typed tokens and the suffix, except when the
// window's start steps one grid block forward.
TEST(CompletionWindow, TypingReevaluatesOnlyTheTypedTokensAndTheSuffix) {
  std::string text = source_file(1000);
  PromptBudget b{1200, 80, 0};
  size_t cursor = line_start(text, 500);
  const std::string typed =
      "int added(int x) {\n  int sum = 0;\n  for (int i = 0; i < x; ++i) sum += compute(i, x);\n"
      "  return sum * factor + offset;\n}\n";
  std::optional<uint32_t> begin;
  std::string before;
  std::vector<size_t> costs;
  size_t shifts = 0;
  for (char c : typed) {
    text.insert(cursor, 1, c);
    ++cursor;
    CompletionWindow w = choose_completion_window(text, cursor, b, kCount, begin);
    if (begin && *begin != w.begin_line) ++shifts;
    begin = w.begin_line;
    std::string now = prompt(text, cursor, w);
    if (!before.empty()) costs.push_back(recomputed(before, now));
    before = now;
  }
  // The typed line so far, the hole and the suffix.
  EXPECT_LE(percentile(costs, 0.9), static_cast<double>(b.suffix + 40));
  EXPECT_LE(shifts, 2u);
  EXPECT_LE(*std::max_element(costs.begin(), costs.end()), b.prefix + b.suffix + 8);
}

TEST(CompletionWindow, SmallMovesKeepTheStartAndAJumpMovesIt) {
  std::string text = source_file(1000);
  PromptBudget b{600, 80, 0};
  size_t cursor = line_start(text, 500) + 4;
  CompletionWindow first = choose_completion_window(text, cursor, b, kCount);
  for (int line : {497, 499, 503, 505}) {
    CompletionWindow w = choose_completion_window(text, line_start(text, line) + 4, b, kCount, first.begin_line);
    EXPECT_EQ(w.begin_line, first.begin_line) << "cursor moved to line " << line;
  }
  // Up across a grid line: a fresh window would start a block earlier; the kept one stays.
  PromptBudget wide{2000, 80, 0};
  CompletionWindow at500 = choose_completion_window(text, cursor, wide, kCount);
  size_t up_cursor = line_start(text, 470) + 4;
  EXPECT_NE(choose_completion_window(text, up_cursor, wide, kCount).begin_line, at500.begin_line);
  EXPECT_EQ(choose_completion_window(text, up_cursor, wide, kCount, at500.begin_line).begin_line, at500.begin_line);
  CompletionWindow jumped = choose_completion_window(text, line_start(text, 800), b, kCount, first.begin_line);
  EXPECT_GT(jumped.begin_line, first.begin_line + 200);
  CompletionWindow up = choose_completion_window(text, line_start(text, 100), b, kCount, first.begin_line);
  EXPECT_LT(up.begin_line, 100u);
}

TEST(CompletionWindow, BudgetsFitTheModelsContext) {
  PromptBudget wanted{2048, 256, 2048};
  PromptBudget roomy = fit_prompt_budget(wanted, 163840, 96);
  EXPECT_EQ(roomy.prefix, wanted.prefix);
  EXPECT_EQ(roomy.suffix, wanted.suffix);
  EXPECT_EQ(roomy.context, wanted.context);
  for (int64_t ctx : {4096, 1024, 300, 10}) {
    PromptBudget b = fit_prompt_budget(wanted, ctx, 96);
    EXPECT_LE(static_cast<int64_t>(b.prefix + b.suffix + b.context) + 96, std::max<int64_t>(ctx, 96)) << ctx;
    if (b.context > 0) EXPECT_EQ(b.prefix, wanted.prefix) << "the context gives way first, at " << ctx;
  }
  PromptBudget tight = fit_prompt_budget(wanted, 1024, 96);
  EXPECT_EQ(tight.context, 0u);
  EXPECT_GT(tight.prefix, 0u);
  EXPECT_GT(tight.suffix, 0u);
}

TEST(CompletionWindow, AKeptContextHoldsUntilTheIndexOrTheBudgetChanges) {
  KeptContext kept{2048, 7, "ctx"};
  EXPECT_TRUE(kept_context_holds(kept, 2048, 7));
  EXPECT_FALSE(kept_context_holds(kept, 2048, 8));
  EXPECT_FALSE(kept_context_holds(kept, 1024, 7));
}

}  // namespace
}  // namespace latent::daemon
