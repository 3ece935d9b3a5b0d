#include "indexer/imports.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

namespace latent::indexer {
namespace {

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

std::string stem_of(const std::string& path) {
  std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  return name.substr(0, name.rfind('.'));
}

// A root-relative path without "." and ".." parts; empty when it leaves the root.
std::string normal(const std::string& path) {
  std::string s = std::filesystem::path(path).lexically_normal().generic_string();
  while (s.rfind("./", 0) == 0) s = s.substr(2);
  if (s == "." || s.rfind("..", 0) == 0 || (!s.empty() && s[0] == '/')) return "";
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n()"), e = s.find_last_not_of(" \t\r\n(),");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t next = s.find(sep, pos);
    out.emplace_back(s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + sep.size();
  }
  return out;
}

class Resolver {
 public:
  Resolver(const std::string& from, const FileSystemView& fs) : from_(from), dir_(dir_of(from)), fs_(fs) {}

  // Adds the first candidate that exists; true when one did.
  bool first_of(const std::vector<std::string>& candidates) {
    for (const auto& c : candidates)
      if (!c.empty() && fs_.exists(c)) return add(c);
    return false;
  }
  bool add(const std::string& path) {
    if (path != from_ && std::find(out_.begin(), out_.end(), path) == out_.end()) out_.push_back(path);
    return true;
  }
  bool shortest_ending(const std::string& suffix) {
    auto hits = fs_.ending_with(suffix);
    return !hits.empty() && add(hits.front());
  }
  bool add_files(const std::vector<std::string>& files, const char* ext, const char* skip = nullptr) {
    bool any = false;
    for (const auto& f : files) {
      bool ext_ok = f.size() > std::string_view(ext).size() && f.compare(f.size() - std::strlen(ext), std::string::npos, ext) == 0;
      bool skipped = skip && f.find(skip) != std::string::npos;
      if (ext_ok && !skipped) any = add(f);
    }
    return any;
  }

  void python(std::string_view import);
  void javascript(const std::string& spec);
  void c_include(const std::string& header);
  void go(const std::string& path);
  void rust(const std::string& import);
  void java(const std::string& name);

  std::vector<std::string> take() { return std::move(out_); }

 private:
  bool js_file(const std::string& base, int depth = 0);
  std::optional<nlohmann::json> json_file(const std::string& path) {
    auto text = fs_.read(path);
    if (!text) return std::nullopt;
    auto j = nlohmann::json::parse(*text, nullptr, false, true);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
  }

  std::string from_, dir_;
  const FileSystemView& fs_;
  std::vector<std::string> out_;
};

// `import a.b.c`, `from .x import y, z as w`, `from . import mod`: the module's file first,
// then imported names that are submodules.
void Resolver::python(std::string_view import) {
  std::string module(import);
  std::vector<std::string> names;
  if (import.rfind("from ", 0) == 0) {
    size_t at = import.find(" import ");
    if (at == std::string_view::npos) return;
    module = trim(import.substr(5, at - 5));
    for (auto& n : split(import.substr(at + 8), ",")) {
      std::string name = trim(n.substr(0, n.find(" as ")));
      if (!name.empty() && name != "*") names.push_back(name);
    }
  }
  size_t dots = 0;
  while (dots < module.size() && module[dots] == '.') ++dots;
  std::string path = module.substr(dots);
  std::replace(path.begin(), path.end(), '.', '/');
  std::string base;  // the module's path without extension, root-relative
  bool found = false;
  if (dots > 0) {
    std::string up = dir_;
    for (size_t i = 1; i < dots; ++i) up += "../";
    base = normal(up + path);
    found = first_of({path.empty() ? "" : base + ".py", (base.empty() ? "" : base + "/") + "__init__.py"}) ||
            path.empty();
  } else if (!path.empty()) {
    auto module = fs_.ending_with(path + ".py");
    auto package = fs_.ending_with(path + "/__init__.py");
    // The shorter path is the likelier import root (a package at the top or under src/).
    if (!module.empty() && (package.empty() || module.front().size() + 9 <= package.front().size())) {
      found = add(module.front());
      base = module.front().substr(0, module.front().size() - 3);
    } else if (!package.empty()) {
      found = add(package.front());
      base = package.front().substr(0, package.front().size() - 12);
    }
  }
  if (!found) return;
  std::string prefix = base.empty() ? "" : base + "/";
  for (const auto& n : names) first_of({prefix + n + ".py", prefix + n + "/__init__.py"});
}

// A specifier's file as Node and TypeScript look for it: as written, with an extension (a `.js`
// specifier may name a `.ts` source), or a folder through package.json or an index file.
bool Resolver::js_file(const std::string& base, int depth) {
  if (base.empty() && depth > 0) return false;
  static const char* const kExt[] = {".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs"};
  std::vector<std::string> c = {base};
  for (const char* e : kExt) c.push_back(base + e);
  for (const char* js : {".js", ".mjs", ".cjs", ".jsx"}) {
    size_t n = std::strlen(js);
    if (base.size() > n && base.compare(base.size() - n, n, js) == 0)
      for (const char* e : {".ts", ".tsx", ".mts", ".cts"}) c.push_back(base.substr(0, base.size() - n) + e);
  }
  if (first_of(c)) return true;
  std::string folder = base.empty() ? "" : base + "/";
  if (depth == 0) {
    if (auto pkg = json_file(folder + "package.json")) {
      std::vector<std::string> entries;
      const auto& ex = (*pkg)["exports"];
      auto entry_of = [](const nlohmann::json& v) -> std::string {
        if (v.is_string()) return v.get<std::string>();
        if (v.is_object())
          for (const char* k : {"types", "import", "require", "default", "node"})
            if (v.contains(k) && v[k].is_string()) return v[k].get<std::string>();
        return "";
      };
      if (ex.is_string()) entries.push_back(ex.get<std::string>());
      else if (ex.is_object()) entries.push_back(entry_of(ex.contains(".") ? ex["."] : ex));
      for (const char* k : {"source", "types", "module", "main"})
        if (pkg->contains(k) && (*pkg)[k].is_string()) entries.push_back((*pkg)[k].get<std::string>());
      for (const auto& e : entries)
        if (!e.empty() && js_file(normal(folder + e), depth + 1)) return true;
    }
  }
  std::vector<std::string> index;
  for (const char* e : kExt) index.push_back(folder + "index" + e);
  return first_of(index);
}

void Resolver::javascript(const std::string& spec) {
  if (spec.rfind(".", 0) == 0) {
    js_file(normal(dir_ + spec));
    return;
  }
  // Bare specifiers: tsconfig/jsconfig paths and baseUrl, then this repository's own package.
  for (const char* config : {"tsconfig.json", "jsconfig.json"}) {
    auto cfg = json_file(config);
    if (!cfg || !cfg->contains("compilerOptions")) continue;
    const auto& opts = (*cfg)["compilerOptions"];
    std::string base_url = opts.contains("baseUrl") && opts["baseUrl"].is_string() ? opts["baseUrl"].get<std::string>() : ".";
    if (opts.contains("paths") && opts["paths"].is_object()) {
      for (const auto& [pattern, targets] : opts["paths"].items()) {
        size_t star = pattern.find('*');
        std::string head = pattern.substr(0, star), tail = star == std::string::npos ? "" : pattern.substr(star + 1);
        bool match = star == std::string::npos ? spec == pattern
                                               : spec.size() >= head.size() + tail.size() && spec.rfind(head, 0) == 0 &&
                                                     spec.compare(spec.size() - tail.size(), tail.size(), tail) == 0;
        if (!match || !targets.is_array()) continue;
        std::string star_text = star == std::string::npos ? "" : spec.substr(head.size(), spec.size() - head.size() - tail.size());
        for (const auto& t : targets) {
          if (!t.is_string()) continue;
          std::string target = t.get<std::string>();
          if (size_t s = target.find('*'); s != std::string::npos) target.replace(s, 1, star_text);
          if (js_file(normal(base_url + "/" + target))) return;
        }
      }
    }
    if (opts.contains("baseUrl") && js_file(normal(base_url + "/" + spec))) return;
  }
  if (auto pkg = json_file("package.json"); pkg && pkg->contains("name") && (*pkg)["name"].is_string()) {
    std::string name = (*pkg)["name"].get<std::string>();
    if (spec == name) js_file("");
    else if (spec.rfind(name + "/", 0) == 0) js_file(normal(spec.substr(name.size() + 1)));
  }
}

// The include directories of compile_commands.json (-I, -iquote, -isystem), root-relative.
std::vector<std::string> compile_include_dirs(const FileSystemView& fs) {
  std::vector<std::string> dirs;
  for (const char* at : {"compile_commands.json", "build/compile_commands.json"}) {
    auto text = fs.read(at);
    if (!text) continue;
    std::string root = fs.root.empty() || fs.root.back() == '/' ? fs.root : fs.root + "/";
    // A scan for the flags, not a JSON parse: databases of large projects run to megabytes.
    for (const char* flag : {"-I", "-iquote", "-isystem"}) {
      for (size_t pos = text->find(flag); pos != std::string::npos; pos = text->find(flag, pos + 1)) {
        char before = pos ? (*text)[pos - 1] : ' ';
        if (before != ' ' && before != '"' && before != '[' && before != ',') continue;
        size_t b = pos + std::strlen(flag);
        while (b < text->size() && ((*text)[b] == ' ' || (*text)[b] == '"' || (*text)[b] == ',')) ++b;
        size_t e = b;
        while (e < text->size() && (*text)[e] != ' ' && (*text)[e] != '"' && (*text)[e] != '\\') ++e;
        std::string d = text->substr(b, e - b);
        if (d.empty()) continue;
        if (d[0] == '/') {
          if (root.empty() || d.rfind(root, 0) != 0) continue;
          d = d.substr(root.size());
        } else {
          d = dir_of(at) + d;
        }
        d = std::filesystem::path(d).lexically_normal().generic_string();
        if (d == ".") d.clear();
        if (d.rfind("..", 0) == 0) continue;
        if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
      }
    }
    break;
  }
  return dirs;
}

void Resolver::c_include(const std::string& header) {
  if (first_of({normal(dir_ + header)})) return;
  auto dirs = compile_include_dirs(fs_);
  if (!dirs.empty()) {
    for (const auto& d : dirs)
      if (first_of({normal((d.empty() || d.back() == '/' ? d : d + "/") + header)})) return;
  } else {
    // No compilation database: the `include/` folders beside the file's ancestors.
    std::string d = dir_;
    while (true) {
      if (first_of({normal(d + "include/" + header)})) return;
      if (d.empty()) break;
      d = dir_of(d.substr(0, d.size() - 1));
    }
  }
  shortest_ending(header);
}

void Resolver::go(const std::string& path) {
  if (auto mod = fs_.read("go.mod")) {
    size_t at = mod->find("module ");
    if (at != std::string::npos) {
      size_t e = mod->find_first_of("\r\n", at);
      std::string module = trim(std::string_view(*mod).substr(at + 7, e == std::string::npos ? std::string::npos : e - at - 7));
      if (path == module || path.rfind(module + "/", 0) == 0) {
        add_files(fs_.files_in(path == module ? "" : path.substr(module.size() + 1), true), ".go", "_test.go");
        return;
      }
    }
  }
  // Without a module path: the folder with the longest matching tail of the import path.
  auto parts = split(path, "/");
  for (size_t k = 0; k < parts.size(); ++k) {
    std::string tail;
    for (size_t i = k; i < parts.size(); ++i) tail += (tail.empty() ? "" : "/") + parts[i];
    if (add_files(fs_.files_in(tail, false), ".go", "_test.go")) return;
  }
}

// `mod x` (a declaration without body), or a `use` path: `crate::a::b::{c, d}`, `self::x`,
// `super::y::*`, `a::b as c`.
void Resolver::rust(const std::string& import) {
  std::string s = import;
  std::string stem = stem_of(from_);
  bool is_lib = stem == "mod" || stem == "lib" || stem == "main";
  // The folder holding this module's children.
  std::string children = is_lib ? dir_ : dir_ + stem + "/";
  size_t mod = s.find("mod ");
  if (mod != std::string::npos && (mod == 0 || s.rfind("pub", 0) == 0) && s.find("::") == std::string::npos) {
    std::string name = trim(s.substr(mod + 4));
    first_of({normal(children + name + ".rs"), normal(children + name + "/mod.rs")});
    return;
  }
  if (size_t as = s.find(" as "); as != std::string::npos) s = s.substr(0, as);
  std::vector<std::string> leaves;
  if (size_t brace = s.find('{'); brace != std::string::npos) {
    for (auto& l : split(s.substr(brace + 1, s.rfind('}') - brace - 1), ",")) {
      std::string leaf = trim(l.substr(0, l.find(" as ")));
      if (!leaf.empty() && leaf.find("::") == std::string::npos && leaf != "self") leaves.push_back(leaf);
    }
    s = s.substr(0, brace);
  }
  if (s.rfind("::", 0) == 0) s = s.substr(2);
  auto segs = split(s, "::");
  while (!segs.empty() && (segs.back().empty() || segs.back() == "*")) segs.pop_back();
  if (segs.empty()) return;
  std::string base;
  size_t first = 1;
  if (segs[0] == "crate") {
    // The crate root: the nearest folder above holding lib.rs or main.rs.
    std::string d = dir_;
    base = "src/";
    while (true) {
      if (fs_.exists(d + "lib.rs") || fs_.exists(d + "main.rs")) {
        base = d;
        break;
      }
      if (d.empty()) break;
      d = dir_of(d.substr(0, d.size() - 1));
    }
  } else if (segs[0] == "self") {
    base = children;
  } else if (segs[0] == "super") {
    base = is_lib ? dir_of(dir_.empty() ? "" : dir_.substr(0, dir_.size() - 1)) : dir_;
    while (first < segs.size() && segs[first] == "super") {
      base = dir_of(base.empty() ? "" : base.substr(0, base.size() - 1));
      ++first;
    }
  } else {
    // A crate-relative path written without `crate::` (2015 edition), or another crate.
    base = "";
    first = 0;
    for (size_t k = segs.size(); k > 0; --k) {
      std::string p;
      for (size_t i = 0; i < k; ++i) p += (p.empty() ? "" : "/") + segs[i];
      if (shortest_ending(p + ".rs") || shortest_ending(p + "/mod.rs")) return;
    }
    return;
  }
  // The longest prefix of the path that is a module file; the rest names items in it. Braced
  // names after a whole module path may be its submodules.
  std::string path;
  for (size_t i = first; i < segs.size(); ++i) path += (path.empty() ? "" : "/") + segs[i];
  bool whole = path.empty();
  for (size_t k = segs.size(); k > first; --k) {
    std::string p;
    for (size_t i = first; i < k; ++i) p += (p.empty() ? "" : "/") + segs[i];
    if (first_of({normal(base + p + ".rs"), normal(base + p + "/mod.rs")})) {
      whole = k == segs.size();
      break;
    }
  }
  if (!whole) return;
  std::string folder = path.empty() ? base : base + path + "/";
  for (const auto& leaf : leaves) first_of({normal(folder + leaf + ".rs"), normal(folder + leaf + "/mod.rs")});
}

// `a.b.C` (or a static import `a.b.C.member`) to its file; `a.b` (from `a.b.*`) to the package.
void Resolver::java(const std::string& name) {
  auto segs = split(name, ".");
  for (size_t k = segs.size(); k > 0; --k) {
    std::string p;
    for (size_t i = 0; i < k; ++i) p += (p.empty() ? "" : "/") + segs[i];
    if (shortest_ending(p + ".java")) return;
    if (k == segs.size() && add_files(fs_.files_in(p, false), ".java")) return;
  }
}

}  // namespace

std::vector<std::string> resolve_import(std::string_view import, const std::string& from_path,
                                        std::string_view language, const FileSystemView& fs) {
  Resolver r(from_path, fs);
  std::string imp(import);
  if (imp.empty()) return {};
  if (language == "python") r.python(imp);
  else if (language == "javascript" || language == "typescript" || language == "tsx") r.javascript(imp);
  else if (language == "c" || language == "cpp") r.c_include(imp);
  else if (language == "go") r.go(imp);
  else if (language == "rust") r.rust(imp);
  else if (language == "java") r.java(imp);
  else if (language == "ruby" || language == "bash") r.first_of({normal(dir_of(from_path) + imp), normal(dir_of(from_path) + imp + ".rb")}) || r.shortest_ending(imp + ".rb");
  else if (language == "lua") {
    std::string p = imp;
    std::replace(p.begin(), p.end(), '.', '/');
    r.shortest_ending(p + ".lua") || r.shortest_ending(p + "/init.lua");
  }
  return r.take();
}

}  // namespace latent::indexer
