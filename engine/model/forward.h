// One forward step of the deepseek2 graph over a micro-batch (internal to engine/model).
// Context::evaluate() splits a Batch into micro-batches whose tokens are grouped by sequence
// and reserves cache rows; forward() runs the layers through the backend and writes the
// requested outputs.
#pragma once

#include <cstdint>
#include <vector>

#include "model/latent_cache.h"
#include "model/model.h"

namespace latent::model {

struct Ubatch {
  struct Segment {
    SeqId seq = 0;
    int64_t begin = 0;      // first token of the segment in this micro-batch
    int64_t count = 0;
    int64_t first_pos = 0;  // position of that token in its sequence
  };
  std::vector<int32_t> ids;        // token ids
  std::vector<int32_t> positions;  // per token
  std::vector<Segment> segments;   // consecutive runs of one sequence's tokens
  std::vector<int64_t> outputs;    // tokens whose logits are wanted, in output-row order

  // Destinations. logits/hidden: [outputs.size()][n_vocab | n_embd], hidden may be null.
  // With argmax_vocab > 0, argmax [outputs.size()] gets each row's argmax over logits
  // [0, argmax_vocab) instead, and logits is unused.
  float* logits = nullptr;
  float* hidden = nullptr;
  int32_t* argmax = nullptr;
  int64_t argmax_vocab = 0;
  // Routing (may be null): layer m's entry for batch token b is at (m * routing_tokens + b) *
  // n_expert_used; routing_index maps a micro-batch token to its batch token b.
  int32_t* expert_ids = nullptr;
  float* expert_weights = nullptr;
  int64_t routing_tokens = 0;
  std::vector<int64_t> routing_index;
};

void forward(const Model& model, LatentStore& store, const Ubatch& ub);

}  // namespace latent::model
