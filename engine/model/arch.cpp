#include "model/arch.h"

#include <cstdio>

#include "model/forward.h"
#include "model/model.h"

namespace latent::model {

namespace {
const Architecture kArchitectures[] = {
    {kArchName, "DeepSeek-V2, V2-Lite, V3, DeepSeek-Coder-V2", build_deepseek2},
};
}  // namespace

std::span<const Architecture> architectures() { return kArchitectures; }

const Architecture& find_architecture(const gguf::File& file) {
  auto arch = file.get_string("general.architecture");
  if (!arch) throw Error(file.path().string() + ": missing 'general.architecture'; not a llama.cpp model file");
  std::string known;
  for (const Architecture& a : kArchitectures) {
    if (a.name == *arch) return a;
    known += (known.empty() ? "" : "; ") + std::string(a.name) + " (" + std::string(a.models) + ")";
  }
  throw Error(file.path().string() + ": architecture '" + std::string(*arch) +
              "' is not supported: latent runs " + known);
}

std::string key_name(Key key) {
  const char* suffix = "";
  switch (key) {
    case Key::ContextLength: suffix = "context_length"; break;
    case Key::EmbeddingLength: suffix = "embedding_length"; break;
    case Key::BlockCount: suffix = "block_count"; break;
    case Key::FeedForwardLength: suffix = "feed_forward_length"; break;
    case Key::HeadCount: suffix = "attention.head_count"; break;
    case Key::HeadCountKv: suffix = "attention.head_count_kv"; break;
    case Key::RmsEps: suffix = "attention.layer_norm_rms_epsilon"; break;
    case Key::VocabSize: suffix = "vocab_size"; break;
    case Key::LeadingDenseBlockCount: suffix = "leading_dense_block_count"; break;
    case Key::QLoraRank: suffix = "attention.q_lora_rank"; break;
    case Key::KvLoraRank: suffix = "attention.kv_lora_rank"; break;
    case Key::KeyLength: suffix = "attention.key_length"; break;
    case Key::ValueLength: suffix = "attention.value_length"; break;
    case Key::KeyLengthMla: suffix = "attention.key_length_mla"; break;
    case Key::ValueLengthMla: suffix = "attention.value_length_mla"; break;
    case Key::RopeDimensionCount: suffix = "rope.dimension_count"; break;
    case Key::RopeFreqBase: suffix = "rope.freq_base"; break;
    case Key::RopeScalingType: suffix = "rope.scaling.type"; break;
    case Key::RopeScalingFactor: suffix = "rope.scaling.factor"; break;
    case Key::RopeScalingOrigCtx: suffix = "rope.scaling.original_context_length"; break;
    case Key::RopeYarnLogMul: suffix = "rope.scaling.yarn_log_multiplier"; break;
    case Key::ExpertCount: suffix = "expert_count"; break;
    case Key::ExpertUsedCount: suffix = "expert_used_count"; break;
    case Key::ExpertSharedCount: suffix = "expert_shared_count"; break;
    case Key::ExpertFeedForwardLength: suffix = "expert_feed_forward_length"; break;
    case Key::ExpertGroupCount: suffix = "expert_group_count"; break;
    case Key::ExpertGroupUsedCount: suffix = "expert_group_used_count"; break;
    case Key::ExpertGatingFunc: suffix = "expert_gating_func"; break;
    case Key::ExpertWeightsNorm: suffix = "expert_weights_norm"; break;
    case Key::ExpertWeightsScale: suffix = "expert_weights_scale"; break;
  }
  return std::string(kArchName) + "." + suffix;
}

std::string tensor_name(TensorName t, int layer) {
  const char* pattern = "";
  switch (t) {
    case TensorName::TokenEmbd: return "token_embd.weight";
    case TensorName::OutputNorm: return "output_norm.weight";
    case TensorName::Output: return "output.weight";
    case TensorName::AttnNorm: pattern = "blk.%d.attn_norm.weight"; break;
    case TensorName::AttnQ: pattern = "blk.%d.attn_q.weight"; break;
    case TensorName::AttnQA: pattern = "blk.%d.attn_q_a.weight"; break;
    case TensorName::AttnQANorm: pattern = "blk.%d.attn_q_a_norm.weight"; break;
    case TensorName::AttnQB: pattern = "blk.%d.attn_q_b.weight"; break;
    case TensorName::AttnKvAMqa: pattern = "blk.%d.attn_kv_a_mqa.weight"; break;
    case TensorName::AttnKvANorm: pattern = "blk.%d.attn_kv_a_norm.weight"; break;
    case TensorName::AttnKB: pattern = "blk.%d.attn_k_b.weight"; break;
    case TensorName::AttnVB: pattern = "blk.%d.attn_v_b.weight"; break;
    case TensorName::AttnKvB: pattern = "blk.%d.attn_kv_b.weight"; break;
    case TensorName::AttnOutput: pattern = "blk.%d.attn_output.weight"; break;
    case TensorName::FfnNorm: pattern = "blk.%d.ffn_norm.weight"; break;
    case TensorName::FfnGate: pattern = "blk.%d.ffn_gate.weight"; break;
    case TensorName::FfnUp: pattern = "blk.%d.ffn_up.weight"; break;
    case TensorName::FfnDown: pattern = "blk.%d.ffn_down.weight"; break;
    case TensorName::FfnGateInp: pattern = "blk.%d.ffn_gate_inp.weight"; break;
    case TensorName::FfnExpProbsB: pattern = "blk.%d.exp_probs_b.bias"; break;
    case TensorName::FfnGateExps: pattern = "blk.%d.ffn_gate_exps.weight"; break;
    case TensorName::FfnUpExps: pattern = "blk.%d.ffn_up_exps.weight"; break;
    case TensorName::FfnDownExps: pattern = "blk.%d.ffn_down_exps.weight"; break;
    case TensorName::FfnGateShexp: pattern = "blk.%d.ffn_gate_shexp.weight"; break;
    case TensorName::FfnUpShexp: pattern = "blk.%d.ffn_up_shexp.weight"; break;
    case TensorName::FfnDownShexp: pattern = "blk.%d.ffn_down_shexp.weight"; break;
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, pattern, layer);
  return buf;
}

}  // namespace latent::model
