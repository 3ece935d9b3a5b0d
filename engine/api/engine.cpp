// The local Engine: one model, one Context, one scheduler thread (see engine.h for the policy).
#include "api/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "api/chat_format.h"
#include "api/text_stream.h"
#include "kv/fingerprint.h"
#include "kv/prefix_store.h"
#include "model/model.h"
#include "model/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace latent::engine {

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::length: return "length";
    case FinishReason::stop: return "stop";
    case FinishReason::cancelled: return "cancelled";
    case FinishReason::error: return "error";
  }
  return "error";
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// A request from admission to on_done; owned by the scheduler thread once admitted.
struct Live {
  RequestId id = 0;
  Priority priority = Priority::question;
  std::vector<int32_t> prompt;  // kept whole so the paged KV store can match prefixes later
  // Tokens that must be in the cache before the next sample: the prompt, or after a preemption
  // the prompt and every token sampled so far.
  std::vector<int32_t> feed;
  int32_t max_tokens = 0;
  StopRules stop;
  OnToken on_token;
  OnDone on_done;
  std::shared_ptr<std::atomic<bool>> cancelled;
  std::optional<sample::Sampler> sampler;
  Utf8Assembler utf8;
  std::optional<StopMatcher> matcher;

  model::SeqId seq = -1;
  int32_t cached = 0;      // prompt tokens the KV store supplied at first admission
  size_t n_evaluated = 0;  // feed tokens in the cache
  size_t chunk = 0;        // feed tokens in the batch being evaluated
  int32_t next_token = -1; // sampled, evaluated in the next step
  bool done = false;
  Finished fin;

  Clock::time_point t_submit, t_start, t_prefill_start, t_prefill_end, t_first, t_last;
  bool started = false;
  bool prefilled = false;  // the prompt was evaluated once (stats; refills after preemption don't count)

  bool prefilling() const { return n_evaluated < feed.size(); }
};

// Higher priority first, then arrival order.
bool runs_before(const Live& a, const Live& b) {
  return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
}

class LocalEngine final : public Engine {
 public:
  explicit LocalEngine(const EngineOptions& options);
  ~LocalEngine() override;

  const ModelInfo& model_info() const override { return info_; }
  RequestId submit(Request request, OnToken on_token, OnDone on_done) override;
  void cancel(RequestId id) override;
  EngineStats stats() const override;
  void wait_idle() override;
  std::string model_file_problem() const override { return model_->file().changed_on_disk().value_or(""); }

  std::vector<int32_t> tokenize(std::string_view text, bool add_bos, bool parse_special) const override;
  std::string detokenize(std::span<const int32_t> tokens) const override;
  size_t count_tokens(std::string_view text) const override;
  std::vector<int32_t> fim_tokens(std::string_view prefix, std::string_view suffix) const override;
  std::vector<int32_t> chat_tokens(std::span<const ChatMessage> messages) const override;

 private:
  void warn(const std::string& message) const;
  void run();
  void step();
  bool preempt_for(const Live& waiting);
  void accept_token(Live& r, int32_t token);
  void finish(Live& r, FinishReason reason, std::string error = {});
  void release_text(Live& r);

  EngineOptions options_;
  std::shared_ptr<model::Model> model_;
  std::unique_ptr<model::Context> context_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  ModelInfo info_;
  ChatFormat chat_format_ = ChatFormat::plain;
  int64_t n_sample_vocab_ = 0;  // logits past the tokenizer's vocabulary are never sampled

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::vector<std::unique_ptr<Live>> queue_;  // guarded by mu_
  std::unordered_map<RequestId, std::shared_ptr<std::atomic<bool>>> flags_;  // queued and live
  RequestId next_id_ = 1;
  bool stopping_ = false;
  int32_t n_live_ = 0;
  EngineStats stats_;

  std::vector<std::unique_ptr<Live>> live_;  // scheduler thread only
  model::Batch batch_;
  model::Outputs outputs_;
  std::thread thread_;
};

LocalEngine::LocalEngine(const EngineOptions& options) : options_(options) {
  const std::string file = options.model_path.string();
  if (options.max_live_requests < 1) throw Error("max_live_requests must be at least 1");
  if (options.prefill_chunk < 1) throw Error("prefill_chunk must be at least 1");
  if (!std::filesystem::exists(options.model_path))
    throw Error(file + ": no such file; pass the path of a deepseek2 GGUF model");

  model::Options mo;
  mo.threads = options.threads > 0 ? options.threads : model::default_thread_count();
  mo.backend = resolve_backend(options.backend);
  mo.device = options.device;
  mo.gpu_layers = options.gpu_layers;
  mo.n_ctx = options.context_length;
  try {
    mo.cache_type = model::parse_cache_type(options.cache_type);
    model_ = model::Model::load(options.model_path, mo);
    std::shared_ptr<model::LatentStore> store;
    if (options.prefix_cache) {
      kv::StoreOptions so;
      so.disk = options.disk_cache;
      so.disk_dir = options.cache_dir;
      so.memory_budget_bytes = options.cache_memory_bytes;
      const model::HParams& hp = model_->hparams();
      auto prefix_store = std::make_shared<kv::PrefixStore>(model_->placement().layer_runs(), hp.latent_width(),
                                                            mo.cache_type, kv::model_fingerprint(model_->file()), so);
      if (!prefix_store->disk_problem().empty()) info_.warnings.push_back(prefix_store->disk_problem());
      store = std::move(prefix_store);
    }
    context_ = std::make_unique<model::Context>(model_, std::move(store));
    tokenizer_ = std::make_unique<tokenizer::Tokenizer>(tokenizer::load_gguf_vocab(model_->file()));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // model::Error and tokenizer::Error already name the file, key or tensor.
    throw Error(std::string(e.what()));
  }

  const gguf::File& gf = model_->file();
  info_.name = std::string(gf.get_string("general.name").value_or(options.model_path.stem().string()));
  info_.architecture = std::string(gf.get_string("general.architecture").value_or(""));
  info_.context_length = static_cast<int32_t>(model_->n_ctx());
  info_.vocab_size = tokenizer_->n_vocab();
  info_.fim = tokenizer_->fim_prefix_id() != tokenizer::kNoToken &&
              tokenizer_->fim_suffix_id() != tokenizer::kNoToken &&
              tokenizer_->fim_middle_id() != tokenizer::kNoToken;
  const std::string& tmpl = tokenizer_->vocab().chat_template;
  chat_format_ = detect_chat_format(tmpl);
  info_.chat_format = std::string(chat_format_name(chat_format_));
  info_.backend = mo.backend;
  if (!tmpl.empty() && chat_format_ == ChatFormat::plain) {
    std::string head = tmpl.substr(0, 80);
    std::replace(head.begin(), head.end(), '\n', ' ');
    warn("model '" + info_.name + "' (" + file + "): chat template not recognised (it begins \"" + head +
         "\"); chat prompts use the plain \"User: ...\\n\\nAssistant:\" format");
  }
  for (const std::string& w : info_.warnings) warn(file + ": " + w);
  n_sample_vocab_ = std::min<int64_t>(model_->n_vocab(), tokenizer_->n_vocab());

  thread_ = std::thread([this] { run(); });
}

LocalEngine::~LocalEngine() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void LocalEngine::warn(const std::string& message) const {
  if (options_.log)
    options_.log(message);
  else
    std::fprintf(stderr, "latent engine: warning: %s\n", message.c_str());
}

RequestId LocalEngine::submit(Request request, OnToken on_token, OnDone on_done) {
  if (std::string problem = model_file_problem(); !problem.empty())
    throw Error("the model file changed on disk since it was loaded: " + problem + "; open it again");
  if (request.max_tokens < 1)
    throw Error("request: max_tokens must be at least 1, got " + std::to_string(request.max_tokens));
  try {
    sample::validate(request.sampling);
  } catch (const std::invalid_argument& e) {
    throw Error(std::string("request: ") + e.what());
  }
  auto r = std::make_unique<Live>();
  r->t_submit = Clock::now();
  if (!request.tokens.empty()) {
    r->prompt = std::move(request.tokens);
  } else if (!request.text.empty()) {
    r->prompt = tokenizer_->encode(request.text, /*add_special=*/true, /*parse_special=*/true);
  }
  if (r->prompt.empty()) throw Error("request: the prompt is empty; give tokens or text");
  for (size_t i = 0; i < r->prompt.size(); ++i) {
    int32_t t = r->prompt[i];
    if (t < 0 || t >= model_->n_vocab())
      throw Error("request: prompt token " + std::to_string(i) + " has id " + std::to_string(t) +
                  ", outside the model's vocabulary of " + std::to_string(model_->n_vocab()));
  }
  if (static_cast<int64_t>(r->prompt.size()) >= model_->n_ctx())
    throw Error("request: the prompt has " + std::to_string(r->prompt.size()) +
                " tokens but the context holds " + std::to_string(model_->n_ctx()) +
                " (prompt and reply together); shorten the prompt or raise the context length");
  r->feed = r->prompt;
  r->priority = request.priority;
  r->max_tokens = request.max_tokens;
  r->sampler.emplace(request.sampling);
  r->matcher.emplace(request.stop.strings);
  r->stop = std::move(request.stop);
  r->on_token = std::move(on_token);
  r->on_done = std::move(on_done);
  r->cancelled = std::make_shared<std::atomic<bool>>(false);

  RequestId id;
  {
    std::lock_guard lk(mu_);
    if (stopping_) throw Error("request: the engine is shutting down");
    id = next_id_++;
    r->id = id;
    r->fin.id = id;
    flags_[id] = r->cancelled;
    queue_.push_back(std::move(r));
    stats_.queued_requests = static_cast<int32_t>(queue_.size());
  }
  work_cv_.notify_one();
  return id;
}

void LocalEngine::cancel(RequestId id) {
  {
    std::lock_guard lk(mu_);
    auto it = flags_.find(id);
    if (it == flags_.end()) return;
    it->second->store(true);
  }
  work_cv_.notify_one();
}

EngineStats LocalEngine::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void LocalEngine::wait_idle() {
  std::unique_lock lk(mu_);
  idle_cv_.wait(lk, [&] { return queue_.empty() && n_live_ == 0; });
}

std::vector<int32_t> LocalEngine::tokenize(std::string_view text, bool add_bos, bool parse_special) const {
  return tokenizer_->encode(text, add_bos, parse_special);
}

std::string LocalEngine::detokenize(std::span<const int32_t> tokens) const {
  return tokenizer_->decode(tokens, /*render_special=*/true);
}

size_t LocalEngine::count_tokens(std::string_view text) const {
  return tokenizer_->encode(text, false, false).size();
}

std::vector<int32_t> LocalEngine::fim_tokens(std::string_view prefix, std::string_view suffix) const {
  if (!info_.fim)
    throw Error("model '" + info_.name + "' has no fill-in-the-middle tokens (<｜fim▁begin｜>, <｜fim▁hole｜>, "
                "<｜fim▁end｜>); use a DeepSeek-Coder model for completions");
  // The pieces are tokenized apart, as llama.cpp does for text between special tokens; special
  // tokens typed in the user's code are not parsed, so a file cannot inject them.
  std::vector<int32_t> out;
  if (tokenizer_->add_bos()) out.push_back(tokenizer_->bos_id());
  auto append = [&](std::string_view text) {
    auto t = tokenizer_->encode(text, false, false);
    out.insert(out.end(), t.begin(), t.end());
  };
  out.push_back(tokenizer_->fim_prefix_id());
  append(prefix);
  out.push_back(tokenizer_->fim_suffix_id());
  append(suffix);
  out.push_back(tokenizer_->fim_middle_id());
  return out;
}

std::vector<int32_t> LocalEngine::chat_tokens(std::span<const ChatMessage> messages) const {
  int32_t eos = tokenizer_->eos_id();
  std::string eos_text = eos == tokenizer::kNoToken ? "" : tokenizer_->token_to_piece(eos, true);
  return tokenizer_->encode(render_chat(chat_format_, messages, eos_text), true, true);
}

void LocalEngine::run() {
  for (;;) {
    std::vector<Live*> admitted;
    {
      std::unique_lock lk(mu_);
      work_cv_.wait(lk, [&] { return stopping_ || !queue_.empty() || !live_.empty(); });
      if (stopping_) break;
      for (;;) {
        if (queue_.empty()) break;
        auto best = std::min_element(queue_.begin(), queue_.end(),
                                     [](const auto& a, const auto& b) { return runs_before(*a, *b); });
        if (static_cast<int32_t>(live_.size()) >= options_.max_live_requests) {
          // preempt_for() appends to queue_, so `best` is looked up again afterwards.
          if (!preempt_for(**best)) break;
          continue;
        }
        admitted.push_back(best->get());
        live_.push_back(std::move(*best));
        queue_.erase(best);
      }
      n_live_ = static_cast<int32_t>(live_.size());
      stats_.live_requests = n_live_;
      stats_.queued_requests = static_cast<int32_t>(queue_.size());
    }
    uint64_t reused = 0;
    for (Live* r : admitted) {
      try {
        r->seq = context_->create_sequence();
        // The last feed token stays out so that its evaluation yields the logits to sample.
        auto head = std::span<const int32_t>(r->feed).first(r->feed.size() - 1);
        r->n_evaluated = static_cast<size_t>(context_->reuse_prefix(r->seq, head));
        if (!r->prefilled) r->cached = static_cast<int32_t>(std::min(r->n_evaluated, r->prompt.size()));
        reused += r->n_evaluated;
      } catch (const std::exception& e) {
        finish(*r, FinishReason::error, std::string("could not start the sequence: ") + e.what());
      }
    }
    if (reused > 0) {
      std::lock_guard lk(mu_);
      stats_.prompt_tokens_cached += reused;
    }
    step();
    live_.erase(std::remove_if(live_.begin(), live_.end(), [](const auto& r) { return r->done; }), live_.end());
    {
      std::lock_guard lk(mu_);
      n_live_ = static_cast<int32_t>(live_.size());
      stats_.live_requests = n_live_;
    }
    idle_cv_.notify_all();
  }
  // Shutting down: every accepted request still gets its on_done.
  std::vector<std::unique_ptr<Live>> queued;
  {
    std::lock_guard lk(mu_);
    queued.swap(queue_);
  }
  for (auto& r : live_)
    if (!r->done) finish(*r, FinishReason::cancelled);
  for (auto& r : queued) finish(*r, FinishReason::cancelled);
  live_.clear();
  {
    std::lock_guard lk(mu_);
    n_live_ = 0;
    stats_.live_requests = 0;
    stats_.queued_requests = 0;
  }
  idle_cv_.notify_all();
}

// All slots are taken and `waiting` outranks a live request: the lowest-priority, most recent
// live request goes back to the queue. Its sequence is freed and, when it is admitted again, its
// prompt and the tokens it sampled so far are evaluated anew (with the paged KV store that
// becomes a prefix hit), so its reply continues exactly where it stopped. Called with mu_ held.
bool LocalEngine::preempt_for(const Live& waiting) {
  Live* victim = nullptr;
  for (auto& r : live_)
    if (!r->done && (!victim || runs_before(*victim, *r))) victim = r.get();
  if (!victim || victim->priority >= waiting.priority) return false;
  if (victim->seq >= 0) context_->free_sequence(victim->seq);
  victim->seq = -1;
  victim->feed = victim->prompt;
  victim->feed.insert(victim->feed.end(), victim->fin.tokens.begin(), victim->fin.tokens.end());
  victim->n_evaluated = 0;
  victim->next_token = -1;
  auto it = std::find_if(live_.begin(), live_.end(), [&](const auto& r) { return r.get() == victim; });
  queue_.push_back(std::move(*it));
  live_.erase(it);
  stats_.preemptions++;
  return true;
}

void LocalEngine::step() {
  for (auto& r : live_)
    if (!r->done && r->cancelled->load()) finish(*r, FinishReason::cancelled);

  std::vector<Live*> order;
  for (auto& r : live_)
    if (!r->done) order.push_back(r.get());
  if (order.empty()) return;
  std::sort(order.begin(), order.end(), [](Live* a, Live* b) { return runs_before(*a, *b); });

  // Completions preempt questions: while a request is prefilling, decodes of lower priority
  // wait, so the whole step goes to the request whose first token matters most.
  int top_prefill = -1;
  for (Live* r : order)
    if (r->prefilling()) top_prefill = std::max(top_prefill, static_cast<int>(r->priority));

  batch_.clear();
  std::vector<Live*> rows;       // requests in the order of their logits rows
  std::vector<Live*> in_batch;
  auto now = Clock::now();
  for (Live* r : order) {
    if (r->prefilling() || static_cast<int>(r->priority) < top_prefill) continue;
    batch_.add(r->seq, r->next_token, true);
    rows.push_back(r);
    in_batch.push_back(r);
  }
  int64_t budget = options_.prefill_chunk;
  for (Live* r : order) {
    if (!r->prefilling() || budget <= 0) continue;
    size_t n = std::min<size_t>(budget, r->feed.size() - r->n_evaluated);
    if (!r->prefilled && r->t_prefill_start == Clock::time_point{}) r->t_prefill_start = now;
    for (size_t i = 0; i < n; ++i) {
      size_t pos = r->n_evaluated + i;
      batch_.add(r->seq, r->feed[pos], pos + 1 == r->feed.size());
    }
    r->chunk = n;
    budget -= static_cast<int64_t>(n);
    if (r->n_evaluated + n == r->feed.size()) rows.push_back(r);
    in_batch.push_back(r);
  }
  for (Live* r : in_batch) {
    if (!r->started) {
      r->started = true;
      r->t_start = now;
    }
  }

  // A step whose rows are all greedy asks the backend for their argmax, so one id per row is
  // read back instead of the logits (n_vocab floats each). Sampler::sample would take the same
  // argmax (sample::argmax) over the same n_sample_vocab_ logits.
  model::EvalFlags flags;
  if (std::all_of(rows.begin(), rows.end(), [](const Live* r) { return r->sampler->params().temperature <= 0.0f; }))
    flags.argmax_vocab = n_sample_vocab_;
  try {
    context_->evaluate(batch_, outputs_, flags);
  } catch (const std::exception& e) {
    for (Live* r : in_batch) finish(*r, FinishReason::error, std::string("evaluation failed: ") + e.what());
    return;
  }
  // Rows follow batch order: all decode rows first, then at most one row per finished prefill.
  auto done_eval = Clock::now();
  uint64_t prompt_tokens = 0;
  for (Live* r : in_batch) {
    if (r->chunk == 0) continue;
    r->n_evaluated += r->chunk;
    prompt_tokens += r->chunk;
    r->chunk = 0;
    if (!r->prefilling()) {
      // Concurrent and later requests with the same prefix can use these pages from now on.
      context_->publish(r->seq, r->feed);
      if (!r->prefilled) {
        r->prefilled = true;
        r->t_prefill_end = done_eval;
      }
    }
  }
  {
    std::lock_guard lk(mu_);
    stats_.steps++;
    stats_.prompt_tokens_evaluated += prompt_tokens;
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    Live& r = *rows[i];
    if (r.done) continue;
    if (flags.argmax_vocab > 0) {
      accept_token(r, outputs_.argmax[i]);
      continue;
    }
    std::span<const float> logits(outputs_.logits_row(static_cast<int64_t>(i)), n_sample_vocab_);
    accept_token(r, r.sampler->sample(logits));
  }
}

void LocalEngine::accept_token(Live& r, int32_t token) {
  if (r.cancelled->load()) {
    finish(r, FinishReason::cancelled);
    return;
  }
  auto now = Clock::now();
  if (r.fin.tokens.empty()) r.t_first = now;
  r.t_last = now;
  r.fin.tokens.push_back(token);
  {
    std::lock_guard lk(mu_);
    stats_.tokens_generated++;
  }
  bool stop_token = std::find(r.stop.tokens.begin(), r.stop.tokens.end(), token) != r.stop.tokens.end();
  if (stop_token || (r.stop.end_of_generation && tokenizer_->is_eog(token))) {
    finish(r, FinishReason::stop);
    return;
  }
  try {
    auto res = r.matcher->push(r.utf8.push(reply_piece(*tokenizer_, token)));
    if (r.on_token) r.on_token(TokenPiece{token, res.emit});
    if (res.stopped) {
      r.fin.stop_string = res.matched;
      finish(r, FinishReason::stop);
      return;
    }
  } catch (const std::exception& e) {
    finish(r, FinishReason::error, std::string("streaming token ") + std::to_string(token) + " failed: " + e.what());
    return;
  }
  // The sampled token is evaluated in the next step, so the cache must have room for it.
  bool full = context_->sequence_length(r.seq) + 1 >= model_->n_ctx();
  if (static_cast<int32_t>(r.fin.tokens.size()) >= r.max_tokens || full) {
    finish(r, FinishReason::length);
    return;
  }
  r.next_token = token;
}

// Streams what was held back (an unfinished character, a possible stop-string prefix) once the
// reply ends for a reason other than a stop string or cancellation.
void LocalEngine::release_text(Live& r) {
  auto res = r.matcher->push(r.utf8.finish());
  std::string text = res.emit;
  if (!res.stopped) {
    auto last = r.matcher->finish();
    text += last.emit;
    res.stopped = last.stopped;
    res.matched = last.matched;
  }
  if (res.stopped) {
    r.fin.reason = FinishReason::stop;
    r.fin.stop_string = res.matched;
  }
  if (!text.empty() && r.on_token) r.on_token(TokenPiece{-1, text});
}

void LocalEngine::finish(Live& r, FinishReason reason, std::string error) {
  if (r.done) return;
  r.done = true;
  r.fin.reason = reason;
  r.fin.error = std::move(error);
  if ((reason == FinishReason::length || reason == FinishReason::stop) && r.fin.stop_string.empty()) {
    try {
      release_text(r);
    } catch (const std::exception& e) {
      r.fin.reason = FinishReason::error;
      r.fin.error = std::string("streaming the end of the reply failed: ") + e.what();
    }
  }
  if (r.seq >= 0) {
    if (r.fin.reason != FinishReason::error) {
      // Offer the whole exchange (prompt and reply so far) to the next request, e.g. the next
      // turn of a conversation, before the sequence goes.
      std::vector<int32_t> all = r.prompt;
      all.insert(all.end(), r.fin.tokens.begin(), r.fin.tokens.end());
      all.resize(std::min<size_t>(all.size(), static_cast<size_t>(context_->sequence_length(r.seq))));
      try {
        context_->publish(r.seq, all);
      } catch (const std::exception& e) {
        warn("request " + std::to_string(r.id) + ": could not offer its cache for reuse: " + e.what());
      }
    }
    context_->free_sequence(r.seq);
    r.seq = -1;
  }
  auto now = Clock::now();
  RequestStats& s = r.fin.stats;
  s.prompt_tokens = static_cast<int32_t>(r.prompt.size());
  s.cached_tokens = r.cached;
  s.generated_tokens = static_cast<int32_t>(r.fin.tokens.size());
  s.queue_s = r.started ? seconds(r.t_submit, r.t_start) : seconds(r.t_submit, now);
  if (!r.fin.tokens.empty()) s.time_to_first_token_s = seconds(r.t_submit, r.t_first);
  if (r.prefilled && r.t_prefill_end > r.t_prefill_start)
    s.prefill_tokens_per_s = double(r.prompt.size() - size_t(r.cached)) / seconds(r.t_prefill_start, r.t_prefill_end);
  if (r.fin.tokens.size() > 1 && r.t_last > r.t_first)
    s.decode_tokens_per_s = double(r.fin.tokens.size() - 1) / seconds(r.t_first, r.t_last);
  s.total_s = seconds(r.t_submit, now);
  {
    std::lock_guard lk(mu_);
    flags_.erase(r.id);
  }
  if (r.on_done) {
    try {
      r.on_done(r.fin);
    } catch (const std::exception& e) {
      warn("request " + std::to_string(r.id) + ": on_done callback threw: " + e.what());
    }
  }
}

}  // namespace

std::unique_ptr<Engine> open_engine(const EngineOptions& options) { return std::make_unique<LocalEngine>(options); }

}  // namespace latent::engine
