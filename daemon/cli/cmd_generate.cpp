// `latent generate`: runs one prompt through the engine API, streaming the reply to stdout and
// the request's statistics to stderr. Also home of the streaming loop `latent complete` uses.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <future>
#include <random>
#include <string>

#include <unistd.h>

#include "api/engine.h"
#include "cli/command.h"

namespace latent::cli {

namespace {

std::atomic<bool> g_interrupted{false};

void on_sigint(int) { g_interrupted.store(true); }

}  // namespace

engine::EngineOptions engine_options_from_args(const ParsedArgs& args) {
  engine::EngineOptions o;
  o.model_path = args.require("model");
  const BackendChoice bc = backend_choice(args);
  o.backend = bc.backend;
  o.device = bc.device;
  o.gpu_layers = bc.gpu_layers;
  o.cache_type = args.get_or("cache-type", "f16");
  o.threads = static_cast<int>(args.get_int("threads", 0));
  if (o.threads < 0) throw UsageError("--threads must be 0 (all cores) or more");
  return o;
}

// Submits `request`, writes the reply to stdout as it streams and a statistics line to stderr.
// Ctrl-C cancels the request (the partial reply stays printed). Returns the exit status.
int stream_request(engine::Engine& eng, engine::Request request, const std::string& extra_stats) {
  std::promise<engine::Finished> done;
  auto finished = done.get_future();
  engine::RequestId id = eng.submit(
      std::move(request),
      [](const engine::TokenPiece& p) {
        std::fwrite(p.text.data(), 1, p.text.size(), stdout);
        std::fflush(stdout);
      },
      [&done](const engine::Finished& f) { done.set_value(f); });
  auto previous = std::signal(SIGINT, on_sigint);
  bool cancelled = false;
  while (finished.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    if (g_interrupted.load() && !cancelled) {
      cancelled = true;
      eng.cancel(id);
    }
  }
  std::signal(SIGINT, previous);
  engine::Finished f = finished.get();
  // A terminal gets its prompt back on a fresh line; a pipe gets exactly the reply.
  if (isatty(fileno(stdout))) std::fputs("\n", stdout);
  std::fflush(stdout);
  const auto& s = f.stats;
  std::fprintf(stderr,
               "prompt %d tokens (%d cached), prefill %.1f tokens/s; %d tokens, decode %.1f tokens/s; "
               "first token %.0f ms; finish: %s%s%s\n",
               s.prompt_tokens, s.cached_tokens, s.prefill_tokens_per_s, s.generated_tokens,
               s.decode_tokens_per_s, s.time_to_first_token_s * 1000.0,
               std::string(engine::finish_reason_name(f.reason)).c_str(),
               extra_stats.empty() ? "" : "; ", extra_stats.c_str());
  if (f.reason == engine::FinishReason::error) {
    std::fprintf(stderr, "latent: generation failed: %s\n", f.error.c_str());
    return 1;
  }
  // A model file truncated during the run reads as zeros instead of crashing: the reply is
  // not to be trusted then.
  if (std::string problem = eng.model_file_problem(); !problem.empty()) {
    std::fprintf(stderr, "latent: the model file changed on disk during the run, the reply above is not valid: %s\n",
                 problem.c_str());
    return 1;
  }
  return f.reason == engine::FinishReason::cancelled ? 130 : 0;
}

// Sampling options shared by generate and complete.
engine::Request request_from_args(const ParsedArgs& args, std::string* seed_note) {
  engine::Request r;
  r.max_tokens = static_cast<int32_t>(args.get_int("max-tokens", 256));
  r.sampling.temperature = static_cast<float>(args.get_double("temperature", 0.0));
  r.sampling.top_k = static_cast<int32_t>(args.get_int("top-k", 0));
  r.sampling.top_p = static_cast<float>(args.get_double("top-p", 1.0));
  r.sampling.min_p = static_cast<float>(args.get_double("min-p", 0.0));
  if (args.has("seed")) {
    r.sampling.seed = static_cast<uint64_t>(args.get_int("seed", 0));
  } else {
    r.sampling.seed = std::random_device{}();
    // Report the seed a sampled run used, so it can be repeated.
    if (r.sampling.temperature > 0) *seed_note = "seed " + std::to_string(r.sampling.seed);
  }
  if (auto stop = args.get("stop")) r.stop.strings.push_back(*stop);
  return r;
}

std::vector<OptionSpec> sampling_options() {
  return {
      {"max-tokens", "N", "most tokens to generate (default 256)"},
      {"temperature", "T", "0 = greedy (default); higher samples more freely"},
      {"top-k", "K", "sample among the K most likely tokens (0 = off)"},
      {"top-p", "P", "sample among the most likely tokens holding probability P (1 = off)"},
      {"min-p", "P", "drop tokens below P times the most likely one's probability (0 = off)"},
      {"seed", "S", "random seed; the same seed repeats a sampled reply (default: random)"},
      {"stop", "TEXT", "end the reply before this text"},
      {"threads", "N", "CPU threads (default: all cores)"},
      {"cache-type", "T", "latent KV cache element type: f16 (default), f32, bf16 or q8_0"},
  };
}

namespace {

int run_generate(const ParsedArgs& args) {
  auto prompt = args.require("prompt");
  std::string seed_note;
  engine::Request r = request_from_args(args, &seed_note);
  auto eng = engine::open_engine(engine_options_from_args(args));
  if (args.has("chat")) {
    engine::ChatMessage m{"user", prompt};
    r.tokens = eng->chat_tokens(std::span<const engine::ChatMessage>(&m, 1));
  } else {
    r.text = prompt;
  }
  return stream_request(*eng, std::move(r), seed_note);
}

}  // namespace

Command generate_command() {
  Command c;
  c.name = "generate";
  c.summary = "generate text from a prompt with a GGUF model";
  c.synopsis = "--model FILE --prompt TEXT [--chat] [--max-tokens N] [--temperature T] [--top-k K] "
               "[--top-p P] [--min-p P] [--seed S] [--threads N]";
  c.details =
      "The reply streams to stdout; prompt/prefill/decode statistics go to stderr.\n"
      "--chat wraps the prompt as a user message in the model's chat format.\n"
      "Ctrl-C stops the reply.\n";
  c.options = {
      {"model", "FILE", "deepseek2 GGUF model"},
      {"prompt", "TEXT", "the prompt (special tokens such as <｜fim▁begin｜> are parsed)"},
      {"chat", "", "render the prompt with the model's chat template"},
  };
  for (auto& o : sampling_options()) c.options.push_back(std::move(o));
  for (auto& o : backend_options()) c.options.push_back(std::move(o));
  c.run = run_generate;
  return c;
}

}  // namespace latent::cli
