#include "indexer/walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace latent::indexer {
namespace {

bool class_match(std::string_view& p, char c, bool& ok) {
  // p starts after '['; consumes through ']'.
  bool negate = false;
  size_t i = 0;
  if (i < p.size() && (p[i] == '!' || p[i] == '^')) {
    negate = true;
    ++i;
  }
  bool matched = false, first = true;
  while (i < p.size() && (p[i] != ']' || first)) {
    first = false;
    char lo = p[i];
    if (lo == '\\' && i + 1 < p.size()) lo = p[++i];
    char hi = lo;
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      hi = p[i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) matched = true;
    ++i;
  }
  if (i >= p.size()) return false;  // unterminated: the pattern is invalid, match nothing
  p.remove_prefix(i + 1);
  ok = matched != negate;
  return true;
}

std::string read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string_view basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool glob_match(std::string_view p, std::string_view t) {
  while (!p.empty()) {
    char c = p[0];
    if (c == '*') {
      if (p.size() >= 2 && p[1] == '*' && (p.size() == 2 || p[2] == '/')) {
        if (p.size() == 2) return true;
        std::string_view rest = p.substr(3);
        for (size_t i = 0;;) {
          if (glob_match(rest, t.substr(i))) return true;
          i = t.find('/', i);
          if (i == std::string_view::npos) return false;
          ++i;
        }
      }
      while (!p.empty() && p[0] == '*') p.remove_prefix(1);
      for (size_t i = 0;; ++i) {
        if (glob_match(p, t.substr(i))) return true;
        if (i == t.size() || t[i] == '/') return false;
      }
    }
    if (t.empty()) return false;
    if (c == '?') {
      if (t[0] == '/') return false;
      p.remove_prefix(1);
    } else if (c == '[') {
      std::string_view rest = p.substr(1);
      bool ok = false;
      if (t[0] == '/' || !class_match(rest, t[0], ok) || !ok) return false;
      p = rest;
    } else {
      if (c == '\\' && p.size() > 1) {
        p.remove_prefix(1);
        c = p[0];
      }
      if (c != t[0]) return false;
      p.remove_prefix(1);
    }
    t.remove_prefix(1);
  }
  return t.empty();
}

IgnoreRules::IgnoreRules(std::string base, std::string_view text) : base_(std::move(base)) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(pos, end - pos));
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Trailing spaces are dropped unless escaped.
    while (!line.empty() && line.back() == ' ' && !(line.size() >= 2 && line[line.size() - 2] == '\\'))
      line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    Pattern pat;
    if (line[0] == '!') {
      pat.negate = true;
      line.erase(0, 1);
    } else if (line[0] == '\\' && line.size() > 1 && (line[1] == '!' || line[1] == '#')) {
      line.erase(0, 1);
    }
    if (!line.empty() && line.back() == '/') {
      pat.dir_only = true;
      line.pop_back();
    }
    if (line.empty()) continue;
    if (line.find('/') != std::string::npos) {
      pat.anchored = true;
      if (line[0] == '/') line.erase(0, 1);
    }
    pat.glob = std::move(line);
    patterns_.push_back(std::move(pat));
  }
}

std::optional<bool> IgnoreRules::match(std::string_view rel_path, bool is_dir) const {
  std::string_view local = rel_path;
  if (!base_.empty()) {
    if (rel_path.size() <= base_.size() || rel_path.substr(0, base_.size()) != base_ ||
        rel_path[base_.size()] != '/')
      return std::nullopt;
    local = rel_path.substr(base_.size() + 1);
  }
  std::string_view name = basename_of(local);
  for (auto it = patterns_.rbegin(); it != patterns_.rend(); ++it) {
    if (it->dir_only && !is_dir) continue;
    bool hit = it->anchored ? glob_match(it->glob, local) : glob_match(it->glob, name);
    if (hit) return !it->negate;
  }
  return std::nullopt;
}

namespace {

struct DirFrame {
  std::string rel;  // "" for the root
  size_t rules_depth;
};

bool ignored_by(const std::vector<std::shared_ptr<IgnoreRules>>& rules, std::string_view rel, bool is_dir) {
  for (auto it = rules.rbegin(); it != rules.rend(); ++it)
    if (auto m = (*it)->match(rel, is_dir)) return *m;
  return false;
}

bool inside(const std::string& root_real, const std::string& target) {
  return target == root_real || (target.size() > root_real.size() &&
                                 target.compare(0, root_real.size(), root_real) == 0 &&
                                 target[root_real.size()] == '/');
}

}  // namespace

void walk_workspace(const std::filesystem::path& root, const std::function<void(WalkEntry&&)>& found,
                    const std::function<void(std::string, std::string)>& problem) {
  std::error_code ec;
  std::string root_real = std::filesystem::canonical(root, ec).string();
  if (ec) {
    problem("", "cannot open the workspace " + root.string() + ": " + ec.message());
    return;
  }
  // Rules from the root down to the directory being read; deeper ones take precedence.
  std::vector<std::shared_ptr<IgnoreRules>> rules;
  std::string exclude = read_small_file(root_real + "/.git/info/exclude");
  if (!exclude.empty()) rules.push_back(std::make_shared<IgnoreRules>("", exclude));

  struct Pending {
    std::string rel;
    std::vector<std::shared_ptr<IgnoreRules>> rules;
  };
  std::vector<Pending> stack;
  stack.push_back({"", rules});
  while (!stack.empty()) {
    Pending dir = std::move(stack.back());
    stack.pop_back();
    std::string abs = dir.rel.empty() ? root_real : root_real + "/" + dir.rel;
    std::string gi = read_small_file(abs + "/.gitignore");
    if (!gi.empty()) dir.rules.push_back(std::make_shared<IgnoreRules>(dir.rel, gi));
    DIR* d = opendir(abs.c_str());
    if (!d) {
      problem(dir.rel, std::string("cannot read directory: ") + std::strerror(errno));
      continue;
    }
    struct Item {
      std::string name;
      bool is_dir;
      struct stat st;
    };
    std::vector<Item> items;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (is_vcs_or_index_dir(name)) continue;
      struct stat st;
      if (fstatat(dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      std::string rel = dir.rel.empty() ? name : dir.rel + "/" + name;
      if (S_ISLNK(st.st_mode)) {
        // A link is indexed only when it names a regular file inside the workspace; linked
        // directories are not entered (their targets inside the workspace are walked anyway).
        std::string target = std::filesystem::weakly_canonical(abs + "/" + name, ec).string();
        if (ec || !inside(root_real, target)) continue;
        if (stat(target.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      }
      if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
      items.push_back({std::move(name), S_ISDIR(st.st_mode), st});
    }
    closedir(d);
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.name < b.name; });
    std::vector<Pending> subdirs;
    for (Item& it : items) {
      std::string rel = dir.rel.empty() ? it.name : dir.rel + "/" + it.name;
      if (ignored_by(dir.rules, rel, it.is_dir)) continue;
      if (it.is_dir) {
        subdirs.push_back({std::move(rel), dir.rules});
      } else {
        WalkEntry entry;
        entry.path = std::move(rel);
        entry.size = static_cast<uint64_t>(it.st.st_size);
        entry.mtime_ns = static_cast<int64_t>(it.st.st_mtim.tv_sec) * 1000000000 + it.st.st_mtim.tv_nsec;
        found(std::move(entry));
      }
    }
    // Depth-first in name order: push in reverse so the first name is read next.
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack.push_back(std::move(*it));
  }
}

bool is_vcs_or_index_dir(std::string_view name) {
  return name == ".git" || name == ".hg" || name == ".svn" || name == ".latent";
}

bool is_ignored(const std::filesystem::path& root, std::string_view rel_path, bool is_dir) {
  std::vector<std::shared_ptr<IgnoreRules>> rules;
  std::string root_s = root.string();
  std::string exclude = read_small_file(root_s + "/.git/info/exclude");
  if (!exclude.empty()) rules.push_back(std::make_shared<IgnoreRules>("", exclude));
  std::string rel(rel_path);
  size_t pos = 0;
  std::string dir;
  while (true) {
    std::string gi = read_small_file(dir.empty() ? root_s + "/.gitignore" : root_s + "/" + dir + "/.gitignore");
    if (!gi.empty()) rules.push_back(std::make_shared<IgnoreRules>(dir, gi));
    size_t slash = rel.find('/', pos);
    if (slash == std::string::npos) break;
    std::string component = rel.substr(pos, slash - pos);
    if (is_vcs_or_index_dir(component)) return true;
    dir = rel.substr(0, slash);
    if (ignored_by(rules, dir, true)) return true;
    pos = slash + 1;
  }
  if (is_dir && is_vcs_or_index_dir(rel.substr(pos))) return true;
  return ignored_by(rules, rel, is_dir);
}

std::optional<std::string> reject_content(std::string_view path, std::string_view content,
                                          const ContentLimits& limits) {
  if (content.size() > limits.max_file_bytes)
    return "skipped: " + std::to_string(content.size() / 1024) + " KiB is over the file size limit of " +
           std::to_string(limits.max_file_bytes / 1024) + " KiB (raise it with --max-file-kb)";
  if (content.substr(0, 8192).find('\0') != std::string_view::npos) return "skipped: binary file";
  std::string_view name = basename_of(path);
  static const std::string_view kGeneratedNames[] = {"package-lock.json", "yarn.lock", "pnpm-lock.yaml",
                                                     "Cargo.lock", "poetry.lock", "composer.lock"};
  for (auto g : kGeneratedNames)
    if (name == g) return "skipped: generated lock file";
  if (ends_with(name, ".min.js") || ends_with(name, ".min.css") || ends_with(name, ".map"))
    return "skipped: minified file";
  std::string_view head = content.substr(0, 2048);
  if (head.find("@generated") != std::string_view::npos ||
      (head.find("Code generated") != std::string_view::npos && head.find("DO NOT EDIT") != std::string_view::npos))
    return "skipped: marked as generated code";
  size_t line = 1, start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string_view::npos) end = content.size();
    if (end - start > limits.max_line_bytes)
      return "skipped: line " + std::to_string(line) + " is " + std::to_string(end - start) +
             " bytes long (limit " + std::to_string(limits.max_line_bytes) + "); minified or generated";
    start = end + 1;
    ++line;
  }
  return std::nullopt;
}

}  // namespace latent::indexer
