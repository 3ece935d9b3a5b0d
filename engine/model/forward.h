// One forward step of the model over a micro-batch (internal to engine/model).
// Context::evaluate() splits a Batch into micro-batches whose tokens are grouped by sequence
// and reserves cache rows; forward() runs the micro-batch's graph and writes the requested
// outputs.
//
// The graph depends only on the micro-batch's shape (UbatchShape): the architecture's builder
// emits it once per shape, the scheduler cuts it into per-backend parts, and the backends
// compile those once; later micro-batches of the same shape (every decode step of a batch of
// sequences, until one joins or leaves) bind their token ids, positions, output rows and cache
// rows as inputs and run the same graphs.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/graph.h"
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
  std::vector<int32_t> outputs;    // tokens whose logits are wanted, in output-row order

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

// What a micro-batch's graph depends on.
struct UbatchShape {
  std::vector<int64_t> counts;     // tokens per segment
  // Per segment, where MLA attends in the plain form (its K and V grow with the cache): its
  // first position, else -1; empty when every segment attends in the absorbed form.
  std::vector<int64_t> first_pos;
  int64_t n_outputs = 0;
  int64_t argmax_vocab = 0;
  bool hidden = false;
  bool routing = false;
  bool operator==(const UbatchShape&) const = default;
};

// A built graph and where its per-step values go.
struct ForwardGraph {
  backend::Graph graph;
  int in_tokens = -1, in_positions = -1, in_outputs = -1;  // input slots
  int out_logits = -1;  // logits, or argmax ids with argmax_vocab
  int out_hidden = -1;
  std::vector<int> out_route_ids, out_route_weights;  // per MoE layer
};

// The architecture's builder: the graph of one micro-batch shape.
ForwardGraph build_deepseek2(const Model& m, const UbatchShape& shape);

class Schedule;  // model/scheduler.h

// The graphs of one model by micro-batch shape, least recently used dropped past a few (a
// server's steps cycle through a handful of shapes: decode with 1..n sequences, prefill chunks).
class ForwardCache {
 public:
  ForwardCache();
  ~ForwardCache();
  struct Entry {
    UbatchShape shape;
    ForwardGraph forward;
    std::unique_ptr<Schedule> schedule;
    uint64_t last_used = 0;
  };
  Entry& get(const Model& m, const UbatchShape& shape);
  // Graphs built so far (a step whose shape was seen before builds none).
  uint64_t builds() const { return builds_; }

 private:
  std::vector<std::unique_ptr<Entry>> entries_;
  uint64_t clock_ = 0;
  uint64_t builds_ = 0;
};

// MlaMode::Auto's choice for a segment of n tokens from position first_pos: whether the plain
// form costs fewer multiply-adds than the absorbed one (true for prefill from an empty cache and
// for chunks long next to the cache before them, false for decode and past 16K cached rows, where
// the decompressed K and V would take too much memory).
bool use_plain_mla(const HParams& hp, int64_t first_pos, int64_t n);

// Runs the micro-batch on the model's graph for its shape (built and scheduled on first use).
void forward(const Model& model, LatentStore& store, const Ubatch& ub);

}  // namespace latent::model
