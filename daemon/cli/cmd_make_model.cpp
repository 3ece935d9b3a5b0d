// `latent make-model`: writes a seeded random deepseek2 GGUF (engine/testmodel) for tests and
// benchmarks, e.g. a 2-layer model with DeepSeek-Coder-V2-Lite's dimensions in Q4_K_M.
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "cli/command.h"
#include "testmodel/testmodel.h"

namespace latent::cli {

namespace {

struct Override {
  const char* option;
  int64_t testmodel::Shape::*field;
};

const Override kOverrides[] = {
    {"vocab", &testmodel::Shape::n_vocab},
    {"embd", &testmodel::Shape::n_embd},
    {"heads", &testmodel::Shape::n_head},
    {"q-lora-rank", &testmodel::Shape::q_lora_rank},
    {"kv-lora-rank", &testmodel::Shape::kv_lora_rank},
    {"qk-nope", &testmodel::Shape::qk_nope},
    {"qk-rope", &testmodel::Shape::qk_rope},
    {"v-head", &testmodel::Shape::v_head},
    {"ff", &testmodel::Shape::n_ff},
    {"expert-ff", &testmodel::Shape::n_ff_exp},
    {"experts", &testmodel::Shape::n_expert},
    {"experts-used", &testmodel::Shape::n_expert_used},
    {"shared-experts", &testmodel::Shape::n_expert_shared},
    {"dense-layers", &testmodel::Shape::n_dense_lead},
    {"groups", &testmodel::Shape::n_group},
    {"groups-used", &testmodel::Shape::n_group_used},
};

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1ull << 30));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1ull << 20));
  return buf;
}

int run_make_model(const ParsedArgs& args) {
  testmodel::Options o;
  try {
    o.shape = testmodel::preset(args.get_or("like", "ds2-lite-tiny"));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--like: ") + e.what());
  }
  const std::string out = args.require("out");
  o.shape.n_layer = args.get_int("layers", o.shape.n_layer);
  for (const auto& ov : kOverrides) o.shape.*ov.field = args.get_int(ov.option, o.shape.*ov.field);
  if (auto g = args.get("gating")) {
    if (*g != "softmax" && *g != "sigmoid") throw UsageError("--gating is softmax or sigmoid, not '" + *g + "'");
    o.shape.sigmoid_gating = *g == "sigmoid";
  }
  if (args.has("legacy-layout")) o.shape.legacy_layout = true;
  if (args.has("name")) o.shape.name = *args.get("name");
  o.type = args.get_or("type", "F32");
  const int64_t seed = args.get_int("seed", 1);
  if (seed < 0) throw UsageError("--seed must not be negative");
  o.seed = static_cast<uint64_t>(seed);
  o.threads = static_cast<int>(args.get_int("threads", 0));
  if (auto v = args.get("vocab-from")) o.vocab_from = *v;
  try {
    testmodel::validate(o);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }

  const auto start = std::chrono::steady_clock::now();
  // Redrawn at most every 0.2 s, so a log file does not fill with one line per tensor.
  auto last_draw = start - std::chrono::seconds(1);
  o.progress = [&last_draw](const testmodel::Progress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw < std::chrono::milliseconds(200)) return;
    last_draw = now;
    const double pct = p.params_total ? 100.0 * static_cast<double>(p.params_done) / static_cast<double>(p.params_total) : 0;
    std::fprintf(stderr, "\r[%3zu/%zu] %5.1f%%  %-40s", p.tensor_index + 1, p.n_tensors, pct, p.tensor.c_str());
    std::fflush(stderr);
  };
  testmodel::Summary s = testmodel::write(o, out);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "\r%-70s\r", "");
  std::string types;
  for (const auto& [t, n] : s.tensors_per_type) types += (types.empty() ? "" : ", ") + std::to_string(n) + " " + t;
  std::printf("%s: %s %s, %lld layers, vocab %lld%s\n", out.c_str(), o.shape.name.c_str(), o.type.c_str(),
              static_cast<long long>(o.shape.n_layer), static_cast<long long>(s.n_vocab),
              o.vocab_from.empty() ? " (no tokenizer metadata; pass --vocab-from)" : "");
  std::printf("  %zu tensors (%s), %s of tensor data, %.3f B parameters, seed %llu, %.1f s\n", s.n_tensors,
              types.c_str(), human_bytes(s.n_bytes).c_str(), static_cast<double>(s.n_params) / 1e9,
              static_cast<unsigned long long>(o.seed), secs);
  return 0;
}

}  // namespace

Command make_model_command() {
  Command c;
  c.name = "make-model";
  c.summary = "write a seeded random deepseek2 GGUF model of any shape (tests, benchmarks)";
  c.synopsis = "--out FILE [--like SHAPE] [--layers N] [--type T] [--seed S] [--vocab-from FILE] [--legacy-layout] [shape overrides]";
  c.details =
      "shapes: deepseek-coder-v2-lite (the real model's dimensions; use --layers to shrink it),\n"
      "        ds2-lite-tiny (default) and ds3-tiny (the golden test models' hyperparameters)\n"
      "types:  F32 (default), F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K (every matrix\n"
      "        that type, as llama-quantize --pure), or the llama.cpp mixes Q4_K_M, Q5_K_M; rows that\n"
      "        are not whole blocks fall back like llama.cpp (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0)\n"
      "example: latent make-model --like deepseek-coder-v2-lite --layers 2 --type Q4_K_M \\\n"
      "           --vocab-from ggml-vocab-deepseek-llm.gguf --out lite-2l.gguf\n";
  c.options = {
      {"out", "FILE", "GGUF file to write (atomically)"},
      {"like", "SHAPE", "base shape (see below)"},
      {"layers", "N", "number of layers"},
      {"type", "T", "weight type or mix (see below)"},
      {"seed", "S", "random seed (default 1); same seed and options give the same file"},
      {"vocab-from", "FILE", "copy tokenizer metadata from a .gguf, or build it from a tokenizer.json; sets the vocabulary size"},
      {"legacy-layout", "", "write attn_kv_b (pre-2025 layout) instead of attn_k_b/attn_v_b"},
      {"name", "NAME", "general.name"},
      {"threads", "N", "generation threads (default: all cores)"},
      {"vocab", "N", "vocabulary size (without --vocab-from)"},
      {"embd", "N", "n_embd"},
      {"heads", "N", "attention heads"},
      {"q-lora-rank", "N", "q-LoRA rank (0: plain attn_q)"},
      {"kv-lora-rank", "N", "MLA latent size"},
      {"qk-nope", "N", "per-head non-rope query/key size"},
      {"qk-rope", "N", "rope head size"},
      {"v-head", "N", "per-head value size"},
      {"ff", "N", "dense FFN width"},
      {"expert-ff", "N", "routed expert FFN width"},
      {"experts", "N", "routed experts"},
      {"experts-used", "N", "experts per token"},
      {"shared-experts", "N", "shared experts"},
      {"dense-layers", "N", "leading dense layers"},
      {"groups", "N", "expert groups"},
      {"groups-used", "N", "expert groups kept per token"},
      {"gating", "FUNC", "softmax or sigmoid"},
  };
  c.run = run_make_model;
  return c;
}

}  // namespace latent::cli
