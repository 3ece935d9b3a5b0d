// Turning sampled tokens' bytes into streamable text: whole UTF-8 characters only, and stop
// strings found across token boundaries with the text that might still become one held back.
// Used per request by the scheduler (engine/api/engine.cpp); independent of the model, apart
// from reply_piece, which asks the tokenizer which tokens are special.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace latent::tokenizer {
class Tokenizer;
}

namespace latent::engine {

// The bytes a sampled token adds to a streamed reply: its piece, or nothing for a special token
// (control tokens such as <｜tool▁outputs▁begin｜>, added ones such as DeepSeek's
// <｜place▁holder▁no▁583｜>). Those steer the model; they are never text a user should see.
std::string reply_piece(const tokenizer::Tokenizer& tokenizer, int32_t token);

// Accepts arbitrary byte pieces (a token may end inside a multi-byte character) and releases
// only complete, valid UTF-8. Invalid sequences become U+FFFD so the output is always valid
// UTF-8 (it ends up in JSON-RPC messages, which must be).
class Utf8Assembler {
 public:
  // Appends bytes and returns the text that is now complete.
  std::string push(std::string_view bytes);
  // Ends the stream: a truncated character left over becomes U+FFFD.
  std::string finish();

 private:
  std::string pending_;  // at most 3 bytes of an unfinished character
};

// Finds the first occurrence of any stop string in a stream of text pieces.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Result {
    std::string emit;      // text now known not to be part of a stop string
    bool stopped = false;  // a stop string was found; `emit` is the text before it
    std::string matched;   // that stop string
  };
  // A stop string that completes while an earlier-starting, longer one is still partial does
  // not end the stream yet: the earliest occurrence wins once it is decided.
  Result push(std::string_view text);
  // No more text will come: decides what is still held back.
  Result finish();

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace latent::engine
