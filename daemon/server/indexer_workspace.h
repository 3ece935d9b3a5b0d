// The WorkspaceIndex port over Latent's repository index (indexer/index.h, indexer/context.h):
// one SQLite index per workspace folder, at <root>/.latent/index.sqlite.
#pragma once

#include <memory>

#include "server/ports.h"

namespace latent::daemon {

// Opens (creating) the index of `root`. `count` may be empty (the indexer's estimate is used).
// Throws std::runtime_error naming the database.
std::unique_ptr<WorkspaceIndex> open_indexer_workspace(const std::filesystem::path& root, TokenCounter count);

}  // namespace latent::daemon
