// A byte-level BPE vocabulary (GGUF `tokenizer.ggml.model` = "gpt2", as DeepSeek's models use)
// and its three sources: GGUF tokenizer metadata, a Hugging Face tokenizer.json, and back to
// GGUF metadata for files we write (test models).
//
// Token texts are kept exactly as the files store them: GPT-2's byte-to-unicode encoding, where
// each byte of the original text is one printable character ("Ġ" is the space byte). The GGUF
// keys and token types follow llama.cpp (src/llama-vocab.cpp reads them, convert_hf_to_gguf.py
// and gguf-py's SpecialVocab write them).
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace latent::gguf {
class File;
class Writer;
}  // namespace latent::gguf

namespace latent::tokenizer {

// A vocabulary or text the tokenizer cannot use; the message names the file, key or token.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr int32_t kNoToken = -1;

// tokenizer.ggml.token_type values (gguf-py's TokenType).
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

struct Vocab {
  std::string model = "gpt2";        // tokenizer.ggml.model; only "gpt2" is supported
  std::string pre;                   // tokenizer.ggml.pre: deepseek-coder, deepseek-llm, deepseek-v3
  std::vector<std::string> tokens;   // tokenizer.ggml.tokens, indexed by id
  std::vector<TokenType> types;      // tokenizer.ggml.token_type, same length as tokens
  std::vector<std::string> merges;   // tokenizer.ggml.merges, "left right", in rank order
  int32_t bos_id = kNoToken;         // tokenizer.ggml.bos_token_id
  int32_t eos_id = kNoToken;         // tokenizer.ggml.eos_token_id
  int32_t eot_id = kNoToken;         // tokenizer.ggml.eot_token_id (absent in DeepSeek files)
  int32_t pad_id = kNoToken;         // tokenizer.ggml.padding_token_id
  int32_t unk_id = kNoToken;         // tokenizer.ggml.unknown_token_id
  bool add_bos = false;              // tokenizer.ggml.add_bos_token
  bool add_eos = false;              // tokenizer.ggml.add_eos_token
  std::string chat_template;         // tokenizer.chat_template; empty when absent
};

// Reads the tokenizer.ggml.* keys of a GGUF file. Throws Error naming the file and key.
Vocab load_gguf_vocab(const gguf::File& file);

// Reads a Hugging Face tokenizer.json of a byte-level BPE model: model.vocab, model.merges
// ("a b" strings or ["a", "b"] pairs), added_tokens (special → control; not special →
// user-defined unless the text looks special, as llama.cpp's converter decides), the
// pre_tokenizer's Split regexes mapped to llama.cpp's pre name, and from a sibling
// tokenizer_config.json (when present) bos/eos/pad tokens, add_bos_token/add_eos_token and
// chat_template. Ids missing from both tables become "[PAD<id>]" unused tokens.
Vocab load_hf_tokenizer_json(const std::filesystem::path& path);

// A .gguf file's vocabulary or a tokenizer.json, chosen by the file name.
Vocab load_vocab_file(const std::filesystem::path& path);

// Writes the vocabulary as tokenizer.ggml.* (and tokenizer.chat_template) keys, in the order
// and with the value types llama.cpp's converter uses.
void write_gguf_vocab(gguf::Writer& writer, const Vocab& vocab);

// Checks internal consistency (sizes, ids in range, supported model/pre). Throws Error naming
// `source` (a file name) and what is wrong.
void validate_vocab(const Vocab& vocab, const std::string& source);

}  // namespace latent::tokenizer
