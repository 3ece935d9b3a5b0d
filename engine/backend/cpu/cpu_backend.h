// The CPU backend: the reference implementation of every backend operation, and a fast one.
// Quantized weights are used in place (memory-mapped) through quant::vec_dot, activations are
// converted to the weight's vec_dot type once per row, matmuls run weight rows in the outer
// loop (each row read once per token tile), and every operation splits its work over a pool
// of worker threads. Expert matmuls group tokens by expert and touch only selected experts.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace latent::backend {

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);

}  // namespace latent::backend
