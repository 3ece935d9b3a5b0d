// The Generator port over Latent's own engine (engine/api/engine.h): FIM prompts through the
// model's fill-in-the-middle tokens, chat prompts through its chat format, greedy decoding,
// completions at the engine's completion priority so they run ahead of questions.
#pragma once

#include <memory>

#include "server/ports.h"

namespace latent::daemon {

// Opens options.model_path on options.backend. Throws std::runtime_error naming the file.
std::unique_ptr<Generator> open_engine_generator(const Options& options);

}  // namespace latent::daemon
