// Vocabulary checks and the file-type dispatch of load_vocab_file.
#include <algorithm>

#include "gguf/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"

namespace latent::tokenizer {

void validate_vocab(const Vocab& v, const std::string& source) {
  const auto fail = [&](const std::string& what) { throw Error(source + ": " + what); };
  if (v.model != "gpt2") {
    fail("tokenizer model '" + v.model +
         "' is not supported (tokenizer.ggml.model must be gpt2: byte-level BPE as DeepSeek uses)");
  }
  if (v.pre.empty()) {
    fail("no pre-tokenizer type (tokenizer.ggml.pre); llama.cpp would fall back to a generic regex "
         "that degrades DeepSeek models: reconvert the model with a current llama.cpp converter");
  }
  const auto names = PreTokenizer::supported_names();
  if (std::find(names.begin(), names.end(), v.pre) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    fail("pre-tokenizer '" + v.pre + "' is not supported (tokenizer.ggml.pre must be one of " + list + ")");
  }
  if (v.tokens.empty()) fail("the vocabulary has no tokens (tokenizer.ggml.tokens)");
  if (v.types.size() != v.tokens.size()) {
    fail("tokenizer.ggml.token_type has " + std::to_string(v.types.size()) + " entries for " +
         std::to_string(v.tokens.size()) + " tokens");
  }
  const auto n = static_cast<int64_t>(v.tokens.size());
  const std::pair<const char*, int32_t> ids[] = {{"bos_token_id", v.bos_id}, {"eos_token_id", v.eos_id},
                                                 {"eot_token_id", v.eot_id}, {"padding_token_id", v.pad_id},
                                                 {"unknown_token_id", v.unk_id}};
  for (const auto& [key, id] : ids) {
    if (id != kNoToken && (id < 0 || id >= n)) {
      fail("tokenizer.ggml." + std::string(key) + " = " + std::to_string(id) +
           " is outside the vocabulary of " + std::to_string(n) + " tokens");
    }
  }
}

Vocab load_vocab_file(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  if (path.extension() == ".gguf") {
    try {
      return load_gguf_vocab(gguf::File::open(path));
    } catch (const gguf::Error& e) {
      throw Error(e.what());
    }
  }
  if (path.extension() == ".json") return load_hf_tokenizer_json(path);
  throw Error(path.string() + ": not a .gguf model nor a tokenizer.json; give a GGUF file or a "
              "Hugging Face tokenizer.json");
}

}  // namespace latent::tokenizer
