#include "model/model.h"

#include <algorithm>
#include <string>
#include <thread>
#include <unordered_map>

#include "backend/backend.h"
#include "model/arch.h"
#include "model/forward.h"
#include "model/latent_cache.h"
#include "model/scheduler.h"
#include "model/weights.h"

namespace latent::model {

int default_thread_count() { return std::max(1u, std::thread::hardware_concurrency()); }

namespace {
constexpr CacheType kCacheTypes[] = {CacheType::F32, CacheType::F16, CacheType::BF16, CacheType::Q8_0};
}

std::string_view cache_type_name(CacheType type) {
  switch (type) {
    case CacheType::F32: return "f32";
    case CacheType::F16: return "f16";
    case CacheType::BF16: return "bf16";
    case CacheType::Q8_0: return "q8_0";
  }
  return "?";
}

CacheType parse_cache_type(std::string_view name) {
  for (CacheType t : kCacheTypes)
    if (name == cache_type_name(t)) return t;
  throw Error("unknown latent cache type '" + std::string(name) + "': use f32, f16, bf16 or q8_0");
}

gguf::TensorType cache_tensor_type(CacheType type) {
  switch (type) {
    case CacheType::F32: return gguf::TensorType::F32;
    case CacheType::F16: return gguf::TensorType::F16;
    case CacheType::BF16: return gguf::TensorType::BF16;
    case CacheType::Q8_0: return gguf::TensorType::Q8_0;
  }
  throw Error("latent cache: invalid cache type " + std::to_string(int(type)));
}

size_t cache_row_bytes(CacheType type, int64_t width) {
  const gguf::TensorType t = cache_tensor_type(type);
  const int64_t block = gguf::type_traits(uint32_t(t))->block_elements;
  if (width <= 0 || width % block != 0)
    throw Error("latent cache: a " + std::string(cache_type_name(type)) + " cache stores blocks of " +
                std::to_string(block) + " values, but a row has " + std::to_string(width) +
                " (kv_lora_rank + qk_rope_head_dim); use the f16 or bf16 cache for this model");
  return gguf::row_bytes(t, width);
}

Model::~Model() = default;

namespace {

// The cache type must fit the model's rows and the backend's latent kernels; checked at load so
// that a bad choice fails with a message instead of mid-request.
void check_cache_type(const std::filesystem::path& path, const HParams& hp, const Options& options,
                      const backend::Backend& be) {
  const gguf::TensorType t = cache_tensor_type(options.cache_type);
  const int64_t block = gguf::type_traits(uint32_t(t))->block_elements;
  if (hp.kv_lora_rank % block != 0 || hp.qk_rope % block != 0)
    throw Error(path.string() + ": a " + std::string(cache_type_name(options.cache_type)) +
                " latent cache needs kv_lora_rank (" + std::to_string(hp.kv_lora_rank) + ") and qk_rope_head_dim (" +
                std::to_string(hp.qk_rope) + ") to be multiples of its block of " + std::to_string(block) +
                " values; use the f16 or bf16 cache for this model");
  std::vector<backend::Op> ops = {backend::Op::StoreLatent};
  if (options.mla != MlaMode::Plain) ops.push_back(backend::Op::AttentionLatent);
  if (options.mla != MlaMode::Absorbed) ops.push_back(backend::Op::LoadLatent);
  for (backend::Op op : ops)
    if (!be.supports_op(op, t))
      throw Error(path.string() + ": the " + std::string(be.name()) + " backend has no " +
                  std::string(backend::op_name(op)) + " for a " + std::string(cache_type_name(options.cache_type)) +
                  " latent cache; choose another cache type or backend");
}

}  // namespace

std::shared_ptr<Model> Model::load(const std::filesystem::path& path, const Options& options) {
  std::shared_ptr<Model> m(new Model());
  m->options_ = options;
  // The plain form's kernels are tuned for the CPU; elsewhere Auto keeps the absorbed form.
  if (options.mla == MlaMode::Auto && options.backend != "cpu") m->options_.mla = MlaMode::Absorbed;
  try {
    m->file_ = std::make_unique<gguf::File>(gguf::File::open(path));
  } catch (const gguf::Error& e) {
    throw Error(e.what());
  }
  try {
    m->arch_ = &find_architecture(*m->file_);
    m->hp_ = read_hparams(*m->file_);
  } catch (const gguf::Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  if (options.n_ctx < 0) throw Error(path.string() + ": n_ctx must not be negative");
  if (options.n_ctx > m->hp_.n_ctx_train)
    throw Error(path.string() + ": a context of " + std::to_string(options.n_ctx) +
                " tokens was requested but the model was trained for " +
                std::to_string(m->hp_.n_ctx_train) + " (context_length); ask for at most that");
  m->n_ctx_ = options.n_ctx ? options.n_ctx : m->hp_.n_ctx_train;
  if (options.max_batch_tokens < 1) throw Error("Options.max_batch_tokens must be at least 1");
  try {
    backend::BackendOptions bo;
    bo.threads = options.threads;
    bo.device = options.device;
    m->backend_ = backend::make_backend(options.backend, bo);
    const int64_t device_layers = layers_on_device(*m->file_, m->hp_, options, *m->backend_);
    if (device_layers < m->hp_.n_layer) m->host_ = backend::make_backend("cpu", bo);
    m->placement_ = std::make_unique<Placement>(m->backend_, m->host_, m->hp_.n_layer, device_layers);
    m->weights_ = load_weights(*m->file_, m->hp_, m->options_.mla, *m->placement_);
    m->graphs_ = std::make_unique<ForwardCache>();
    check_cache_type(path, m->hp_, m->options_, *m->backend_);
    if (m->host_) check_cache_type(path, m->hp_, m->options_, *m->host_);
  } catch (const backend::Error& e) {
    throw Error(path.string() + ": " + e.what());
  } catch (const gguf::Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  return m;
}

struct Context::Impl {
  std::shared_ptr<LatentStore> store;
  std::unordered_map<SeqId, int64_t> lengths;
  SeqId next_id = 0;

  int64_t& length(SeqId seq) {
    auto it = lengths.find(seq);
    if (it == lengths.end()) throw Error("unknown sequence " + std::to_string(seq));
    return it->second;
  }
};

Context::Context(std::shared_ptr<Model> model, std::shared_ptr<LatentStore> store)
    : model_(std::move(model)), impl_(std::make_unique<Impl>()) {
  const HParams& hp = model_->hparams();
  impl_->store = store ? std::move(store)
                       : std::make_shared<PagedLatentStore>(model_->placement().layer_runs(), hp.latent_width(),
                                                            model_->options().cache_type);
}

Context::~Context() = default;

SeqId Context::create_sequence() {
  const SeqId id = impl_->next_id++;
  impl_->store->add_sequence(id);
  impl_->lengths[id] = 0;
  return id;
}

void Context::free_sequence(SeqId seq) {
  impl_->length(seq);
  std::lock_guard lock(model_->eval_mutex_);  // the store's pages are backend memory
  impl_->store->remove_sequence(seq);
  impl_->lengths.erase(seq);
}

int64_t Context::sequence_length(SeqId seq) const { return impl_->length(seq); }

int64_t Context::reuse_prefix(SeqId seq, std::span<const int32_t> tokens) {
  int64_t& len = impl_->length(seq);
  if (len != 0) throw Error("sequence " + std::to_string(seq) + " already holds tokens; reuse_prefix needs an empty one");
  const int64_t limit = std::min<int64_t>(int64_t(tokens.size()), model_->n_ctx());
  std::lock_guard lock(model_->eval_mutex_);
  len = impl_->store->attach_prefix(seq, tokens.first(size_t(limit)));
  return len;
}

void Context::publish(SeqId seq, std::span<const int32_t> tokens) {
  if (int64_t(tokens.size()) > impl_->length(seq))
    throw Error("sequence " + std::to_string(seq) + " holds " + std::to_string(impl_->length(seq)) +
                " tokens; cannot publish " + std::to_string(tokens.size()));
  impl_->store->publish(seq, tokens);
}

void Context::truncate(SeqId seq, int64_t n_tokens) {
  int64_t& len = impl_->length(seq);
  if (n_tokens < 0 || n_tokens > len)
    throw Error("cannot truncate sequence " + std::to_string(seq) + " of " + std::to_string(len) +
                " tokens to " + std::to_string(n_tokens));
  std::lock_guard lock(model_->eval_mutex_);
  impl_->store->truncate(seq, n_tokens);
  len = n_tokens;
}

void Context::evaluate(const Batch& batch, Outputs& out, const EvalFlags& flags) {
  const HParams& hp = model_->hparams();
  const int64_t n = int64_t(batch.tokens.size());

  // Validate everything first, so a bad batch leaves every sequence as it was.
  if (flags.argmax_vocab < 0 || flags.argmax_vocab > hp.n_vocab)
    throw Error("EvalFlags::argmax_vocab " + std::to_string(flags.argmax_vocab) + " is outside [0, " +
                std::to_string(hp.n_vocab) + "] (the model's n_vocab); pass at most the LM head's rows, or 0 for logits");
  std::vector<SeqId> order;  // sequences in order of first appearance
  std::unordered_map<SeqId, std::vector<int64_t>> members;
  for (int64_t i = 0; i < n; ++i) {
    const auto& t = batch.tokens[size_t(i)];
    impl_->length(t.seq);
    if (t.id < 0 || t.id >= hp.n_vocab)
      throw Error("token id " + std::to_string(t.id) + " at batch index " + std::to_string(i) +
                  " is outside the vocabulary [0, " + std::to_string(hp.n_vocab) + ")");
    auto& m = members[t.seq];
    if (m.empty()) order.push_back(t.seq);
    m.push_back(i);
  }
  for (SeqId s : order) {
    const int64_t total = impl_->length(s) + int64_t(members[s].size());
    if (total > model_->n_ctx())
      throw Error("sequence " + std::to_string(s) + " would hold " + std::to_string(total) +
                  " tokens, more than the context of " + std::to_string(model_->n_ctx()) +
                  "; truncate it or start a new sequence");
  }
  std::lock_guard lock(model_->eval_mutex_);
  for (SeqId s : order) impl_->store->reserve(s, impl_->length(s) + int64_t(members[s].size()));

  out.n_vocab = hp.n_vocab;
  out.n_embd = hp.n_embd;
  out.n_tokens = n;
  std::vector<int64_t> out_row(size_t(n), -1);
  out.n_rows = 0;
  for (int64_t i = 0; i < n; ++i)
    if (batch.tokens[size_t(i)].logits) out_row[size_t(i)] = out.n_rows++;
  if (flags.argmax_vocab > 0) {
    out.logits.clear();
    out.argmax.assign(size_t(out.n_rows), 0);
  } else {
    out.logits.assign(size_t(out.n_rows * hp.n_vocab), 0.0f);
    out.argmax.clear();
  }
  if (flags.hidden)
    out.hidden.assign(size_t(out.n_rows * hp.n_embd), 0.0f);
  else
    out.hidden.clear();
  if (flags.routing) {
    out.expert_ids.assign(size_t(hp.n_moe_layers() * n * hp.n_expert_used), -1);
    out.expert_weights.assign(out.expert_ids.size(), 0.0f);
  } else {
    out.expert_ids.clear();
    out.expert_weights.clear();
  }

  // Tokens grouped by sequence, then cut into micro-batches of at most max_batch_tokens.
  std::vector<int64_t> grouped;
  for (SeqId s : order) grouped.insert(grouped.end(), members[s].begin(), members[s].end());
  std::vector<std::pair<SeqId, int64_t>> before;
  for (SeqId s : order) before.emplace_back(s, impl_->length(s));
  try {
    run_micro_batches(batch, grouped, out_row, flags, out);
  } catch (...) {
    // A failed step leaves the sequences as they were before the batch.
    for (const auto& [s, len] : before) {
      impl_->length(s) = len;
      impl_->store->truncate(s, len);
    }
    throw;
  }
}

void Context::run_micro_batches(const Batch& batch, const std::vector<int64_t>& grouped,
                                const std::vector<int64_t>& out_row, const EvalFlags& flags,
                                Outputs& out) {
  const HParams& hp = model_->hparams();
  const int64_t n = int64_t(batch.tokens.size());
  const int64_t step = model_->options().max_batch_tokens;
  for (int64_t b0 = 0; b0 < n; b0 += step) {
    const int64_t b1 = std::min(n, b0 + step);
    Ubatch ub;
    for (int64_t j = b0; j < b1; ++j) {
      const int64_t i = grouped[size_t(j)];
      const auto& t = batch.tokens[size_t(i)];
      int64_t& len = impl_->length(t.seq);
      const int64_t local = j - b0;
      if (ub.segments.empty() || ub.segments.back().seq != t.seq)
        ub.segments.push_back({t.seq, local, 0, len});
      ub.segments.back().count++;
      ub.ids.push_back(t.id);
      ub.positions.push_back(int32_t(len));
      ub.routing_index.push_back(i);
      if (t.logits) ub.outputs.push_back(int32_t(local));
      ++len;
    }
    // Rows go straight to their place in `out` when this micro-batch's output rows are
    // consecutive there (one sequence, or sequences not interleaved in the batch); otherwise
    // through a staging area, scattered below.
    const size_t R = ub.outputs.size();
    bool direct = true;
    for (size_t r = 1; r < R && direct; ++r)
      direct = out_row[size_t(grouped[size_t(b0 + ub.outputs[r])])] ==
               out_row[size_t(grouped[size_t(b0 + ub.outputs[r - 1])])] + 1;
    const int64_t row0 = R ? out_row[size_t(grouped[size_t(b0 + ub.outputs[0])])] : 0;
    const bool ids = flags.argmax_vocab > 0;
    std::vector<float> logits(direct || ids ? 0 : R * size_t(hp.n_vocab));
    std::vector<int32_t> argmax(direct || !ids ? 0 : R);
    std::vector<float> hidden(direct || !flags.hidden ? 0 : R * size_t(hp.n_embd));
    if (ids) {
      ub.argmax = direct ? out.argmax.data() + row0 : argmax.data();
      ub.argmax_vocab = flags.argmax_vocab;
    } else {
      ub.logits = direct ? out.logits.data() + row0 * hp.n_vocab : logits.data();
    }
    ub.hidden = !flags.hidden ? nullptr : direct ? out.hidden.data() + row0 * hp.n_embd : hidden.data();
    if (flags.routing) {
      ub.expert_ids = out.expert_ids.data();
      ub.expert_weights = out.expert_weights.data();
      ub.routing_tokens = n;
    }
    forward(*model_, *impl_->store, ub);
    if (direct) continue;
    for (size_t r = 0; r < R; ++r) {
      const int64_t row = out_row[size_t(grouped[size_t(b0 + ub.outputs[r])])];
      if (ids)
        out.argmax[size_t(row)] = argmax[r];
      else
        std::copy_n(logits.data() + r * size_t(hp.n_vocab), hp.n_vocab, out.logits.data() + row * hp.n_vocab);
      if (flags.hidden)
        std::copy_n(hidden.data() + r * size_t(hp.n_embd), hp.n_embd, out.hidden.data() + row * hp.n_embd);
    }
  }
}

}  // namespace latent::model
