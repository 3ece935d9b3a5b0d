// Backend: memory, and the compiling and running of op graphs (backend/graph.h), behind one
// interface.
//
// The model builder (engine/model) emits a graph of the operations below and never names a
// backend; a scheduler (engine/model/scheduler) places its layers on backends, and each backend
// runs its part with compute(). The CPU backend (engine/backend/cpu) is the reference; GPU
// backends are compared with it op by op (tests/backend/backend_ops_test.cpp). A backend reports
// what it can run through supports_op(); the caller checks once at load time, so a missing kernel
// is an error naming the op and weight type rather than a crash mid-generation.
//
// The operation methods (get_rows, mul_mat, ...) run one operation at once, as a graph of one
// node: for tests, tools and the page pool's copies. The model runs whole graphs.
//
// Tensors follow ggml's conventions so that a debugging dump can be compared with llama.cpp's:
// ne[0] is the contiguous dimension, nb[] are byte strides, a tensor with ne {a, b, c} is the
// array [c][b][a]. Every operation below carries a shape comment in that notation. Rows (ne[0])
// are always contiguous; higher dimensions may be strided, so views (a head's slice of q, the
// q_pe tail of each head) need no copies.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "gguf/tensor_type.h"

namespace latent::backend {

using gguf::TensorType;

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Tensor {
  TensorType type = TensorType::F32;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  std::array<size_t, 4> nb{0, 0, 0, 0};  // byte strides; nb[0] is the element (block) size
  void* data = nullptr;                  // backend memory (host memory for the CPU backend)
  const char* name = "";                 // llama.cpp's name for the intermediate, for dumps

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  // Pointer to row (i1, i2, i3).
  char* row(int64_t i1, int64_t i2 = 0, int64_t i3 = 0) const {
    return static_cast<char*>(data) + i1 * nb[1] + i2 * nb[2] + i3 * nb[3];
  }
  // A sub-tensor sharing memory: shape ne, strides nb, starting offset bytes into this one.
  Tensor view(std::array<int64_t, 4> ne, std::array<size_t, 4> nb, size_t offset,
              const char* name) const;
  bool is_contiguous() const;
};

// A contiguous tensor over caller memory: rows of ne[0] elements of `type`.
Tensor make_tensor(TensorType type, std::array<int64_t, 4> ne, void* data, const char* name = "");

// One sequence's latent attention cache for one layer: rows [0, n_rows) of width
// kv_lora_rank + qk_rope_head_dim values, each row `[c_kv | k_pe]` stored in element type `type`
// (F32, F16, BF16, or Q8_0 blocks of 32 along the row). Rows live in fixed-size pages reached
// through a page table, so a paged store (engine/kv) can hand its pages to the attention kernels
// without copying.
struct LatentRows {
  TensorType type = TensorType::F32;
  void* const* pages = nullptr;  // page table: base address of each page
  int64_t rows_per_page = 0;
  size_t page_offset = 0;  // bytes from a page's base to this layer's first row
  size_t row_stride = 0;   // bytes between consecutive rows inside a page
  int64_t width = 0;       // values per row (kv_lora_rank + qk_rope_head_dim)
  int64_t n_rows = 0;

  // The bytes of row i, encoded in `type` (quant::dequantize_row decodes them).
  char* row(int64_t i) const {
    return static_cast<char*>(pages[i / rows_per_page]) + page_offset + (i % rows_per_page) * row_stride;
  }
};

// The element types a latent cache row may have: F32, F16, BF16, Q8_0.
bool is_latent_cache_type(TensorType t);

// YaRN's magnitude correction 1 + mul * ln(1 / freq_scale): ggml's rope multiplies cos/sin by
// it with mul 0.1, and DeepSeek's attention temperature is its square with mul
// rope.scaling.yarn_log_multiplier. The one place the formula is written.
float yarn_mscale(float freq_scale, float mul = 0.1f);

struct RopeParams {
  int n_rot = 0;             // rotated dimensions (qk_rope_head_dim)
  float freq_base = 10000;   // theta_i = p * base^(-2i/n_rot)
  float freq_scale = 1;      // 1 / rope scaling factor
  float ext_factor = 0;      // YaRN ramp mix: 1 for YaRN, 0 otherwise
  float attn_factor = 1;     // cos/sin magnitude
  int n_ctx_orig = 0;        // YaRN original_context_length
  float beta_fast = 32;
  float beta_slow = 1;
};

// The dimensions where YaRN's ramp between interpolation and extrapolation starts and ends
// (ggml's rope_yarn_corr_dims), clamped to [0, n_rot - 1].
std::array<float, 2> yarn_corr_dims(const RopeParams& p);

enum class Gating { Softmax = 1, Sigmoid = 2 };  // GGUF expert_gating_func values

struct RouteParams {
  int n_expert_used = 0;
  int n_group = 1;       // expert groups (group-limited routing when > 1)
  int n_group_used = 1;  // groups kept
  Gating gating = Gating::Softmax;
  bool norm_weights = false;   // divide the selected weights by their sum
  float weights_scale = 1.0f;  // then multiply them (not applied when 0 or 1)
};

enum class Op {
  GetRows, RmsNorm, MulMat, MulMatId, Rope, Add, SwiGlu, Copy, MoeRoute, MoeCombine,
  StoreLatent, LoadLatent, AttentionLatent, Attention, Argmax, AddRmsNorm,
};
std::string_view op_name(Op op);

struct BackendOptions {
  // Worker threads; 0 runs every op on the calling thread (deterministic, for tests).
  int threads = 0;
  // GPU backends: index of the device (`latent devices`); -1 picks the best one.
  int device = -1;
};

class Graph;  // backend/graph.h
struct Bindings;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Whether `op` runs with a weight (first operand) of type `weight_type`; for the latent-cache
  // ops (StoreLatent, LoadLatent, AttentionLatent) it is the cache's element type. Other ops
  // without a weight operand ignore it.
  virtual bool supports_op(Op op, TensorType weight_type) const = 0;

  // Weights: a read-only tensor over the model file's mapped bytes (the CPU backend uses them
  // in place; device backends upload).
  virtual Tensor weight(TensorType type, std::array<int64_t, 4> ne, const void* data,
                        const char* name) = 0;
  // A contiguous tensor in this backend's memory for a caller's own use (tests, tools), valid as
  // long as the backend. Graphs place their intermediates themselves.
  virtual Tensor scratch(TensorType type, std::array<int64_t, 4> ne, const char* name) = 0;
  // Long-lived memory outside the scratch stack: the latent KV pages (backend::PagePool). Host
  // memory on the CPU backend (committed as it is touched), one buffer of device memory on GPU
  // backends, since their shaders bind one buffer per operand. Freed with deallocate().
  virtual Tensor allocate(TensorType type, std::array<int64_t, 4> ne, const char* name) = 0;
  virtual void deallocate(const Tensor& t) = 0;
  // The largest allocate() that can succeed in one piece (a device's binding limit).
  virtual uint64_t max_allocation_bytes() const = 0;
  // Memory allocate() can still get: MemAvailable on the host, the device-local heap on a GPU.
  virtual uint64_t memory_available() const = 0;
  // Copies between host memory and a tensor (contiguous tensors only).
  virtual void write(const Tensor& dst, const void* src, size_t bytes) = 0;
  virtual void read(const Tensor& src, void* dst, size_t bytes) = 0;

  // Runs a graph with this step's values. The graph must only use this backend's memory (its
  // externals) and ops it supports; a backend may keep what it compiles for g.id() until the
  // graph is gone, so a graph built once and run every step is compiled once. Outputs are in
  // Bindings::outputs when it returns.
  virtual void compute(const Graph& g, const Bindings& b) = 0;

  // ---- single operations (a graph of one node each) ----

  // out[:, t] = table[:, ids[t]]                     table [n, n_rows] (any type), out [n, n_ids] f32
  void get_rows(const Tensor& table, std::span<const int32_t> ids, const Tensor& out);
  // out = x / sqrt(mean(x^2) + eps) * w, per row     x [n, rows...], w [n], out like x
  void rms_norm(const Tensor& x, const Tensor& w, float eps, const Tensor& out);
  // sum = a + b; out = rms_norm(sum) * w              all [n, rows...], w [n]
  void add_rms_norm(const Tensor& a, const Tensor& b, const Tensor& w, float eps, const Tensor& sum, const Tensor& out);
  // out[m, n, b] = sum_k w[k, m, b] x[k, n, b]       w [K, M, B], x [K, N, B], out [M, N, B]
  // w may be quantized (x is then converted to quant::vec_dot_type(w.type) once per row); w's
  // batch dimension broadcasts when it is 1.
  void mul_mat(const Tensor& w, const Tensor& x, const Tensor& out);
  // Expert matmul: out[:, k, t] = w[:, :, ids[k, t]] * x[:, k % X, t]
  //   w [K, M, n_expert], x [K, X, T] with X = 1 (shared input) or n_used, ids [n_used, T] i32,
  //   out [M, n_used, T]. Touches only the selected experts' rows, each read once per batch.
  void mul_mat_id(const Tensor& w, const Tensor& x, const Tensor& ids, const Tensor& out);
  // In-place rotary embedding of interleaved pairs (ggml "NORM" mode) with YaRN.
  //   x [n_rot, n_heads, T] (rows contiguous, strided heads/tokens), positions [T]
  void rope(const Tensor& x, std::span<const int32_t> positions, const RopeParams& p);
  // out = a + b                                      all [n, rows...]
  void add(const Tensor& a, const Tensor& b, const Tensor& out);
  // out = silu(gate) * up                            all [n, rows...]
  void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out);
  // dst = src (shapes equal, layouts may differ)
  void copy(const Tensor& src, const Tensor& dst);
  // DeepSeekMoE routing.                             logits [n_expert, T] f32, bias [n_expert]
  // or empty (data == nullptr), ids out [n_used, T] i32 in selection order, weights out
  // [n_used, T] f32 (after normalisation and scale).
  void moe_route(const Tensor& logits, const Tensor& bias, const RouteParams& p, const Tensor& ids,
                 const Tensor& weights);
  // out[:, t] = sum_k weights[k, t] * experts[:, k, t]   experts [n, n_used, T], out [n, T]
  void moe_combine(const Tensor& experts, const Tensor& weights, const Tensor& out);
  // Appends rows: cache row first_row + t = src[:, t]   src [width, T] f32, converted to
  // cache.type (round to nearest even; Q8_0 as ggml quantizes: scale fp16(amax/127) per block)
  void store_latent(const Tensor& src, const LatentRows& cache, int64_t first_row);
  // Reads rows: dst[:, t] = cache row first_row + t dst [width, T] f32 (exact widening)
  void load_latent(const LatentRows& cache, int64_t first_row, const Tensor& dst);
  // Absorbed MLA attention over the latent cache (MQA with one shared K/V head):
  //   q [kv_lora + n_rot, n_head, T] (= [q_nope·K_h | rope(q_pe)]), cache rows [kv_lora + n_rot]
  //   out [kv_lora, n_head, T] = sum_s softmax_s(scale * q·row_s) * row_s[0:kv_lora]
  // computed in f32 on the rows' exact values, whatever cache.type stores them in.
  // Query t sits at position first_pos + t and sees cache rows 0..first_pos + t (causal).
  void attention_latent(const Tensor& q, const LatentRows& cache, int64_t first_pos, float scale,
                        const Tensor& out);
  // Plain multi-head attention, causal as above:
  //   q [d_k, n_head, T], k [d_k, n_head, S], v [d_v, n_head, S], out [d_v, n_head, T];
  //   query t attends keys 0..first_pos + t.
  void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t first_pos, float scale,
                 const Tensor& out);
  // out[r] = index of the largest x[:, r]; the lowest index among equal maxima.
  //   x [n, rows] f32 (n >= 1; rows may be strided, nb[1] any multiple of 4), out [rows] i32.
  // Exactly sample::argmax's sequential scan `if (x[i] > x[best]) best = i` from best = 0, so a
  // greedy step reads back one id per row instead of the logits: a NaN never wins, except at
  // index 0, which nothing compares greater than (a row starting with NaN, or of only NaN,
  // gives 0).
  void argmax(const Tensor& x, const Tensor& out);
};

// A backend built into this binary: "cpu", and "vulkan" in builds with the Vulkan backend.
// Throws Error naming the backends there are, or why the device could not be opened.
std::unique_ptr<Backend> make_backend(std::string_view name, const BackendOptions& options);
// MemAvailable of /proc/meminfo (2 GiB where it cannot be read).
uint64_t host_memory_available();

// The names make_backend() accepts in this build.
std::string_view backend_names();

}  // namespace latent::backend
