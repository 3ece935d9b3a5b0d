// `latent ask "QUESTION" [--repo DIR]`: a repository question answered in this process through
// latentd's server API: the repository is indexed (incrementally), the sources most relevant to
// the question are retrieved, and with --model the answer streams to stdout; without a model the
// ranked sources are printed and it says so.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/command.h"
#include "server/assistant.h"
#include "server/daemon.h"
#include "server/event_loop.h"

namespace latent::cli {

namespace {

int run_ask(const ParsedArgs& args) {
  if (args.positional().size() != 1) throw UsageError("give the question as one argument (quote it)");
  std::string question = args.positional()[0];
  bool json = args.has("json");
  std::filesystem::path repo = std::filesystem::absolute(args.get_or("repo", ".")).lexically_normal();
  if (!std::filesystem::is_directory(repo)) {
    std::fprintf(stderr, "latent ask: %s is not a directory (--repo DIR)\n", repo.c_str());
    return 1;
  }
  daemon::Options options;
  options.model_path = args.get_or("model", "");
  const BackendChoice bc = backend_choice(args);
  options.backend = bc.backend;
  options.device = bc.device;
  options.gpu_layers = bc.gpu_layers;
  options.engine_threads = static_cast<int>(args.get_int("threads", 0));
  options.ask_sources = static_cast<int32_t>(args.get_int("sources", options.ask_sources));
  options.ask_max_tokens = static_cast<int32_t>(args.get_int("max-tokens", options.ask_max_tokens));
  daemon::configure_log({daemon::LogLevel::Warn, {}, true});

  daemon::EventLoop loop;
  daemon::Assistant assistant(loop, options, daemon::default_generator_factory(), daemon::default_index_factory());
  int exit_code = 0;
  bool streamed = false;
  assistant.subscribe([&](const daemon::WorkspaceEvent& ev) {
    if (json) return;
    if (ev.kind == daemon::WorkspaceEvent::Kind::End) std::fprintf(stderr, "\r%s: %s\n", repo.c_str(), ev.message.c_str());
    else if (ev.kind == daemon::WorkspaceEvent::Kind::Report) std::fprintf(stderr, "\r%s: indexing, %s", repo.c_str(), ev.message.c_str());
  });
  assistant.add_workspace(repo);
  assistant.when_ready([&] {
    if (!assistant.model_loaded() && !options.model_path.empty()) {
      std::fprintf(stderr, "latent ask: %s\n", assistant.model_problem().c_str());
      exit_code = 1;
      assistant.shutdown();
      loop.stop();
      return;
    }
    daemon::AskRequest req;
    req.question = question;
    auto on_partial = [&](const daemon::AskPartial& p) {
      if (json || p.text.empty()) return;
      streamed = true;
      std::fwrite(p.text.data(), 1, p.text.size(), stdout);
      std::fflush(stdout);
    };
    assistant.ask(req, on_partial, [&](lsp::Result<daemon::AskAnswer> r) {
      if (!r) {
        std::fprintf(stderr, "latent ask: %s\n", r.error().message.c_str());
        exit_code = 1;
      } else if (json) {
        nlohmann::json sources = nlohmann::json::array();
        for (const auto& s : r.value().sources)
          sources.push_back({{"path", s.path}, {"line", s.line}, {"endLine", s.end_line}, {"symbol", s.symbol}, {"score", s.score}});
        std::cout << nlohmann::json{{"question", question}, {"answer", r.value().answer},
                                    {"modelUsed", r.value().model_used}, {"sources", sources}}
                         .dump(2)
                  << "\n";
      } else {
        if (streamed) std::cout << "\n\nSources:\n";
        if (!streamed) std::cout << r.value().answer << "\n";
        else
          for (const auto& s : r.value().sources)
            std::cout << "- " << s.path << ":" << s.line << (s.symbol.empty() ? "" : " (" + s.symbol + ")") << "\n";
      }
      assistant.shutdown();
      loop.stop();
    });
  });
  loop.run();
  return exit_code;
}

}  // namespace

Command ask_command() {
  Command c;
  c.name = "ask";
  c.summary = "answer a question about a repository (ranked sources without a model)";
  c.synopsis = "\"QUESTION\" [--repo DIR] [--model FILE] [--json]";
  c.details =
      "Indexes the repository first (incrementally, in DIR/.latent/index.sqlite), as latentd does.\n"
      "Without --model the answer is the list of the most relevant places, best first.";
  c.options = {
      {"repo", "DIR", "repository to search (default: the current directory)"},
      {"model", "FILE", "GGUF model that writes the answer"},
      {"threads", "N", "engine threads (default: all cores)"},
      {"sources", "N", "how many sources to retrieve (default 8)"},
      {"max-tokens", "N", "longest answer in tokens (default 512)"},
      {"json", "", "print one JSON object: answer, modelUsed, sources"},
  };
  for (auto& o : backend_options()) c.options.push_back(o);
  c.run = run_ask;
  return c;
}

}  // namespace latent::cli
