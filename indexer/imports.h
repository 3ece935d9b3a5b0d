// Import resolution: which indexed files an import of a file denotes, per language.
//   Python      `import a.b`, `from a.b import c` (c may be a submodule), relative `from ..x
//               import y`, packages through __init__.py, sources under a top folder (src/).
//   JS/TS       relative specifiers with the extensions and index files Node and TypeScript
//               try, a folder's package.json `main`/`exports`, tsconfig.json `baseUrl`/`paths`.
//   C/C++       `#include`: the including file's folder, the include directories of
//               compile_commands.json when there is one, else sibling `include/` folders, then
//               any indexed path ending in the include.
//   Go          an import path's package folder (through go.mod's module path, else its
//               trailing folders): every non-test file of it.
//   Rust        `mod x;` beside the declaring file (x.rs, x/mod.rs), `use crate::`/`self::`/
//               `super::` paths and crate-relative ones, down to the module file.
//   Java        `import a.b.C` to a/b/C.java under any source root; `a.b.*` to the package.
// The import strings are those the parser stores (indexer/queries/*/imports.scm): a module or
// path, or for Python's `from` form the whole statement, so the names it imports are known.
//
// Pure: the repository is seen through FileSystemView, so tests need no index.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latent::indexer {

struct FileSystemView {
  std::string root;  // the repository's absolute path (to read compile_commands.json's paths)
  // Whether `path` (relative to the root, '/'-separated) is an indexed file.
  std::function<bool(const std::string& path)> exists;
  // Indexed paths equal to `suffix` or ending in "/" + suffix, shortest first.
  std::function<std::vector<std::string>(const std::string& suffix)> ending_with;
  // Indexed files directly inside a folder, sorted: `folder` itself (relative to the root, ""
  // for the root) when `exact`, else the shortest folder equal to or ending in "/" + folder.
  std::function<std::vector<std::string>(const std::string& folder, bool exact)> files_in;
  // A small file's text (package.json, tsconfig.json, go.mod, compile_commands.json), read from
  // disk even when not indexed; nullopt when absent.
  std::function<std::optional<std::string>(const std::string& path)> read;
};

// Files `import` (as stored for a file at `from_path` in `language`) denotes, most likely first;
// empty when it names nothing in the repository (a system header, a third-party package).
std::vector<std::string> resolve_import(std::string_view import, const std::string& from_path,
                                        std::string_view language, const FileSystemView& fs);

}  // namespace latent::indexer
