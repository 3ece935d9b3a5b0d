// `latentd`: the Language Server Protocol daemon that editors start (stdio) or share (unix socket).
#include <cstdio>
#include <string>

#include "latent/version.h"

namespace {

const char* kUsage =
    "usage: latentd [options]\n\n"
    "Latent's language server: serves inline completions and repository questions over the\n"
    "Language Server Protocol. Editors start it and speak LSP on its stdin/stdout.\n\n"
    "options:\n"
    "  --stdio              speak LSP on stdin/stdout (the default)\n"
    "  --help               show this help\n"
    "  --version            print the version\n";

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version" || a == "-V") {
      std::printf("latentd %s\n", LATENT_VERSION);
      return 0;
    }
    if (a != "--stdio") {
      std::fprintf(stderr, "latentd: unknown option '%s' (see latentd --help)\n", argv[i]);
      return 2;
    }
  }
  std::fprintf(stderr, "latentd: the LSP server is not built yet in this version\n");
  return 1;
}
