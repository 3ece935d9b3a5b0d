#include "model/forward.h"

#include <algorithm>

#include "model/arch.h"
#include "model/scheduler.h"

namespace latent::model {

namespace {
constexpr size_t kMaxGraphs = 8;
}

ForwardCache::ForwardCache() = default;
ForwardCache::~ForwardCache() = default;

ForwardCache::Entry& ForwardCache::get(const Model& m, const UbatchShape& shape) {
  ++clock_;
  for (auto& e : entries_)
    if (e->shape == shape) {
      e->last_used = clock_;
      return *e;
    }
  if (entries_.size() == kMaxGraphs)
    entries_.erase(std::min_element(entries_.begin(), entries_.end(),
                                    [](const auto& a, const auto& b) { return a->last_used < b->last_used; }));
  auto e = std::make_unique<Entry>();
  e->shape = shape;
  e->forward = m.architecture().build(m, shape);
  e->schedule = std::make_unique<Schedule>(e->forward.graph, m.placement());
  e->last_used = clock_;
  ++builds_;
  entries_.push_back(std::move(e));
  return *entries_.back();
}

bool use_plain_mla(const HParams& hp, int64_t first_pos, int64_t n) {
  // The plain form holds K and V of every cached row in f32 while the step runs (320 values per
  // head and row for V2-Lite: 20 KiB a row); past this many rows that memory outweighs the gain.
  constexpr int64_t kMaxPlainRows = 16384;
  if (first_pos + n > kMaxPlainRows) return false;
  const double H = double(hp.n_head), L = double(hp.kv_lora_rank), rope = double(hp.qk_rope);
  const double nope = double(hp.qk_nope), V = double(hp.v_head);
  // Multiply-adds. Plain decompresses every cached row into K and V; absorbed instead maps each
  // query into latent space and its output back (the same cost per query as per key), and then
  // pays more per (query, key) pair: scores over kv_lora + rope and outputs over kv_lora values
  // instead of nope + rope and v_head.
  const double per_row = H * L * (nope + V);
  const double per_pair_extra = H * ((L + rope) + L - (nope + rope) - V);
  const double n_ = double(n), pairs = n_ * (double(first_pos) + (n_ + 1) / 2);  // causal
  return (double(first_pos) + n_) * per_row < n_ * per_row + pairs * per_pair_extra;
}

void forward(const Model& model, LatentStore& store, const Ubatch& ub) {
  const HParams& hp = model.hparams();
  const MlaMode mla = model.options().mla;
  UbatchShape shape;
  for (const auto& s : ub.segments) {
    shape.counts.push_back(s.count);
    if (mla == MlaMode::Plain || (mla == MlaMode::Auto && use_plain_mla(hp, s.first_pos, s.count)))
      shape.first_pos.push_back(s.first_pos);
    else if (mla == MlaMode::Auto)
      shape.first_pos.push_back(-1);
  }
  shape.n_outputs = int64_t(ub.outputs.size());
  shape.argmax_vocab = ub.argmax_vocab;
  shape.hidden = ub.hidden != nullptr;
  shape.routing = ub.expert_ids != nullptr;
  const ForwardCache::Entry& e = model.forward_cache().get(model, shape);
  const ForwardGraph& f = e.forward;

  std::vector<const void*> inputs(size_t(f.graph.n_inputs()), nullptr);
  inputs[size_t(f.in_tokens)] = ub.ids.data();
  inputs[size_t(f.in_positions)] = ub.positions.data();
  if (f.in_outputs >= 0) inputs[size_t(f.in_outputs)] = ub.outputs.data();
  std::vector<void*> outputs(size_t(f.graph.n_outputs()), nullptr);
  if (f.out_logits >= 0) outputs[size_t(f.out_logits)] = ub.argmax_vocab > 0 ? static_cast<void*>(ub.argmax) : ub.logits;
  if (f.out_hidden >= 0) outputs[size_t(f.out_hidden)] = ub.hidden;
  // Routing decisions land here and are scattered to the batch's order below.
  const int64_t T = int64_t(ub.ids.size()), U = hp.n_expert_used;
  std::vector<int32_t> route_ids(f.out_route_ids.size() * size_t(U * T));
  std::vector<float> route_weights(route_ids.size());
  for (size_t m = 0; m < f.out_route_ids.size(); ++m) {
    outputs[size_t(f.out_route_ids[m])] = route_ids.data() + m * size_t(U * T);
    outputs[size_t(f.out_route_weights[m])] = route_weights.data() + m * size_t(U * T);
  }
  std::vector<backend::CacheBinding> caches;
  for (const backend::CacheSlot& c : f.graph.caches()) {
    const Ubatch::Segment& s = ub.segments[size_t(c.group)];
    caches.push_back({store.rows(s.seq, c.layer, s.first_pos + s.count), s.first_pos});
  }
  backend::Bindings b;
  b.inputs = inputs;
  b.outputs = outputs;
  b.caches = caches;
  e.schedule->run(b);

  for (size_t m = 0; m < f.out_route_ids.size(); ++m)
    for (int64_t t = 0; t < T; ++t) {
      const int64_t dst = (int64_t(m) * ub.routing_tokens + ub.routing_index[size_t(t)]) * U;
      std::copy_n(route_ids.data() + (int64_t(m) * T + t) * U, U, ub.expert_ids + dst);
      std::copy_n(route_weights.data() + (int64_t(m) * T + t) * U, U, ub.expert_weights + dst);
    }
}

}  // namespace latent::model
