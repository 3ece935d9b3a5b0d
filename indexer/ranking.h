// The repo map's ranking of files, recomputed by the writer after a workspace run changed the
// index and stored in file_rank.
#pragma once

#include "indexer/writer.h"

namespace latent::indexer {

void compute_file_ranks(WriteContext& w);

}  // namespace latent::indexer
