// The scheduler: places a model graph's layers on backends and runs it.
//
// A model builder emits one graph per micro-batch shape and tags each node with its layer
// (Graph::set_layer); it names no device. The Placement says which backend runs which layers
// (partial offload: the first layers on a GPU, the rest, the embeddings and the LM head on the
// CPU). A Schedule cuts the graph into parts, one per run of consecutive nodes on one backend;
// a tensor that one part makes and a later part reads is an output of the first and an input of
// the second (the hidden state crosses once each way per micro-batch). Each part is a graph of
// its own that its backend compiles once, and every readback happens when a part ends.
//
// While it cuts, the schedule fuses an add whose sum the next node normalizes (the residual add
// and the next rms_norm) into add_rms_norm: one kernel, the same arithmetic.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/graph.h"
#include "gguf/gguf.h"
#include "model/model.h"

namespace latent::model {

class Placement {
 public:
  // Layers [0, device_layers) on `device`, the others and layers outside [0, n_layer) (the
  // embeddings and the head) on `host`; with every layer on the device, everything is.
  Placement(std::shared_ptr<backend::Backend> device, std::shared_ptr<backend::Backend> host, int64_t n_layer,
            int64_t device_layers);

  backend::Backend& of(int64_t layer) const;
  // Where the weights and the cache of a run of layers live (the KV stores' page parts).
  std::vector<LayerPlacement> layer_runs() const;

 private:
  std::shared_ptr<backend::Backend> device_, host_;
  int64_t n_layer_, device_layers_;
};

// How many of the first layers go to a GPU backend: Options.gpu_layers, or as many as fit in
// 90% of its free memory (all of them, embeddings and LM head included, when the whole model
// fits). Every layer on the CPU backend.
int64_t layers_on_device(const gguf::File& file, const HParams& hp, const Options& options, const backend::Backend& be);

class Schedule {
 public:
  Schedule(const backend::Graph& g, const Placement& placement);

  // Runs the parts in order with the whole graph's bindings.
  void run(const backend::Bindings& b);
  size_t parts() const { return parts_.size(); }

 private:
  // Where a part's input or output slot is in the whole graph's bindings: one of its inputs or
  // outputs, or a transfer buffer.
  struct Slot {
    enum class Kind { Input, Output, Transfer } kind;
    int index;
  };
  struct Part {
    backend::Backend* backend = nullptr;
    backend::Graph graph;
    std::vector<Slot> inputs, outputs;
    std::vector<int> caches;  // whole-graph cache slot of each of the part's
  };
  std::vector<Part> parts_;
  std::vector<std::vector<char>> transfers_;  // host copies of the tensors that cross parts
};

}  // namespace latent::model
