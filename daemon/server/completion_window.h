// The part of the current file a completion prompt holds: a bounded, stable fill-in-the-middle
// window around the cursor.
//
// Why bounded: everything after the FIM hole is evaluated again on every keystroke (the
// engine's KV prefix store cannot help past the first changed token), so the text after the
// cursor is a few hundred tokens of whole lines; the text before it is about 2K tokens.
// Why stable: the window starts on a coarse line grid and keeps its start while it still fits,
// so typing and small cursor moves leave the prompt's prefix (repository context, then the
// window up to the cursor) unchanged and a keystroke costs the typed tokens plus the suffix.
// The repository context placed before the window is kept for the document (KeptContext)
// for the same reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/ports.h"

namespace latent::daemon {

// Token budgets of one completion prompt.
struct PromptBudget {
  size_t prefix = 0;   // the current file before the cursor
  size_t suffix = 0;   // the current file after the cursor
  size_t context = 0;  // repository context, placed before the prefix
};

// The settings' budgets, shrunk so that together with the reply (and the FIM tokens) they fit
// the model's context: the repository context gives way first, then the prefix; the suffix
// keeps at most a quarter of what is left.
PromptBudget fit_prompt_budget(PromptBudget wanted, int64_t context_length, int64_t reply_tokens);

struct CompletionWindow {
  size_t begin = 0;         // byte offset of the first prefix byte: a line start
  size_t end = 0;           // byte offset after the last suffix byte: a line end (or the text's end)
  uint32_t begin_line = 0;  // 0-based line of `begin`
};

// Lines per step of the grid the window's start snaps to.
inline constexpr uint32_t kWindowGridLines = 32;

// The window around `cursor` (a byte offset in text): the prefix starts on a grid line (a
// multiple of kWindowGridLines) and holds at most budget.prefix tokens; the suffix is whole
// lines after the cursor within budget.suffix tokens (the cursor's own line at least, cut when
// it alone is over). `keep_begin_line` is the start of the previous window for this document:
// it is kept while the prefix from it still fits and still holds at least half its budget (or
// starts the file), so small moves and typing do not shift the window.
CompletionWindow choose_completion_window(std::string_view text, size_t cursor, const PromptBudget& budget,
                                          const TokenCounter& count, std::optional<uint32_t> keep_begin_line = {});

// The repository context chosen for a document, kept while the cursor stays in it and the
// index is unchanged since (`index_epoch`: a save or any file change on disk moves it on), so
// that it stays the prompt's stable first part. A jump within the file keeps it too: choosing
// again would make the jump cost the context and the window (about 4.4K tokens by default)
// instead of the window alone (about 2.3K); the window still holds the 2K tokens before the
// new place, and the next change to the index brings the definitions around it.
struct KeptContext {
  size_t budget = 0;
  uint64_t index_epoch = 0;
  std::string text;
};

bool kept_context_holds(const KeptContext& kept, size_t budget, uint64_t index_epoch);

}  // namespace latent::daemon
