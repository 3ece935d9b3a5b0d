#include "server/engine_generator.h"

#include "api/engine.h"
#include "server/log.h"

namespace latent::daemon {

namespace {

class EngineGenerator final : public Generator {
 public:
  EngineGenerator(std::unique_ptr<engine::Engine> engine, const Options& options) : engine_(std::move(engine)) {
    const engine::ModelInfo& info = engine_->model_info();
    model_.name = info.name;
    model_.path = options.model_path;
    model_.backend = info.backend;
    model_.chat_format = info.chat_format;
    model_.fim = info.fim;
    model_.context_length = info.context_length;
    model_.warnings = info.warnings;
  }

  const ModelDescription& model() const override { return model_; }

  uint64_t start(const GenerationRequest& request, std::function<void(std::string_view)> on_text,
                 std::function<void(const GenerationEnd&)> on_end) override {
    engine::Request r;
    if (request.kind == GenerationRequest::Kind::Fim) {
      r.tokens = engine_->fim_tokens(request.prefix, request.suffix);
    } else if (request.kind == GenerationRequest::Kind::Text) {
      r.text = request.text;
    } else {
      std::vector<engine::ChatMessage> messages;
      for (const auto& [role, content] : request.messages) messages.push_back({role, content});
      r.tokens = engine_->chat_tokens(messages);
    }
    r.max_tokens = request.max_tokens;
    r.sampling.temperature = request.temperature;
    r.sampling.top_p = request.top_p;
    r.sampling.seed = request.seed;
    r.stop.strings = request.stop;
    r.priority = request.interactive ? engine::Priority::completion : engine::Priority::question;
    return engine_->submit(
        std::move(r), [on_text](const engine::TokenPiece& piece) { if (!piece.text.empty()) on_text(piece.text); },
        [on_end](const engine::Finished& f) {
          GenerationEnd end;
          switch (f.reason) {
            case engine::FinishReason::stop: end.reason = GenerationEnd::Reason::Stop; break;
            case engine::FinishReason::length: end.reason = GenerationEnd::Reason::Length; break;
            case engine::FinishReason::cancelled: end.reason = GenerationEnd::Reason::Cancelled; break;
            case engine::FinishReason::error: end.reason = GenerationEnd::Reason::Error; break;
          }
          end.error = f.error;
          end.prompt_tokens = f.stats.prompt_tokens;
          end.cached_tokens = f.stats.cached_tokens;
          end.generated_tokens = f.stats.generated_tokens;
          on_end(end);
        });
  }

  void cancel(uint64_t id) override { engine_->cancel(id); }
  size_t count_tokens(std::string_view text) const override { return engine_->count_tokens(text); }

  std::string model_file_problem() const override { return engine_->model_file_problem(); }

  GeneratorLoad load() const override {
    engine::EngineStats s = engine_->stats();
    return {s.live_requests, s.queued_requests};
  }

 private:
  std::unique_ptr<engine::Engine> engine_;
  ModelDescription model_;
};

}  // namespace

std::unique_ptr<Generator> open_engine_generator(const Options& options) {
  engine::EngineOptions eo;
  eo.model_path = options.model_path;
  eo.backend = options.backend;
  eo.device = options.device;
  eo.gpu_layers = options.gpu_layers;
  eo.threads = options.engine_threads;
  eo.log = [](std::string_view message) { log_warn(std::string(message)); };
  return std::make_unique<EngineGenerator>(engine::open_engine(eo), options);
}

}  // namespace latent::daemon
