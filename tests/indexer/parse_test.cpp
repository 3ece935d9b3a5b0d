// Definitions, references, imports and chunks extracted from source, checked against what the
// sources (written here, with their line numbers) contain.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "indexer/language.h"
#include "indexer/parse.h"

namespace latent::indexer {
namespace {

ParsedFile parse(std::string_view lang, std::string_view src, uint32_t max_tokens = 384,
                 TokenCounter counter = approximate_token_count) {
  const Language* l = lang == "text" ? nullptr : language_by_name(lang);
  if (lang != "text") {
    EXPECT_NE(l, nullptr) << lang;
  }
  return parse_source(l, src, {max_tokens, counter});
}

const ParsedSymbol* find_symbol(const ParsedFile& f, std::string_view name, uint32_t line = 0) {
  for (const auto& s : f.symbols)
    if (s.name == name && (line == 0 || s.line == line)) return &s;
  return nullptr;
}

bool has_reference(const ParsedFile& f, std::string_view name, uint32_t line, std::string_view kind = "") {
  for (const auto& r : f.references)
    if (r.name == name && r.line == line && (kind.empty() || r.kind == kind)) return true;
  return false;
}

TEST(Parse, Cpp) {
  const char* src =
      "#include \"util.h\"\n"            // 1
      "#define MAX_ITEMS 16\n"           // 2
      "namespace store {\n"              // 3
      "struct Item {\n"                  // 4
      "  int size() const;\n"            // 5
      "};\n"                             // 6
      "int Item::size() const {\n"       // 7
      "  return helper(MAX_ITEMS);\n"    // 8
      "}\n"                              // 9
      "}  // namespace store\n";         // 10
  ParsedFile f = parse("cpp", src);
  EXPECT_EQ(f.lines, 10u);
  auto* macro = find_symbol(f, "MAX_ITEMS");
  ASSERT_TRUE(macro);
  EXPECT_EQ(macro->kind, SymbolKind::macro);
  EXPECT_EQ(macro->line, 2u);
  auto* ns = find_symbol(f, "store");
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->kind, SymbolKind::module);
  EXPECT_EQ(ns->line, 3u);
  EXPECT_EQ(ns->end_line, 10u);
  EXPECT_TRUE(ns->top_level);
  auto* item = find_symbol(f, "Item");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind, SymbolKind::class_);
  EXPECT_EQ(item->line, 4u);
  EXPECT_EQ(item->end_line, 6u);
  EXPECT_EQ(item->scope, "store");
  EXPECT_FALSE(item->top_level);
  auto* decl = find_symbol(f, "size", 5);
  ASSERT_TRUE(decl);
  EXPECT_EQ(decl->scope, "store.Item");
  auto* def = find_symbol(f, "size", 7);
  ASSERT_TRUE(def);
  EXPECT_EQ(def->kind, SymbolKind::method);
  EXPECT_EQ(def->end_line, 9u);  // the whole function_definition, not just the declarator
  EXPECT_EQ(def->column, 11u);
  EXPECT_EQ(def->signature, "int Item::size() const {");
  EXPECT_TRUE(has_reference(f, "helper", 8, "call"));
  EXPECT_TRUE(has_reference(f, "MAX_ITEMS", 8));
  ASSERT_EQ(f.imports.size(), 1u);
  EXPECT_EQ(f.imports[0], "util.h");
}

TEST(Parse, Python) {
  const char* src =
      "import os.path\n"               // 1
      "from .models import User\n"     // 2
      "\n"                             // 3
      "class Store(Base):\n"           // 4
      "    def get(self, key):\n"      // 5
      "        return lookup(key)\n"   // 6
      "\n"                             // 7
      "LIMIT = 10\n";                  // 8
  ParsedFile f = parse("python", src);
  auto* store = find_symbol(f, "Store");
  ASSERT_TRUE(store);
  EXPECT_EQ(store->kind, SymbolKind::class_);
  EXPECT_EQ(store->line, 4u);
  EXPECT_EQ(store->end_line, 6u);
  auto* get = find_symbol(f, "get");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->scope, "Store");
  EXPECT_EQ(get->line, 5u);
  auto* limit = find_symbol(f, "LIMIT");
  ASSERT_TRUE(limit);
  EXPECT_EQ(limit->kind, SymbolKind::constant);
  EXPECT_TRUE(has_reference(f, "lookup", 6, "call"));
  EXPECT_TRUE(has_reference(f, "Base", 4, "class"));
  EXPECT_EQ(f.imports, (std::vector<std::string>{"from .models import User", "os.path"}));
}

struct OneDefinition {
  const char* lang;
  const char* src;
  const char* name;
  SymbolKind kind;
  uint32_t line;
  const char* import;  // expected import, or nullptr
};

TEST(Parse, EveryLanguageFindsDefinitionsAndImports) {
  const OneDefinition cases[] = {
      {"c", "#include <stdio.h>\n\nstatic int add(int a, int b) {\n  return a + b;\n}\n", "add",
       SymbolKind::function, 3, "stdio.h"},
      {"go", "package main\n\nimport \"fmt\"\n\nfunc Hello() {\n\tfmt.Println(1)\n}\n", "Hello",
       SymbolKind::function, 5, "fmt"},
      {"rust", "use std::io;\n\npub struct Point {\n    x: i32,\n}\n", "Point", SymbolKind::class_, 3,
       "std::io"},
      {"javascript", "import { a } from './a.js';\n\nfunction render(x) {\n  return x;\n}\n", "render",
       SymbolKind::function, 3, "./a.js"},
      {"typescript", "import { a } from './a';\n\ninterface Shape {\n  area(): number;\n}\n", "Shape",
       SymbolKind::interface, 3, "./a"},
      {"tsx", "import React from 'react';\n\nexport function App() {\n  return <div/>;\n}\n", "App",
       SymbolKind::function, 3, "react"},
      {"java", "import java.util.List;\n\nclass Cart {\n  int total() { return 0; }\n}\n", "total",
       SymbolKind::method, 4, "java.util.List"},
      {"c_sharp", "using System.IO;\n\nclass Reader {\n  void Read() {}\n}\n", "Reader", SymbolKind::class_, 3,
       "System.IO"},
      {"ruby", "require 'json'\n\nclass Parser\n  def parse; end\nend\n", "parse", SymbolKind::method, 4, "json"},
      {"lua", "local util = require(\"util\")\n\nfunction M.run(x)\n  return x\nend\n", "run",
       SymbolKind::function, 3, "util"},
      {"bash", "source ./lib.sh\n\ndeploy() {\n  echo hi\n}\n", "deploy", SymbolKind::function, 3, "./lib.sh"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.lang);
    ParsedFile f = parse(c.lang, c.src);
    EXPECT_EQ(f.language, c.lang);
    auto* s = find_symbol(f, c.name);
    ASSERT_TRUE(s) << "no definition of " << c.name;
    EXPECT_EQ(s->kind, c.kind);
    EXPECT_EQ(s->line, c.line);
    if (c.import) {
      EXPECT_NE(std::find(f.imports.begin(), f.imports.end(), c.import), f.imports.end()) << c.import;
    }
  }
}

// Non-blank lines are each in exactly one chunk, chunks are in order and do not overlap.
void expect_chunks_partition(const ParsedFile& f, std::string_view src) {
  std::vector<int> owner(f.lines + 2, 0);
  uint32_t prev_end = 0;
  for (size_t i = 0; i < f.chunks.size(); ++i) {
    const auto& c = f.chunks[i];
    ASSERT_LE(c.start_line, c.end_line);
    ASSERT_GT(c.start_line, prev_end) << "chunks overlap or are out of order at " << c.start_line;
    prev_end = c.end_line;
    for (uint32_t l = c.start_line; l <= c.end_line; ++l) owner[l] = static_cast<int>(i) + 1;
  }
  uint32_t line = 1;
  size_t pos = 0;
  while (pos < src.size()) {
    size_t nl = src.find('\n', pos);
    std::string_view text = src.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (text.find_first_not_of(" \t\r") != std::string_view::npos) {
      EXPECT_NE(owner[line], 0) << "line " << line;
    }
    pos = nl == std::string_view::npos ? src.size() : nl + 1;
    ++line;
  }
}

TEST(Parse, ChunksFollowFunctions) {
  std::string src;
  std::vector<uint32_t> starts;
  uint32_t line = 1;
  for (int i = 0; i < 20; ++i) {
    src += "// helper number " + std::to_string(i) + "\n";
    starts.push_back(line);
    line += 1;
    src += "int helper_" + std::to_string(i) + "(int x) {\n  int y = x * 2;\n  y += 1;\n  return y;\n}\n\n";
    line += 6;
  }
  ParsedFile f = parse("c", src);
  expect_chunks_partition(f, src);
  ASSERT_EQ(f.chunks.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    // Each function with its leading comment (and the blank line before it) is one chunk.
    EXPECT_EQ(f.chunks[i].symbol, "helper_" + std::to_string(i));
    EXPECT_LE(f.chunks[i].start_line, starts[i]);
    EXPECT_GE(f.chunks[i].end_line, starts[i] + 4);
  }
}

TEST(Parse, LongFunctionsSplitAtStatements) {
  std::string src = "void long_one(int a) {\n";
  std::vector<bool> continuation = {false, false};  // 1-based line flags
  for (int i = 0; i < 200; ++i) {
    src += "  total += compute(a, " + std::to_string(i) + ",\n";
    continuation.push_back(false);
    src += "                   a * " + std::to_string(i) + ");\n";
    continuation.push_back(true);
  }
  src += "}\n";
  size_t bytes_counted = 0;
  auto counter = [&](std::string_view t) {
    bytes_counted += t.size();
    return t.size() / 4;
  };
  ParsedFile f = parse("c", src, 120, counter);
  expect_chunks_partition(f, src);
  ASSERT_GT(f.chunks.size(), 5u);
  for (const auto& c : f.chunks) {
    EXPECT_FALSE(continuation[c.start_line]) << "a chunk starts inside a statement at line " << c.start_line;
    EXPECT_EQ(c.symbol, "long_one");
    EXPECT_EQ(c.tokens, c.text.size() / 4);  // counted with the handed-in counter
  }
  EXPECT_GE(bytes_counted, src.size() - 2);
}

TEST(Parse, TextFilesBecomeParagraphChunks) {
  std::string src;
  for (int i = 0; i < 40; ++i) src += "Paragraph " + std::to_string(i) + " has some words in it.\nAnd a second line.\n\n";
  ParsedFile f = parse("text", src, 50);
  EXPECT_EQ(f.language, "text");
  EXPECT_TRUE(f.symbols.empty());
  expect_chunks_partition(f, src);
  EXPECT_GT(f.chunks.size(), 3u);
  for (const auto& c : f.chunks) {
    EXPECT_TRUE(c.text.rfind("Paragraph", 0) == 0) << "chunk at " << c.start_line << " starts mid-paragraph";
  }
}

TEST(Parse, InvalidUtf8IsReplaced) {
  std::string src = "int caf\xC3\xA9 = 1;\nint bad\xFF\xFE = 2;\nint ok = 3;\n";
  ParsedFile f = parse("c", src);
  EXPECT_TRUE(f.had_invalid_utf8);
  std::string all;
  for (const auto& c : f.chunks) all += c.text;
  EXPECT_NE(all.find("caf\xC3\xA9"), std::string::npos);
  EXPECT_NE(all.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(all.find('\xFF'), std::string::npos);
  EXPECT_TRUE(find_symbol(f, "ok"));
}

TEST(Parse, DeepNestingAndHugeLinesFinish) {
  std::string deep = "int x = " + std::string(20000, '(') + "1" + std::string(20000, ')') + ";\nint after = 2;\n";
  auto t0 = std::chrono::steady_clock::now();
  ParsedFile f = parse("c", deep);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  EXPECT_TRUE(find_symbol(f, "after"));
  expect_chunks_partition(f, deep);

  std::string blocks;
  for (int i = 0; i < 3000; ++i) blocks += "{";
  blocks = "void f() " + blocks + std::string(3000, '}') + "\n";
  f = parse("cpp", blocks, 16);
  expect_chunks_partition(f, blocks);
}

TEST(Parse, ApproximateTokenCountHandlesEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  size_t n = approximate_token_count(all);
  EXPECT_GT(n, 50u);
  EXPECT_LE(n, all.size());
  EXPECT_EQ(approximate_token_count("\f\f\v"), 3u);  // one per control byte
  EXPECT_EQ(approximate_token_count(""), 0u);
}

TEST(Parse, IdentifierWords) {
  auto words = identifier_words("foo(bar_1, 2x);\n$baz = a.b_c\n", 10);
  std::vector<std::string> texts;
  for (auto& w : words) texts.push_back(w.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"foo", "bar_1", "$baz", "a", "b_c"}));
  EXPECT_EQ(words[0].line, 10u);
  EXPECT_EQ(words[2].line, 11u);
}

}  // namespace
}  // namespace latent::indexer
