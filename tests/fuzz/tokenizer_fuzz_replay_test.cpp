// Runs the tokenizer fuzz target (tokenizer_fuzz.cpp) on seeds and seeded random mutations:
// code, mixed scripts, invalid UTF-8, and special-token spellings spliced in whole and cut short.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fuzz/mutate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

TEST(TokenizerFuzzReplay, SeedsAndMutations) {
  const std::vector<std::string> seeds = {
      "def area(r):\n    return 3.14 * r * r\n",
      "\x01\x05 fim \x03\x07\x02\x09 then \x01\x02",  // special tokens (splice mode)
      "emoji \xF0\x9F\xA6\x99 \xE6\x9D\xB1\xE4\xBA\xAC \xFF\xC3 broken \xE2\x82",
      "   \t\t\n\n\r\n  12345678901234567890 x=y+z; // \xD0\x9F\xD1\x80\xD0\xB8",
      "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>a<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>",
  };
  latent::fuzz::replay(seeds, 300, "\x01\x02 <|>\xEF\xBD\x9C\xE2\x96\x81\n", 99, LLVMFuzzerTestOneInput);
  SUCCEED();
}

}  // namespace
