#include "model/scheduler.h"

#include <cstdio>
#include <string>

namespace latent::model {

using backend::GraphTensor;
using backend::Node;
using backend::Op;
using backend::TensorId;
using backend::TensorKind;
using backend::kNoTensor;

Placement::Placement(std::shared_ptr<backend::Backend> device, std::shared_ptr<backend::Backend> host, int64_t n_layer,
                     int64_t device_layers)
    : device_(std::move(device)), host_(std::move(host)), n_layer_(n_layer), device_layers_(device_layers) {
  if (device_layers_ < n_layer_ && !host_) throw Error("placement: layers off the device need a host backend");
}

backend::Backend& Placement::of(int64_t layer) const {
  if (device_layers_ == n_layer_) return *device_;
  return layer >= 0 && layer < device_layers_ ? *device_ : *host_;
}

std::vector<LayerPlacement> Placement::layer_runs() const {
  std::vector<LayerPlacement> p;
  if (device_layers_ > 0) p.push_back({device_, device_layers_});
  if (device_layers_ < n_layer_) p.push_back({host_, n_layer_ - device_layers_});
  return p;
}

int64_t layers_on_device(const gguf::File& file, const HParams& hp, const Options& options, const backend::Backend& be) {
  if (be.name() == "cpu") return hp.n_layer;
  if (options.gpu_layers >= 0) {
    if (options.gpu_layers > hp.n_layer)
      throw Error(file.path().string() + ": gpu_layers " + std::to_string(options.gpu_layers) + " exceeds the model's " +
                  std::to_string(hp.n_layer) + " layers");
    return options.gpu_layers;
  }
  std::vector<uint64_t> layer_bytes(size_t(hp.n_layer), 0);
  uint64_t total = 0;
  for (const auto& t : file.tensors()) {
    total += t.n_bytes;
    int layer = -1;
    if (std::sscanf(t.name.c_str(), "blk.%d.", &layer) == 1 && layer >= 0 && layer < hp.n_layer)
      layer_bytes[size_t(layer)] += t.n_bytes;
  }
  const uint64_t room = be.memory_available() / 10 * 9;
  if (total <= room) return hp.n_layer;
  int64_t n = 0;
  for (uint64_t used = 0; n < hp.n_layer && used + layer_bytes[size_t(n)] <= room; ++n) used += layer_bytes[size_t(n)];
  return n;
}

Schedule::Schedule(const backend::Graph& g, const Placement& placement) {
  const auto& nodes = g.nodes();
  const auto& tensors = g.tensors();
  // Parts: runs of consecutive nodes on one backend.
  std::vector<size_t> part_of(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    backend::Backend* be = &placement.of(nodes[i].layer);
    if (parts_.empty() || parts_.back().backend != be) parts_.emplace_back().backend = be;
    part_of[i] = parts_.size() - 1;
  }
  // Each intermediate belongs to the part that writes it; later parts that read it get a copy.
  std::vector<int> owner(tensors.size(), -1);
  std::vector<bool> crosses(tensors.size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const backend::NodeAccess a = backend::node_access(nodes[i]);
    for (TensorId t : a.writes) {
      if (t == kNoTensor || tensors[size_t(g.root(t))].kind != TensorKind::Intermediate) continue;
      int& o = owner[size_t(g.root(t))];
      if (o >= 0 && o != int(part_of[i]))
        throw Error(std::string("scheduler: '") + tensors[size_t(t)].name + "' is written on two backends");
      o = int(part_of[i]);
    }
    for (TensorId t : a.reads)
      if (t != kNoTensor && owner[size_t(g.root(t))] >= 0 && owner[size_t(g.root(t))] != int(part_of[i]))
        crosses[size_t(g.root(t))] = true;
  }
  std::vector<int> transfer_of(tensors.size(), -1);
  for (size_t t = 0; t < tensors.size(); ++t)
    if (crosses[t] && tensors[t].output < 0) {
      transfer_of[t] = int(transfers_.size());
      transfers_.emplace_back(tensors[t].span_bytes());
    }

  for (size_t p = 0; p < parts_.size(); ++p) {
    Part& part = parts_[p];
    std::vector<TensorId> id(tensors.size(), kNoTensor);
    std::vector<int> cache(g.caches().size(), -1);
    // The part's tensor for whole-graph tensor t, made on first use.
    auto map = [&](auto&& self, TensorId t) -> TensorId {
      if (t == kNoTensor) return kNoTensor;
      if (id[size_t(t)] != kNoTensor) return id[size_t(t)];
      const GraphTensor& w = tensors[size_t(t)];
      TensorId m = kNoTensor;
      switch (w.kind) {
        case TensorKind::External:
          m = part.graph.external(w.external);
          break;
        case TensorKind::Input:
          m = part.graph.input(w.type, w.ne, w.name);
          part.inputs.push_back({Slot::Kind::Input, w.input});
          break;
        case TensorKind::View:
          m = part.graph.view(self(self, w.base), w.ne, w.nb, w.offset, w.name);
          break;
        case TensorKind::Intermediate:
          if (owner[size_t(t)] == int(p)) {
            m = part.graph.tensor(w.type, w.ne, w.name);
            if (w.output >= 0) {
              part.graph.output(m);
              part.outputs.push_back({Slot::Kind::Output, w.output});
            } else if (transfer_of[size_t(t)] >= 0) {
              part.graph.output(m);
              part.outputs.push_back({Slot::Kind::Transfer, transfer_of[size_t(t)]});
            }
          } else {
            // Made by an earlier part: read from where that part left it.
            m = part.graph.input(w.type, w.ne, w.name);
            part.inputs.push_back(w.output >= 0 ? Slot{Slot::Kind::Output, w.output}
                                                : Slot{Slot::Kind::Transfer, transfer_of[size_t(t)]});
          }
          break;
      }
      id[size_t(t)] = m;
      return m;
    };
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (part_of[i] != p) continue;
      Node n = nodes[i];
      for (TensorId& t : n.src) t = map(map, t);
      for (TensorId& t : n.dst) t = map(map, t);
      if (n.cache >= 0) {
        int& c = cache[size_t(n.cache)];
        if (c < 0) {
          const backend::CacheSlot& s = g.caches()[size_t(n.cache)];
          c = part.graph.cache(s.width, s.group, s.layer);
          part.caches.push_back(n.cache);
        }
        n.cache = c;
      }
      // add(a, b) -> s then rms_norm(s): one add_rms_norm writing both.
      const auto& done = part.graph.nodes();
      if (n.op == Op::RmsNorm && !done.empty() && done.back().op == Op::Add && done.back().dst[0] == n.src[0] &&
          part.backend->supports_op(Op::AddRmsNorm, backend::TensorType::F32)) {
        Node fused = done.back();
        fused.op = Op::AddRmsNorm;
        fused.src[2] = n.src[1];
        fused.dst = {fused.dst[0], n.dst[0]};
        fused.scale = n.scale;
        part.graph.replace_last(fused);
        continue;
      }
      part.graph.append(n);
    }
  }
}

void Schedule::run(const backend::Bindings& b) {
  std::vector<const void*> inputs;
  std::vector<void*> outputs;
  std::vector<backend::CacheBinding> caches;
  for (Part& part : parts_) {
    inputs.clear();
    outputs.clear();
    caches.clear();
    for (const Slot& s : part.inputs)
      inputs.push_back(s.kind == Slot::Kind::Input    ? b.inputs[size_t(s.index)]
                       : s.kind == Slot::Kind::Output ? b.outputs[size_t(s.index)]
                                                      : transfers_[size_t(s.index)].data());
    for (const Slot& s : part.outputs)
      outputs.push_back(s.kind == Slot::Kind::Output ? b.outputs[size_t(s.index)] : transfers_[size_t(s.index)].data());
    for (int c : part.caches) caches.push_back(b.caches[size_t(c)]);
    backend::Bindings pb;
    pb.inputs = inputs;
    pb.outputs = outputs;
    pb.caches = caches;
    part.backend->compute(part.graph, pb);
  }
}

}  // namespace latent::model
