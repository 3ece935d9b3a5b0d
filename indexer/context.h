// The context builder: given a cursor in a file, gathers what the model should see and
// assembles it under a token budget, most stable first so that consecutive requests share a long
// prompt prefix:
//   repo map -> definitions and type signatures -> search hits -> imported files
//   -> recently changed files -> the current file around the cursor.
// Definitions: the current file's identifiers, nearest to the cursor first, resolved through the
// files it imports (indexer/imports.h), then the current file, then the rest of the repository by
// rank; the signatures of as many as fit come first, then whole bodies. The repo map ranks files
// by PageRank with the current file's neighbourhood (imports, files of its definitions) first,
// and lists each file's signatures, methods indented under their class. No piece twice: a piece
// is cut where another holds its lines, a whole file replaces its pieces, an outline appears
// once per file. Pieces within a section are sorted by a stable key (path, line). The result is
// a pure function of the index contents and the request.
//
// Threads: build_context only reads the index and may run on any thread, concurrently with
// writes and with other build_context calls.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/index.h"

namespace latent::indexer {

enum class SourceKind { repo_map, definition, type_signature, search, import, recent, current };
std::string_view source_kind_name(SourceKind kind);

// The share of the budget each section may fill, in the order they are filled; the repo map
// takes what remains. The defaults are the best of the splits tried with `latent bench context`.
struct BudgetSplit {
  double current = 0.25;      // the current file around the cursor
  double definitions = 0.40;  // definitions of names near the cursor: signatures, then bodies
  double types = 0.05;        // signatures of the types those definitions name
  double search = 0.10;       // BM25 hits on the local window
  double imports = 0.10;      // imported files: whole when small, else their outline
  double recent = 0.05;       // recently changed files
};

struct ContextRequest {
  std::string path;                     // the current file, relative to the root (or absolute)
  uint32_t line = 1, column = 1;        // 1-based cursor
  std::optional<std::string> content;   // unsaved buffer; default: the indexed text, else disk
  size_t budget_tokens = 16384;
  TokenCounter count_tokens;            // default: the index's counter
  bool include_current_file = true;     // false when the caller places the current file itself
  // Identifiers of the current file are looked up nearest first, up to this many names.
  uint32_t max_names = 400;
  BudgetSplit split;
};

struct ContextPiece {
  SourceKind kind = SourceKind::repo_map;
  std::string path;
  uint32_t start_line = 0, end_line = 0;  // 1-based, inclusive; both 0 for an outline (top-level
                                          // signatures only: the repo map, large imports)
  size_t tokens = 0;                      // of `text` including its header
  std::string text;  // header ("# path:start-end\n" or "# path (outline)\n") + content
};

struct Context {
  std::vector<ContextPiece> pieces;  // in prompt order
  std::string text;                  // the pieces concatenated
  size_t tokens = 0;                 // sum of the pieces' tokens
  size_t budget_tokens = 0;
};

// Throws IndexError when the database cannot be read.
Context build_context(const Index& index, const ContextRequest& request);

}  // namespace latent::indexer
