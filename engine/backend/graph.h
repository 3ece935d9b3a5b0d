// The op graph: what a model builder emits and a backend compiles and runs.
//
// A Graph is a list of nodes (operations, in an order that respects their dependencies) over
// named tensors. Every operation's shapes and types are checked once, when the node is added, by
// the one set of rules below (the backends trust them); a backend checks only what its kernels
// cannot do (supports_op, kernel limits) when it first compiles the graph.
//
// Tensors are of four kinds:
//   External      backend memory the caller owns: weights, the KV page pool, a test's tensors.
//   Input         a per-step value from host memory (token ids, positions, output rows), bound
//                 in Bindings::inputs at each run: the values change, the graph does not.
//   Intermediate  memory the backend places (and reuses) when it compiles the graph.
//   View          a strided window of another tensor (ne/nb as backend::Tensor::view).
// A tensor marked as an output is read back to host memory (Bindings::outputs) when the graph
// ends; nothing is read in the middle of a graph. The latent-cache operations address a cache
// slot, bound per run to a sequence's LatentRows and its first position (Bindings::caches), so
// that page tables and cache lengths are per-step values too.
//
// A graph's id() names its structure: backends cache what they compile per id (a recorded
// command buffer, a memory plan), and a builder that keeps a Graph from one step to the next
// gets that reuse by binding new values to it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace latent::backend {

using TensorId = int32_t;
inline constexpr TensorId kNoTensor = -1;

enum class TensorKind { External, Input, Intermediate, View };

struct GraphTensor {
  TensorKind kind = TensorKind::Intermediate;
  TensorType type = TensorType::F32;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  std::array<size_t, 4> nb{0, 0, 0, 0};
  const char* name = "";
  TensorId base = kNoTensor;  // View: the tensor it looks into (never a view itself)
  size_t offset = 0;          // View: bytes from the base's start
  Tensor external;            // External: the memory
  int input = -1;             // Input: index into Bindings::inputs
  int output = -1;            // index into Bindings::outputs when read back, else -1

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  // Bytes from the first byte to one past the last byte the tensor touches.
  size_t span_bytes() const;
};

// One sequence's rows of one layer's latent cache, as a node sees them; the rows themselves are
// bound per run.
struct CacheSlot {
  int64_t width = 0;  // values per row
  int64_t group = 0;  // the builder's label: which sequence of the micro-batch
  int layer = -1;
};

// One operation. Operands and results by tensor id, in the order listed for each op in Graph.
struct Node {
  Op op = Op::Copy;
  std::array<TensorId, 4> src{kNoTensor, kNoTensor, kNoTensor, kNoTensor};
  std::array<TensorId, 2> dst{kNoTensor, kNoTensor};
  int cache = -1;       // latent ops: the cache slot
  int64_t first = 0;    // load_latent: first row; attention: first position
  float scale = 0;      // rms_norm / add_rms_norm: eps; attention ops: the kq scale
  RopeParams rope;
  RouteParams route;
  int layer = -1;       // the model layer the node belongs to (-1 before the first, n_layer after)
};

struct CacheBinding {
  LatentRows rows;
  int64_t first_pos = 0;  // position of the group's first token: rows written from here
};

// Per-run values: host data of each input, host destination of each output, rows of each cache
// slot.
struct Bindings {
  std::span<const void* const> inputs;
  std::span<void* const> outputs;
  std::span<const CacheBinding> caches;
};

class Graph {
 public:
  Graph();

  // ---- tensors ----
  TensorId external(const Tensor& t);
  TensorId input(TensorType type, std::array<int64_t, 4> ne, const char* name);
  TensorId tensor(TensorType type, std::array<int64_t, 4> ne, const char* name);
  // A view of t: shape ne, byte strides nb, starting `offset` bytes into t. Must lie inside t.
  TensorId view(TensorId t, std::array<int64_t, 4> ne, std::array<size_t, 4> nb, size_t offset, const char* name);
  // A float view with strides and offset in elements (the model builders' shorthand).
  TensorId view_f32(TensorId t, std::array<int64_t, 4> ne, std::array<int64_t, 3> stride, int64_t offset,
                    const char* name);
  // Reads t back into Bindings::outputs[slot] when the graph ends (t: a contiguous intermediate).
  int output(TensorId t);
  int cache(int64_t width, int64_t group, int layer);
  // Nodes added from now on belong to this layer (the scheduler places layers on backends).
  void set_layer(int layer) { layer_ = layer; }

  // ---- operations (shape comments in backend.h's notation) ----
  // out[:, t] = table[:, ids[t]]; ids an I32 Input [T]
  void get_rows(TensorId table, TensorId ids, TensorId out);
  void rms_norm(TensorId x, TensorId w, float eps, TensorId out);
  // sum = a + b; out = rms_norm(sum) * w (the residual add and the next norm in one kernel)
  void add_rms_norm(TensorId a, TensorId b, TensorId w, float eps, TensorId sum, TensorId out);
  void mul_mat(TensorId w, TensorId x, TensorId out);
  void mul_mat_id(TensorId w, TensorId x, TensorId ids, TensorId out);
  // In place: x [n_rot, n_heads, T], positions an I32 [T]
  void rope(TensorId x, TensorId positions, const RopeParams& p);
  void add(TensorId a, TensorId b, TensorId out);
  void swiglu(TensorId gate, TensorId up, TensorId out);
  void copy(TensorId src, TensorId dst);
  // bias may be kNoTensor
  void moe_route(TensorId logits, TensorId bias, const RouteParams& p, TensorId ids, TensorId weights);
  void moe_combine(TensorId experts, TensorId weights, TensorId out);
  // Rows [first_pos, first_pos + T) of the slot's cache = src [width, T]
  void store_latent(TensorId src, int cache);
  // dst [width, T] = rows [first_row, first_row + T) of the slot's cache
  void load_latent(int cache, int64_t first_row, TensorId dst);
  // Queries from the slot's first_pos on (backend.h's attention_latent)
  void attention_latent(TensorId q, int cache, float scale, TensorId out);
  void attention(TensorId q, TensorId k, TensorId v, int64_t first_pos, float scale, TensorId out);
  void argmax(TensorId x, TensorId out);

  // A node of another graph whose tensors and cache slots were recreated here under the ids the
  // node now names (the scheduler's per-backend parts): its shapes were checked there.
  void append(const Node& n) { nodes_.push_back(n); }
  // The last node becomes n (a fusion of it with the next; the scheduler's add_rms_norm).
  void replace_last(const Node& n) { nodes_.back() = n; }

  // ---- what backends read ----
  uint64_t id() const { return id_; }
  const std::vector<GraphTensor>& tensors() const { return tensors_; }
  const GraphTensor& tensor(TensorId t) const { return tensors_[size_t(t)]; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<CacheSlot>& caches() const { return caches_; }
  int n_inputs() const { return n_inputs_; }
  int n_outputs() const { return int(outputs_.size()); }
  TensorId output_tensor(int slot) const { return outputs_[size_t(slot)]; }
  // The tensor owning t's memory (t itself unless t is a view).
  TensorId root(TensorId t) const;

  // Checks bindings against the graph (counts, each cache's width and length, the ids an input
  // feeds to get_rows); throws Error naming what does not fit.
  void check(const Bindings& b) const;

 private:
  TensorId add_tensor(GraphTensor t);
  Node& add_node(Op op);
  const GraphTensor& at(TensorId t, Op op) const;
  [[noreturn]] void fail(Op op, TensorId t, const std::string& what) const;
  void expect_f32(Op op, TensorId t) const;
  void expect_same_shape(Op op, TensorId a, TensorId b) const;
  void expect_writable(Op op, TensorId t) const;
  void check_cache(Op op, int cache, TensorId t) const;
  std::string shape(TensorId t) const;

  uint64_t id_;
  int layer_ = -1;
  int n_inputs_ = 0;
  std::vector<GraphTensor> tensors_;
  std::vector<Node> nodes_;
  std::vector<CacheSlot> caches_;
  std::vector<TensorId> outputs_;
};

// The tensors a node reads and writes (views included), for dependency analysis: rope and the
// fused ops read what they write.
struct NodeAccess {
  std::array<TensorId, 5> reads{kNoTensor, kNoTensor, kNoTensor, kNoTensor, kNoTensor};
  std::array<TensorId, 2> writes{kNoTensor, kNoTensor};
  bool reads_cache = false, writes_cache = false;
};
NodeAccess node_access(const Node& n);

// Throws Error when a node's weight type has no kernel on the backend (supports_op), naming the
// op, the type and the tensor. Backends call it when they first compile a graph.
void check_supported(const Backend& be, const Graph& g);

// A backend's kernels as its graph executor calls them, one per op, on resolved tensors
// (resolve_tensors). The latent ops get their cache slot (what varies per step is bound there)
// and the slot's rows; a store and an attention start at the slot's first position.
class Kernels {
 public:
  virtual ~Kernels() = default;
  virtual void get_rows(const Tensor& table, const Tensor& ids, const Tensor& out) = 0;
  virtual void rms_norm(const Tensor& x, const Tensor& w, float eps, const Tensor& out) = 0;
  virtual void add_rms_norm(const Tensor& a, const Tensor& b, const Tensor& w, float eps, const Tensor& sum,
                            const Tensor& out) = 0;
  virtual void mul_mat(const Tensor& w, const Tensor& x, const Tensor& out) = 0;
  virtual void mul_mat_id(const Tensor& w, const Tensor& x, const Tensor& ids, const Tensor& out) = 0;
  virtual void rope(const Tensor& x, const Tensor& positions, const RopeParams& p) = 0;
  virtual void add(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  virtual void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) = 0;
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  // bias.data is null without a bias
  virtual void moe_route(const Tensor& logits, const Tensor& bias, const RouteParams& p, const Tensor& ids,
                         const Tensor& weights) = 0;
  virtual void moe_combine(const Tensor& experts, const Tensor& weights, const Tensor& out) = 0;
  virtual void store_latent(const Tensor& src, int slot, const CacheBinding& cache) = 0;
  virtual void load_latent(int slot, const CacheBinding& cache, int64_t first_row, const Tensor& dst) = 0;
  virtual void attention_latent(const Tensor& q, int slot, const CacheBinding& cache, float scale,
                                const Tensor& out) = 0;
  virtual void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t first_pos, float scale,
                         const Tensor& out) = 0;
  virtual void argmax(const Tensor& x, const Tensor& out) = 0;
};

// Calls the kernel of node n with its tensors (t: resolve_tensors' result) and bindings.
void run_node(const Node& n, const std::vector<Tensor>& t, const Bindings& b, Kernels& k);

// Where a backend places a graph's intermediates: one arena, each base intermediate at an
// offset, memory reused once a tensor's last reader has run (outputs stay until the end).
struct MemoryPlan {
  std::vector<size_t> offset;  // per tensor (base intermediates; SIZE_MAX elsewhere)
  size_t bytes = 0;            // arena size
};
// outputs_in_arena: false when outputs are computed straight into Bindings::outputs (host
// memory backends); then they get no arena offset.
MemoryPlan plan_memory(const Graph& g, size_t alignment, bool outputs_in_arena);

// The backend tensors of a graph for one run: externals as given, base intermediates at their
// plan offset in `arena` (an address in the backend's memory), inputs at inputs[slot], outputs
// at outputs[slot] where that is non-null (else in the arena), views on top of their base.
std::vector<Tensor> resolve_tensors(const Graph& g, const MemoryPlan& plan, char* arena,
                                    std::span<const void* const> inputs, std::span<void* const> outputs);

}  // namespace latent::backend
