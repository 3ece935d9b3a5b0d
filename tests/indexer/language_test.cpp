// Language detection and the embedded tree-sitter queries.
#include <gtest/gtest.h>
#include <tree_sitter/api.h>

#include "indexer/language.h"

namespace latent::indexer {
namespace {

std::string lang_of(std::string_view path, std::string_view head = "") {
  const Language* l = detect_language(path, head);
  return l ? l->name() : "text";
}

TEST(Language, EveryQueryCompilesAndHasTheCapturesWeRead) {
  auto langs = all_languages();
  ASSERT_EQ(langs.size(), 13u);
  for (const Language* l : langs) {
    SCOPED_TRACE(l->name());
    ASSERT_NE(l->tags().query, nullptr);
    ASSERT_NE(l->imports().query, nullptr);
    bool has_name = false, has_definition = false;
    for (const auto& c : l->tags().capture_names) {
      has_name |= c == "name";
      has_definition |= c.rfind("definition.", 0) == 0;
    }
    EXPECT_TRUE(has_name);
    EXPECT_TRUE(has_definition);
    bool has_import = false;
    for (const auto& c : l->imports().capture_names) has_import |= c == "import";
    EXPECT_TRUE(has_import);
  }
}

TEST(Language, ByExtension) {
  EXPECT_EQ(lang_of("src/a.c"), "c");
  EXPECT_EQ(lang_of("include/a.h"), "cpp");
  EXPECT_EQ(lang_of("a/b/c.HPP"), "cpp");
  EXPECT_EQ(lang_of("x.py"), "python");
  EXPECT_EQ(lang_of("x.mjs"), "javascript");
  EXPECT_EQ(lang_of("x.ts"), "typescript");
  EXPECT_EQ(lang_of("x.tsx"), "tsx");
  EXPECT_EQ(lang_of("main.go"), "go");
  EXPECT_EQ(lang_of("lib.rs"), "rust");
  EXPECT_EQ(lang_of("A.java"), "java");
  EXPECT_EQ(lang_of("A.cs"), "c_sharp");
  EXPECT_EQ(lang_of("a.rb"), "ruby");
  EXPECT_EQ(lang_of("init.lua"), "lua");
  EXPECT_EQ(lang_of("run.sh"), "bash");
  EXPECT_EQ(lang_of("README.md"), "text");
  EXPECT_EQ(lang_of("notes.txt", "#!/bin/sh\n"), "text");  // a known extension wins
}

TEST(Language, ByShebangAndModeline) {
  EXPECT_EQ(lang_of("bin/tool", "#!/usr/bin/env python3\nprint(1)\n"), "python");
  EXPECT_EQ(lang_of("bin/tool", "#!/usr/bin/python3.11 -u\n"), "python");
  EXPECT_EQ(lang_of("configure", "#! /bin/sh\n"), "bash");
  EXPECT_EQ(lang_of("bin/x", "#!/usr/bin/env -S node --harmony\n"), "javascript");
  EXPECT_EQ(lang_of("include/c++/12/vector", "// <vector> -*- C++ -*-\n"), "cpp");
  EXPECT_EQ(lang_of("script", "# vim: set ft=ruby :\n"), "ruby");
  EXPECT_EQ(lang_of("Makefile", "all:\n\tcc x.c\n"), "text");
  EXPECT_EQ(lang_of("Rakefile"), "ruby");
}

}  // namespace
}  // namespace latent::indexer
