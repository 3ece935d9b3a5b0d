#include "backend/vulkan/vulkan_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "backend/scratch_stack.h"
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
constexpr size_t kUploadBytes = size_t(1) << 20;    // ids and positions recorded between flushes
constexpr size_t kStagingBytes = size_t(64) << 20;  // transfers larger than this go in chunks

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

void expect_f32(Op op, const Tensor& t) {
  if (t.type != TensorType::F32) fail(op, t, "expected an F32 tensor, got " + std::string(gguf::type_name(t.type)));
}

void expect_same_shape(Op op, const Tensor& a, const Tensor& b) {
  if (a.ne != b.ne) fail(op, b, "shape " + shape(b) + " differs from " + shape(a));
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

class VulkanBackendImpl final : public VulkanBackend {
 public:
  explicit VulkanBackendImpl(const VulkanOptions& o)
      : ctx_(vulkan::ContextOptions{o.device, o.validation || vulkan::validation_requested(), o.allow_subgroups,
                                    o.force_staging, o.reuse_commands && !vulkan::replay_disabled()}) {
    upload_ = ctx_.create_buffer(kUploadBytes, true, "upload buffer");
  }

  ~VulkanBackendImpl() override {
    ctx_.flush();
    for (auto& b : weights_) ctx_.destroy_buffer(std::move(b));
    for (auto& [base, b] : allocations_) ctx_.destroy_buffer(std::move(b));
    scratch_.clear();
    ctx_.destroy_buffer(std::move(act_));
    ctx_.destroy_buffer(std::move(route_));
    ctx_.destroy_buffer(std::move(partials_));
    ctx_.destroy_buffer(std::move(upload_));
    ctx_.destroy_buffer(std::move(staging_));
  }

  std::string_view name() const override { return "vulkan"; }
  uint64_t validation_errors() const override { return ctx_.validation_errors(); }
  std::string_view device_name() const override { return ctx_.info().name; }
  bool uses_subgroups() const override { return ctx_.use_subgroups(); }
  vulkan::SubmitStats submit_stats() const override { return ctx_.submit_stats(); }

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

  size_t scratch_mark() const override { return scratch_.mark(); }
  void release_scratch(size_t mark) override { scratch_.pop_to(mark); }

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
      ctx_.flush();  // pending ops may still read the old contents
      std::memcpy(static_cast<char*>(r.buffer->mapped) + r.offset, src, bytes);
      return;
    }
    // The copies from the staging buffer run after the pending ops, in the same submission.
    for (size_t done = 0; done < bytes;) {
      const size_t n = std::min(bytes - done, staging_size(bytes));
      std::memcpy(staging_->mapped, static_cast<const char*>(src) + done, n);
      ctx_.copy(staging_->buffer, 0, r.buffer->buffer, r.offset + done, n);
      ctx_.flush();
      done += n;
    }
  }

  void read(const Tensor& src, void* dst, size_t bytes) override {
    const Ref r = transfer_ref(src, bytes);
    if (r.buffer->mapped) {
      ctx_.flush();
      std::memcpy(dst, static_cast<const char*>(r.buffer->mapped) + r.offset, bytes);
      return;
    }
    // The first copy to the staging buffer ends the pending ops' submission (a decode step's
    // logits cost no submission of their own).
    for (size_t done = 0; done < bytes;) {
      const size_t n = std::min(bytes - done, staging_size(bytes));
      ctx_.copy(r.buffer->buffer, r.offset + done, staging_->buffer, 0, n);
      ctx_.flush();
      std::memcpy(static_cast<char*>(dst) + done, staging_->mapped, n);
      done += n;
    }
  }

  void get_rows(const Tensor& table, std::span<const int32_t> ids, const Tensor& out) override {
    require(Op::GetRows, table);
    expect_f32(Op::GetRows, out);
    if (out.ne[0] != table.ne[0] || out.ne[1] != int64_t(ids.size()))
      fail(Op::GetRows, out, "shape " + shape(out) + " does not fit table " + shape(table));
    for (int32_t id : ids)
      if (id < 0 || id >= table.ne[1])
        fail(Op::GetRows, table, "row " + std::to_string(id) + " out of range [0, " + std::to_string(table.ne[1]) + ")");
    if (ids.empty()) return;
    const Ref tr = ref(Op::GetRows, table), orf = ref(Op::GetRows, out);
    const size_t ids_at = upload(ids.data(), ids.size_bytes());
    const uint32_t push[7] = {u32(Op::GetRows, table, table.ne[0]), u32(Op::GetRows, out, ids.size()),
                              uint32_t(ids_at / 4), u32(Op::GetRows, table, tr.offset),
                              u32(Op::GetRows, table, table.nb[1]), words(Op::GetRows, out, orf.offset),
                              words(Op::GetRows, out, out.nb[1])};
    const auto& p = ctx_.pipeline(std::string("get_rows_") + vulkan::weight_suffix(table.type), 3, sizeof push);
    const VkBuffer bufs[3] = {tr.buffer->buffer, upload_->buffer, orf.buffer->buffer};
    dispatch(p, bufs, push, uint64_t(table.ne[0]) * ids.size(), 256);
  }

  void rms_norm(const Tensor& x, const Tensor& w, float eps, const Tensor& out) override {
    expect_f32(Op::RmsNorm, x);
    expect_f32(Op::RmsNorm, w);
    expect_f32(Op::RmsNorm, out);
    expect_same_shape(Op::RmsNorm, x, out);
    if (w.ne[0] != x.ne[0]) fail(Op::RmsNorm, w, "norm weight length differs from rows of " + shape(x));
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
    const VkBuffer bufs[3] = {xr.buffer->buffer, wr.buffer->buffer, orf.buffer->buffer};
    dispatch(p, bufs, &push, uint64_t(x.ne[1] * x.ne[2] * x.ne[3]), 1);
  }

  void add(const Tensor& a, const Tensor& b, const Tensor& out) override { binary(Op::Add, "add", a, b, out); }
  void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
    binary(Op::SwiGlu, "swiglu", gate, up, out);
  }

  void copy(const Tensor& src, const Tensor& dst) override {
    expect_same_shape(Op::Copy, src, dst);
    if (src.type != dst.type) fail(Op::Copy, dst, "type differs from source");
    const size_t row = gguf::row_bytes(src.type, src.ne[0]);
    if (row % 4 != 0)
      fail(Op::Copy, src, "rows of " + std::to_string(row) + " bytes; the copy shader moves 4-byte words");
    const Ref sr = ref(Op::Copy, src), dr = ref(Op::Copy, dst);
    const size_t bytes = row * size_t(src.ne[1] * src.ne[2] * src.ne[3]);
    const bool overlap = sr.buffer == dr.buffer && sr.offset < dr.offset + bytes && dr.offset < sr.offset + bytes;
    if (src.is_contiguous() && dst.is_contiguous() && !overlap) {
      // One transfer command: a DMA engine on GPUs, memcpy on lavapipe.
      ctx_.copy(sr.buffer->buffer, sr.offset, dr.buffer->buffer, dr.offset, bytes);
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
    const VkBuffer bufs[2] = {sr.buffer->buffer, dr.buffer->buffer};
    dispatch(p, bufs, &push, uint64_t(push.ne[0]) * uint64_t(src.ne[1] * src.ne[2] * src.ne[3]), 256);
  }

  void mul_mat(const Tensor& w, const Tensor& x, const Tensor& out) override {
    require(Op::MulMat, w);
    expect_f32(Op::MulMat, x);
    expect_f32(Op::MulMat, out);
    const int64_t K = w.ne[0], M = w.ne[1], N = x.ne[1];
    const int64_t B = std::max(w.ne[2], x.ne[2]);
    if (x.ne[0] != K)
      fail(Op::MulMat, x, "input rows of " + std::to_string(x.ne[0]) + " do not match weight rows of " +
                              std::to_string(K) + " (" + w.name + ")");
    if ((w.ne[2] != 1 && w.ne[2] != B) || (x.ne[2] != 1 && x.ne[2] != B) || w.ne[3] != 1 || x.ne[3] != 1)
      fail(Op::MulMat, x, "batch dims of " + shape(x) + " do not match weight " + shape(w));
    if (out.ne[0] != M || out.ne[1] != N || out.ne[2] != B)
      fail(Op::MulMat, out, "output " + shape(out) + " does not fit weight " + shape(w) + " times input " + shape(x));
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
    const VkBuffer xbuf = activations(Op::MulMat, w.type, x, x.ne[1], x.ne[2], push);
    if (x.ne[2] == 1) push.x_nb2 = 0;
    const VkBuffer bufs[3] = {wr.buffer->buffer, xbuf, orf.buffer->buffer};
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
    expect_f32(Op::MulMatId, x);
    expect_f32(Op::MulMatId, out);
    const int64_t K = w.ne[0], M = w.ne[1];
    const int64_t X = x.ne[1], T = x.ne[2], U = ids.ne[0];
    if (x.ne[0] != K) fail(Op::MulMatId, x, "input rows do not match weight " + shape(w) + " (" + w.name + ")");
    if (ids.type != TensorType::I32 || ids.ne[1] != T || (X != 1 && X != U))
      fail(Op::MulMatId, ids, "ids " + shape(ids) + " do not fit input " + shape(x));
    if (out.ne[0] != M || out.ne[1] != U || out.ne[2] != T)
      fail(Op::MulMatId, out, "output " + shape(out) + " does not fit weight " + shape(w));
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
    const VkBuffer xbuf = activations(Op::MulMatId, w.type, x, X, T, push);
    if (X == 1) push.x_nb1 = 0;  // every slot reads the token's one shared input row
    if (T > kVecColumns && w.ne[2] <= kIdTileMaxExperts) {
      // Prefill: the (token, slot) pairs sorted by expert on the device, then tiles of 64 rows
      // by 32 of an expert's pairs, so its weights are read once per tile instead of per token.
      const Buffer& route = route_buffer(Op::MulMatId, ids, w.ne[2], U * T);
      const uint32_t rpush[6] = {push.N, push.B, push.n_expert, push.ids_off, push.ids_nb1, uint32_t(kIdTileColumns)};
      const VkBuffer rbufs[2] = {ir.buffer->buffer, route.buffer};
      dispatch(ctx_.pipeline("mul_mat_id_tiles", 2, sizeof rpush), rbufs, rpush, 1, 1);
      const auto& p = ctx_.pipeline(std::string("mul_mat_id_tile_") + vulkan::weight_suffix(w.type), 4, sizeof push);
      const VkBuffer bufs[4] = {wr.buffer->buffer, xbuf, orf.buffer->buffer, route.buffer};
      dispatch(p, bufs, &push, uint64_t((M + 63) / 64) * uint64_t(max_id_tiles(w.ne[2], U * T)), 1);
      return;
    }
    // Decode: one workgroup per weight row, slot and token.
    const auto& p = ctx_.pipeline(matvec_shader("mul_mat_id_", w.type), 4, sizeof push);
    const VkBuffer bufs[4] = {wr.buffer->buffer, xbuf, orf.buffer->buffer, ir.buffer->buffer};
    dispatch(p, bufs, &push, uint64_t((M + kVecRows - 1) / kVecRows) * uint64_t(U) * uint64_t(T), 1);
  }

  void rope(const Tensor& x, std::span<const int32_t> positions, const RopeParams& rp) override {
    expect_f32(Op::Rope, x);
    if (x.ne[0] != rp.n_rot || rp.n_rot % 2 != 0)
      fail(Op::Rope, x, "rows of " + std::to_string(x.ne[0]) + " but n_rot " + std::to_string(rp.n_rot));
    if (x.ne[2] != int64_t(positions.size()))
      fail(Op::Rope, x, "tokens " + std::to_string(x.ne[2]) + " but " + std::to_string(positions.size()) + " positions");
    if (positions.empty()) return;
    const Ref xr = ref(Op::Rope, x);
    // The YaRN correction dims, computed on the host exactly as the CPU backend does.
    auto corr_dim = [&](float n_rot) {
      return float(rp.n_rot) * std::log(float(rp.n_ctx_orig) / (n_rot * 2 * float(M_PI))) / (2 * std::log(rp.freq_base));
    };
    struct {
      uint32_t n_rot, n_head, T, pos_off, x_off, x_nb1, x_nb2;
      float theta_scale, freq_scale, ext_factor, attn_factor, yarn_mscale, corr_lo, corr_hi;
    } push{};
    push.n_rot = uint32_t(rp.n_rot);
    push.n_head = u32(Op::Rope, x, x.ne[1]);
    push.T = u32(Op::Rope, x, x.ne[2]);
    push.pos_off = uint32_t(upload(positions.data(), positions.size_bytes()) / 4);
    push.x_off = words(Op::Rope, x, xr.offset);
    push.x_nb1 = words(Op::Rope, x, x.nb[1]);
    push.x_nb2 = words(Op::Rope, x, x.nb[2]);
    push.theta_scale = std::pow(rp.freq_base, -2.0f / float(rp.n_rot));
    push.freq_scale = rp.freq_scale;
    push.ext_factor = rp.ext_factor;
    push.attn_factor = rp.attn_factor;
    push.yarn_mscale = 1.0f + 0.1f * std::log(1.0f / rp.freq_scale);
    push.corr_lo = std::max(0.0f, std::floor(corr_dim(rp.beta_fast)));
    push.corr_hi = std::min(float(rp.n_rot - 1), std::ceil(corr_dim(rp.beta_slow)));
    const auto& p = ctx_.pipeline("rope", 2, sizeof push);
    const VkBuffer bufs[2] = {xr.buffer->buffer, upload_->buffer};
    dispatch(p, bufs, &push, uint64_t(rp.n_rot / 2) * uint64_t(x.ne[1]) * uint64_t(x.ne[2]), 64);
  }

  void moe_route(const Tensor& logits, const Tensor& bias, const RouteParams& rp, const Tensor& ids,
                 const Tensor& weights) override {
    expect_f32(Op::MoeRoute, logits);
    expect_f32(Op::MoeRoute, weights);
    const int64_t E = logits.ne[0], T = logits.ne[1], U = rp.n_expert_used;
    if (ids.type != TensorType::I32 || ids.ne[0] != U || ids.ne[1] != T || weights.ne[0] != U || weights.ne[1] != T)
      fail(Op::MoeRoute, ids, "ids (I32) and weights must be {n_expert_used, n_tokens}");
    if (rp.n_group < 1 || E % rp.n_group != 0 || rp.n_group_used < 1 || rp.n_group_used > rp.n_group)
      fail(Op::MoeRoute, logits, "expert groups " + std::to_string(rp.n_group) + " (used " +
                                     std::to_string(rp.n_group_used) + ") do not divide " + std::to_string(E) + " experts");
    // The shader's private arrays (moe_route.comp's MAX_*): DeepSeek-V3 has 256 experts in 8
    // groups, 8 used.
    if (E > 256 || rp.n_group > 64 || U < 1 || U > 32 || U > E)
      fail(Op::MoeRoute, logits, std::to_string(E) + " experts, " + std::to_string(U) + " used, " +
                                     std::to_string(rp.n_group) + " groups exceed the kernel's 256, 32, 64");
    if (T == 0) return;
    const Ref lr = ref(Op::MoeRoute, logits), ir = ref(Op::MoeRoute, ids), wr = ref(Op::MoeRoute, weights);
    const bool has_bias = bias.data != nullptr;
    Ref br = lr;
    if (has_bias) {
      expect_f32(Op::MoeRoute, bias);
      if (bias.ne[0] != E) fail(Op::MoeRoute, bias, "bias length differs from " + std::to_string(E) + " experts");
      br = ref(Op::MoeRoute, bias);
    }
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
    const VkBuffer bufs[4] = {lr.buffer->buffer, br.buffer->buffer, ir.buffer->buffer, wr.buffer->buffer};
    dispatch(p, bufs, &push, uint64_t(T), 64);
  }

  void moe_combine(const Tensor& experts, const Tensor& weights, const Tensor& out) override {
    expect_f32(Op::MoeCombine, experts);
    expect_f32(Op::MoeCombine, weights);
    expect_f32(Op::MoeCombine, out);
    const int64_t n = experts.ne[0], U = experts.ne[1], T = experts.ne[2];
    if (out.ne[0] != n || out.ne[1] != T || weights.ne[0] != U || weights.ne[1] != T)
      fail(Op::MoeCombine, out, "shapes do not fit experts " + shape(experts));
    const Ref er = ref(Op::MoeCombine, experts), wr = ref(Op::MoeCombine, weights), orf = ref(Op::MoeCombine, out);
    const uint32_t push[10] = {u32(Op::MoeCombine, experts, n), u32(Op::MoeCombine, experts, U),
                               u32(Op::MoeCombine, experts, T), words(Op::MoeCombine, experts, er.offset),
                               words(Op::MoeCombine, experts, experts.nb[1]), words(Op::MoeCombine, experts, experts.nb[2]),
                               words(Op::MoeCombine, weights, wr.offset), words(Op::MoeCombine, weights, weights.nb[1]),
                               words(Op::MoeCombine, out, orf.offset), words(Op::MoeCombine, out, out.nb[1])};
    const auto& p = ctx_.pipeline("moe_combine", 3, sizeof push);
    const VkBuffer bufs[3] = {er.buffer->buffer, wr.buffer->buffer, orf.buffer->buffer};
    dispatch(p, bufs, push, uint64_t(n) * uint64_t(T), 256);
  }

  void store_latent(const Tensor& src, const LatentRows& cache, int64_t first_row) override {
    expect_f32(Op::StoreLatent, src);
    if (src.ne[0] != cache.width || first_row < 0 || first_row + src.ne[1] > cache.n_rows)
      fail(Op::StoreLatent, src, "rows " + shape(src) + " do not fit the cache at row " + std::to_string(first_row));
    latent_rows(Op::StoreLatent, "store_latent", src, cache, first_row);
  }

  void load_latent(const LatentRows& cache, int64_t first_row, const Tensor& dst) override {
    expect_f32(Op::LoadLatent, dst);
    if (dst.ne[0] != cache.width || first_row < 0 || first_row + dst.ne[1] > cache.n_rows)
      fail(Op::LoadLatent, dst, "rows " + shape(dst) + " exceed the cache");
    latent_rows(Op::LoadLatent, "load_latent", dst, cache, first_row);
  }

  void attention_latent(const Tensor& q, const LatentRows& cache, int64_t first_pos, float scale,
                        const Tensor& out) override {
    expect_f32(Op::AttentionLatent, q);
    expect_f32(Op::AttentionLatent, out);
    const int64_t W = q.ne[0], H = q.ne[1], T = q.ne[2], L = out.ne[0];
    if (W != cache.width || out.ne[1] != H || out.ne[2] != T || L > W)
      fail(Op::AttentionLatent, q, "query " + shape(q) + " / output " + shape(out) +
                                       " do not fit cache rows of " + std::to_string(cache.width));
    if (first_pos + T > cache.n_rows)
      fail(Op::AttentionLatent, q, "queries reach position " + std::to_string(first_pos + T) +
                                       " but the cache holds " + std::to_string(cache.n_rows));
    if (W > kLatentMaxWidth)
      fail(Op::AttentionLatent, q, "cache rows of " + std::to_string(W) + " values exceed the kernel's " +
                                       std::to_string(kLatentMaxWidth));
    if (H * T == 0) return;
    const Ref qr = ref(Op::AttentionLatent, q), orf = ref(Op::AttentionLatent, out);
    const PageTable pt = page_table(Op::AttentionLatent, q, cache, first_pos, first_pos + T);
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
    VkBuffer bufs[4] = {qr.buffer->buffer, pt.buffer->buffer, upload_->buffer, orf.buffer->buffer};
    if (n_split == 1) {
      dispatch(p, bufs, &push, uint64_t(groups), 1);
      return;
    }
    // Per (query, head, split): max, sum, unnormalized output.
    const size_t bytes = size_t(T * H * n_split * (L + 2)) * 4;
    if (!partials_ || partials_->size < bytes) {
      ctx_.destroy_buffer(std::move(partials_));  // waits for recorded ops that still use it
      partials_ = ctx_.create_buffer(std::max(bytes, size_t(1) << 20), false, "attention partials");
    }
    bufs[3] = partials_->buffer;
    dispatch(p, bufs, &push, uint64_t(groups * n_split), 1);
    const uint32_t cpush[7] = {push.L, push.H, push.T, push.n_split, push.o_off, push.o_nb1, push.o_nb2};
    const auto& cp = ctx_.pipeline("attention_latent_combine", 2, sizeof cpush);
    const VkBuffer cbufs[2] = {partials_->buffer, orf.buffer->buffer};
    dispatch(cp, cbufs, cpush, uint64_t(H * T), 1);
  }

  void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t first_pos, float scale,
                 const Tensor& out) override {
    for (const Tensor* t : {&q, &k, &v, &out}) expect_f32(Op::Attention, *t);
    const int64_t Dk = q.ne[0], H = q.ne[1], T = q.ne[2], Dv = v.ne[0];
    if (k.ne[0] != Dk || k.ne[1] != H || v.ne[1] != H || v.ne[2] != k.ne[2] || out.ne[0] != Dv ||
        out.ne[1] != H || out.ne[2] != T)
      fail(Op::Attention, q, "q " + shape(q) + ", k " + shape(k) + ", v " + shape(v) + ", out " + shape(out) +
                                 " do not fit");
    if (first_pos + T > k.ne[2])
      fail(Op::Attention, k, "queries reach position " + std::to_string(first_pos + T) + " but only " +
                                 std::to_string(k.ne[2]) + " keys");
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
    const VkBuffer bufs[4] = {qr.buffer->buffer, kr.buffer->buffer, vr.buffer->buffer, orf.buffer->buffer};
    dispatch(p, bufs, &push, uint64_t(H * T), 1);
  }

  void argmax(const Tensor& x, const Tensor& out) override {
    expect_f32(Op::Argmax, x);
    if (x.ne[0] < 1 || x.ne[2] != 1 || x.ne[3] != 1)
      fail(Op::Argmax, x, "expected rows [n >= 1, rows], got " + shape(x));
    if (out.type != TensorType::I32 || out.ne != std::array<int64_t, 4>{x.ne[1], 1, 1, 1})
      fail(Op::Argmax, out, "expected an I32 tensor {" + std::to_string(x.ne[1]) + "} (one id per row of " + shape(x) +
                                "), got " + std::string(gguf::type_name(out.type)) + " " + shape(out));
    if (x.ne[1] == 0) return;
    const Ref xr = ref(Op::Argmax, x), orf = ref(Op::Argmax, out);
    // Shapes only: the same step's argmax replays with its command buffer.
    const uint32_t push[5] = {u32(Op::Argmax, x, x.ne[0]), u32(Op::Argmax, x, x.ne[1]), words(Op::Argmax, x, xr.offset),
                              words(Op::Argmax, x, x.nb[1]), words(Op::Argmax, out, orf.offset)};
    const auto& p = ctx_.pipeline("argmax", 2, sizeof push);
    const VkBuffer bufs[2] = {xr.buffer->buffer, orf.buffer->buffer};
    dispatch(p, bufs, push, uint64_t(x.ne[1]), 1);  // one workgroup per row
  }

 private:
  struct Ref {
    Buffer* buffer;
    size_t offset;  // bytes
  };
  // A LatentRows page table uploaded for the shaders: the op's first row, then the word offsets
  // of each page's first row of this layer, all pages in one buffer of this backend, for
  // `capacity` rows (the length bucket; pages past the cache's rows are 0 and never read).
  struct PageTable {
    Buffer* buffer;
    uint32_t offset;  // words into the upload buffer
    uint32_t rows_per_page, row_stride;
    int64_t capacity;
  };
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
    for (int i = 1; i < 4; ++i) last += size_t(t.ne[size_t(i)] - 1) * t.nb[size_t(i)];
    if (last > it->second->size)
      fail(op, t, "view " + shape(t) + " reaches past the end of its buffer");
    return {it->second, offset};
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

  // Copies small host arrays (ids, positions, page tables) into the upload buffer for the ops
  // before the next flush; returns the byte offset. The same bytes as the previous upload (a
  // layer's positions for q and k, its page table for storing and attending) are not copied
  // again.
  size_t upload(const void* data, size_t bytes) {
    if (bytes > kUploadBytes) throw Error("vulkan backend: more than " + std::to_string(kUploadBytes / 4) + " ids in one op");
    if (upload_used_ + bytes > kUploadBytes) ctx_.flush();
    // Offsets restart with each submission, so that a step's uploads land where the previous
    // step's did (replay needs equal offsets), however the step began.
    if (ctx_.submissions() != upload_epoch_) {
      upload_epoch_ = ctx_.submissions();
      upload_used_ = 0;
      upload_last_ = {0, 0};
    }
    if (!upload_->mapped) throw Error("vulkan backend: the device has no host-visible coherent memory for uploads");
    char* base = static_cast<char*>(upload_->mapped);
    if (upload_last_.second == bytes && std::memcmp(base + upload_last_.first, data, bytes) == 0)
      return upload_last_.first;
    std::memcpy(base + upload_used_, data, bytes);
    upload_last_ = {upload_used_, bytes};
    upload_used_ = (upload_used_ + bytes + 15) & ~size_t(15);
    return upload_last_.first;
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
    expect_f32(op, a);
    expect_f32(op, b);
    expect_f32(op, out);
    expect_same_shape(op, a, b);
    expect_same_shape(op, a, out);
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
    const VkBuffer bufs[3] = {ar.buffer->buffer, br.buffer->buffer, orf.buffer->buffer};
    dispatch(p, bufs, &push, uint64_t(a.n_elements()), 256);
  }

  // Cache lengths round up to a power of two, at least one attention chunk per split, so that
  // page tables and dispatches stay the same over many decode steps.
  static int64_t length_bucket(int64_t n_rows) {
    int64_t b = kLatentMinBucket;
    while (b < n_rows) b *= 2;
    return b;
  }

  // The page table of cache rows [0, n_rows) behind `first` (the op's first row). The pages must
  // be memory of this backend (a page pool allocated through allocate()), all in one buffer,
  // since the shaders bind one.
  PageTable page_table(Op op, const Tensor& t, const LatentRows& cache, int64_t first, int64_t n_rows) {
    if (!supports_op(op, cache.type))
      fail(op, t, "latent cache element type " + std::string(gguf::type_name(cache.type)) +
                      " has no Vulkan kernel (" + vulkan::cache_types_list() + " do)");
    if (const int64_t unit = latent_unit(cache.type); cache.width % unit != 0)
      fail(op, t, std::string(gguf::type_name(cache.type)) + " latent rows of width " + std::to_string(cache.width) +
                      ", not a multiple of the " + std::to_string(unit) +
                      " values the shaders handle together; use such a width or an F32 cache");
    if (cache.rows_per_page < 1) fail(op, t, "latent cache pages must hold at least one row");
    const int64_t n_pages = (n_rows + cache.rows_per_page - 1) / cache.rows_per_page;
    const int64_t capacity = length_bucket(n_rows);
    std::vector<uint32_t> table(size_t(1 + (capacity + cache.rows_per_page - 1) / cache.rows_per_page), 0);
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
      table[size_t(1 + i)] = words(op, t, off);
    }
    if (!buffer) fail(op, t, "empty latent cache");
    const uint32_t at = uint32_t(upload(table.data(), table.size() * 4) / 4);
    return {buffer, at, u32(op, t, uint64_t(cache.rows_per_page)), words(op, t, cache.row_stride), capacity};
  }

  // Values one invocation of store/load_latent handles (latent_rows.comp): 16-bit values in
  // pairs that share a word, Q8_0 in blocks of 32.
  static int64_t latent_unit(TensorType t) {
    if (t == TensorType::Q8_0) return 32;
    return t == TensorType::F16 || t == TensorType::BF16 ? 2 : 1;
  }

  void latent_rows(Op op, const char* shader, const Tensor& t, const LatentRows& cache, int64_t first_row) {
    if (t.ne[1] == 0) return;
    const Ref tr = ref(op, t);
    const PageTable pt = page_table(op, t, cache, first_row, first_row + t.ne[1]);
    const uint32_t push[7] = {uint32_t(cache.width), u32(op, t, t.ne[1]), pt.rows_per_page, pt.row_stride, pt.offset,
                              words(op, t, tr.offset), words(op, t, t.nb[1])};
    const auto& p = ctx_.pipeline(std::string(shader) + "_" + vulkan::cache_suffix(cache.type), 3, sizeof push);
    const VkBuffer bufs[3] = {tr.buffer->buffer, pt.buffer->buffer, upload_->buffer};
    dispatch(p, bufs, push, uint64_t(cache.width / latent_unit(cache.type)) * uint64_t(t.ne[1]), 256);
  }

  // Tiles of kIdTileColumns (token, slot) pairs the routing can cut: each expert's list and the
  // bucket of invalid ids end in at most one partial tile.
  static uint64_t max_id_tiles(int64_t n_expert, int64_t pairs) {
    return uint64_t((pairs + kIdTileColumns - 1) / kIdTileColumns + n_expert + 1);
  }

  // The buffer mul_mat_id_tiles.comp writes for `pairs` (token, slot) pairs (its layout is
  // described there), grown as needed.
  const Buffer& route_buffer(Op op, const Tensor& ids, int64_t n_expert, int64_t pairs) {
    const uint64_t words = 1 + 2 * uint64_t(n_expert + 1) + uint64_t(pairs) + 2 * max_id_tiles(n_expert, pairs);
    const size_t bytes = size_t(u32(op, ids, words)) * 4;
    if (!route_ || route_->size < bytes) {
      ctx_.destroy_buffer(std::move(route_));  // waits for recorded ops that still read it
      route_ = ctx_.create_buffer(std::max(bytes, size_t(1) << 16), false, "expert routing");
    }
    return *route_;
  }

  std::string matvec_shader(const char* prefix, TensorType t) const {
    return std::string(prefix) + vulkan::weight_suffix(t) + (ctx_.use_subgroups() ? "_sg" : "");
  }

  // The input of a matmul as its shader reads it: the f32 tensor itself for float weights, or
  // its rows converted on the device into act_, in the weight's quant::vec_dot_type (Q8_0 for
  // Q8_0/Q4_0/Q5_0, Q8_1 for Q4_1/Q5_1, Q8_K for Q4_K/Q5_K/Q6_K), as the CPU converts them. Fills
  // the x fields of push.
  VkBuffer activations(Op op, TensorType wt, const Tensor& x, int64_t N, int64_t B, MatVecPush& push) {
    const Ref xr = ref(op, x);
    const TensorType at = quant::vec_dot_type(wt);
    if (at == TensorType::F32) {
      push.x_off = words(op, x, xr.offset);
      push.x_nb1 = words(op, x, x.nb[1]);
      push.x_nb2 = words(op, x, x.nb[2]);
      return xr.buffer->buffer;
    }
    // Q8_0 activations in units of 9 words per 32 values; Q8_1 (Q8_0 and the quants' sum) and
    // Q8_K (quantized per 256) in units of 10 per 32 (see the quantize shaders).
    const bool k_quant = at == TensorType::Q8_K;
    const int64_t block = k_quant ? 256 : 32;
    if (x.ne[0] % block != 0)
      fail(op, x, "rows of " + std::to_string(x.ne[0]) + " are not whole " + std::string(gguf::type_name(at)) + " blocks");
    const uint32_t units = uint32_t(x.ne[0] / 32), unit_words = at == TensorType::Q8_0 ? 9 : 10;
    const size_t bytes = size_t(units) * unit_words * 4 * size_t(N * B);
    if (!act_ || act_->size < bytes) {
      ctx_.destroy_buffer(std::move(act_));  // waits for recorded ops that still read it
      act_ = ctx_.create_buffer(std::max(bytes, size_t(1) << 20), false, "quantized activations");
    }
    const uint32_t nblk = uint32_t(x.ne[0] / block);
    const uint32_t qpush[6] = {nblk, u32(op, x, N), u32(op, x, B), words(op, x, xr.offset),
                               words(op, x, x.nb[1]), words(op, x, x.nb[2])};
    const char* shader = k_quant ? "quantize_q8_k" : at == TensorType::Q8_1 ? "quantize_q8_1" : "quantize_q8_0";
    const auto& p = ctx_.pipeline(shader, 2, sizeof qpush);
    const VkBuffer bufs[2] = {xr.buffer->buffer, act_->buffer};
    dispatch(p, bufs, qpush, uint64_t(nblk) * uint64_t(N * B), 64);
    push.x_off = 0;
    push.x_nb1 = units * unit_words;
    push.x_nb2 = u32(op, x, uint64_t(units) * unit_words * uint64_t(N));
    return act_->buffer;
  }

  // Dispatches enough workgroups of `group` invocations for n items, the count split over the
  // grid's dimensions so that none exceeds the device's limit.
  void dispatch(const vulkan::Pipeline& p, std::span<const VkBuffer> bufs, const void* push, uint64_t n,
                uint32_t group) {
    uint64_t groups = (n + group - 1) / group;
    if (groups == 0) return;
    const uint64_t lim = ctx_.max_group_count();
    const uint64_t gx = std::min(groups, lim);
    const uint64_t gy = std::min((groups + gx - 1) / gx, lim);
    const uint64_t gz = (groups + gx * gy - 1) / (gx * gy);
    if (gz > lim) throw Error("vulkan backend: a dispatch of " + std::to_string(n) + " items exceeds the device's grid");
    ctx_.dispatch(p, bufs, push, uint32_t(gx), uint32_t(gy), uint32_t(gz));
  }

  Context ctx_;
  std::map<uintptr_t, Buffer*> by_address_;  // buffer base address -> buffer
  uintptr_t next_base_ = kAddressBase;
  std::vector<std::unique_ptr<Buffer>> weights_;
  std::map<uintptr_t, std::unique_ptr<Buffer>> scratch_buffers_;  // scratch blocks by address
  std::map<uintptr_t, std::unique_ptr<Buffer>> allocations_;      // allocate()d buffers by address
  ScratchStack scratch_{256, kScratchBlock, [this](size_t size) { return add_scratch_block(size); },
                        [this](uintptr_t base) { drop_scratch_block(base); }};
  std::unique_ptr<Buffer> act_;       // quantized activations of the current matmul
  std::unique_ptr<Buffer> route_;     // the current tiled mul_mat_id's expert lists
  std::unique_ptr<Buffer> partials_;  // attention_latent's results per key split
  std::unique_ptr<Buffer> upload_;    // ids and positions of recorded ops
  size_t upload_used_ = 0;
  std::pair<size_t, size_t> upload_last_{0, 0};  // offset and size of the previous upload
  uint64_t upload_epoch_ = 0;                    // ctx_.submissions() when upload_used_ was 0
  std::unique_ptr<Buffer> staging_;   // host-visible transfer buffer (devices without mapped memory)
};

}  // namespace

std::unique_ptr<VulkanBackend> make_vulkan_backend(const VulkanOptions& options) {
  return std::make_unique<VulkanBackendImpl>(options);
}

}  // namespace latent::backend
