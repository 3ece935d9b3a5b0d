#include "backend/graph.h"

#include <algorithm>
#include <atomic>
#include <climits>

#include "gguf/tensor_type.h"

namespace latent::backend {

namespace {

std::atomic<uint64_t> g_next_graph_id{1};

}  // namespace

size_t GraphTensor::span_bytes() const {
  for (int64_t n : ne)
    if (n == 0) return 0;
  size_t last = gguf::row_bytes(type, ne[0]);
  for (size_t i = 1; i < 4; ++i) last += size_t(ne[i] - 1) * nb[i];
  return last;
}

Graph::Graph() : id_(g_next_graph_id++) {}

TensorId Graph::add_tensor(GraphTensor t) {
  tensors_.push_back(t);
  return TensorId(tensors_.size() - 1);
}

TensorId Graph::external(const Tensor& t) {
  GraphTensor g;
  g.kind = TensorKind::External;
  g.type = t.type;
  g.ne = t.ne;
  g.nb = t.nb;
  g.name = t.name;
  g.external = t;
  return add_tensor(g);
}

TensorId Graph::input(TensorType type, std::array<int64_t, 4> ne, const char* name) {
  const Tensor shape = make_tensor(type, ne, nullptr, name);
  GraphTensor g;
  g.kind = TensorKind::Input;
  g.type = type;
  g.ne = ne;
  g.nb = shape.nb;
  g.name = name;
  g.input = n_inputs_++;
  return add_tensor(g);
}

TensorId Graph::tensor(TensorType type, std::array<int64_t, 4> ne, const char* name) {
  for (int64_t n : ne)
    if (n < 0) throw Error(std::string("graph: tensor '") + name + "' has a negative dimension");
  const Tensor shape = make_tensor(type, ne, nullptr, name);
  GraphTensor g;
  g.type = type;
  g.ne = ne;
  g.nb = shape.nb;
  g.name = name;
  return add_tensor(g);
}

TensorId Graph::view(TensorId t, std::array<int64_t, 4> ne, std::array<size_t, 4> nb, size_t offset,
                     const char* name) {
  const GraphTensor& of = tensors_.at(size_t(t));
  GraphTensor g;
  g.kind = TensorKind::View;
  g.type = of.type;
  g.ne = ne;
  g.nb = nb;
  g.name = name;
  g.base = of.kind == TensorKind::View ? of.base : t;
  g.offset = (of.kind == TensorKind::View ? of.offset : 0) + offset;
  const GraphTensor& base = tensors_[size_t(g.base)];
  if (g.offset + g.span_bytes() > base.span_bytes() && g.span_bytes() > 0)
    throw Error(std::string("graph: view '") + name + "' reaches past the end of '" + base.name + "'");
  return add_tensor(g);
}

TensorId Graph::view_f32(TensorId t, std::array<int64_t, 4> ne, std::array<int64_t, 3> stride, int64_t offset,
                         const char* name) {
  constexpr size_t kF = sizeof(float);
  return view(t, ne, {kF, size_t(stride[0]) * kF, size_t(stride[1]) * kF, size_t(stride[2]) * kF},
              size_t(offset) * kF, name);
}

int Graph::output(TensorId t) {
  GraphTensor& g = tensors_.at(size_t(t));
  if (g.kind != TensorKind::Intermediate)
    throw Error(std::string("graph: output '") + g.name + "' must be an intermediate tensor, not a view or input");
  if (g.output < 0) {
    g.output = int(outputs_.size());
    outputs_.push_back(t);
  }
  return g.output;
}

int Graph::cache(int64_t width, int64_t group, int layer) {
  if (width <= 0) throw Error("graph: a latent cache slot needs rows of positive width");
  caches_.push_back({width, group, layer});
  return int(caches_.size() - 1);
}

TensorId Graph::root(TensorId t) const {
  const GraphTensor& g = tensors_[size_t(t)];
  return g.kind == TensorKind::View ? g.base : t;
}

// ---- shape rules (the one place they are written) ----

const GraphTensor& Graph::at(TensorId t, Op op) const {
  if (t < 0 || size_t(t) >= tensors_.size())
    throw Error("graph: " + std::string(op_name(op)) + " names tensor " + std::to_string(t) + ", which is not in the graph");
  return tensors_[size_t(t)];
}

std::string Graph::shape(TensorId t) const {
  const GraphTensor& g = tensors_[size_t(t)];
  std::string s = "{";
  for (size_t i = 0; i < 4; ++i) {
    if (i) s.append(", ");
    s.append(std::to_string(g.ne[i]));
  }
  return s + "}";
}

void Graph::fail(Op op, TensorId t, const std::string& what) const {
  throw Error(std::string(op_name(op)) + " on '" + tensors_[size_t(t)].name + "': " + what);
}

void Graph::expect_f32(Op op, TensorId t) const {
  if (at(t, op).type != TensorType::F32)
    fail(op, t, "expected an F32 tensor, got " + std::string(gguf::type_name(tensors_[size_t(t)].type)));
}

void Graph::expect_same_shape(Op op, TensorId a, TensorId b) const {
  if (at(a, op).ne != at(b, op).ne) fail(op, b, "shape " + shape(b) + " differs from " + shape(a));
}

void Graph::expect_writable(Op op, TensorId t) const {
  if (tensors_[size_t(root(t))].kind == TensorKind::Input) fail(op, t, "an input is read-only");
}

void Graph::check_cache(Op op, int cache, TensorId t) const {
  if (cache < 0 || size_t(cache) >= caches_.size()) fail(op, t, "no latent cache slot " + std::to_string(cache));
  if (at(t, op).ne[0] != caches_[size_t(cache)].width)
    fail(op, t, "rows " + shape(t) + " do not fit cache rows of " + std::to_string(caches_[size_t(cache)].width));
}

Node& Graph::add_node(Op op) {
  Node& n = nodes_.emplace_back();
  n.op = op;
  n.layer = layer_;
  return n;
}

void Graph::get_rows(TensorId table, TensorId ids, TensorId out) {
  const Op op = Op::GetRows;
  expect_f32(op, out);
  expect_writable(op, out);
  const GraphTensor &tb = at(table, op), &id = at(ids, op), &o = at(out, op);
  if (id.kind != TensorKind::Input || id.type != TensorType::I32 || id.ne[1] != 1 || id.ne[2] != 1 || id.ne[3] != 1)
    fail(op, ids, "row ids must be an I32 input of one dimension, got " + shape(ids));
  if (o.ne[0] != tb.ne[0] || o.ne[1] != id.ne[0] || o.ne[2] != 1 || o.ne[3] != 1)
    fail(op, out, "shape " + shape(out) + " does not fit table " + shape(table) + " and " +
                      std::to_string(id.ne[0]) + " ids");
  Node& n = add_node(op);
  n.src = {table, ids, kNoTensor, kNoTensor};
  n.dst[0] = out;
}

void Graph::rms_norm(TensorId x, TensorId w, float eps, TensorId out) {
  const Op op = Op::RmsNorm;
  for (TensorId t : {x, w, out}) expect_f32(op, t);
  expect_same_shape(op, x, out);
  expect_writable(op, out);
  if (tensors_[size_t(w)].ne[0] != tensors_[size_t(x)].ne[0])
    fail(op, w, "norm weight length differs from rows of " + shape(x));
  Node& n = add_node(op);
  n.src = {x, w, kNoTensor, kNoTensor};
  n.dst[0] = out;
  n.scale = eps;
}

void Graph::add_rms_norm(TensorId a, TensorId b, TensorId w, float eps, TensorId sum, TensorId out) {
  const Op op = Op::AddRmsNorm;
  for (TensorId t : {a, b, w, sum, out}) expect_f32(op, t);
  expect_same_shape(op, a, b);
  expect_same_shape(op, a, sum);
  expect_same_shape(op, a, out);
  expect_writable(op, sum);
  expect_writable(op, out);
  if (tensors_[size_t(w)].ne[0] != tensors_[size_t(a)].ne[0])
    fail(op, w, "norm weight length differs from rows of " + shape(a));
  Node& n = add_node(op);
  n.src = {a, b, w, kNoTensor};
  n.dst = {sum, out};
  n.scale = eps;
}

void Graph::mul_mat(TensorId w, TensorId x, TensorId out) {
  const Op op = Op::MulMat;
  expect_f32(op, x);
  expect_f32(op, out);
  expect_writable(op, out);
  const GraphTensor &wt = at(w, op), &xt = at(x, op), &ot = at(out, op);
  const int64_t K = wt.ne[0], M = wt.ne[1], N = xt.ne[1];
  const int64_t B = std::max(wt.ne[2], xt.ne[2]);
  if (xt.ne[0] != K)
    fail(op, x, "input rows of " + std::to_string(xt.ne[0]) + " do not match weight rows of " + std::to_string(K) +
                    " (" + wt.name + ")");
  if ((wt.ne[2] != 1 && wt.ne[2] != B) || (xt.ne[2] != 1 && xt.ne[2] != B) || wt.ne[3] != 1 || xt.ne[3] != 1)
    fail(op, x, "batch dims of " + shape(x) + " do not match weight " + shape(w));
  if (ot.ne[0] != M || ot.ne[1] != N || ot.ne[2] != B || ot.ne[3] != 1)
    fail(op, out, "output " + shape(out) + " does not fit weight " + shape(w) + " times input " + shape(x));
  Node& n = add_node(op);
  n.src = {w, x, kNoTensor, kNoTensor};
  n.dst[0] = out;
}

void Graph::mul_mat_id(TensorId w, TensorId x, TensorId ids, TensorId out) {
  const Op op = Op::MulMatId;
  expect_f32(op, x);
  expect_f32(op, out);
  expect_writable(op, out);
  const GraphTensor &wt = at(w, op), &xt = at(x, op), &it = at(ids, op), &ot = at(out, op);
  const int64_t K = wt.ne[0], M = wt.ne[1], X = xt.ne[1], T = xt.ne[2], U = it.ne[0];
  if (xt.ne[0] != K) fail(op, x, "input rows do not match weight " + shape(w) + " (" + wt.name + ")");
  if (it.type != TensorType::I32 || it.ne[1] != T || (X != 1 && X != U))
    fail(op, ids, "ids " + shape(ids) + " do not fit input " + shape(x));
  if (ot.ne[0] != M || ot.ne[1] != U || ot.ne[2] != T)
    fail(op, out, "output " + shape(out) + " does not fit weight " + shape(w));
  Node& n = add_node(op);
  n.src = {w, x, ids, kNoTensor};
  n.dst[0] = out;
}

void Graph::rope(TensorId x, TensorId positions, const RopeParams& p) {
  const Op op = Op::Rope;
  expect_f32(op, x);
  expect_writable(op, x);
  const GraphTensor &xt = at(x, op), &pt = at(positions, op);
  if (xt.ne[0] != p.n_rot || p.n_rot % 2 != 0)
    fail(op, x, "rows of " + std::to_string(xt.ne[0]) + " but n_rot " + std::to_string(p.n_rot));
  if (pt.type != TensorType::I32 || pt.ne[0] != xt.ne[2])
    fail(op, x, "tokens " + std::to_string(xt.ne[2]) + " but " + std::to_string(pt.ne[0]) + " positions");
  Node& n = add_node(op);
  n.src = {x, positions, kNoTensor, kNoTensor};
  n.dst[0] = x;
  n.rope = p;
}

void Graph::add(TensorId a, TensorId b, TensorId out) {
  const Op op = Op::Add;
  for (TensorId t : {a, b, out}) expect_f32(op, t);
  expect_same_shape(op, a, b);
  expect_same_shape(op, a, out);
  expect_writable(op, out);
  Node& n = add_node(op);
  n.src = {a, b, kNoTensor, kNoTensor};
  n.dst[0] = out;
}

void Graph::swiglu(TensorId gate, TensorId up, TensorId out) {
  const Op op = Op::SwiGlu;
  for (TensorId t : {gate, up, out}) expect_f32(op, t);
  expect_same_shape(op, gate, up);
  expect_same_shape(op, gate, out);
  expect_writable(op, out);
  Node& n = add_node(op);
  n.src = {gate, up, kNoTensor, kNoTensor};
  n.dst[0] = out;
}

void Graph::copy(TensorId src, TensorId dst) {
  const Op op = Op::Copy;
  expect_same_shape(op, src, dst);
  expect_writable(op, dst);
  if (at(src, op).type != at(dst, op).type) fail(op, dst, "type differs from source");
  Node& n = add_node(op);
  n.src[0] = src;
  n.dst[0] = dst;
}

void Graph::moe_route(TensorId logits, TensorId bias, const RouteParams& p, TensorId ids, TensorId weights) {
  const Op op = Op::MoeRoute;
  expect_f32(op, logits);
  expect_f32(op, weights);
  expect_writable(op, ids);
  expect_writable(op, weights);
  const GraphTensor &lt = at(logits, op), &it = at(ids, op), &wt = at(weights, op);
  const int64_t E = lt.ne[0], T = lt.ne[1], U = p.n_expert_used;
  if (it.type != TensorType::I32 || it.ne[0] != U || it.ne[1] != T || wt.ne[0] != U || wt.ne[1] != T)
    fail(op, ids, "ids (I32) and weights must be {n_expert_used, n_tokens}");
  if (U < 1 || U > E) fail(op, logits, std::to_string(U) + " experts used of " + std::to_string(E));
  if (p.n_group < 1 || E % p.n_group != 0 || p.n_group_used < 1 || p.n_group_used > p.n_group)
    fail(op, logits, "expert groups " + std::to_string(p.n_group) + " (used " + std::to_string(p.n_group_used) +
                         ") do not divide " + std::to_string(E) + " experts");
  if (bias != kNoTensor) {
    expect_f32(op, bias);
    if (tensors_[size_t(bias)].ne[0] != E) fail(op, bias, "bias length differs from " + std::to_string(E) + " experts");
  }
  Node& n = add_node(op);
  n.src = {logits, bias, kNoTensor, kNoTensor};
  n.dst = {ids, weights};
  n.route = p;
}

void Graph::moe_combine(TensorId experts, TensorId weights, TensorId out) {
  const Op op = Op::MoeCombine;
  for (TensorId t : {experts, weights, out}) expect_f32(op, t);
  expect_writable(op, out);
  const GraphTensor &et = at(experts, op), &wt = at(weights, op), &ot = at(out, op);
  const int64_t n = et.ne[0], U = et.ne[1], T = et.ne[2];
  if (ot.ne[0] != n || ot.ne[1] != T || wt.ne[0] != U || wt.ne[1] != T)
    fail(op, out, "shapes do not fit experts " + shape(experts));
  Node& node = add_node(op);
  node.src = {experts, weights, kNoTensor, kNoTensor};
  node.dst[0] = out;
}

void Graph::store_latent(TensorId src, int cache) {
  const Op op = Op::StoreLatent;
  expect_f32(op, src);
  check_cache(op, cache, src);
  Node& n = add_node(op);
  n.src[0] = src;
  n.cache = cache;
}

void Graph::load_latent(int cache, int64_t first_row, TensorId dst) {
  const Op op = Op::LoadLatent;
  expect_f32(op, dst);
  expect_writable(op, dst);
  check_cache(op, cache, dst);
  if (first_row < 0) fail(op, dst, "first row " + std::to_string(first_row) + " is negative");
  Node& n = add_node(op);
  n.dst[0] = dst;
  n.cache = cache;
  n.first = first_row;
}

void Graph::attention_latent(TensorId q, int cache, float scale, TensorId out) {
  const Op op = Op::AttentionLatent;
  expect_f32(op, q);
  expect_f32(op, out);
  expect_writable(op, out);
  check_cache(op, cache, q);
  const GraphTensor &qt = at(q, op), &ot = at(out, op);
  if (ot.ne[1] != qt.ne[1] || ot.ne[2] != qt.ne[2] || ot.ne[0] > qt.ne[0])
    fail(op, q, "query " + shape(q) + " / output " + shape(out) + " do not fit cache rows of " +
                    std::to_string(qt.ne[0]));
  Node& n = add_node(op);
  n.src[0] = q;
  n.dst[0] = out;
  n.cache = cache;
  n.scale = scale;
}

void Graph::attention(TensorId q, TensorId k, TensorId v, int64_t first_pos, float scale, TensorId out) {
  const Op op = Op::Attention;
  for (TensorId t : {q, k, v, out}) expect_f32(op, t);
  expect_writable(op, out);
  const GraphTensor &qt = at(q, op), &kt = at(k, op), &vt = at(v, op), &ot = at(out, op);
  const int64_t Dk = qt.ne[0], H = qt.ne[1], T = qt.ne[2], Dv = vt.ne[0];
  if (kt.ne[0] != Dk || kt.ne[1] != H || vt.ne[1] != H || vt.ne[2] != kt.ne[2] || ot.ne[0] != Dv || ot.ne[1] != H ||
      ot.ne[2] != T)
    fail(op, q, "q " + shape(q) + ", k " + shape(k) + ", v " + shape(v) + ", out " + shape(out) + " do not fit");
  if (first_pos < 0 || first_pos + T > kt.ne[2])
    fail(op, k, "queries reach position " + std::to_string(first_pos + T) + " but only " + std::to_string(kt.ne[2]) +
                    " keys");
  Node& n = add_node(op);
  n.src = {q, k, v, kNoTensor};
  n.dst[0] = out;
  n.first = first_pos;
  n.scale = scale;
}

void Graph::argmax(TensorId x, TensorId out) {
  const Op op = Op::Argmax;
  expect_f32(op, x);
  expect_writable(op, out);
  const GraphTensor &xt = at(x, op), &ot = at(out, op);
  if (xt.ne[0] < 1 || xt.ne[2] != 1 || xt.ne[3] != 1) fail(op, x, "expected rows [n >= 1, rows], got " + shape(x));
  if (ot.type != TensorType::I32 || ot.ne != std::array<int64_t, 4>{xt.ne[1], 1, 1, 1})
    fail(op, out, "expected an I32 tensor {" + std::to_string(xt.ne[1]) + "} (one id per row of " + shape(x) +
                      "), got " + std::string(gguf::type_name(ot.type)) + " " + shape(out));
  Node& n = add_node(op);
  n.src[0] = x;
  n.dst[0] = out;
}

// ---- bindings ----

void Graph::check(const Bindings& b) const {
  if (b.inputs.size() != size_t(n_inputs_) || b.outputs.size() != outputs_.size() || b.caches.size() != caches_.size())
    throw Error("graph: bound " + std::to_string(b.inputs.size()) + " inputs, " + std::to_string(b.outputs.size()) +
                " outputs, " + std::to_string(b.caches.size()) + " caches to a graph of " + std::to_string(n_inputs_) +
                ", " + std::to_string(outputs_.size()) + ", " + std::to_string(caches_.size()));
  for (size_t i = 0; i < caches_.size(); ++i) {
    const LatentRows& r = b.caches[i].rows;
    const std::string what = "latent cache slot " + std::to_string(i) + " (layer " + std::to_string(caches_[i].layer) + ")";
    if (r.width != caches_[i].width)
      throw Error(what + ": rows of " + std::to_string(r.width) + " values bound where the graph has " +
                  std::to_string(caches_[i].width));
    if (!is_latent_cache_type(r.type))
      throw Error(what + ": latent cache element type " + std::string(gguf::type_name(r.type)) +
                  " is not one of F32, F16, BF16, Q8_0");
    const int64_t block = gguf::type_traits(uint32_t(r.type))->block_elements;
    if (r.width % block != 0)
      throw Error(what + ": cache rows of " + std::to_string(r.width) + " values do not split into " +
                  std::string(gguf::type_name(r.type)) + " blocks of " + std::to_string(block));
    if (r.row_stride < gguf::row_bytes(r.type, r.width))
      throw Error(what + ": cache row stride of " + std::to_string(r.row_stride) + " bytes is less than a " +
                  std::string(gguf::type_name(r.type)) + " row of " + std::to_string(r.width) + " values");
    if (r.rows_per_page < 1) throw Error(what + ": latent cache pages must hold at least one row");
  }
  for (const Node& n : nodes_) {
    if (n.cache >= 0) {
      const CacheBinding& c = b.caches[size_t(n.cache)];
      const TensorId t = n.op == Op::StoreLatent ? n.src[0] : n.op == Op::LoadLatent ? n.dst[0] : n.src[0];
      const int64_t rows = n.op == Op::AttentionLatent ? tensors_[size_t(t)].ne[2] : tensors_[size_t(t)].ne[1];
      const int64_t first = n.op == Op::LoadLatent ? n.first : c.first_pos;
      if (first < 0 || first + rows > c.rows.n_rows)
        fail(n.op, t, "rows " + std::to_string(first) + ".." + std::to_string(first + rows) + " exceed the " +
                          std::to_string(c.rows.n_rows) + " rows the cache holds");
    }
    if (n.op == Op::GetRows) {
      const GraphTensor& ids = tensors_[size_t(n.src[1])];
      const int64_t rows = tensors_[size_t(n.src[0])].ne[1];
      const auto* v = static_cast<const int32_t*>(b.inputs[size_t(ids.input)]);
      for (int64_t i = 0; i < ids.ne[0]; ++i)
        if (v[i] < 0 || v[i] >= rows)
          fail(n.op, n.src[0], "row " + std::to_string(v[i]) + " out of range [0, " + std::to_string(rows) + ")");
    }
  }
}

void check_supported(const Backend& be, const Graph& g) {
  for (const Node& n : g.nodes()) {
    if (n.op != Op::GetRows && n.op != Op::MulMat && n.op != Op::MulMatId) continue;
    const GraphTensor& w = g.tensor(n.src[0]);
    if (!be.supports_op(n.op, w.type))
      throw Error(std::string(be.name()) + " backend: " + std::string(op_name(n.op)) + " on '" + w.name +
                  "': weight type " + std::string(gguf::type_name(w.type)) + " has no kernel here");
  }
}

NodeAccess node_access(const Node& n) {
  NodeAccess a;
  size_t r = 0;
  for (TensorId t : n.src)
    if (t != kNoTensor) a.reads[r++] = t;
  a.writes = n.dst;
  a.reads_cache = n.op == Op::AttentionLatent || n.op == Op::LoadLatent;
  a.writes_cache = n.op == Op::StoreLatent;
  return a;
}

void run_node(const Node& n, const std::vector<Tensor>& t, const Bindings& b, Kernels& k) {
  auto src = [&](size_t i) -> const Tensor& { return t[size_t(n.src[i])]; };
  auto dst = [&](size_t i) -> const Tensor& { return t[size_t(n.dst[i])]; };
  switch (n.op) {
    case Op::GetRows: return k.get_rows(src(0), src(1), dst(0));
    case Op::RmsNorm: return k.rms_norm(src(0), src(1), n.scale, dst(0));
    case Op::AddRmsNorm: return k.add_rms_norm(src(0), src(1), src(2), n.scale, dst(0), dst(1));
    case Op::MulMat: return k.mul_mat(src(0), src(1), dst(0));
    case Op::MulMatId: return k.mul_mat_id(src(0), src(1), src(2), dst(0));
    case Op::Rope: return k.rope(src(0), src(1), n.rope);
    case Op::Add: return k.add(src(0), src(1), dst(0));
    case Op::SwiGlu: return k.swiglu(src(0), src(1), dst(0));
    case Op::Copy: return k.copy(src(0), dst(0));
    case Op::MoeRoute: return k.moe_route(src(0), n.src[1] == kNoTensor ? Tensor{} : src(1), n.route, dst(0), dst(1));
    case Op::MoeCombine: return k.moe_combine(src(0), src(1), dst(0));
    case Op::StoreLatent: return k.store_latent(src(0), n.cache, b.caches[size_t(n.cache)]);
    case Op::LoadLatent: return k.load_latent(n.cache, b.caches[size_t(n.cache)], n.first, dst(0));
    case Op::AttentionLatent: return k.attention_latent(src(0), n.cache, b.caches[size_t(n.cache)], n.scale, dst(0));
    case Op::Attention: return k.attention(src(0), src(1), src(2), n.first, n.scale, dst(0));
    case Op::Argmax: return k.argmax(src(0), dst(0));
  }
}

MemoryPlan plan_memory(const Graph& g, size_t alignment, bool outputs_in_arena) {
  const auto& tensors = g.tensors();
  const auto& nodes = g.nodes();
  MemoryPlan plan;
  plan.offset.assign(tensors.size(), SIZE_MAX);
  std::vector<int64_t> first(tensors.size(), -1), last(tensors.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeAccess a = node_access(nodes[i]);
    auto touch = [&](TensorId t) {
      if (t == kNoTensor) return;
      const TensorId r = g.root(t);
      if (tensors[size_t(r)].kind != TensorKind::Intermediate) return;
      if (first[size_t(r)] < 0) first[size_t(r)] = int64_t(i);
      last[size_t(r)] = int64_t(i);
    };
    for (TensorId t : a.reads) touch(t);
    for (TensorId t : a.writes) touch(t);
  }
  const int64_t end = int64_t(nodes.size());
  std::vector<std::vector<TensorId>> starts(nodes.size()), ends(nodes.size() + 1);
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (first[t] < 0) continue;
    if (tensors[t].output >= 0) {
      if (!outputs_in_arena) continue;
      last[t] = end;
    }
    starts[size_t(first[t])].push_back(TensorId(t));
    ends[size_t(last[t])].push_back(TensorId(t));
  }
  struct Block {
    size_t offset, size;
  };
  std::vector<Block> free;  // sorted by offset, merged
  auto round = [&](size_t n) { return (n + alignment - 1) / alignment * alignment; };
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (TensorId t : starts[i]) {
      const size_t size = std::max(round(tensors[size_t(t)].span_bytes()), alignment);
      // Best fit among the free blocks; else at the end (taking a free block that ends there).
      size_t best = SIZE_MAX;
      for (size_t k = 0; k < free.size(); ++k)
        if (free[k].size >= size && (best == SIZE_MAX || free[k].size < free[best].size)) best = k;
      if (best == SIZE_MAX && !free.empty() && free.back().offset + free.back().size == plan.bytes) {
        best = free.size() - 1;
        plan.bytes += size - free[best].size;
        free[best].size = size;
      }
      if (best == SIZE_MAX) {
        plan.offset[size_t(t)] = plan.bytes;
        plan.bytes += size;
        continue;
      }
      plan.offset[size_t(t)] = free[best].offset;
      free[best].offset += size;
      free[best].size -= size;
      if (free[best].size == 0) free.erase(free.begin() + int64_t(best));
    }
    for (TensorId t : ends[i]) {
      const Block b{plan.offset[size_t(t)], std::max(round(tensors[size_t(t)].span_bytes()), alignment)};
      auto it = std::lower_bound(free.begin(), free.end(), b.offset,
                                 [](const Block& x, size_t off) { return x.offset < off; });
      it = free.insert(it, b);
      // Merge with the neighbours.
      if (it + 1 != free.end() && it->offset + it->size == (it + 1)->offset) {
        it->size += (it + 1)->size;
        free.erase(it + 1);
      }
      if (it != free.begin() && (it - 1)->offset + (it - 1)->size == it->offset) {
        (it - 1)->size += it->size;
        free.erase(it);
      }
    }
  }
  return plan;
}

std::vector<Tensor> resolve_tensors(const Graph& g, const MemoryPlan& plan, char* arena,
                                    std::span<const void* const> inputs, std::span<void* const> outputs) {
  const auto& tensors = g.tensors();
  std::vector<Tensor> out(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GraphTensor& t = tensors[i];
    Tensor& r = out[i];
    switch (t.kind) {
      case TensorKind::External:
        r = t.external;
        continue;
      case TensorKind::View:
        continue;  // below, once every base is resolved
      case TensorKind::Input:
        r = make_tensor(t.type, t.ne, const_cast<void*>(inputs[size_t(t.input)]), t.name);
        continue;
      case TensorKind::Intermediate: {
        void* data = nullptr;
        if (t.output >= 0 && size_t(t.output) < outputs.size() && outputs[size_t(t.output)])
          data = outputs[size_t(t.output)];
        else if (plan.offset[i] != SIZE_MAX)
          data = arena + plan.offset[i];
        r = make_tensor(t.type, t.ne, data, t.name);
        continue;
      }
    }
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GraphTensor& t = tensors[i];
    if (t.kind == TensorKind::View) out[i] = out[size_t(t.base)].view(t.ne, t.nb, t.offset, t.name);
  }
  return out;
}

}  // namespace latent::backend
