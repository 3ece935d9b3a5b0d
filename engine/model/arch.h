// The architecture table: each architecture the engine runs, by its GGUF general.architecture
// name, with the builder of its forward graph; and the GGUF metadata keys and tensor name
// patterns as llama.cpp's src/llama-arch.cpp spells them (for LLM_ARCH_DEEPSEEK2). Loading code
// asks this table for names and never writes a key or tensor name of its own.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "gguf/gguf.h"

namespace latent::model {

class Model;
struct UbatchShape;
struct ForwardGraph;

struct Architecture {
  std::string_view name;  // general.architecture
  std::string_view models;  // what runs as it, for error messages
  // The forward graph of one micro-batch shape (model/forward.h).
  ForwardGraph (*build)(const Model& m, const UbatchShape& shape);
};

std::span<const Architecture> architectures();
// The file's entry; throws Error naming the architectures there are.
const Architecture& find_architecture(const gguf::File& file);

inline constexpr std::string_view kArchName = "deepseek2";

enum class Key {
  ContextLength, EmbeddingLength, BlockCount, FeedForwardLength, HeadCount, HeadCountKv,
  RmsEps, VocabSize, LeadingDenseBlockCount,
  QLoraRank, KvLoraRank, KeyLength, ValueLength, KeyLengthMla, ValueLengthMla,
  RopeDimensionCount, RopeFreqBase, RopeScalingType, RopeScalingFactor, RopeScalingOrigCtx,
  RopeYarnLogMul,
  ExpertCount, ExpertUsedCount, ExpertSharedCount, ExpertFeedForwardLength, ExpertGroupCount,
  ExpertGroupUsedCount, ExpertGatingFunc, ExpertWeightsNorm, ExpertWeightsScale,
};

enum class TensorName {
  TokenEmbd, OutputNorm, Output,
  AttnNorm, AttnQ, AttnQA, AttnQANorm, AttnQB, AttnKvAMqa, AttnKvANorm, AttnKB, AttnVB, AttnKvB,
  AttnOutput,
  FfnNorm, FfnGate, FfnUp, FfnDown,
  FfnGateInp, FfnExpProbsB, FfnGateExps, FfnUpExps, FfnDownExps, FfnGateShexp, FfnUpShexp,
  FfnDownShexp,
};

// "deepseek2.attention.kv_lora_rank"
std::string key_name(Key key);
// "blk.3.attn_kv_a_mqa.weight" (layer ignored for global tensors)
std::string tensor_name(TensorName t, int layer = -1);

}  // namespace latent::model
