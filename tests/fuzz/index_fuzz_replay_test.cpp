// Runs the indexer fuzz target (index_fuzz.cpp) on a source seed in every grammar and on
// seeded random mutations of it (the first byte of each input picks the language).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fuzz/mutate.h"
#include "indexer/language.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

TEST(IndexFuzzReplay, EveryGrammarSeedsAndMutations) {
  const std::string source =
      "#include <x.h>\nimport os\nfrom a import b\npackage main\nuse std::io;\n"
      "class A extends B { int f(int x) { return x; } }\nstruct S { int a; };\n"
      "def g(y):\n    '''doc'''\n    return [y for y in range(3)]\n"
      "function h() { return `t${1}`; }\nfn k() -> u8 { 0 }\nfunc m() {}\n"
      "/* unterminated \n\"str\\\"ing\n\xFF\xFE\xE2\x82\n";
  // One seed per language (and one for plain text): the first byte picks it, the second the chunk size.
  std::vector<std::string> seeds;
  size_t n = latent::indexer::all_languages().size();
  for (size_t i = 0; i <= n; ++i) seeds.push_back(std::string(1, static_cast<char>(i)) + "\x10" + source);
  latent::fuzz::replay(seeds, 40, "{}()[];:\"'`/*\n\\#", 7, [](const uint8_t* data, size_t size) {
    // replay() prefixes a random byte; drop it so that the seed's own first byte picks the grammar.
    LLVMFuzzerTestOneInput(data + 1, size - 1);
  });
  SUCCEED();
}

}  // namespace
