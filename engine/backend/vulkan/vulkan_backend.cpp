#include "backend/vulkan/vulkan_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "backend/graph.h"
#include "backend/scratch_arena.h"
#include "backend/vulkan/kernel_types.h"
#include "backend/vulkan/vulkan_context.h"
#include "gguf/tensor_type.h"
#include "quant/quant.h"

namespace latent::backend {
namespace {

using vulkan::Buffer;
using vulkan::Context;

constexpr uintptr_t kAddressBase = uintptr_t(1) << 40;
constexpr uintptr_t kAddressStride = uintptr_t(1) << 40;  // no buffer is 1 TiB
// Columns one mul_mat_vec.comp workgroup handles (its COLS); wider inputs use the tiled kernel.
constexpr int64_t kVecColumns = 8;
// Weight rows one mul_mat_vec.comp workgroup computes (its ROWS).
constexpr int64_t kVecRows = 8;
// Columns of one mul_mat_tile.comp MUL_MAT_ID tile (its TN), and the experts its routing kernel
// (mul_mat_id_tiles.comp) sorts into shared memory at most.
constexpr int64_t kIdTileColumns = 32;
constexpr int64_t kIdTileMaxExperts = 1024;
// attention_latent.comp: heads per workgroup (HG), keys per chunk (CK), row width (MAX_W).
constexpr int64_t kLatentHeads = 8, kLatentChunk = 64, kLatentMaxWidth = 640;
// Workgroups below which attention_latent splits the keys: enough to fill a GPU's cores.
constexpr int64_t kLatentMinGroups = 128;
// The shortest cache length bucket (see length_bucket).
constexpr int64_t kLatentMinBucket = 256;
constexpr size_t kScratchBlock = size_t(16) << 20;
constexpr size_t kUploadBytes = size_t(1) << 20;    // a graph's inputs and page tables, at least
constexpr size_t kTempBytes = size_t(16) << 20;     // the ring of kernels' temporaries, at least
constexpr size_t kStagingBytes = size_t(64) << 20;  // transfers larger than this go in chunks
// Compiled graphs kept (a decode step's, with partial offload two, and a few prefill shapes);
// graphs of fewer nodes (single operations, tests) run once and are not kept.
constexpr size_t kMaxPrograms = 16;
constexpr size_t kMinNodesToKeep = 8;

std::string shape(const Tensor& t) {
  std::string s = "{";
  for (int i = 0; i < 4; ++i) {
    if (i) s.append(", ");
    s.append(std::to_string(t.ne[size_t(i)]));
  }
  return s + "}";
}

[[noreturn]] void fail(Op op, const Tensor& t, const std::string& what) {
  throw Error("vulkan backend: " + std::string(op_name(op)) + " on '" + t.name + "': " + what);
}

uint32_t u32(Op op, const Tensor& t, uint64_t v) {
  if (v > UINT32_MAX) fail(op, t, "offset or size beyond 32 bits; the shaders index with 32-bit words");
  return uint32_t(v);
}

// Push constants of the element-wise shaders: uvec4 ne, then (offset, nb1, nb2, nb3) in 4-byte
// words for each tensor.
struct Strides {
  uint32_t off, nb1, nb2, nb3;
};

// How a latent op addresses its cache slot: the first row is the slot's first position (store,
// attend) or a fixed row (load).
struct CacheUse {
  int slot;
  bool first_is_pos;
  int64_t first;
  int64_t first_row(const CacheBinding& c) const { return first_is_pos ? c.first_pos : first; }
};

class VulkanBackendImpl final : public VulkanBackend, private Kernels {
 public:
  explicit VulkanBackendImpl(const VulkanOptions& o)
      : ctx_(vulkan::ContextOptions{o.device, o.validation || vulkan::validation_requested(), o.allow_subgroups,
                                    o.force_staging}) {
    upload_base_ = next_address();
    upload_ = ctx_.create_buffer(kUploadBytes, true, "upload buffer");
    by_address_[upload_base_] = upload_.get();
    temps_ = ctx_.create_buffer(kTempBytes, false, "kernel temporaries");
  }

  ~VulkanBackendImpl() override {
    for (auto& p : programs_) ctx_.forget(p.recording);
    for (auto& b : weights_) ctx_.destroy_buffer(std::move(b));
    for (auto& [base, b] : allocations_) ctx_.destroy_buffer(std::move(b));
    scratch_.clear();
    ctx_.destroy_buffer(std::move(temps_));
    ctx_.destroy_buffer(std::move(readback_));
    ctx_.destroy_buffer(std::move(upload_));
    ctx_.destroy_buffer(std::move(staging_));
    ctx_.destroy_buffer(std::move(arena_));
  }

  std::string_view name() const override { return "vulkan"; }
  uint64_t validation_errors() const override { return ctx_.validation_errors(); }
  std::string_view device_name() const override { return ctx_.info().name; }
  bool uses_subgroups() const override { return ctx_.use_subgroups(); }
  GraphStats graph_stats() const override { return stats_; }

  bool supports_op(Op op, TensorType weight_type) const override {
    switch (op) {
      case Op::GetRows:
      case Op::MulMat:
      case Op::MulMatId:
        return vulkan::has_weight_kernels(weight_type);
      case Op::RmsNorm:
      case Op::MoeRoute:
        return weight_type == TensorType::F32;
      case Op::Add:
      case Op::SwiGlu:
      case Op::Copy:
      case Op::Rope:
      case Op::MoeCombine:
      case Op::Attention:
      case Op::Argmax:
      case Op::AddRmsNorm:
        return true;
      // weight_type is the cache's element type here. Only over pages in this backend's memory
      // (see page_table); the KV store's host pages fail with an error naming the op.
      case Op::StoreLatent:
      case Op::LoadLatent:
      case Op::AttentionLatent:
        return vulkan::has_cache_kernels(weight_type);
    }
    return false;
  }

  Tensor weight(TensorType type, std::array<int64_t, 4> ne, const void* data, const char* name) override {
    Tensor t = make_tensor(type, ne, nullptr, name);
    const size_t bytes = t.nb[3] * size_t(ne[3]);
    if (bytes > ctx_.max_binding_bytes())
      throw Error("vulkan backend: weight '" + std::string(name) + "' has " + std::to_string(bytes >> 20) +
                  " MiB, more than the device binds at once (" +
                  std::to_string(ctx_.max_binding_bytes() >> 20) + " MiB)");
    // Rounded up to whole words: the shaders read 4-byte words, and a tensor of an odd number of
    // 2-byte units (43 rows of Q6_K) ends inside one.
    t.data = add_buffer(ctx_.create_buffer((bytes + 3) & ~size_t(3), false, name), weights_);
    write(t, data, bytes);
    return t;
  }

  Tensor scratch(TensorType type, std::array<int64_t, 4> ne, const char* name) override {
    Tensor t = make_tensor(type, ne, nullptr, name);
    t.data = reinterpret_cast<void*>(scratch_.push(t.nb[3] * size_t(ne[3])));
    return t;
  }


  Tensor allocate(TensorType type, std::array<int64_t, 4> ne, const char* name) override {
    Tensor t = make_tensor(type, ne, nullptr, name);
    const size_t bytes = t.nb[3] * size_t(ne[3]);
    if (bytes > max_allocation_bytes())
      throw Error("vulkan backend: '" + std::string(name) + "' needs " + std::to_string(bytes >> 20) +
                  " MiB in one buffer, more than the device binds at once (" +
                  std::to_string(max_allocation_bytes() >> 20) + " MiB)");
    auto buffer = ctx_.create_buffer(bytes, false, name);
    const uintptr_t base = next_address();
    by_address_[base] = buffer.get();
    allocations_.emplace(base, std::move(buffer));
    t.data = reinterpret_cast<void*>(base);
    return t;
  }

  void deallocate(const Tensor& t) override {
    auto it = allocations_.find(reinterpret_cast<uintptr_t>(t.data));
    if (it == allocations_.end()) throw Error(std::string("vulkan backend: '") + t.name + "' was not allocate()d here");
    release_address(it->first);
    ctx_.destroy_buffer(std::move(it->second));
    allocations_.erase(it);
  }

  uint64_t max_allocation_bytes() const override { return ctx_.max_binding_bytes(); }
  uint64_t memory_available() const override { return ctx_.memory_free(); }

  void write(const Tensor& dst, const void* src, size_t bytes) override {
    const Ref r = transfer_ref(dst, bytes);
    if (r.buffer->mapped) {
      std::memcpy(static_cast<char*>(r.buffer->mapped) + r.at(), src, bytes);
      return;
    }
    for (size_t done = 0; done < bytes;) {
      const size_t n = std::min(bytes - done, staging_size(bytes));
      std::memcpy(staging_->mapped, static_cast<const char*>(src) + done, n);
      vulkan::CommandList list;
      list.copy(staging_->buffer, 0, r.buffer->buffer, r.at() + done, n);
      ctx_.run(list);
      done += n;
    }
  }

  void read(const Tensor& src, void* dst, size_t bytes) override {
    const Ref r = transfer_ref(src, bytes);
    if (r.buffer->mapped) {
      std::memcpy(dst, static_cast<const char*>(r.buffer->mapped) + r.at(), bytes);
      return;
    }
    for (size_t done = 0; done < bytes;) {
      const size_t n = std::min(bytes - done, staging_size(bytes));
      vulkan::CommandList list;
      list.copy(r.buffer->buffer, r.at() + done, staging_->buffer, 0, n);
      ctx_.run(list);
      std::memcpy(static_cast<char*>(dst) + done, staging_->mapped, n);
      done += n;
    }
  }

  // A graph runs as one submission of a command buffer recorded when the graph (with its
  // caches' length buckets) was first seen: inputs and page tables are written into the upload
  // buffer where the recording reads them, outputs read back after it.
  void compute(const Graph& g, const Bindings& b) override {
    g.check(b);
    std::vector<uint64_t> variant = cache_variant(g, b);
    Program* p = find_program(g.id(), variant);
    if (!p) p = &compile(g, b, std::move(variant));
    else ++stats_.reused;
    write_values(*p, b);
    if (!ctx_.submit(p->recording)) {
      // A buffer it bound was replaced (the arena, the upload or temporaries grew, the KV pool
      // moved): compile it again.
      const uint64_t id = p->graph;
      std::vector<uint64_t> v = p->variant;
      drop_program(id, v);
      p = &compile(g, b, std::move(v));
      write_values(*p, b);
      if (!ctx_.submit(p->recording)) throw Error("vulkan backend: a graph's recording was dropped while compiling it");
    }
    for (const Program::Read& r : p->reads)
      std::memcpy(b.outputs[size_t(r.slot)], static_cast<const char*>(r.from->mapped) + r.offset, r.bytes);
    stats_.dispatches = p->dispatches;
    stats_.barriers = p->barriers;
    stats_.copies = p->copies;
    if (!p->keep) drop_program(p->graph, p->variant);
  }

 private:
  // A compiled graph: its recording, and where each step's values go.
  struct Program {
    uint64_t graph = 0;
    std::vector<uint64_t> variant;
    uint64_t recording = 0;
    bool keep = true;
    uint64_t last_used = 0;
    struct Input {
      int slot;
      size_t offset, bytes;  // in the upload buffer
    };
    struct Table {
      int cache;
      bool first_is_pos;  // the slot's first position, else `first`
      int64_t first;
      size_t offset;  // words into the upload buffer
      size_t words;
    };
    struct Read {
      int slot;
      Buffer* from;  // mapped: the arena or the readback buffer
      size_t offset, bytes;
    };
    std::vector<Input> inputs;
    std::vector<Table> tables;
    std::vector<Read> reads;
    size_t dispatches = 0, barriers = 0, copies = 0;
  };
  // Thrown while compiling after a buffer had to grow: the commands so far bind the old one.
  struct Regrown {};

  // What a graph's commands depend on besides the graph: per cache slot its element type, page
  // geometry, pool buffer and length bucket (page tables and attention splits are sized by it).
  std::vector<uint64_t> cache_variant(const Graph& g, const Bindings& b) const {
    std::vector<uint64_t> v;
    for (size_t i = 0; i < g.caches().size(); ++i) {
      const LatentRows& r = b.caches[i].rows;
      v.insert(v.end(), {uint64_t(r.type), uint64_t(r.rows_per_page), uint64_t(r.row_stride), uint64_t(r.page_offset),
                         uint64_t(length_bucket(r.n_rows)), r.pages && r.n_rows ? uint64_t(pool_base(r.pages[0])) : 0});
    }
    return v;
  }

  uintptr_t pool_base(const void* page) const {
    const auto addr = reinterpret_cast<uintptr_t>(page);
    auto it = by_address_.upper_bound(addr);
    return it == by_address_.begin() ? 0 : std::prev(it)->first;
  }

  Program* find_program(uint64_t graph, const std::vector<uint64_t>& variant) {
    for (Program& p : programs_)
      if (p.graph == graph && p.variant == variant) {
        p.last_used = ++clock_;
        return &p;
      }
    return nullptr;
  }

  void drop_program(uint64_t graph, const std::vector<uint64_t>& variant) {
    std::erase_if(programs_, [&](Program& p) {
      if (p.graph != graph || p.variant != variant) return false;
      ctx_.forget(p.recording);
      return true;
    });
  }

  Program& compile(const Graph& g, const Bindings& b, std::vector<uint64_t> variant) {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    const MemoryPlan& plan = plan_for(g);
    for (int attempt = 0;; ++attempt) {
      try {
        Program p = build(g, b, plan);
        p.graph = g.id();
        p.variant = std::move(variant);
        p.keep = g.nodes().size() >= kMinNodesToKeep;
        p.recording = ctx_.record(list_);
        p.last_used = ++clock_;
        p.dispatches = list_.dispatches();
        p.barriers = list_.barriers();
        p.copies = list_.copies();
        ++stats_.compiled;
        stats_.compile_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
        if (p.keep && programs_.size() == kMaxPrograms) {
          auto oldest = std::min_element(programs_.begin(), programs_.end(),
                                         [](const Program& a, const Program& c) { return a.last_used < c.last_used; });
          ctx_.forget(oldest->recording);
          programs_.erase(oldest);
        }
        programs_.push_back(std::move(p));
        return programs_.back();
      } catch (const Regrown&) {
        if (attempt == 3) throw Error("vulkan backend: buffers kept growing while compiling a graph");
      }
    }
  }

  // The commands of a graph into list_, with the upload, arena and readback layout.
  Program build(const Graph& g, const Bindings& b, const MemoryPlan& plan) {
    Program p;
    list_ = vulkan::CommandList();
    acts_.clear();
    temp_used_ = 0;
    upload_used_ = 0;
    char* arena = arena_for(plan.bytes);
    std::vector<const void*> inputs(size_t(g.n_inputs()), nullptr);
    for (const GraphTensor& in : g.tensors()) {
      if (in.kind != TensorKind::Input) continue;
      const size_t bytes = in.span_bytes();
      const size_t at = upload_bytes(bytes);
      p.inputs.push_back({in.input, at, bytes});
      inputs[size_t(in.input)] = reinterpret_cast<void*>(upload_base_ + at);
    }
    const std::vector<Tensor> t = resolve_tensors(g, plan, arena, inputs, {});
    program_ = &p;
    for (const Node& n : g.nodes()) run_node(n, t, b, *this);
    program_ = nullptr;
    // Outputs: read from the arena where it is mapped, else copied into the readback buffer
    // at the end of the same submission.
    size_t back = 0;
    for (int slot = 0; slot < g.n_outputs(); ++slot) back += (t[size_t(g.output_tensor(slot))].nb[3] + 15) & ~size_t(15);
    if (!arena_->mapped && (!readback_ || readback_->size < back)) {
      ctx_.destroy_buffer(std::move(readback_));
      readback_ = ctx_.create_buffer(std::max<size_t>(back, 1), true, "readback buffer");
    }
    size_t at = 0;
    for (int slot = 0; slot < g.n_outputs(); ++slot) {
      const Tensor& o = t[size_t(g.output_tensor(slot))];
      const size_t bytes = o.nb[3] * size_t(o.ne[3]);
      const Ref r = ref(Op::Copy, o);
      if (arena_->mapped) {
        p.reads.push_back({slot, arena_.get(), r.at(), bytes});
      } else {
        if (bytes) list_.copy(r.buffer->buffer, r.at(), readback_->buffer, at, bytes);
        p.reads.push_back({slot, readback_.get(), at, bytes});
        at += (bytes + 15) & ~size_t(15);
      }
    }
    return p;
  }

  // Each step's inputs and page tables, where the recording reads them.
  void write_values(const Program& p, const Bindings& b) {
    char* up = static_cast<char*>(upload_->mapped);
    for (const Program::Input& in : p.inputs)
      if (in.bytes) std::memcpy(up + in.offset, b.inputs[size_t(in.slot)], in.bytes);
    for (const Program::Table& t : p.tables) {
      const CacheBinding& c = b.caches[size_t(t.cache)];
      const Tensor named = make_tensor(TensorType::F32, {1, 1, 1, 1}, nullptr, "latent cache");
      fill_table(Op::AttentionLatent, named, c.rows, t.first_is_pos ? c.first_pos : t.first,
                 reinterpret_cast<uint32_t*>(up) + t.offset, t.words);
    }
  }

  // Bytes in the upload buffer for the graph being compiled (16-byte aligned).
  size_t upload_bytes(size_t bytes) {
    const size_t at = upload_used_;
    upload_used_ += (bytes + 15) & ~size_t(15);
    if (upload_used_ > upload_->size) {
      const size_t size = std::max(upload_->size * 2, upload_used_);
      release_address(upload_base_);
      ctx_.destroy_buffer(std::move(upload_));
      upload_ = ctx_.create_buffer(size, true, "upload buffer");
      by_address_[upload_base_] = upload_.get();
      throw Regrown{};
    }
    if (!upload_->mapped) throw Error("vulkan backend: the device has no host-visible coherent memory for uploads");
    return at;
  }

  // A kernel's temporary (quantized activations, expert lists, attention partials): the next
  // range of the temporaries' ring. A range is reused once the ring comes round; the command
  // list's barriers order the reuse after the last reader.
  vulkan::Binding temp(size_t bytes, bool write) {
    bytes = (bytes + 255) & ~size_t(255);
    if (bytes > temps_->size) {
      ctx_.destroy_buffer(std::move(temps_));
      temps_ = ctx_.create_buffer(std::max(bytes, temps_size_ * 2), false, "kernel temporaries");
      temps_size_ = temps_->size;
      throw Regrown{};
    }
    size_t at = temp_used_ % temps_->size;
    if (at + bytes > temps_->size) {
      temp_used_ += temps_->size - at;
      at = 0;
    }
    temp_used_ += bytes;
    return {temps_->buffer, at, bytes, write};
  }

  static constexpr size_t kMaxPlans = 8;

  const MemoryPlan& plan_for(const Graph& g) {
    for (auto& [id, plan] : plans_)
      if (id == g.id()) return plan;
    check_supported(*this, g);
    if (plans_.size() == kMaxPlans) plans_.erase(plans_.begin());
    plans_.emplace_back(g.id(), plan_memory(g, ctx_.binding_alignment(), true));
    return plans_.back().second;
  }

  // The device address of an arena of at least `bytes` (one buffer, grown as needed; the
  // recordings that bound the old one are dropped with it).
  char* arena_for(size_t bytes) {
    if (!arena_ || arena_->size < bytes) {
      if (bytes > ctx_.max_binding_bytes())
        throw Error("vulkan backend: a graph needs " + std::to_string(bytes >> 20) +
                    " MiB of intermediates, more than the device binds at once (" +
                    std::to_string(ctx_.max_binding_bytes() >> 20) + " MiB); use a smaller batch");
      if (arena_) {
        release_address(arena_base_);
        ctx_.destroy_buffer(std::move(arena_));
      }
      arena_ = ctx_.create_buffer(std::max<size_t>(bytes, 256), false, "graph intermediates");
      arena_base_ = next_address();
      by_address_[arena_base_] = arena_.get();
    }
    return reinterpret_cast<char*>(arena_base_);
  }

  void get_rows(const Tensor& table, const Tensor& ids, const Tensor& out) override {
    require(Op::GetRows, table);
    if (ids.ne[0] == 0) return;
    const Ref tr = ref(Op::GetRows, table), ir = ref(Op::GetRows, ids), orf = ref(Op::GetRows, out);
    const uint32_t push[7] = {u32(Op::GetRows, table, table.ne[0]), u32(Op::GetRows, out, ids.ne[0]),
                              words(Op::GetRows, ids, ir.offset), u32(Op::GetRows, table, tr.offset),
                              u32(Op::GetRows, table, table.nb[1]), words(Op::GetRows, out, orf.offset),
                              words(Op::GetRows, out, out.nb[1])};
    const auto& p = ctx_.pipeline(std::string("get_rows_") + vulkan::weight_suffix(table.type), 3, sizeof push);
    const vulkan::Binding bufs[3] = {tr.in(), ir.in(), orf.out()};
    dispatch(p, bufs, push, uint64_t(table.ne[0]) * uint64_t(ids.ne[0]), 256);
  }

  void rms_norm(const Tensor& x, const Tensor& w, float eps, const Tensor& out) override {
    const Ref xr = ref(Op::RmsNorm, x), wr = ref(Op::RmsNorm, w), orf = ref(Op::RmsNorm, out);
    struct {
      uint32_t ne[4];
      Strides sx, so;
      uint32_t w_off;
      float eps;
    } push{};
    fill_ne(Op::RmsNorm, x, push.ne);
    push.sx = strides(Op::RmsNorm, x, xr);
    push.so = strides(Op::RmsNorm, out, orf);
    push.w_off = words(Op::RmsNorm, w, wr.offset);
    push.eps = eps;
    const auto& p = ctx_.pipeline("rms_norm", 3, sizeof push);
    const vulkan::Binding bufs[3] = {xr.in(), wr.in(), orf.out()};
    dispatch(p, bufs, &push, uint64_t(x.ne[1] * x.ne[2] * x.ne[3]), 1);
  }

  void add_rms_norm(const Tensor& a, const Tensor& b, const Tensor& w, float eps, const Tensor& sum,
                    const Tensor& out) override {
    const Op op = Op::AddRmsNorm;
    const Ref ar = ref(op, a), br = ref(op, b), wr = ref(op, w), sr = ref(op, sum), orf = ref(op, out);
    struct {
      uint32_t ne[4];
      Strides sa, sb, ss, so;
      uint32_t w_off;
      float eps;
    } push{};
    fill_ne(op, a, push.ne);
    push.sa = strides(op, a, ar);
    push.sb = strides(op, b, br);
    push.ss = strides(op, sum, sr);
    push.so = strides(op, out, orf);
    push.w_off = words(op, w, wr.offset);
    push.eps = eps;
    const auto& p = ctx_.pipeline("add_rms_norm", 5, sizeof push);
    const vulkan::Binding bufs[5] = {ar.in(), br.in(), wr.in(), sr.out(), orf.out()};
    dispatch(p, bufs, &push, uint64_t(a.ne[1] * a.ne[2] * a.ne[3]), 1);
  }

  void add(const Tensor& a, const Tensor& b, const Tensor& out) override { binary(Op::Add, "add", a, b, out); }
  void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
    binary(Op::SwiGlu, "swiglu", gate, up, out);
  }

  void copy(const Tensor& src, const Tensor& dst) override {
    const size_t row = gguf::row_bytes(src.type, src.ne[0]);
    if (row % 4 != 0)
      fail(Op::Copy, src, "rows of " + std::to_string(row) + " bytes; the copy shader moves 4-byte words");
    const Ref sr = ref(Op::Copy, src), dr = ref(Op::Copy, dst);
    const size_t bytes = row * size_t(src.ne[1] * src.ne[2] * src.ne[3]);
    const bool overlap = sr.buffer == dr.buffer && sr.offset < dr.offset + bytes && dr.offset < sr.offset + bytes;
    if (src.is_contiguous() && dst.is_contiguous() && !overlap) {
      // One transfer command: a DMA engine on GPUs, memcpy on lavapipe.
      list_.copy(sr.buffer->buffer, sr.at(), dr.buffer->buffer, dr.at(), bytes);
      return;
    }
    struct {
      uint32_t ne[4];
      Strides ss, sd;
    } push{};
    fill_ne(Op::Copy, src, push.ne);
    push.ne[0] = uint32_t(row / 4);
    push.ss = strides(Op::Copy, src, sr);
    push.sd = strides(Op::Copy, dst, dr);
    const auto& p = ctx_.pipeline("copy", 2, sizeof push);
    const vulkan::Binding bufs[2] = {sr.in(), dr.out()};
    dispatch(p, bufs, &push, uint64_t(push.ne[0]) * uint64_t(src.ne[1] * src.ne[2] * src.ne[3]), 256);
  }

  void mul_mat(const Tensor& w, const Tensor& x, const Tensor& out) override {
    require(Op::MulMat, w);
    const int64_t K = w.ne[0], M = w.ne[1], N = x.ne[1];
    const int64_t B = std::max(w.ne[2], x.ne[2]);
    const Ref wr = ref(Op::MulMat, w), orf = ref(Op::MulMat, out);
    MatVecPush push{};
    push.K = uint32_t(K);
    push.M = u32(Op::MulMat, w, M);
    push.N = u32(Op::MulMat, x, N);
    push.B = u32(Op::MulMat, x, B);
    push.w_off = u32(Op::MulMat, w, wr.offset);
    push.w_nb1 = u32(Op::MulMat, w, w.nb[1]);
    push.w_nb2 = w.ne[2] == 1 ? 0 : u32(Op::MulMat, w, w.nb[2]);
    push.o_off = words(Op::MulMat, out, orf.offset);
    push.o_nb1 = words(Op::MulMat, out, out.nb[1]);
    push.o_nb2 = words(Op::MulMat, out, out.nb[2]);
    const vulkan::Binding xbuf = activations(Op::MulMat, w.type, x, x.ne[1], x.ne[2], push);
    if (x.ne[2] == 1) push.x_nb2 = 0;
    const vulkan::Binding bufs[3] = {wr.in(), xbuf, orf.out()};
    if (N > kVecColumns) {
      // Prefill: 64x64 output tiles, 8x8 per invocation.
      const auto& p = ctx_.pipeline(std::string("mul_mat_tile_") + vulkan::weight_suffix(w.type), 3, sizeof push);
      dispatch(p, bufs, &push, uint64_t((M + 63) / 64) * uint64_t((N + 63) / 64) * uint64_t(B), 1);
    } else {
      // Decode: one workgroup per kVecRows weight rows, reading them once for all (at most 8)
      // columns.
      const auto& p = ctx_.pipeline(matvec_shader("mul_mat_vec_", w.type), 3, sizeof push);
      dispatch(p, bufs, &push, uint64_t((M + kVecRows - 1) / kVecRows) * uint64_t(B), 1);
    }
  }

  void mul_mat_id(const Tensor& w, const Tensor& x, const Tensor& ids, const Tensor& out) override {
    require(Op::MulMatId, w);
    const int64_t K = w.ne[0], M = w.ne[1];
    const int64_t X = x.ne[1], T = x.ne[2], U = ids.ne[0];
    // Expert ids live on the device (moe_route's output) and are not read back to check them:
    // the shader writes NaN for an id outside [0, n_expert) rather than read outside the weights.
    const Ref wr = ref(Op::MulMatId, w), ir = ref(Op::MulMatId, ids), orf = ref(Op::MulMatId, out);
    MatVecPush push{};
    push.K = uint32_t(K);
    push.M = u32(Op::MulMatId, w, M);
    push.N = u32(Op::MulMatId, ids, U);
    push.B = u32(Op::MulMatId, x, T);
    push.w_off = u32(Op::MulMatId, w, wr.offset);
    push.w_nb1 = u32(Op::MulMatId, w, w.nb[1]);
    push.w_nb2 = u32(Op::MulMatId, w, w.nb[2]);
    push.o_off = words(Op::MulMatId, out, orf.offset);
    push.o_nb1 = words(Op::MulMatId, out, out.nb[1]);
    push.o_nb2 = words(Op::MulMatId, out, out.nb[2]);
    push.ids_off = words(Op::MulMatId, ids, ir.offset);
    push.ids_nb1 = words(Op::MulMatId, ids, ids.nb[1]);
    push.n_expert = u32(Op::MulMatId, w, w.ne[2]);
    const vulkan::Binding xbuf = activations(Op::MulMatId, w.type, x, X, T, push);
    if (X == 1) push.x_nb1 = 0;  // every slot reads the token's one shared input row
    if (T > kVecColumns && w.ne[2] <= kIdTileMaxExperts) {
      // Prefill: the (token, slot) pairs sorted by expert on the device, then tiles of 64 rows
      // by 32 of an expert's pairs, so its weights are read once per tile instead of per token.
      vulkan::Binding route = route_buffer(Op::MulMatId, ids, w.ne[2], U * T);
      const uint32_t rpush[6] = {push.N, push.B, push.n_expert, push.ids_off, push.ids_nb1, uint32_t(kIdTileColumns)};
      const vulkan::Binding rbufs[2] = {ir.in(), route};
      dispatch(ctx_.pipeline("mul_mat_id_tiles", 2, sizeof rpush), rbufs, rpush, 1, 1);
      const auto& p = ctx_.pipeline(std::string("mul_mat_id_tile_") + vulkan::weight_suffix(w.type), 4, sizeof push);
      route.write = false;
      const vulkan::Binding bufs[4] = {wr.in(), xbuf, orf.out(), route};
      dispatch(p, bufs, &push, uint64_t((M + 63) / 64) * uint64_t(max_id_tiles(w.ne[2], U * T)), 1);
      return;
    }
    // Decode: one workgroup per weight row, slot and token.
    const auto& p = ctx_.pipeline(matvec_shader("mul_mat_id_", w.type), 4, sizeof push);
    const vulkan::Binding bufs[4] = {wr.in(), xbuf, orf.out(), ir.in()};
    dispatch(p, bufs, &push, uint64_t((M + kVecRows - 1) / kVecRows) * uint64_t(U) * uint64_t(T), 1);
  }

  void rope(const Tensor& x, const Tensor& positions, const RopeParams& rp) override {
    if (positions.ne[0] == 0) return;
    const Ref xr = ref(Op::Rope, x), pr = ref(Op::Rope, positions);
    struct {
      uint32_t n_rot, n_head, T, pos_off, x_off, x_nb1, x_nb2;
      float theta_scale, freq_scale, ext_factor, attn_factor, yarn_mscale, corr_lo, corr_hi;
    } push{};
    push.n_rot = uint32_t(rp.n_rot);
    push.n_head = u32(Op::Rope, x, x.ne[1]);
    push.T = u32(Op::Rope, x, x.ne[2]);
    push.pos_off = words(Op::Rope, positions, pr.offset);
    push.x_off = words(Op::Rope, x, xr.offset);
    push.x_nb1 = words(Op::Rope, x, x.nb[1]);
    push.x_nb2 = words(Op::Rope, x, x.nb[2]);
    push.theta_scale = std::pow(rp.freq_base, -2.0f / float(rp.n_rot));
    push.freq_scale = rp.freq_scale;
    push.ext_factor = rp.ext_factor;
    push.attn_factor = rp.attn_factor;
    // The YaRN terms computed on the host by the functions the CPU backend uses.
    push.yarn_mscale = yarn_mscale(rp.freq_scale);
    const std::array<float, 2> corr = yarn_corr_dims(rp);
    push.corr_lo = corr[0];
    push.corr_hi = corr[1];
    const auto& p = ctx_.pipeline("rope", 2, sizeof push);
    const vulkan::Binding bufs[2] = {xr.inout(), pr.in()};
    dispatch(p, bufs, &push, uint64_t(rp.n_rot / 2) * uint64_t(x.ne[1]) * uint64_t(x.ne[2]), 64);
  }

  void moe_route(const Tensor& logits, const Tensor& bias, const RouteParams& rp, const Tensor& ids,
                 const Tensor& weights) override {
    const int64_t E = logits.ne[0], T = logits.ne[1], U = rp.n_expert_used;
    // The shader's private arrays (moe_route.comp's MAX_*): DeepSeek-V3 has 256 experts in 8
    // groups, 8 used.
    if (E > 256 || rp.n_group > 64 || U < 1 || U > 32 || U > E)
      fail(Op::MoeRoute, logits, std::to_string(E) + " experts, " + std::to_string(U) + " used, " +
                                     std::to_string(rp.n_group) + " groups exceed the kernel's 256, 32, 64");
    if (T == 0) return;
    const Ref lr = ref(Op::MoeRoute, logits), ir = ref(Op::MoeRoute, ids), wr = ref(Op::MoeRoute, weights);
    const bool has_bias = bias.data != nullptr;
    Ref br = lr;
    if (has_bias) br = ref(Op::MoeRoute, bias);
    struct {
      uint32_t E, T, U, n_group, n_group_used, sigmoid, norm;
      float scale;
      uint32_t has_bias, l_off, l_nb1, b_off, i_off, i_nb1, w_off, w_nb1;
    } push{};
    push.E = uint32_t(E);
    push.T = u32(Op::MoeRoute, logits, T);
    push.U = uint32_t(U);
    push.n_group = uint32_t(rp.n_group);
    push.n_group_used = uint32_t(rp.n_group_used);
    push.sigmoid = rp.gating == Gating::Sigmoid;
    push.norm = rp.norm_weights;
    push.scale = rp.weights_scale;
    push.has_bias = has_bias;
    push.l_off = words(Op::MoeRoute, logits, lr.offset);
    push.l_nb1 = words(Op::MoeRoute, logits, logits.nb[1]);
    push.b_off = has_bias ? words(Op::MoeRoute, bias, br.offset) : 0;
    push.i_off = words(Op::MoeRoute, ids, ir.offset);
    push.i_nb1 = words(Op::MoeRoute, ids, ids.nb[1]);
    push.w_off = words(Op::MoeRoute, weights, wr.offset);
    push.w_nb1 = words(Op::MoeRoute, weights, weights.nb[1]);
    const auto& p = ctx_.pipeline("moe_route", 4, sizeof push);
    // Without a bias the logits buffer fills the binding; the shader does not read it then.
    const vulkan::Binding bufs[4] = {lr.in(), br.in(), ir.out(), wr.out()};
    dispatch(p, bufs, &push, uint64_t(T), 64);
  }

  void moe_combine(const Tensor& experts, const Tensor& weights, const Tensor& out) override {
    const int64_t n = experts.ne[0], U = experts.ne[1], T = experts.ne[2];
    const Ref er = ref(Op::MoeCombine, experts), wr = ref(Op::MoeCombine, weights), orf = ref(Op::MoeCombine, out);
    const uint32_t push[10] = {u32(Op::MoeCombine, experts, n), u32(Op::MoeCombine, experts, U),
                               u32(Op::MoeCombine, experts, T), words(Op::MoeCombine, experts, er.offset),
                               words(Op::MoeCombine, experts, experts.nb[1]), words(Op::MoeCombine, experts, experts.nb[2]),
                               words(Op::MoeCombine, weights, wr.offset), words(Op::MoeCombine, weights, weights.nb[1]),
                               words(Op::MoeCombine, out, orf.offset), words(Op::MoeCombine, out, out.nb[1])};
    const auto& p = ctx_.pipeline("moe_combine", 3, sizeof push);
    const vulkan::Binding bufs[3] = {er.in(), wr.in(), orf.out()};
    dispatch(p, bufs, push, uint64_t(n) * uint64_t(T), 256);
  }

  void store_latent(const Tensor& src, int slot, const CacheBinding& cache) override {
    latent_rows(Op::StoreLatent, "store_latent", src, cache, {slot, true, 0});
  }

  void load_latent(int slot, const CacheBinding& cache, int64_t first_row, const Tensor& dst) override {
    latent_rows(Op::LoadLatent, "load_latent", dst, cache, {slot, false, first_row});
  }

  void attention_latent(const Tensor& q, int slot, const CacheBinding& cb, float scale, const Tensor& out) override {
    const LatentRows& cache = cb.rows;
    const CacheUse use{slot, true, 0};
    const int64_t W = q.ne[0], H = q.ne[1], T = q.ne[2], L = out.ne[0];
    if (W > kLatentMaxWidth)
      fail(Op::AttentionLatent, q, "cache rows of " + std::to_string(W) + " values exceed the kernel's " +
                                       std::to_string(kLatentMaxWidth));
    if (H * T == 0) return;
    const Ref qr = ref(Op::AttentionLatent, q), orf = ref(Op::AttentionLatent, out);
    const PageTable pt = page_table(Op::AttentionLatent, q, cb, use);
    // Workgroups of kLatentHeads heads of one query. Too few of them to fill the device (decode)
    // split the keys into ranges of whole chunks, combined afterwards. The split is chosen for
    // the length bucket, not the length, so that decode steps repeat the same dispatches; splits
    // past the last key write an empty result.
    const int64_t groups = T * ((H + kLatentHeads - 1) / kLatentHeads);
    const int64_t chunks = pt.capacity / kLatentChunk;
    int64_t n_split = std::clamp<int64_t>((kLatentMinGroups + groups - 1) / groups, 1, chunks);
    const int64_t split_len = (chunks + n_split - 1) / n_split * kLatentChunk;
    n_split = (pt.capacity + split_len - 1) / split_len;
    struct {
      uint32_t W, L, H, T;
      float scale;
      uint32_t rows_per_page, row_stride, pt_off, q_off, q_nb1, q_nb2, o_off, o_nb1, o_nb2, n_split, split_len;
    } push{};
    push.W = uint32_t(W);
    push.L = uint32_t(L);
    push.H = u32(Op::AttentionLatent, q, H);
    push.T = u32(Op::AttentionLatent, q, T);
    push.scale = scale;
    push.rows_per_page = pt.rows_per_page;
    push.row_stride = pt.row_stride;
    push.pt_off = pt.offset;
    push.q_off = words(Op::AttentionLatent, q, qr.offset);
    push.q_nb1 = words(Op::AttentionLatent, q, q.nb[1]);
    push.q_nb2 = words(Op::AttentionLatent, q, q.nb[2]);
    push.o_off = words(Op::AttentionLatent, out, orf.offset);
    push.o_nb1 = words(Op::AttentionLatent, out, out.nb[1]);
    push.o_nb2 = words(Op::AttentionLatent, out, out.nb[2]);
    push.n_split = uint32_t(n_split);
    push.split_len = uint32_t(split_len);
    const auto& p = ctx_.pipeline(std::string("attention_latent_") + vulkan::cache_suffix(cache.type) +
                                      (ctx_.use_subgroups() ? "_sg" : ""),
                                  4, sizeof push);
    vulkan::Binding bufs[4] = {qr.in(), pt.pool(false), upload_binding(), orf.out()};
    if (n_split == 1) {
      dispatch(p, bufs, &push, uint64_t(groups), 1);
      return;
    }
    // Per (query, head, split): max, sum, unnormalized output.
    vulkan::Binding partials = temp(size_t(T * H * n_split * (L + 2)) * 4, true);
    bufs[3] = partials;
    dispatch(p, bufs, &push, uint64_t(groups * n_split), 1);
    const uint32_t cpush[7] = {push.L, push.H, push.T, push.n_split, push.o_off, push.o_nb1, push.o_nb2};
    const auto& cp = ctx_.pipeline("attention_latent_combine", 2, sizeof cpush);
    partials.write = false;
    const vulkan::Binding cbufs[2] = {partials, orf.out()};
    dispatch(cp, cbufs, cpush, uint64_t(H * T), 1);
  }

  void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t first_pos, float scale,
                 const Tensor& out) override {
    const int64_t Dk = q.ne[0], H = q.ne[1], T = q.ne[2], Dv = v.ne[0];
    if (Dv > 256) fail(Op::Attention, v, "value heads of " + std::to_string(Dv) + " exceed the kernel's 256");
    if (H * T == 0) return;
    const Ref qr = ref(Op::Attention, q), kr = ref(Op::Attention, k), vr = ref(Op::Attention, v),
              orf = ref(Op::Attention, out);
    struct {
      uint32_t Dk, Dv, H, T, first_pos;
      float scale;
      uint32_t q_off, q_nb1, q_nb2, k_off, k_nb1, k_nb2, v_off, v_nb1, v_nb2, o_off, o_nb1, o_nb2;
    } push{};
    push.Dk = u32(Op::Attention, q, Dk);
    push.Dv = uint32_t(Dv);
    push.H = u32(Op::Attention, q, H);
    push.T = u32(Op::Attention, q, T);
    push.first_pos = u32(Op::Attention, q, first_pos);
    push.scale = scale;
    push.q_off = words(Op::Attention, q, qr.offset);
    push.q_nb1 = words(Op::Attention, q, q.nb[1]);
    push.q_nb2 = words(Op::Attention, q, q.nb[2]);
    push.k_off = words(Op::Attention, k, kr.offset);
    push.k_nb1 = words(Op::Attention, k, k.nb[1]);
    push.k_nb2 = words(Op::Attention, k, k.nb[2]);
    push.v_off = words(Op::Attention, v, vr.offset);
    push.v_nb1 = words(Op::Attention, v, v.nb[1]);
    push.v_nb2 = words(Op::Attention, v, v.nb[2]);
    push.o_off = words(Op::Attention, out, orf.offset);
    push.o_nb1 = words(Op::Attention, out, out.nb[1]);
    push.o_nb2 = words(Op::Attention, out, out.nb[2]);
    const auto& p = ctx_.pipeline("attention", 4, sizeof push);
    const vulkan::Binding bufs[4] = {qr.in(), kr.in(), vr.in(), orf.out()};
    dispatch(p, bufs, &push, uint64_t(H * T), 1);
  }

  void argmax(const Tensor& x, const Tensor& out) override {
    if (x.ne[1] == 0) return;
    const Ref xr = ref(Op::Argmax, x), orf = ref(Op::Argmax, out);
    const uint32_t push[5] = {u32(Op::Argmax, x, x.ne[0]), u32(Op::Argmax, x, x.ne[1]), words(Op::Argmax, x, xr.offset),
                              words(Op::Argmax, x, x.nb[1]), words(Op::Argmax, out, orf.offset)};
    const auto& p = ctx_.pipeline("argmax", 2, sizeof push);
    const vulkan::Binding bufs[2] = {xr.in(), orf.out()};
    dispatch(p, bufs, push, uint64_t(x.ne[1]), 1);  // one workgroup per row
  }

  // Where a tensor is: its buffer, the range a shader binds (from the tensor's first byte
  // rounded down to the binding alignment, to its last byte rounded up to a word) and the
  // tensor's offset inside that range, which is what the shaders' push constants take.
  struct Ref {
    Buffer* buffer;
    size_t offset;  // bytes from the binding's start
    size_t bind_offset, bind_range;
    size_t at() const { return bind_offset + offset; }  // bytes from the buffer's start
    vulkan::Binding in() const { return {buffer->buffer, bind_offset, bind_range, false}; }
    vulkan::Binding out() const { return {buffer->buffer, bind_offset, bind_range, true}; }
    vulkan::Binding inout() const { return out(); }
  };
  // A LatentRows page table uploaded for the shaders: the op's first row, then the word offsets
  // of each page's first row of this layer, all pages in one buffer of this backend, for
  // `capacity` rows (the length bucket; pages past the cache's rows are 0 and never read).
  struct PageTable {
    Buffer* buffer;
    uint32_t offset;  // words into the upload buffer
    uint32_t rows_per_page, row_stride;
    int64_t capacity;
    // The pages' buffer, bound whole (the table's offsets are from its start).
    vulkan::Binding pool(bool write) const { return {buffer->buffer, 0, VK_WHOLE_SIZE, write}; }
  };
  vulkan::Binding upload_binding() const { return {upload_->buffer, 0, VK_WHOLE_SIZE, false}; }
  // mul_mat_vec.comp's push constants.
  struct MatVecPush {
    uint32_t K, M, N, B, w_off, w_nb1, w_nb2, x_off, x_nb1, x_nb2, o_off, o_nb1, o_nb2, ids_off, ids_nb1, n_expert;
  };

  void require(Op op, const Tensor& w) const {
    if (!supports_op(op, w.type))
      fail(op, w, "weight type " + std::string(gguf::type_name(w.type)) + " has no Vulkan kernel (" +
                      vulkan::weight_types_list() + " do)");
    // The 16-bit float kernels read value pairs from 4-byte words.
    if ((w.type == TensorType::F16 || w.type == TensorType::BF16) && w.ne[0] % 2 != 0)
      fail(op, w, std::string(gguf::type_name(w.type)) + " rows of odd length " + std::to_string(w.ne[0]) +
                      " (the shaders read value pairs); use the cpu backend for this file");
  }

  void* add_buffer(std::unique_ptr<Buffer> b, std::vector<std::unique_ptr<Buffer>>& owner) {
    const uintptr_t base = next_address();
    by_address_[base] = b.get();
    owner.push_back(std::move(b));
    return reinterpret_cast<void*>(base);
  }

  uintptr_t next_address() {
    const uintptr_t base = next_base_;
    next_base_ += kAddressStride;
    return base;
  }

  void release_address(uintptr_t base) { by_address_.erase(base); }

  uintptr_t add_scratch_block(size_t size) {
    if (size > ctx_.max_binding_bytes())
      throw Error("vulkan backend: scratch of " + std::to_string(size >> 20) + " MiB exceeds what the device binds at once (" +
                  std::to_string(ctx_.max_binding_bytes() >> 20) + " MiB); use a smaller batch or context");
    auto buffer = ctx_.create_buffer(size, false, "scratch");
    const uintptr_t base = next_address();
    by_address_[base] = buffer.get();
    scratch_buffers_.emplace(base, std::move(buffer));
    return base;
  }

  void drop_scratch_block(uintptr_t base) {
    release_address(base);
    auto it = scratch_buffers_.find(base);
    ctx_.destroy_buffer(std::move(it->second));
    scratch_buffers_.erase(it);
  }

  // The buffer and byte offset of t, checking that every element it spans lies inside.
  Ref ref(Op op, const Tensor& t) const {
    const auto addr = reinterpret_cast<uintptr_t>(t.data);
    auto it = by_address_.upper_bound(addr);
    if (it == by_address_.begin() || addr - std::prev(it)->first >= kAddressStride)
      fail(op, t, "tensor is not in this backend's memory (make it with the Vulkan backend's weight() or scratch())");
    --it;
    const size_t offset = addr - it->first;
    size_t last = offset + gguf::row_bytes(t.type, t.ne[0]);
    for (int i = 1; i < 4; ++i) last += size_t(std::max<int64_t>(t.ne[size_t(i)] - 1, 0)) * t.nb[size_t(i)];
    if (last > it->second->size)
      fail(op, t, "view " + shape(t) + " reaches past the end of its buffer");
    const size_t align = ctx_.binding_alignment();
    const size_t start = offset / align * align;
    const size_t end = std::min(it->second->size, (last + 3) & ~size_t(3));
    return {it->second, offset - start, start, std::max<size_t>(end - start, 4)};
  }

  Ref transfer_ref(const Tensor& t, size_t bytes) const {
    const size_t size = t.nb[1] * size_t(t.ne[1] * t.ne[2] * t.ne[3]);
    if (!t.is_contiguous() || bytes > size)
      throw Error("vulkan backend: copy of " + std::to_string(bytes) + " bytes to/from '" + t.name +
                  "' needs a contiguous tensor of at least that size");
    return ref(Op::Copy, t);
  }

  size_t staging_size(size_t want) {
    const size_t size = std::min(want, kStagingBytes);
    if (!staging_ || staging_->size < size) {
      ctx_.destroy_buffer(std::move(staging_));
      staging_ = ctx_.create_buffer(size, true, "staging buffer");
    }
    return staging_->size;
  }

  static uint32_t words(Op op, const Tensor& t, size_t bytes) {
    if (bytes % 4 != 0) fail(op, t, "offset or stride of " + std::to_string(bytes) + " bytes is not a multiple of 4");
    return u32(op, t, bytes / 4);
  }

  static void fill_ne(Op op, const Tensor& t, uint32_t ne[4]) {
    for (size_t i = 0; i < 4; ++i) ne[i] = u32(op, t, uint64_t(t.ne[i]));
  }

  static Strides strides(Op op, const Tensor& t, const Ref& r) {
    return {words(op, t, r.offset), words(op, t, t.nb[1]), words(op, t, t.nb[2]), words(op, t, t.nb[3])};
  }

  void binary(Op op, const char* shader, const Tensor& a, const Tensor& b, const Tensor& out) {
    const Ref ar = ref(op, a), br = ref(op, b), orf = ref(op, out);
    struct {
      uint32_t ne[4];
      Strides sa, sb, so;
    } push{};
    fill_ne(op, a, push.ne);
    push.sa = strides(op, a, ar);
    push.sb = strides(op, b, br);
    push.so = strides(op, out, orf);
    const auto& p = ctx_.pipeline(shader, 3, sizeof push);
    const vulkan::Binding bufs[3] = {ar.in(), br.in(), orf.out()};
    dispatch(p, bufs, &push, uint64_t(a.n_elements()), 256);
  }

  // Cache lengths round up to a power of two, at least one attention chunk per split, so that
  // page tables and dispatches stay the same over many decode steps.
  static int64_t length_bucket(int64_t n_rows) {
    int64_t b = kLatentMinBucket;
    while (b < n_rows) b *= 2;
    return b;
  }

  // The page table of a latent op's cache slot, in the upload buffer: the op's first row, then
  // the word offset of each page's first row of this layer for the length bucket of the slot's
  // rows (pages past them are 0 and never read). Written again before every run of the graph
  // (write_values); ops of one slot with the same first row share it.
  PageTable page_table(Op op, const Tensor& t, const CacheBinding& cb, const CacheUse& use) {
    const LatentRows& cache = cb.rows;
    if (!supports_op(op, cache.type))
      fail(op, t, "latent cache element type " + std::string(gguf::type_name(cache.type)) +
                      " has no Vulkan kernel (" + vulkan::cache_types_list() + " do)");
    if (const int64_t unit = latent_unit(cache.type); cache.width % unit != 0)
      fail(op, t, std::string(gguf::type_name(cache.type)) + " latent rows of width " + std::to_string(cache.width) +
                      ", not a multiple of the " + std::to_string(unit) +
                      " values the shaders handle together; use such a width or an F32 cache");
    const int64_t capacity = length_bucket(cache.n_rows);
    const size_t n_words = size_t(1 + (capacity + cache.rows_per_page - 1) / cache.rows_per_page);
    Program::Table* table = nullptr;
    for (Program::Table& tb : program_->tables)
      if (tb.cache == use.slot && tb.first_is_pos == use.first_is_pos && tb.first == use.first) table = &tb;
    if (!table) {
      const size_t at = upload_bytes(n_words * 4) / 4;
      table = &program_->tables.emplace_back(Program::Table{use.slot, use.first_is_pos, use.first, at, n_words});
    }
    Buffer* buffer = fill_table(op, t, cache, use.first_row(cb), reinterpret_cast<uint32_t*>(upload_->mapped) + table->offset,
                                table->words);
    return {buffer, u32(op, t, table->offset), u32(op, t, uint64_t(cache.rows_per_page)), words(op, t, cache.row_stride),
            capacity};
  }

  // Writes a page table (see page_table) of `n_words` for the rows `cache` binds; returns the
  // buffer holding the pages. The pages must be memory of this backend (a page pool allocated
  // through allocate()), all in one buffer, since the shaders bind one.
  Buffer* fill_table(Op op, const Tensor& t, const LatentRows& cache, int64_t first, uint32_t* table,
                     size_t n_words) const {
    const int64_t n_pages = (cache.n_rows + cache.rows_per_page - 1) / cache.rows_per_page;
    if (size_t(1 + n_pages) > n_words) fail(op, t, "latent cache rows outgrew the compiled page table");
    std::fill(table, table + n_words, 0u);
    table[0] = u32(op, t, uint64_t(first));
    Buffer* buffer = nullptr;
    for (int64_t i = 0; i < n_pages; ++i) {
      const auto addr = reinterpret_cast<uintptr_t>(cache.pages[i]) + cache.page_offset;
      auto it = by_address_.upper_bound(addr);
      if (it == by_address_.begin() || addr - std::prev(it)->first >= kAddressStride)
        fail(op, t, "latent cache page " + std::to_string(i) + " is not Vulkan memory; the KV pages must be "
                    "allocated through this backend (host pages are not visible to the device)");
      --it;
      if (buffer && it->second != buffer)
        fail(op, t, "latent cache pages span several buffers; allocate the page pool as one tensor");
      buffer = it->second;
      const size_t off = addr - it->first;
      if (off + size_t(cache.rows_per_page - 1) * cache.row_stride + gguf::row_bytes(cache.type, cache.width) >
          buffer->size)
        fail(op, t, "latent cache page " + std::to_string(i) + " reaches past its buffer");
      table[1 + i] = words(op, t, off);
    }
    if (!buffer) fail(op, t, "empty latent cache");
    return buffer;
  }

  // Values one invocation of store/load_latent handles (latent_rows.comp): 16-bit values in
  // pairs that share a word, Q8_0 in blocks of 32.
  static int64_t latent_unit(TensorType t) {
    if (t == TensorType::Q8_0) return 32;
    return t == TensorType::F16 || t == TensorType::BF16 ? 2 : 1;
  }

  void latent_rows(Op op, const char* shader, const Tensor& t, const CacheBinding& cb, const CacheUse& use) {
    if (t.ne[1] == 0) return;
    const LatentRows& cache = cb.rows;
    const Ref tr = ref(op, t);
    const PageTable pt = page_table(op, t, cb, use);
    const uint32_t push[7] = {uint32_t(cache.width), u32(op, t, t.ne[1]), pt.rows_per_page, pt.row_stride, pt.offset,
                              words(op, t, tr.offset), words(op, t, t.nb[1])};
    const auto& p = ctx_.pipeline(std::string(shader) + "_" + vulkan::cache_suffix(cache.type), 3, sizeof push);
    const bool store = op == Op::StoreLatent;
    const vulkan::Binding bufs[3] = {store ? tr.in() : tr.out(), pt.pool(store), upload_binding()};
    dispatch(p, bufs, push, uint64_t(cache.width / latent_unit(cache.type)) * uint64_t(t.ne[1]), 256);
  }

  // Tiles of kIdTileColumns (token, slot) pairs the routing can cut: each expert's list and the
  // bucket of invalid ids end in at most one partial tile.
  static uint64_t max_id_tiles(int64_t n_expert, int64_t pairs) {
    return uint64_t((pairs + kIdTileColumns - 1) / kIdTileColumns + n_expert + 1);
  }

  // The temporary mul_mat_id_tiles.comp writes for `pairs` (token, slot) pairs (its layout is
  // described there).
  vulkan::Binding route_buffer(Op op, const Tensor& ids, int64_t n_expert, int64_t pairs) {
    const uint64_t words = 1 + 2 * uint64_t(n_expert + 1) + uint64_t(pairs) + 2 * max_id_tiles(n_expert, pairs);
    return temp(size_t(u32(op, ids, words)) * 4, true);
  }

  std::string matvec_shader(const char* prefix, TensorType t) const {
    return std::string(prefix) + vulkan::weight_suffix(t) + (ctx_.use_subgroups() ? "_sg" : "");
  }

  // The input of a matmul as its shader reads it: the f32 tensor itself for float weights, or
  // its rows converted on the device into a temporary, in the weight's quant::vec_dot_type
  // (Q8_0 for Q8_0/Q4_0/Q5_0, Q8_1 for Q4_1/Q5_1, Q8_K for Q4_K/Q5_K/Q6_K), as the CPU converts
  // them. Matmuls of the same input (a layer's q and kv projections, an FFN's gate and up) share
  // one conversion while the input and the temporary are intact. Fills the x fields of push.
  vulkan::Binding activations(Op op, TensorType wt, const Tensor& x, int64_t N, int64_t B, MatVecPush& push) {
    const Ref xr = ref(op, x);
    const TensorType at = quant::vec_dot_type(wt);
    if (at == TensorType::F32) {
      push.x_off = words(op, x, xr.offset);
      push.x_nb1 = words(op, x, x.nb[1]);
      push.x_nb2 = words(op, x, x.nb[2]);
      return xr.in();
    }
    // Q8_0 activations in units of 9 words per 32 values; Q8_1 (Q8_0 and the quants' sum) and
    // Q8_K (quantized per 256) in units of 10 per 32 (see the quantize shaders).
    const bool k_quant = at == TensorType::Q8_K;
    const int64_t block = k_quant ? 256 : 32;
    if (x.ne[0] % block != 0)
      fail(op, x, "rows of " + std::to_string(x.ne[0]) + " are not whole " + std::string(gguf::type_name(at)) + " blocks");
    const uint32_t units = uint32_t(x.ne[0] / 32), unit_words = at == TensorType::Q8_0 ? 9 : 10;
    const size_t bytes = size_t(units) * unit_words * 4 * size_t(N * B);
    push.x_off = 0;
    push.x_nb1 = units * unit_words;
    push.x_nb2 = u32(op, x, uint64_t(units) * unit_words * uint64_t(N));
    const Act key{xr.buffer->buffer, xr.at(), xr.at() + xr.bind_range, {uint32_t(x.ne[0]), uint32_t(N), uint32_t(B),
                  uint32_t(x.nb[1]), uint32_t(x.nb[2])}, at, {}, 0};
    for (const Act& a : acts_)
      if (a.same_input(key) && temp_used_ <= a.ring_end + temps_->size - a.temp.range) return a.temp;
    const uint32_t nblk = uint32_t(x.ne[0] / block);
    const uint32_t qpush[6] = {nblk, u32(op, x, N), u32(op, x, B), words(op, x, xr.offset),
                               words(op, x, x.nb[1]), words(op, x, x.nb[2])};
    const char* shader = k_quant ? "quantize_q8_k" : at == TensorType::Q8_1 ? "quantize_q8_1" : "quantize_q8_0";
    const auto& p = ctx_.pipeline(shader, 2, sizeof qpush);
    vulkan::Binding out = temp(bytes, true);
    const vulkan::Binding bufs[2] = {xr.in(), out};
    dispatch(p, bufs, qpush, uint64_t(nblk) * uint64_t(N * B), 64);
    out.write = false;
    Act a = key;
    a.temp = out;
    a.ring_end = temp_used_;
    acts_.push_back(a);
    return out;
  }

  // Dispatches enough workgroups of `group` invocations for n items, the count split over the
  // grid's dimensions so that none exceeds the device's limit. A write ends the sharing of
  // converted activations whose input it overlaps.
  void dispatch(const vulkan::Pipeline& p, std::span<const vulkan::Binding> bufs, const void* push, uint64_t n,
                uint32_t group) {
    uint64_t groups = (n + group - 1) / group;
    if (groups == 0) return;
    const uint64_t lim = ctx_.max_group_count();
    const uint64_t gx = std::min(groups, lim);
    const uint64_t gy = std::min((groups + gx - 1) / gx, lim);
    const uint64_t gz = (groups + gx * gy - 1) / (gx * gy);
    if (gz > lim) throw Error("vulkan backend: a dispatch of " + std::to_string(n) + " items exceeds the device's grid");
    for (const vulkan::Binding& b : bufs) {
      if (!b.write) continue;
      const size_t end = b.range == VK_WHOLE_SIZE ? SIZE_MAX : b.offset + b.range;
      std::erase_if(acts_, [&](const Act& a) { return a.buffer == b.buffer && a.begin < end && b.offset < a.end; });
    }
    list_.dispatch(p, bufs, push, uint32_t(gx), uint32_t(gy), uint32_t(gz));
  }

  // Activations converted for a matmul during the current compile (see activations()).
  struct Act {
    VkBuffer buffer;
    size_t begin, end;               // the input's bytes
    std::array<uint32_t, 5> layout;  // row length, N, B, nb1, nb2
    TensorType type;
    vulkan::Binding temp;
    uint64_t ring_end;  // temp_used_ after it was allocated
    bool same_input(const Act& o) const {
      return buffer == o.buffer && begin == o.begin && end == o.end && layout == o.layout && type == o.type;
    }
  };

  Context ctx_;
  std::map<uintptr_t, Buffer*> by_address_;  // buffer base address -> buffer
  uintptr_t next_base_ = kAddressBase;
  std::vector<std::unique_ptr<Buffer>> weights_;
  std::map<uintptr_t, std::unique_ptr<Buffer>> scratch_buffers_;  // scratch blocks by address
  std::map<uintptr_t, std::unique_ptr<Buffer>> allocations_;      // allocate()d buffers by address
  ScratchArena scratch_{256, kScratchBlock, [this](size_t size) { return add_scratch_block(size); },
                        [this](uintptr_t base) { drop_scratch_block(base); }};
  std::unique_ptr<Buffer> upload_;    // graphs' inputs and page tables (host-visible)
  uintptr_t upload_base_ = 0;
  size_t upload_used_ = 0;            // by the graph being compiled
  std::unique_ptr<Buffer> temps_;     // the kernels' temporaries, a ring
  size_t temps_size_ = kTempBytes;
  uint64_t temp_used_ = 0;            // ring bytes handed out while compiling (unwrapped)
  std::unique_ptr<Buffer> readback_;  // outputs of graphs whose arena is not host-visible
  vulkan::CommandList list_;          // of the graph being compiled
  Program* program_ = nullptr;        // the graph being compiled
  std::vector<Act> acts_;
  std::vector<Program> programs_;     // compiled graphs, least recently used dropped
  uint64_t clock_ = 0;
  GraphStats stats_;
  std::unique_ptr<Buffer> staging_;   // host-visible transfer buffer (devices without mapped memory)
  std::unique_ptr<Buffer> arena_;     // intermediates of the running graph
  uintptr_t arena_base_ = 0;
  std::vector<std::pair<uint64_t, MemoryPlan>> plans_;  // by graph id, oldest first
};

}  // namespace

std::unique_ptr<VulkanBackend> make_vulkan_backend(const VulkanOptions& options) {
  return std::make_unique<VulkanBackendImpl>(options);
}

}  // namespace latent::backend
