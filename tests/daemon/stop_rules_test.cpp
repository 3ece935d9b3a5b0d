// Completion stop rules. Each case writes the cursor's line with ^ at the cursor, the model's
// raw output, and the completion the rules must keep (derived by hand from the rules).
#include <gtest/gtest.h>

#include "server/stop_rules.h"

namespace latent::daemon {
namespace {

struct Case {
  const char* line;    // cursor line, '^' marks the cursor
  const char* output;  // what the model generates
  const char* expected;
  CompletionMode mode;
  int max_lines = 12;
};

std::string run(const Case& c, size_t chunk) {
  std::string line = c.line;
  size_t caret = line.find('^');
  CompletionStopper stopper(line.substr(0, caret), line.substr(caret + 1), choose_completion_mode(line.substr(0, caret), line.substr(caret + 1)),
                            c.max_lines);
  EXPECT_EQ(stopper.mode(), c.mode) << c.line;
  std::string out = c.output;
  for (size_t i = 0; i < out.size() && !stopper.done(); i += chunk) stopper.feed(std::string_view(out).substr(i, chunk));
  return stopper.result();
}

const Case kCases[] = {
    // Single line: inside a line, the first line break ends it.
    {"    total = ^", "a + b\n    return total\n", "a + b", CompletionMode::SingleLine},
    // The closing bracket after the cursor is already there: stop before the model's copy.
    {"    print(^)", "\"hello\")\n", "\"hello\"", CompletionMode::SingleLine},
    // Brackets opened by the completion itself are kept.
    {"    x = ^", "f(g(1), [2])\n", "f(g(1), [2])", CompletionMode::SingleLine},
    // Brackets inside strings do not count.
    {"    call(^)", "\")\", 2)", "\")\", 2", CompletionMode::SingleLine},
    // A repeated tail of the line is dropped.
    {"    foo(^);", "bar);", "bar", CompletionMode::SingleLine},
    // Multi-line after an opener: the block body, stopping when indentation returns.
    {"def f(x):^", "\n    y = x * 2\n    return y\n\ndef g():\n    pass\n", "\n    y = x * 2\n    return y",
     CompletionMode::MultiLine},
    // Braces: the line that closes the opener is kept, then it stops.
    {"int main() {^", "\n  return 0;\n}\nint other() {\n", "\n  return 0;\n}", CompletionMode::MultiLine},
    // A blank line inside a block: continue at that indentation, stop on dedent.
    {"        ^", "a = 1\n        b = 2\n    return a\n", "a = 1\n        b = 2", CompletionMode::MultiLine},
    // Max lines.
    {"    ^", "a\n    b\n    c\n    d\n", "a\n    b", CompletionMode::MultiLine, 2},
    // Multi-line: a closer of something opened before the cursor ends it.
    {"    ^", "x = 1\n    y = 2)\n", "x = 1\n    y = 2", CompletionMode::MultiLine},
    // Trailing whitespace is dropped.
    {"    ^", "pass   \n\n", "pass", CompletionMode::MultiLine},
};

TEST(StopRules, Cases) {
  for (const Case& c : kCases)
    for (size_t chunk : {1, 3, 1000}) EXPECT_EQ(run(c, chunk), c.expected) << c.line << " / chunk " << chunk;
}

TEST(StopRules, ModeChoice) {
  EXPECT_EQ(choose_completion_mode("  x = ", ""), CompletionMode::SingleLine);
  EXPECT_EQ(choose_completion_mode("  ", ""), CompletionMode::MultiLine);
  EXPECT_EQ(choose_completion_mode("if (a) {", "}"), CompletionMode::MultiLine);
  EXPECT_EQ(choose_completion_mode("foo(", "bar)"), CompletionMode::SingleLine);
  EXPECT_EQ(choose_completion_mode("items.map(x =>", ")"), CompletionMode::MultiLine);
}

TEST(StopRules, DoneStopsAccepting) {
  CompletionStopper s("  x = ", "", CompletionMode::SingleLine, 5);
  EXPECT_FALSE(s.feed("1"));
  EXPECT_TRUE(s.feed("\n"));
  EXPECT_TRUE(s.feed("more"));
  EXPECT_EQ(s.result(), "1");
}

}  // namespace
}  // namespace latent::daemon
