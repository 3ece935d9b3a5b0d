// `latent bench kv`: what the prefix-cached latent KV store buys. For prompts of N tokens it
// measures time to first token (prefill until the last prompt token's logits) cold, warm after
// an edit in the last 256 tokens (the editor case: the repository context in front is reused),
// and after a restart (a new store reading the disk tier), plus the cache's bytes per token next
// to a full per-head K/V cache of the same model.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "cli/bench_util.h"
#include "cli/command.h"
#include "kv/fingerprint.h"
#include "kv/prefix_store.h"
#include "model/model.h"
#include "model/scheduler.h"

namespace latent::cli {

namespace {

struct Timing {
  double seconds = 0;
  int64_t cached = 0;
};

// Prefills `prompt` on a fresh sequence the way the engine does and times it up to the logits
// of the last token.
Timing time_to_first_token(model::Context& ctx, const std::vector<int32_t>& prompt) {
  Stopwatch sw;
  model::SeqId s = ctx.create_sequence();
  std::span<const int32_t> all(prompt);
  Timing t;
  t.cached = ctx.reuse_prefix(s, all.first(all.size() - 1));
  model::Batch b;
  for (size_t i = size_t(t.cached); i < prompt.size(); ++i) b.add(s, prompt[i], i + 1 == prompt.size());
  model::Outputs out;
  ctx.evaluate(b, out);
  t.seconds = sw.seconds();
  ctx.publish(s, all);
  ctx.free_sequence(s);
  return t;
}

std::shared_ptr<kv::PrefixStore> open_store(const model::Model& m, const std::filesystem::path& dir) {
  kv::StoreOptions o;
  o.disk_dir = dir;
  return std::make_shared<kv::PrefixStore>(m.placement().layer_runs(), m.hparams().latent_width(), m.options().cache_type,
                                           kv::model_fingerprint(m.file()), o);
}

}  // namespace

int bench_kv(const ParsedArgs& args) {
  const std::string path = args.require("model");
  model::Options opt;
  if (args.has("threads")) opt.threads = int(args.get_int("threads", 0));
  // f16 by default, the serving engine's cache type.
  opt.cache_type = model::parse_cache_type(args.get_or("cache-type", "f16"));
  auto m = model::Model::load(path, opt);
  const auto& hp = m->hparams();
  const bool quick = args.has("quick");
  std::vector<int64_t> sizes = quick ? std::vector<int64_t>{512, 2048} : std::vector<int64_t>{2048, 8192, 32768};
  const int64_t max_prompt = std::min<int64_t>(m->n_ctx(), args.get_int("max-prompt", 32768));
  sizes.erase(std::remove_if(sizes.begin(), sizes.end(), [&](int64_t n) { return n > max_prompt; }), sizes.end());

  // Bytes per token of each cache form (all layers), both at the latent cache's element type.
  const std::string type_name(model::cache_type_name(opt.cache_type));
  const double value_bytes = double(model::cache_row_bytes(opt.cache_type, hp.latent_width())) / double(hp.latent_width());
  const double latent_bytes = double(hp.latent_width()) * value_bytes * double(hp.n_layer);
  const double full_kv_bytes =
      double(hp.n_head) * double(hp.qk_nope + hp.qk_rope + hp.v_head) * value_bytes * double(hp.n_layer);

  const auto dir = std::filesystem::temp_directory_path() / ("latent-bench-kv-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  nlohmann::json j;
  j["model"] = path;
  j["threads"] = opt.threads;
  j["cache_type"] = type_name;
  j["latent_bytes_per_token"] = latent_bytes;
  j["full_kv_bytes_per_token"] = full_kv_bytes;
  j["full_over_latent"] = full_kv_bytes / latent_bytes;
  Table table({"prompt tokens", "cold s", "warm s", "reused", "restart s", "reused", "warm/cold", "restart/cold"});
  std::mt19937 rng(1);
  for (int64_t n : sizes) {
    std::vector<int32_t> prompt(static_cast<size_t>(n));
    for (auto& t : prompt) t = int32_t(100 + rng() % uint32_t(std::min<int64_t>(hp.n_vocab - 200, 30000)));
    std::fprintf(stderr, "bench kv: %lld tokens...\n", static_cast<long long>(n));
    Timing cold, warm, restart;
    {
      model::Context ctx(m, open_store(*m, dir));
      cold = time_to_first_token(ctx, prompt);
      auto edited = prompt;
      for (size_t i = edited.size() - 200; i < edited.size() - 197; ++i) edited[i] = int32_t(101 + rng() % 1000);
      warm = time_to_first_token(ctx, edited);
    }  // the store writes its pages to the disk tier here, as latentd does at shutdown
    {
      model::Context ctx(m, open_store(*m, dir));
      restart = time_to_first_token(ctx, prompt);
    }
    std::filesystem::remove_all(dir);
    table.add({std::to_string(n), format_fixed(cold.seconds, 3), format_fixed(warm.seconds, 3),
               std::to_string(warm.cached), format_fixed(restart.seconds, 3), std::to_string(restart.cached),
               format_fixed(warm.seconds / cold.seconds, 3), format_fixed(restart.seconds / cold.seconds, 3)});
    j["runs"].push_back({{"prompt_tokens", n},
                         {"cold_s", cold.seconds},
                         {"warm_s", warm.seconds},
                         {"warm_cached_tokens", warm.cached},
                         {"restart_s", restart.seconds},
                         {"restart_cached_tokens", restart.cached},
                         {"warm_over_cold", warm.seconds / cold.seconds},
                         {"restart_over_cold", restart.seconds / cold.seconds}});
  }
  j["peak_rss_bytes"] = peak_rss_bytes();
  if (args.has("json")) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("latent KV cache: %.0f bytes/token (%s) vs %.0f for a full per-head K/V cache: %.1fx smaller\n\n",
              latent_bytes, type_name.c_str(), full_kv_bytes, full_kv_bytes / latent_bytes);
  std::printf("time to first token (%d threads; warm = edit 200 tokens before the end):\n%s", opt.threads,
              table.render().c_str());
  return 0;
}

}  // namespace latent::cli
