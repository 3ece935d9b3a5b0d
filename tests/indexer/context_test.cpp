// The context builder: what it retrieves for a cursor, the budget, the prompt order and
// determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "indexer/context.h"
#include "indexer/index.h"
#include "indexer_test_util.h"

namespace latent::indexer {
namespace {

using testing::TempDir;

// A small project: geometry.h defines types and functions, shapes.c uses them, and many
// unrelated files fill the repo map.
void write_workspace(const TempDir& ws) {
  ws.write("geometry.h",
           "#pragma once\n"
           "struct Vec2 {\n"
           "  double x, y;\n"
           "};\n"
           "struct Vec2 vec_add(struct Vec2 a, struct Vec2 b);\n"
           "double vec_length(struct Vec2 v);\n");
  ws.write("geometry.c",
           "#include \"geometry.h\"\n"
           "#include <math.h>\n"
           "struct Vec2 vec_add(struct Vec2 a, struct Vec2 b) {\n"
           "  struct Vec2 r = {a.x + b.x, a.y + b.y};\n"
           "  return r;\n"
           "}\n"
           "double vec_length(struct Vec2 v) {\n"
           "  return sqrt(v.x * v.x + v.y * v.y);\n"
           "}\n");
  std::string shapes = "#include \"geometry.h\"\n\n";
  for (int i = 0; i < 40; ++i) shapes += "// filler line " + std::to_string(i) + "\n";
  shapes +=
      "double perimeter(struct Vec2 a, struct Vec2 b) {\n"  // line 43
      "  struct Vec2 d = vec_add(a, b);\n"                  // line 44
      "  return vec_length(d);\n"                           // line 45
      "}\n";
  ws.write("shapes.c", shapes);
  for (int i = 0; i < 30; ++i) {
    std::string n = std::to_string(i);
    ws.write("misc/unit" + n + ".c",
             "int unit_fn_" + n + "(int q) {\n  return q * " + n + " + vec_add_count;\n}\n"
             "int unit_other_" + n + "(void) { return " + n + "; }\n");
  }
}

class ContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_workspace(ws_);
    IndexOptions o;
    o.root = ws_.path();
    o.database = db_.path() / "c.sqlite";
    o.threads = 0;
    index_ = Index::open(o);
    index_->index_workspace();
  }
  Context at(uint32_t line, size_t budget) {
    ContextRequest r;
    r.path = "shapes.c";
    r.line = line;
    r.column = 3;
    r.budget_tokens = budget;
    return build_context(*index_, r);
  }
  TempDir ws_, db_;
  std::unique_ptr<Index> index_;
};

bool covers(const Context& c, const std::string& path, uint32_t line) {
  for (const auto& p : c.pieces)
    if (p.path == path && p.start_line <= line && line <= p.end_line) return true;
  return false;
}

TEST_F(ContextTest, RetrievesDefinitionsImportsAndTheCurrentFile) {
  Context c = at(44, 4096);
  EXPECT_TRUE(covers(c, "geometry.c", 3)) << c.text;  // vec_add's body
  EXPECT_TRUE(covers(c, "geometry.c", 7)) << c.text;  // vec_length's body
  EXPECT_TRUE(covers(c, "geometry.h", 2)) << c.text;  // struct Vec2
  EXPECT_TRUE(covers(c, "shapes.c", 44));
  bool has_import = false;
  for (const auto& p : c.pieces) has_import |= p.kind == SourceKind::import && p.path == "geometry.h";
  // geometry.h is imported, but its lines may already be taken by definitions.
  EXPECT_TRUE(has_import || covers(c, "geometry.h", 5));
  // The current file comes last; the repo map first.
  ASSERT_FALSE(c.pieces.empty());
  EXPECT_EQ(c.pieces.back().kind, SourceKind::current);
  int last_section = -1;
  auto section = [](SourceKind k) {
    switch (k) {
      case SourceKind::repo_map: return 0;
      case SourceKind::definition:
      case SourceKind::type_signature:
      case SourceKind::search: return 1;
      case SourceKind::import: return 2;
      case SourceKind::recent: return 3;
      case SourceKind::current: return 4;
    }
    return 5;
  };
  for (const auto& p : c.pieces) {
    EXPECT_GE(section(p.kind), last_section);
    last_section = section(p.kind);
  }
}

TEST_F(ContextTest, StaysWithinBudgetAndCountsEveryPiece) {
  for (size_t budget : {256u, 1024u, 8192u, 131072u}) {
    SCOPED_TRACE(budget);
    Context c = at(45, budget);
    EXPECT_LE(c.tokens, budget);
    size_t sum = 0;
    std::string text;
    for (const auto& p : c.pieces) {
      EXPECT_EQ(p.tokens, approximate_token_count(p.text));
      EXPECT_EQ(p.text.rfind("# " + p.path, 0), 0u) << "piece not headed by its path";
      sum += p.tokens;
      text += p.text;
    }
    EXPECT_EQ(sum, c.tokens);
    EXPECT_EQ(text, c.text);
  }
  // A large budget leaves room for the whole project: each file outlined in the repo map or
  // included whole.
  Context big = at(45, 131072);
  std::set<std::string> files;
  for (const auto& p : big.pieces)
    if (p.kind == SourceKind::repo_map || p.kind == SourceKind::import || p.kind == SourceKind::recent)
      files.insert(p.path);
  EXPECT_GE(files.size(), 32u);
}

TEST_F(ContextTest, NoPieceTwice) {
  // Small windows above `perimeter` end inside its body, which is also a definition of a name.
  for (uint32_t line : {36u, 38u, 40u, 44u})
  for (size_t budget : {200u, 256u, 300u, 400u, 1024u, 4096u, 131072u}) {
    SCOPED_TRACE(std::to_string(line) + " " + std::to_string(budget));
    Context c = at(line, budget);
    for (size_t i = 0; i < c.pieces.size(); ++i) {
      const auto& a = c.pieces[i];
      for (size_t j = i + 1; j < c.pieces.size(); ++j) {
        const auto& b = c.pieces[j];
        if (a.path != b.path) continue;
        // Line pieces of one file never overlap; an outline is there once; a file given whole
        // has no other piece (the current file's window is placed apart and may be outlined).
        std::string what = a.path + ":" + std::to_string(a.start_line) + "-" + std::to_string(a.end_line) + " and " +
                           std::to_string(b.start_line) + "-" + std::to_string(b.end_line);
        if (a.start_line && b.start_line) EXPECT_TRUE(a.end_line < b.start_line || b.end_line < a.start_line) << what;
        EXPECT_FALSE(a.start_line == 0 && b.start_line == 0) << what;
        bool a_whole = a.kind == SourceKind::import || a.kind == SourceKind::recent;
        bool b_whole = b.kind == SourceKind::import || b.kind == SourceKind::recent;
        EXPECT_FALSE((a_whole && a.start_line == 1) || (b_whole && b.start_line == 1)) << what;
      }
    }
  }
}

TEST_F(ContextTest, SignaturesFirstWhenTheBudgetIsTight) {
  // 300 tokens: the window and the signatures of what the line calls, not whole bodies.
  Context tight = at(44, 300);
  EXPECT_TRUE(covers(tight, "geometry.c", 3) || covers(tight, "geometry.h", 5)) << tight.text;
  for (const auto& p : tight.pieces)
    if (p.kind == SourceKind::definition) EXPECT_EQ(p.start_line, p.end_line) << p.text;
}

TEST_F(ContextTest, DeterministicAndSharesAPrefixAcrossCursorMoves) {
  Context a = at(44, 2048), b = at(44, 2048);
  EXPECT_EQ(a.text, b.text);
  Context c = at(45, 2048);
  // Both start with the same repo map section.
  size_t i = 0;
  while (i < a.pieces.size() && i < c.pieces.size() && a.pieces[i].kind == SourceKind::repo_map &&
         a.pieces[i].text == c.pieces[i].text)
    ++i;
  EXPECT_GT(i, 0u);
}

TEST_F(ContextTest, UsesTheUnsavedBufferAndTheHandedInCounter) {
  ContextRequest r;
  r.path = "shapes.c";
  r.line = 2;
  r.content = "#include \"geometry.h\"\ndouble area = vec_length(v);\n";
  r.budget_tokens = 3000;
  size_t calls = 0;
  r.count_tokens = [&](std::string_view t) {
    ++calls;
    return t.size() / 3 + 1;
  };
  Context c = build_context(*index_, r);
  EXPECT_GT(calls, 0u);
  EXPECT_TRUE(covers(c, "geometry.c", 7));
  ASSERT_EQ(c.pieces.back().kind, SourceKind::current);
  EXPECT_NE(c.pieces.back().text.find("double area"), std::string::npos);
  for (const auto& p : c.pieces) EXPECT_EQ(p.tokens, p.text.size() / 3 + 1);
}

}  // namespace
}  // namespace latent::indexer
