// `latent`: the command-line face of Latent (index, search, inference, inspection, benchmarks).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.h"
#include "latent/version.h"

namespace {

void print_overview() {
  std::printf(
      "latent %s: a local coding assistant (repository index + DeepSeek inference)\n\n"
      "usage: latent <command> [options]\n"
      "       latent <command> --help     options of one command\n"
      "       latent --version\n\ncommands:\n",
      LATENT_VERSION);
  for (const auto& c : latent::cli::all_commands()) {
    std::string name = "  " + c.name;
    if (name.size() < 20) name.resize(20, ' ');
    std::printf("%s%s\n", name.c_str(), c.summary.c_str());
  }
  std::printf("\nThe daemon that editors talk to is `latentd` (see latentd --help).\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace latent::cli;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    print_overview();
    return argc < 2 ? 2 : 0;
  }
  std::string name = argv[1];
  if (name == "--version" || name == "-V") {
    std::printf("latent %s\n", LATENT_VERSION);
    return 0;
  }
  const Command* cmd = nullptr;
  for (const auto& c : all_commands())
    if (c.name == name) cmd = &c;
  if (!cmd) {
    std::fprintf(stderr, "latent: unknown command '%s' (see latent --help)\n", name.c_str());
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& a : args) {
    if (a == "--") break;
    if (a == "--help" || a == "-h") {
      std::fputs(command_help(*cmd).c_str(), stdout);
      return 0;
    }
  }
  try {
    return cmd->run(parse_args(*cmd, args));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "latent %s: %s\n(see latent %s --help)\n", name.c_str(), e.what(), name.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "latent %s: error: %s\n", name.c_str(), e.what());
    return 1;
  }
}
