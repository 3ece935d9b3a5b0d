// The deepseek2 weights as backend tensors, validated against the hyperparameters at load, and
// the hyperparameters themselves as read from GGUF metadata. Weights are views of the mapped
// file; the only owned buffers are small derived matrices: the legacy attn_kv_b split into the
// per-head attn_k_b of the absorbed form, and attn_k_b transposed for the plain form.
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.h"
#include "gguf/gguf.h"
#include "model/model.h"

namespace latent::model {

struct LayerWeights {
  backend::Tensor attn_norm;    // [n_embd]
  backend::Tensor wq;           // [n_embd, n_head * (qk_nope + qk_rope)]     (no q-LoRA)
  backend::Tensor wq_a;         // [n_embd, q_lora_rank]                      (q-LoRA)
  backend::Tensor q_a_norm;     // [q_lora_rank]
  backend::Tensor wq_b;         // [q_lora_rank, n_head * (qk_nope + qk_rope)]
  backend::Tensor wkv_a_mqa;    // [n_embd, kv_lora_rank + qk_rope]
  backend::Tensor kv_a_norm;    // [kv_lora_rank]
  backend::Tensor wk_b;         // [qk_nope, kv_lora_rank, n_head]  absorbed: q_lat = K_h q_nope
  backend::Tensor wv_b;         // [kv_lora_rank, v_head, n_head]   o = V_h o_lat
  backend::Tensor wk_b_t;       // [kv_lora_rank, qk_nope, n_head]  plain: k_nope = K_h^T c
  backend::Tensor wo;           // [n_head * v_head, n_embd]
  backend::Tensor ffn_norm;     // [n_embd]
  // Dense layers.
  backend::Tensor ffn_gate, ffn_up;  // [n_embd, n_ff]
  backend::Tensor ffn_down;          // [n_ff, n_embd]
  // MoE layers.
  backend::Tensor gate_inp;          // [n_embd, n_expert] F32
  backend::Tensor exp_probs_b;       // [n_expert] or empty (data == nullptr)
  backend::Tensor gate_exps, up_exps;  // [n_embd, n_ff_exp, n_expert]
  backend::Tensor down_exps;           // [n_ff_exp, n_embd, n_expert]
  backend::Tensor gate_shexp, up_shexp;  // [n_embd, n_ff_exp * n_expert_shared]
  backend::Tensor down_shexp;            // [n_ff_exp * n_expert_shared, n_embd]
};

class Weights {
 public:
  backend::Tensor tok_embd;     // [n_embd, n_vocab]
  backend::Tensor output_norm;  // [n_embd]
  backend::Tensor output;       // [n_embd, n_vocab] (token_embd when the file has no output)
  std::vector<LayerWeights> layers;
  std::vector<std::unique_ptr<float[]>> owned;  // derived F32 matrices referenced above
};

// Reads and checks deepseek2.* metadata. Throws Error("<file>: <what>").
HParams read_hparams(const gguf::File& file);
// Binds every tensor, checking presence, shape and that the backend runs its type: layer il's
// tensors on placement.of(il), the embeddings, output norm and LM head on placement.of(-1).
std::unique_ptr<Weights> load_weights(const gguf::File& file, const HParams& hp, MlaMode mla,
                                      const Placement& placement);

}  // namespace latent::model
