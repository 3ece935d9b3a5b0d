// Import resolution per language, on an in-memory repository.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "indexer/imports.h"

namespace latent::indexer {
namespace {

// A repository of indexed paths and of extra files only read (configuration).
class Repo {
 public:
  Repo(std::set<std::string> files, std::map<std::string, std::string> texts = {})
      : files_(std::move(files)), texts_(std::move(texts)) {
    view_.root = "/src/project";
    view_.exists = [this](const std::string& p) { return files_.count(p) > 0; };
    view_.ending_with = [this](const std::string& suffix) {
      std::vector<std::string> out;
      for (const auto& f : files_)
        if (f == suffix || (f.size() > suffix.size() && f.compare(f.size() - suffix.size() - 1, std::string::npos, "/" + suffix) == 0))
          out.push_back(f);
      std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
      return out;
    };
    view_.files_in = [this](const std::string& folder, bool exact) {
      std::map<std::string, std::vector<std::string>> by_folder;
      for (const auto& f : files_) {
        std::string d = f.rfind('/') == std::string::npos ? "" : f.substr(0, f.rfind('/'));
        if (d == folder || (!exact && d.size() > folder.size() && d.compare(d.size() - folder.size() - 1, std::string::npos, "/" + folder) == 0))
          by_folder[d].push_back(f);
      }
      if (by_folder.empty()) return std::vector<std::string>{};
      auto best = by_folder.begin();
      for (auto it = by_folder.begin(); it != by_folder.end(); ++it)
        if (it->first.size() < best->first.size()) best = it;
      return best->second;
    };
    view_.read = [this](const std::string& p) -> std::optional<std::string> {
      auto it = texts_.find(p);
      return it == texts_.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  }
  std::vector<std::string> resolve(const std::string& import, const std::string& from, const std::string& lang) const {
    return resolve_import(import, from, lang, view_);
  }

 private:
  std::set<std::string> files_;
  std::map<std::string, std::string> texts_;
  FileSystemView view_;
};

using Paths = std::vector<std::string>;

TEST(Imports, Python) {
  Repo r({"src/shop/__init__.py", "src/shop/models.py", "src/shop/util/__init__.py", "src/shop/util/text.py",
          "src/shop/api/views.py", "src/shop/api/__init__.py", "tests/test_models.py"});
  EXPECT_EQ(r.resolve("shop.models", "tests/test_models.py", "python"), Paths{"src/shop/models.py"});
  EXPECT_EQ(r.resolve("shop", "tests/test_models.py", "python"), Paths{"src/shop/__init__.py"});
  // `from pkg import mod`: the package, then the submodule.
  EXPECT_EQ(r.resolve("from shop.util import text, missing", "tests/test_models.py", "python"),
            (Paths{"src/shop/util/__init__.py", "src/shop/util/text.py"}));
  EXPECT_EQ(r.resolve("from ..models import Item as I", "src/shop/api/views.py", "python"), Paths{"src/shop/models.py"});
  EXPECT_EQ(r.resolve("from . import views", "src/shop/api/__init__.py", "python"), Paths{"src/shop/api/views.py"});
  EXPECT_EQ(r.resolve("from .util.text import (slug,\n wrap)", "src/shop/models.py", "python"),
            Paths{"src/shop/util/text.py"});
  EXPECT_TRUE(r.resolve("os.path", "src/shop/models.py", "python").empty());
}

TEST(Imports, JavaScriptAndTypeScript) {
  Repo r({"src/app.ts", "src/util/index.ts", "src/lib/math.ts", "src/lib/strings.js", "packages/ui/dist/main.js",
          "packages/ui/src/index.tsx", "lib/old.js", "index.js"},
         {{"packages/ui/package.json", R"({"name": "ui", "exports": {".": {"import": "./src/index.tsx"}}})"},
          {"tsconfig.json", "{ // comments are allowed\n \"compilerOptions\": {\"baseUrl\": \"src\", "
                            "\"paths\": {\"@lib/*\": [\"lib/*\"]}}}"},
          {"package.json", R"({"name": "shop", "main": "index.js"})"}});
  EXPECT_EQ(r.resolve("./util", "src/app.ts", "typescript"), Paths{"src/util/index.ts"});
  EXPECT_EQ(r.resolve("./lib/math.js", "src/app.ts", "typescript"), Paths{"src/lib/math.ts"});  // ESM-style .js
  EXPECT_EQ(r.resolve("./lib/strings", "src/app.ts", "javascript"), Paths{"src/lib/strings.js"});
  EXPECT_EQ(r.resolve("../packages/ui", "src/app.ts", "tsx"), Paths{"packages/ui/src/index.tsx"});
  EXPECT_EQ(r.resolve("@lib/math", "src/app.ts", "typescript"), Paths{"src/lib/math.ts"});  // tsconfig paths
  EXPECT_EQ(r.resolve("util", "src/app.ts", "typescript"), Paths{"src/util/index.ts"});     // baseUrl
  EXPECT_EQ(r.resolve("shop", "src/app.ts", "javascript"), Paths{"index.js"});               // package.json main
  EXPECT_TRUE(r.resolve("react", "src/app.ts", "typescript").empty());
}

TEST(Imports, CIncludesThroughCompileCommandsOrSiblingIncludeFolders) {
  std::set<std::string> files = {"lib/include/geo/vec.h", "lib/src/vec.c", "app/main.c", "app/local.h",
                                 "third/vec.h", "lib/include/vec.h"};
  Repo plain(files);
  EXPECT_EQ(plain.resolve("local.h", "app/main.c", "c"), Paths{"app/local.h"});
  EXPECT_EQ(plain.resolve("geo/vec.h", "lib/src/vec.c", "c"), Paths{"lib/include/geo/vec.h"});
  EXPECT_EQ(plain.resolve("geo/vec.h", "app/main.c", "c"), Paths{"lib/include/geo/vec.h"});  // by suffix
  EXPECT_EQ(plain.resolve("vec.h", "app/main.c", "c"), Paths{"third/vec.h"});  // the shortest path
  EXPECT_TRUE(plain.resolve("stdio.h", "app/main.c", "c").empty());
  // A compilation database decides between two headers of the same name.
  Repo cc(files, {{"build/compile_commands.json",
                   R"([{"directory": "/src/project/build", "command": "cc -I../lib/include -I/src/project/third -c ../app/main.c"}])"}});
  EXPECT_EQ(cc.resolve("vec.h", "app/main.c", "cpp"), Paths{"lib/include/vec.h"});
  EXPECT_EQ(cc.resolve("geo/vec.h", "app/main.c", "cpp"), Paths{"lib/include/geo/vec.h"});
}

TEST(Imports, GoPackages) {
  Repo r({"cmd/tool/main.go", "internal/store/store.go", "internal/store/cache.go", "internal/store/store_test.go",
          "vendor/github.com/x/y/y.go"},
         {{"go.mod", "module example.com/shop\n\ngo 1.21\n"}});
  EXPECT_EQ(r.resolve("example.com/shop/internal/store", "cmd/tool/main.go", "go"),
            (Paths{"internal/store/cache.go", "internal/store/store.go"}));
  EXPECT_EQ(r.resolve("github.com/x/y", "cmd/tool/main.go", "go"), Paths{"vendor/github.com/x/y/y.go"});
  EXPECT_TRUE(r.resolve("fmt", "cmd/tool/main.go", "go").empty());
}

TEST(Imports, RustModulesAndUsePaths) {
  Repo r({"src/lib.rs", "src/ast/mod.rs", "src/ast/parse.rs", "src/hir/mod.rs", "src/hir/literal.rs",
          "src/hir/interval.rs", "src/util.rs"});
  EXPECT_EQ(r.resolve("mod ast", "src/lib.rs", "rust"), Paths{"src/ast/mod.rs"});
  EXPECT_EQ(r.resolve("pub mod parse", "src/ast/mod.rs", "rust"), Paths{"src/ast/parse.rs"});
  EXPECT_EQ(r.resolve("crate::ast::parse::Parser", "src/hir/mod.rs", "rust"), Paths{"src/ast/parse.rs"});
  EXPECT_EQ(r.resolve("crate::hir::{literal, interval::Interval}", "src/lib.rs", "rust"),
            (Paths{"src/hir/mod.rs", "src/hir/literal.rs"}));
  EXPECT_EQ(r.resolve("super::util", "src/ast/mod.rs", "rust"), Paths{"src/util.rs"});
  EXPECT_EQ(r.resolve("self::literal::Literal", "src/hir/mod.rs", "rust"), Paths{"src/hir/literal.rs"});
  EXPECT_EQ(r.resolve("super::interval::*", "src/hir/literal.rs", "rust"), Paths{"src/hir/interval.rs"});
  EXPECT_TRUE(r.resolve("std::collections::HashMap", "src/lib.rs", "rust").empty());
}

TEST(Imports, JavaPackages) {
  Repo r({"src/main/java/com/shop/Cart.java", "src/main/java/com/shop/model/Item.java",
          "src/main/java/com/shop/model/Price.java"});
  EXPECT_EQ(r.resolve("com.shop.model.Item", "src/main/java/com/shop/Cart.java", "java"),
            Paths{"src/main/java/com/shop/model/Item.java"});
  EXPECT_EQ(r.resolve("com.shop.model.Item.of", "src/main/java/com/shop/Cart.java", "java"),  // static import
            Paths{"src/main/java/com/shop/model/Item.java"});
  EXPECT_EQ(r.resolve("com.shop.model", "src/main/java/com/shop/Cart.java", "java"),  // com.shop.model.*
            (Paths{"src/main/java/com/shop/model/Item.java", "src/main/java/com/shop/model/Price.java"}));
  EXPECT_TRUE(r.resolve("java.util.List", "src/main/java/com/shop/Cart.java", "java").empty());
}

}  // namespace
}  // namespace latent::indexer
