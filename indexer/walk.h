// The workspace walk: every regular file under the root that git would not ignore
// (.gitignore files at every level with negations, .git/info/exclude), skipping VCS and index
// directories, never following a symlink out of the workspace nor into a directory (no cycles).
// Also the checks that decide whether a found file is indexed at all: size, binary content,
// minified or generated code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latent::indexer {

// One .gitignore's patterns, matched against paths relative to the directory holding it.
class IgnoreRules {
 public:
  // `base` is the directory of the .gitignore relative to the root ("" for the root).
  IgnoreRules(std::string base, std::string_view text);
  // nullopt: no pattern matched; true: ignored; false: re-included by a negation.
  std::optional<bool> match(std::string_view rel_path, bool is_dir) const;

 private:
  struct Pattern {
    std::string glob;
    bool negate = false, dir_only = false, anchored = false;
  };
  std::string base_;
  std::vector<Pattern> patterns_;
};

// Glob matching with gitignore semantics: `*` and `?` do not cross '/', `**` does, [a-z], [!x].
bool glob_match(std::string_view pattern, std::string_view text);

struct WalkEntry {
  std::string path;  // relative to the root, '/'-separated
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

// Calls `found` for every file in a deterministic (sorted) order. Unreadable directories are
// reported through `problem` and skipped.
void walk_workspace(const std::filesystem::path& root, const std::function<void(WalkEntry&&)>& found,
                    const std::function<void(std::string path, std::string message)>& problem);

// Whether `rel_path` (a file, or a directory when is_dir) is left out of the walk: by the
// .gitignore files on its way from the root, or by being inside a VCS or index directory.
bool is_ignored(const std::filesystem::path& root, std::string_view rel_path, bool is_dir = false);

// Directories the walk never enters, by name: .git, .hg, .svn and the index's own .latent.
bool is_vcs_or_index_dir(std::string_view name);

struct ContentLimits {
  uint64_t max_file_bytes = 1 << 20;
  uint32_t max_line_bytes = 20000;
};
// Why a file's content should not be indexed ("binary", "generated", ...), or nullopt.
std::optional<std::string> reject_content(std::string_view path, std::string_view content,
                                          const ContentLimits& limits);

}  // namespace latent::indexer
