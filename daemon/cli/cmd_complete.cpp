// `latent complete`: fill-in-the-middle with a DeepSeek-Coder model, printing only the middle;
// with --remote, by a remote OpenAI-compatible server in its model's FIM layout.
#include <cstdio>
#include <future>
#include <string>

#include "api/engine.h"
#include "cli/command.h"
#include "server/daemon.h"

namespace latent::cli {

// Shared with `latent generate` (defined in cmd_generate.cpp).
engine::EngineOptions engine_options_from_args(const ParsedArgs& args);
engine::Request request_from_args(const ParsedArgs& args, std::string* seed_note);
std::vector<OptionSpec> sampling_options();
int stream_request(engine::Engine& eng, engine::Request request, const std::string& extra_stats);

namespace {

constexpr std::string_view kRemoteSettings[] = {"remote", "remoteModel", "remoteApiKeyEnv", "fimTemplate",
                                                "remoteTimeoutMs"};

// The same request through the daemon's remote engine (daemon/remote), streaming the middle.
int complete_remote(const ParsedArgs& args, const engine::Request& r, const std::string& prefix, const std::string& suffix) {
  daemon::Options options;
  apply_setting_options(args, kRemoteSettings, options);
  auto generator = daemon::default_generator_factory()(options);
  daemon::GenerationRequest g;
  g.kind = daemon::GenerationRequest::Kind::Fim;
  g.prefix = prefix;
  g.suffix = suffix;
  g.max_tokens = r.max_tokens;
  g.temperature = r.sampling.temperature;
  g.top_p = r.sampling.top_p;
  g.seed = r.sampling.seed;
  g.stop = r.stop.strings;
  std::promise<daemon::GenerationEnd> done;
  generator->start(
      g,
      [](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
      },
      [&done](const daemon::GenerationEnd& end) { done.set_value(end); });
  daemon::GenerationEnd end = done.get_future().get();
  std::printf("\n");
  if (end.reason == daemon::GenerationEnd::Reason::Error) {
    std::fprintf(stderr, "latent complete: %s\n", end.error.c_str());
    return 1;
  }
  auto health = generator->remote();
  std::fprintf(stderr, "remote %s (%s, %s): %d prompt tokens (%d cached), %d generated, first text after %.0f ms\n",
               options.remote_url.c_str(), generator->model().name.c_str(), health ? health->fim_template.c_str() : "",
               end.prompt_tokens, end.cached_tokens, end.generated_tokens, health ? health->last_latency_ms : 0.0);
  return 0;
}

int run_complete(const ParsedArgs& args) {
  auto prefix = args.require("prefix");
  auto suffix = args.get_or("suffix", "");
  std::string seed_note;
  engine::Request r = request_from_args(args, &seed_note);
  if (args.has("remote")) return complete_remote(args, r, prefix, suffix);
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
  c.synopsis = "(--model FILE | --remote URL) --prefix TEXT [--suffix TEXT] [--max-tokens N] [--stop TEXT]";
  c.details =
      "Builds <｜fim▁begin｜>prefix<｜fim▁hole｜>suffix<｜fim▁end｜> and prints the generated middle\n"
      "to stdout (statistics to stderr). Needs a model whose vocabulary has the FIM tokens.\n"
      "With --remote, a remote OpenAI-compatible server completes in its model's layout (--fim-template).\n";
  c.options = {
      {"model", "FILE", "deepseek2 GGUF model with DeepSeek-Coder's FIM tokens"},
      {"prefix", "TEXT", "text before the cursor"},
      {"suffix", "TEXT", "text after the cursor (default: empty)"},
  };
  for (auto& o : sampling_options()) c.options.push_back(std::move(o));
  for (auto& o : backend_options()) c.options.push_back(std::move(o));
  for (auto& o : setting_options(kRemoteSettings)) c.options.push_back(std::move(o));
  c.run = run_complete;
  return c;
}

}  // namespace latent::cli
