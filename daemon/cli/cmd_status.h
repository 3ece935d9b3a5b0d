// latent/status rendered for people, as `latent status` prints it.
#pragma once

#include <string>

#include "lsp/protocol.h"

namespace latent::cli {

std::string render_status(const lsp::StatusResult& status);

}  // namespace latent::cli
