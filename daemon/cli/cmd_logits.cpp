// `latent logits`: runs a prompt through the model in one batch and writes the logits of every
// position as little-endian float32 rows, for comparison with llama.cpp or another backend.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "cli/command.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace latent::cli {
namespace {

std::vector<int32_t> parse_tokens(const std::string& s) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    const std::string item = s.substr(i, j - i);
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(int32_t(v));
    } catch (const std::exception&) {
      throw UsageError("--tokens: '" + item + "' is not a token id (expected e.g. 1,2,3)");
    }
    i = j + 1;
  }
  if (ids.empty()) throw UsageError("--tokens: no token ids given");
  return ids;
}

int run_logits(const ParsedArgs& args) {
  const std::string model_path = args.require("model");
  const std::string out_path = args.require("out");
  if (args.has("tokens") == args.has("prompt"))
    throw UsageError("give exactly one of --tokens and --prompt");

  model::Options o;
  const BackendChoice bc = backend_choice(args);
  o.backend = bc.backend;
  o.device = bc.device;
  o.gpu_layers = bc.gpu_layers;
  o.threads = int(args.get_int("threads", model::default_thread_count()));
  if (o.threads < 0) throw UsageError("--threads must be 0 or more");
  const std::string mla = args.get_or("mla", "absorbed");
  if (mla == "plain")
    o.mla = model::MlaMode::Plain;
  else if (mla == "absorbed")
    o.mla = model::MlaMode::Absorbed;
  else if (mla == "auto")
    o.mla = model::MlaMode::Auto;
  else
    throw UsageError("--mla: expected absorbed, plain or auto, got '" + mla + "'");

  std::vector<int32_t> tokens;
  if (args.has("tokens")) tokens = parse_tokens(*args.get("tokens"));

  std::shared_ptr<model::Model> model;
  try {
    model = model::Model::load(model_path, o);
  } catch (const model::Error& e) {
    std::fprintf(stderr, "latent logits: %s\n", e.what());
    return 1;
  }

  if (!args.has("tokens")) {
    try {
      tokenizer::Tokenizer tok(tokenizer::load_gguf_vocab(model->file()));
      tokens = tok.encode(*args.get("prompt"), /*add_special=*/true, /*parse_special=*/true);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "latent logits: cannot tokenize the prompt with %s's vocabulary: %s\n",
                   model_path.c_str(), e.what());
      return 1;
    }
  }
  if (int64_t(tokens.size()) > model->n_ctx()) {
    std::fprintf(stderr, "latent logits: %zu tokens exceed the model's context of %lld\n",
                 tokens.size(), static_cast<long long>(model->n_ctx()));
    return 1;
  }

  model::Outputs out;
  try {
    model::Context ctx(model);
    const model::SeqId seq = ctx.create_sequence();
    model::Batch batch;
    for (int32_t t : tokens) batch.add(seq, t, true);
    ctx.evaluate(batch, out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "latent logits: %s\n", e.what());
    return 1;
  }

  // float32 is little-endian on every platform this builds for (x86-64, aarch64).
  std::ofstream f(out_path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(out.logits.data()), std::streamsize(out.logits.size() * sizeof(float)));
  f.close();
  if (!f) {
    std::fprintf(stderr, "latent logits: cannot write %s\n", out_path.c_str());
    return 1;
  }
  std::fprintf(stderr, "latent logits: %zu tokens x %lld logits -> %s\n", tokens.size(),
               static_cast<long long>(model->n_vocab()), out_path.c_str());
  return 0;
}

}  // namespace

Command logits_command() {
  Command c;
  c.name = "logits";
  c.summary = "write a prompt's logits (every position) as float32 rows";
  c.synopsis = "--model FILE (--tokens 1,2,3 | --prompt TEXT) --out FILE.f32 [--backend cpu|vulkan] [--threads N]";
  c.details =
      "The output holds n_tokens x n_vocab little-endian float32 values, row by row. --prompt is\n"
      "tokenized with the model's own vocabulary, BOS added and special tokens parsed (as\n"
      "llama.cpp's llama_tokenize with add_special and parse_special).\n";
  c.options = {
      {"model", "FILE", "deepseek2 GGUF model"},
      {"tokens", "IDS", "comma-separated token ids"},
      {"prompt", "TEXT", "text to tokenize"},
      {"out", "FILE", "output file (float32 rows)"},
      {"threads", "N", "worker threads (default: all cores; 0 runs on the calling thread)"},
      {"mla", "FORM", "absorbed (default), plain or auto (per chunk, as the engine runs): the attention form"},
  };
  for (auto& o : backend_options()) c.options.push_back(o);
  c.run = run_logits;
  return c;
}

}  // namespace latent::cli
