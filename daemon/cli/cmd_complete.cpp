// `latent complete`: fill-in-the-middle with a DeepSeek-Coder model, printing only the middle.
#include <string>

#include "api/engine.h"
#include "cli/command.h"

namespace latent::cli {

// Shared with `latent generate` (defined in cmd_generate.cpp).
engine::EngineOptions engine_options_from_args(const ParsedArgs& args);
engine::Request request_from_args(const ParsedArgs& args, std::string* seed_note);
std::vector<OptionSpec> sampling_options();
int stream_request(engine::Engine& eng, engine::Request request, const std::string& extra_stats);

namespace {

int run_complete(const ParsedArgs& args) {
  auto prefix = args.require("prefix");
  auto suffix = args.get_or("suffix", "");
  std::string seed_note;
  engine::Request r = request_from_args(args, &seed_note);
  r.priority = engine::Priority::completion;
  auto eng = engine::open_engine(engine_options_from_args(args));
  r.tokens = eng->fim_tokens(prefix, suffix);
  return stream_request(*eng, std::move(r), seed_note);
}

}  // namespace

Command complete_command() {
  Command c;
  c.name = "complete";
  c.summary = "fill in the middle between a prefix and a suffix (DeepSeek-Coder FIM)";
  c.synopsis = "--model FILE --prefix TEXT [--suffix TEXT] [--max-tokens N] [--stop TEXT]";
  c.details =
      "Builds <｜fim▁begin｜>prefix<｜fim▁hole｜>suffix<｜fim▁end｜> and prints the generated middle\n"
      "to stdout (statistics to stderr). Needs a model whose vocabulary has the FIM tokens.\n";
  c.options = {
      {"model", "FILE", "deepseek2 GGUF model with DeepSeek-Coder's FIM tokens"},
      {"prefix", "TEXT", "text before the cursor"},
      {"suffix", "TEXT", "text after the cursor (default: empty)"},
  };
  for (auto& o : sampling_options()) c.options.push_back(std::move(o));
  for (auto& o : backend_options()) c.options.push_back(std::move(o));
  c.run = run_complete;
  return c;
}

}  // namespace latent::cli
