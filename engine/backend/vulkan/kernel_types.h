// Which element types the Vulkan shaders read, and the name suffix of their shader variants
// (CMakeLists.txt compiles one SPIR-V module per type and variant). One table for the backend's
// supports_op(), its error messages and its pipeline names.
#pragma once

#include <string>

#include "gguf/tensor_type.h"

namespace latent::backend::vulkan {

// Weight types with get_rows / mul_mat (vector and tiled) / mul_mat_id shaders.
bool has_weight_kernels(gguf::TensorType t);
// "q4_k" for Q4_K, ...; only for types has_weight_kernels() accepts.
const char* weight_suffix(gguf::TensorType t);
// "F32, F16, ... and Q6_K", for messages naming what does run.
std::string weight_types_list();

// Latent cache element types with store_latent / load_latent / attention_latent shaders.
bool has_cache_kernels(gguf::TensorType t);
const char* cache_suffix(gguf::TensorType t);
std::string cache_types_list();

}  // namespace latent::backend::vulkan
