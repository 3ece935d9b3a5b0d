// `latent tokenize` and `latent detokenize`: the model's tokenizer on the command line, for
// checking prompts (FIM markers, BOS) and comparing ids with llama.cpp's llama-tokenize.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "tokenizer/tokenizer.h"

namespace latent::cli {
namespace {

// One token's bytes, printable on one line: control characters and bytes of an incomplete or
// invalid UTF-8 sequence escaped.
std::string printable_piece(const std::string& piece) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    const auto c = static_cast<unsigned char>(piece[i]);
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool valid = len > 0 && i + len <= piece.size();
    for (size_t k = 1; valid && k < len; ++k) valid = (static_cast<unsigned char>(piece[i + k]) & 0xC0) == 0x80;
    if (!valid) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
      ++i;
      continue;
    }
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out.append(piece, i, len);
    }
    i += len;
  }
  return out;
}

tokenizer::Tokenizer open_tokenizer(const ParsedArgs& args) {
  return tokenizer::Tokenizer(tokenizer::load_vocab_file(args.require("model")));
}

int run_tokenize(const ParsedArgs& args) {
  if (args.has("text") == args.has("file")) throw UsageError("give exactly one of --text and --file");
  std::string text;
  if (auto t = args.get("text")) {
    text = *t;
  } else {
    const std::string path = *args.get("file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open for reading");
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  const auto tok = open_tokenizer(args);
  const auto ids = tok.encode(text, !args.has("no-bos"), !args.has("no-special"));
  if (args.has("json")) {
    std::printf("%s\n", nlohmann::json(ids).dump().c_str());
    return 0;
  }
  for (int32_t id : ids) std::printf("%6d  %s\n", id, printable_piece(tok.token_to_piece(id, true)).c_str());
  return 0;
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::istringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    size_t used = 0;
    long v = -1;
    try {
      v = std::stol(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 0 || v > INT32_MAX)
      throw UsageError("--ids: '" + item + "' is not a token id (expected e.g. 1,2,3)");
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) throw UsageError("--ids: no token ids given");
  return ids;
}

int run_detokenize(const ParsedArgs& args) {
  const auto ids = parse_ids(args.require("ids"));
  const auto tok = open_tokenizer(args);
  const std::string text = tok.decode(ids, args.has("special"));
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

Command tokenize_command() {
  Command c;
  c.name = "tokenize";
  c.summary = "print the token ids of a text with a model's tokenizer";
  c.synopsis = "--model FILE (--text TEXT | --file PATH) [--json] [--no-bos] [--no-special]";
  c.details =
      "Without --json each line is a token id and its text (special tokens spelled out; newlines,\n"
      "tabs and bytes of a character split across tokens escaped).\n";
  c.options = {
      {"model", "FILE", "a GGUF model (its tokenizer.ggml.* metadata) or a Hugging Face tokenizer.json"},
      {"text", "TEXT", "the text to tokenize"},
      {"file", "PATH", "read the text from this file"},
      {"json", "", "print one JSON array of ids"},
      {"no-bos", "", "do not add BOS (nor EOS) even when the model's metadata asks for it"},
      {"no-special", "", "treat special-token spellings such as <｜fim▁begin｜> as plain text"},
  };
  c.run = run_tokenize;
  return c;
}

Command detokenize_command() {
  Command c;
  c.name = "detokenize";
  c.summary = "print the text of a list of token ids";
  c.synopsis = "--model FILE --ids 1,2,3 [--special]";
  c.options = {
      {"model", "FILE", "a GGUF model (its tokenizer.ggml.* metadata) or a Hugging Face tokenizer.json"},
      {"ids", "LIST", "comma-separated token ids"},
      {"special", "", "also print control tokens such as BOS/EOS (left out by default)"},
  };
  c.run = run_detokenize;
  return c;
}

}  // namespace latent::cli
