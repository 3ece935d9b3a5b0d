// A model's tokenizer as the indexer's token counter (`latent context` and the benchmarks that
// count context tokens the way a completion prompt will).
#pragma once

#include <cstdint>
#include <filesystem>

#include "indexer/context.h"

namespace latent::cli {

// The counter, and the model's context length (0 when the file does not say, e.g. a
// vocabulary-only GGUF).
struct ModelTokens {
  indexer::TokenCounter count;
  uint64_t context_length = 0;
};

ModelTokens load_model_tokens(const std::filesystem::path& model);

}  // namespace latent::cli
