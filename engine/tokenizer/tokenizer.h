// Byte-level BPE tokenization of DeepSeek models, reproducing llama.cpp (src/llama-vocab.cpp,
// src/unicode.cpp) token for token:
//  1. special-token splitting: control, unknown and user-defined token texts found in the text,
//     longest first; with parse_special off only user-defined tokens are split out (control
//     tokens, including those llama.cpp promotes by name such as DeepSeek's FIM tokens, stay text);
//  2. the pre-tokenizer regexes of `tokenizer.ggml.pre` (see pretokenizer.h);
//  3. BPE merges by rank within each piece, from its bytes.
// Decoding maps token texts back to bytes; a token may end inside a multi-byte character, which
// StreamDecoder holds back until it is complete.
//
// A Tokenizer is immutable after construction; all const methods are safe to call from several
// threads at once. Each thread keeps a bounded cache of recent words' BPE results (64k words
// per tokenizer, for the 4 most recent tokenizers it used), since code repeats its identifiers.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace latent::tokenizer {

class PreTokenizer;

class Tokenizer {
 public:
  // Throws Error when the vocabulary is inconsistent or its model/pre is unsupported.
  explicit Tokenizer(Vocab vocab);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // add_special: BOS (and EOS) as the vocabulary's add_bos/add_eos say, like llama_tokenize's
  // add_special. parse_special: control tokens written in the text become their ids.
  // Invalid UTF-8 bytes are tokenized as U+FFFD, as llama.cpp does.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes of the tokens concatenated (not necessarily valid UTF-8 for a partial sequence).
  // Control and unknown tokens are rendered only with render_special; user-defined tokens
  // always are. Throws Error for an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids, bool render_special = false) const;
  std::string token_to_piece(int32_t id, bool render_special = true) const;

  // The id of the token whose text is exactly `text` (special tokens by their spelling, e.g.
  // "<｜fim▁begin｜>"), or kNoToken.
  int32_t find_token(std::string_view text) const;

  int32_t n_vocab() const;
  TokenType token_type(int32_t id) const;
  const std::string& token_text(int32_t id) const;  // as stored (byte-encoded)
  // Control, unknown or user-defined, after llama.cpp's promotion of known names to control.
  bool is_special(int32_t id) const;
  bool is_control(int32_t id) const;

  int32_t bos_id() const;
  int32_t eos_id() const;
  // End of turn: the file's eot id, else a token named like one (DeepSeek:
  // "<｜end▁of▁sentence｜>"), as llama.cpp detects it.
  int32_t eot_id() const;
  int32_t pad_id() const;
  // Fill-in-the-middle tokens by llama.cpp's names (DeepSeek: <｜fim▁begin｜>, <｜fim▁hole｜>,
  // <｜fim▁end｜>), or kNoToken.
  int32_t fim_prefix_id() const;
  int32_t fim_suffix_id() const;
  int32_t fim_middle_id() const;
  // Tokens that end generation (EOS, EOT and other end-of-generation names), sorted.
  const std::vector<int32_t>& eog_ids() const;
  bool is_eog(int32_t id) const;
  bool add_bos() const;

  const Vocab& vocab() const;
  const PreTokenizer& pre_tokenizer() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Incremental detokenization for streaming: push() returns the text that became complete, never
// splitting a UTF-8 character; bytes of an unfinished character are held back. Invalid bytes are
// passed through unchanged (so concatenating all output equals decode() of all tokens).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool render_special = false);
  std::string push(int32_t id);
  // Whatever is still held back (an incomplete character at the end of the stream).
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool render_special_;
  std::string pending_;
};

}  // namespace latent::tokenizer
