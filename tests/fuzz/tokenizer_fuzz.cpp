// libFuzzer target for the tokenizer (both golden DeepSeek vocabularies): arbitrary bytes, and
// arbitrary bytes with special-token spellings spliced in (whole, or cut short), encoded with
// and without special-token parsing. Whatever the bytes, every id must be in the vocabulary and
// decoding must give the input back (invalid UTF-8 as U+FFFD, special tokens by their spelling).
// The first byte picks the vocabulary and the mode; in splice mode each byte below 0x20
// stands for a special token's spelling (the byte after it chooses which, and how much of it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace {

using latent::tokenizer::Tokenizer;

void check(bool ok) {
  if (!ok) std::abort();
}

struct Vocabulary {
  Tokenizer tok;
  std::vector<std::string> specials;  // spellings of control and user-defined tokens
  explicit Vocabulary(const char* file)
      : tok(latent::tokenizer::load_gguf_vocab(
            latent::gguf::File::open(std::string(LATENT_FUZZ_VOCAB_DIR) + "/" + file))) {
    for (int32_t id = 0; id < tok.n_vocab(); ++id)
      if (tok.is_special(id)) specials.push_back(tok.token_to_piece(id, true));
    check(!specials.empty());
  }
};

const Vocabulary& vocabulary(bool coder) {
  static const Vocabulary c("ggml-vocab-deepseek-coder.gguf");
  static const Vocabulary l("ggml-vocab-deepseek-llm.gguf");
  return coder ? c : l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const Vocabulary& v = vocabulary(mode & 1);
  const bool splice = mode & 2, parse_special = mode & 4, add_special = mode & 8;
  std::string text;
  for (size_t i = 1; i < size; ++i) {
    if (splice && data[i] < 0x20 && i + 1 < size) {
      const std::string& s = v.specials[data[i + 1] % v.specials.size()];
      text += (data[i] & 1) ? s : s.substr(0, data[i] % (s.size() + 1));
      ++i;
    } else {
      text.push_back(static_cast<char>(data[i]));
    }
  }
  std::vector<int32_t> ids = v.tok.encode(text, add_special, parse_special);
  for (int32_t id : ids) check(id >= 0 && id < v.tok.n_vocab());
  if (!add_special) check(v.tok.decode(ids, /*render_special=*/true) == latent::tokenizer::sanitize_utf8(text));
  return 0;
}
