// The subcommand table of `latent`. Each subcommand lives in its own cmd_<name>.cpp and is
// listed here once, in the order `latent --help` shows them.
#include "cli/command.h"

namespace latent::cli {

// Declarations of the subcommands (defined in cmd_<name>.cpp), one per line.
Command bench_command();
Command ask_command();
Command status_command();
Command doctor_command();
Command inspect_command();
Command index_command();
Command symbols_command();
Command search_command();
Command context_command();
Command make_model_command();
Command logits_command();
Command generate_command();
Command complete_command();
Command tokenize_command();
Command detokenize_command();
Command devices_command();

const std::vector<Command>& all_commands() {
  static const std::vector<Command> list = {
      // Entries, one per line, in help order.
      generate_command(),
      complete_command(),
      tokenize_command(),
      detokenize_command(),
      logits_command(),
      index_command(),
      symbols_command(),
      search_command(),
      context_command(),
      inspect_command(),
      ask_command(),
      status_command(),
      doctor_command(),
      bench_command(),
      make_model_command(),
      devices_command(),
  };
  return list;
}

}  // namespace latent::cli
