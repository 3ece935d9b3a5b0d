// `latent bench engine`: prefill and decode throughput of a model through the engine API, each
// decode rate next to its memory-bandwidth roofline measured in the same run.
//
// Decoding one token must read every weight the token uses at least once: attention, norms,
// dense and shared-expert FFNs, the router, the used fraction of the routed experts and the
// output head (plus one embedding row). That byte count divided by the machine's read bandwidth
// is the decode roofline; the ratio says how close the engine gets to it. On a GPU backend the
// bandwidth is the device's, measured with the backend's own copy kernel (reading and writing
// each byte once), so the roofline is the device memory's.
#include <cstdio>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "api/engine.h"
#include "backend/backend.h"
#include "cli/bench_util.h"
#include "cli/command.h"
#include "gguf/gguf.h"

namespace latent::cli {

namespace {

struct WeightBytes {
  double active_per_token = 0;  // bytes one decoded token reads
  double total = 0;
  int64_t context_length = 0;
};

WeightBytes weight_bytes(const std::filesystem::path& path) {
  gguf::File f = gguf::File::open(path);
  std::string arch(f.require_string("general.architecture"));
  double n_expert = double(f.get_uint(arch + ".expert_count").value_or(0));
  double n_used = double(f.get_uint(arch + ".expert_used_count").value_or(0));
  WeightBytes w;
  w.context_length = static_cast<int64_t>(f.get_uint(arch + ".context_length").value_or(0));
  const gguf::TensorInfo* embd = nullptr;
  bool has_output = false;
  for (const auto& t : f.tensors()) {
    w.total += double(t.n_bytes);
    if (t.name == "token_embd.weight") {
      embd = &t;
      continue;
    }
    if (t.name == "output.weight") has_output = true;
    bool routed = t.name.find("_exps.") != std::string::npos;
    w.active_per_token += routed && n_expert > 0 ? double(t.n_bytes) * n_used / n_expert : double(t.n_bytes);
  }
  if (embd) w.active_per_token += has_output ? double(embd->row_bytes()) : double(embd->n_bytes);
  return w;
}

// Prompt tokens from the ordinary part of the vocabulary (special tokens sit at the end of
// DeepSeek vocabularies), deterministic so runs compare.
std::vector<int32_t> bench_prompt(int64_t n, int32_t vocab) {
  std::vector<int32_t> t(std::max<int64_t>(n, 1));
  uint64_t x = 88172645463325252ull;
  int32_t span = std::max(1, std::min(vocab, 30000) - 200);
  for (auto& v : t) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    v = 100 + static_cast<int32_t>(x % static_cast<uint64_t>(span));
  }
  return t;
}

engine::RequestStats run_one(engine::Engine& eng, std::vector<int32_t> prompt, int32_t max_tokens) {
  engine::Request r;
  r.tokens = std::move(prompt);
  r.max_tokens = max_tokens;
  r.stop.end_of_generation = false;  // measure exactly max_tokens decode steps
  std::promise<engine::Finished> p;
  auto fut = p.get_future();
  eng.submit(std::move(r), nullptr, [&p](const engine::Finished& f) { p.set_value(f); });
  engine::Finished f = fut.get();
  if (f.reason == engine::FinishReason::error) throw std::runtime_error("benchmark request failed: " + f.error);
  return f.stats;
}

// Bytes per second a device-to-device copy on the backend moves (read plus write), best of 4.
double measure_device_bandwidth(const BackendChoice& choice, size_t bytes) {
  backend::BackendOptions bo;
  bo.device = choice.device;
  auto be = backend::make_backend(choice.backend, bo);
  bytes = std::min<size_t>(bytes, be->max_allocation_bytes() / 2 * 2);
  const int64_t n = int64_t(bytes / 4);
  backend::Tensor a = be->allocate(gguf::TensorType::F32, {n, 1, 1, 1}, "bandwidth_src");
  backend::Tensor b = be->allocate(gguf::TensorType::F32, {n, 1, 1, 1}, "bandwidth_dst");
  std::vector<float> fill(size_t(n), 1.0f);
  be->write(a, fill.data(), fill.size() * sizeof(float));
  const backend::Tensor probe = b.view({1, 1, 1, 1}, {4, 4, 4, 4}, 0, "bandwidth_probe");
  float sink = 0;
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    Stopwatch sw;
    be->copy(a, b);
    be->read(probe, &sink, sizeof sink);  // waits for the copy
    if (pass > 0) best = std::max(best, 2.0 * double(n) * 4.0 / sw.seconds());
  }
  be->deallocate(a);
  be->deallocate(b);
  return best;
}

}  // namespace

int bench_engine(const ParsedArgs& args) {
  const std::filesystem::path model = args.require("model");
  const bool quick = args.has("quick");
  int threads = static_cast<int>(args.get_int("threads", 0));
  if (threads < 0) throw UsageError("--threads must be 0 (all cores) or more");
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  // --quick divides every size by 8: a smoke test of the benchmark, not a measurement to quote.
  const int64_t scale = quick ? 8 : 1;
  const EngineSizes sizes = args.has("sizes") ? parse_engine_sizes(*args.get("sizes"), scale)
                                              : EngineSizes{{512 / scale, 4096 / scale, 8192 / scale},
                                                            {0, 4096 / scale, 16384 / scale}};
  const std::vector<int64_t>& prefill_sizes = sizes.prefill;
  const std::vector<int64_t>& decode_contexts = sizes.decode;
  const int32_t decode_tokens = quick ? 8 : 32;

  WeightBytes wb = weight_bytes(model);
  int64_t need = 0;
  for (int64_t n : prefill_sizes) need = std::max(need, n + 2);
  for (int64_t n : decode_contexts) need = std::max(need, n + decode_tokens + 2);
  engine::EngineOptions o;
  o.model_path = model;
  const BackendChoice bc = backend_choice(args);
  o.backend = bc.backend;
  o.device = bc.device;
  o.gpu_layers = bc.gpu_layers;
  o.threads = threads;
  // Every measurement evaluates its whole prompt (the prompts share prefixes by construction).
  o.prefix_cache = false;
  o.context_length = static_cast<int32_t>(wb.context_length > 0 ? std::min(need, wb.context_length) : need);
  auto eng = engine::open_engine(o);
  const int64_t n_ctx = eng->model_info().context_length;
  const int32_t vocab = eng->model_info().vocab_size;

  const bool device = bc.backend != "cpu";
  const size_t bandwidth_bytes = quick ? size_t(256) << 20 : size_t(1) << 30;
  const double bandwidth = device ? measure_device_bandwidth(bc, bandwidth_bytes)
                                  : measure_read_bandwidth(threads, bandwidth_bytes);
  double roofline = bandwidth / wb.active_per_token;

  Table table({"test", "context", "tokens", "tokens/s", "roofline tok/s", "of roofline"});
  nlohmann::json prefill_json = nlohmann::json::object(), decode_json = nlohmann::json::object(),
                 ratio_json = nlohmann::json::object();
  std::vector<std::string> skipped;

  for (int64_t n : prefill_sizes) {
    if (n + 1 >= n_ctx) {
      skipped.push_back("prefill " + std::to_string(n) + " (context " + std::to_string(n_ctx) + ")");
      continue;
    }
    auto s = run_one(*eng, bench_prompt(n, vocab), 1);
    table.add({"prefill", "-", std::to_string(n), format_fixed(s.prefill_tokens_per_s, 1), "", ""});
    prefill_json[std::to_string(n)] = s.prefill_tokens_per_s;
  }
  for (int64_t ctx : decode_contexts) {
    if (ctx + decode_tokens + 1 >= n_ctx) {
      skipped.push_back("decode at " + std::to_string(ctx) + " (context " + std::to_string(n_ctx) + ")");
      continue;
    }
    // Context 0 means a one-token prompt: the first decode step sees only that token.
    auto s = run_one(*eng, bench_prompt(std::max<int64_t>(ctx, 1), vocab), decode_tokens);
    double ratio = s.decode_tokens_per_s / roofline;
    table.add({"decode", std::to_string(ctx), std::to_string(decode_tokens), format_fixed(s.decode_tokens_per_s, 1),
               format_fixed(roofline, 1), format_fixed(100.0 * ratio, 1) + "%"});
    decode_json[std::to_string(ctx)] = s.decode_tokens_per_s;
    ratio_json[std::to_string(ctx)] = ratio;
  }
  uint64_t rss = peak_rss_bytes();

  if (args.has("json")) {
    nlohmann::json j = {
        {"suite", "engine"},
        {"model", model.filename().string()},
        {"threads", threads},
        {"backend", bc.backend},
        {"quick", quick},
        {"bandwidth_bytes_per_s", bandwidth},
        {"active_weight_bytes_per_token", wb.active_per_token},
        {"weight_bytes", wb.total},
        {"roofline_tokens_per_s", roofline},
        {"prefill_tokens_per_s", prefill_json},
        {"decode_tokens_per_s", decode_json},
        {"decode_roofline_ratio", ratio_json},
        {"decode_tokens", decode_tokens},
        {"peak_rss_bytes", rss},
        {"skipped", skipped},
    };
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model %s: %.1f MB of weights, %.2f MB read per decoded token (active experts only)\n",
              model.filename().string().c_str(), wb.total / 1e6, wb.active_per_token / 1e6);
  if (device)
    std::printf("backend %s: device copy bandwidth %.2f GB/s -> decode roofline %.1f tokens/s%s\n", bc.backend.c_str(),
                bandwidth / 1e9, roofline, quick ? "   [--quick: sizes divided by 8]" : "");
  else
    std::printf("read bandwidth %.2f GB/s (%d threads) -> decode roofline %.1f tokens/s%s\n", bandwidth / 1e9,
                threads, roofline, quick ? "   [--quick: sizes divided by 8]" : "");
  std::fputs(table.render().c_str(), stdout);
  std::printf("peak RSS %.1f MB\n", double(rss) / 1e6);
  for (const auto& s : skipped) std::printf("skipped: %s, beyond the model's context\n", s.c_str());
  return 0;
}

}  // namespace latent::cli
