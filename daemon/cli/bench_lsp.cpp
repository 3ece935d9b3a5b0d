// `latent bench lsp`: inline-completion latency through latentd's whole LSP path (framing,
// JSON-RPC, documents, supersession, debounce, context, engine, stop rules) under a typing
// storm: one keystroke every 1/30 s for 30 s (--quick: 5 s), each a didChange plus an
// inlineCompletion request that supersedes the previous one. When a completion arrives the
// typist types through it (its first characters), as a user accepting ghost text does, which
// the server answers from the completion already shown. Reported: request-to-response latency
// (p50/p99) of the requests that got an answer, engine runs started vs requests, reuse, and as
// the baseline the latency of single completion requests made with no storm. Columns: the
// default debounce and none; with --remote URL, the local --model and the remote server (e.g.
// `latentd --http` serving the same model), so the difference is what the remote path adds.
//
// With --file, instead, a realistic session in a real source file (its directory indexed as the
// workspace): the cursor mid-file, a line typed there one keystroke at a time (each request
// answered before the next key, debounce 0), then a jump to another function and a few more
// keys. Per keystroke: prompt tokens, tokens the engine evaluated again (prompt minus those its
// KV store served) and latency, their percentiles over the keystrokes that ran the engine.
// --whole-file-baseline N first runs N keystrokes with a window as large as the model's context
// (the layout before the bounded window) as the baseline. Each session's KV disk tier is a fresh
// directory, so that its first keystroke is cold.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/bench_util.h"
#include "cli/command.h"
#include "lsp/framing.h"
#include "lsp/jsonrpc.h"
#include "server/assistant.h"
#include "server/daemon.h"
#include "server/event_loop.h"
#include "server/lsp_session.h"

namespace latent::cli {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// The in-memory client: records each response's arrival time.
class Client {
 public:
  explicit Client(daemon::Options options, daemon::IndexFactory indexes = {})
      : assistant_(loop_, std::move(options), daemon::default_generator_factory(), std::move(indexes)),
        session_(assistant_, [this](std::string bytes) { on_bytes(bytes); }, [](int) {}) {
    thread_ = std::thread([this] { loop_.run(); });
  }
  ~Client() {
    loop_.post([this] {
      assistant_.shutdown();
      loop_.stop();
    });
    thread_.join();
  }
  int send_request(const std::string& method, json params) {
    int id = next_id_++;
    {
      std::lock_guard lock(mu_);
      sent_[id] = Clock::now();
    }
    post(lsp::make_request(id, method, std::move(params)));
    return id;
  }
  void notify(const std::string& method, json params) { post(lsp::make_notification(method, std::move(params))); }
  json wait(int id, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return responses_.count(id) > 0; });
    return responses_.count(id) ? responses_[id].second : json();
  }
  json call(const std::string& method, json params) { return wait(send_request(method, std::move(params))); }
  // Waits until the model is open and the workspaces are indexed.
  void wait_ready() {
    std::promise<void> ready;
    loop_.post([this, &ready] { assistant_.when_ready([&ready] { ready.set_value(); }); });
    ready.get_future().wait();
  }
  // Waits until every engine run has ended and its token counts are in latent/status.
  void wait_idle() { assistant_.block_until_idle_for_test(); }
  // (latency in seconds, response) for every answered request.
  std::map<int, std::pair<double, json>> responses() {
    std::lock_guard lock(mu_);
    std::map<int, std::pair<double, json>> out;
    for (auto& [id, r] : responses_) out[id] = {std::chrono::duration<double>(r.first - sent_[id]).count(), r.second};
    return out;
  }
  std::optional<json> latest_item_since(int id) {
    std::lock_guard lock(mu_);
    for (auto it = responses_.rbegin(); it != responses_.rend(); ++it) {
      if (it->first < id) break;
      const json& r = it->second.second;
      if (r.contains("result") && r["result"].contains("items") && !r["result"]["items"].empty()) return r["result"]["items"][0];
    }
    return std::nullopt;
  }

 private:
  void post(const json& j) {
    std::string bytes = lsp::encode_frame(j.dump());
    loop_.post([this, bytes] { session_.receive(bytes); });
  }
  void on_bytes(const std::string& bytes) {
    auto now = Clock::now();
    decoder_.feed(bytes);
    std::lock_guard lock(mu_);
    while (auto ev = decoder_.next()) {
      json m = json::parse(ev->body, nullptr, false);
      if (m.is_object() && m.contains("id") && m["id"].is_number_integer() && !m.contains("method"))
        responses_[m["id"].get<int>()] = {now, m};
    }
    cv_.notify_all();
  }

  daemon::EventLoop loop_;
  daemon::Assistant assistant_;
  daemon::LspSession session_;
  std::thread thread_;
  lsp::FrameDecoder decoder_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, Clock::time_point> sent_;
  std::map<int, std::pair<Clock::time_point, json>> responses_;
  int next_id_ = 1;
};

const char* kScript =
    "    result = []\n    for item in items:\n        if item.valid:\n            result.append(item.value * 2)\n"
    "    return sorted(result, key=lambda v: -v)\n";

struct StormResult {
  std::string label;  // the column: the debounce, or local / remote
  int debounce_ms = 0;
  double elapsed_s = 0;
  uint64_t requests = 0, engine_runs = 0, reused = 0;
  size_t answered = 0, with_item = 0, superseded = 0;
  double p50_ms = 0, p99_ms = 0, single_p50_ms = 0;
};

bool has_model(const daemon::Options& o) { return !o.model_path.empty() || o.uses_remote(); }

// One storm against a fresh in-process server with the given debounce.
std::optional<StormResult> run_storm(daemon::Options options, double duration_s, bool quick, std::string& model_name) {
  const double keystroke_s = 1.0 / 30.0;
  Client client(options);
  const std::string uri = "file:///bench/storm.py";
  client.call("initialize", {{"processId", nullptr}, {"capabilities", {{"general", {{"positionEncodings", {"utf-8"}}}}}}});
  client.notify("initialized", json::object());
  json status;
  for (;;) {
    status = client.call("latent/status", json::object())["result"];
    if (status["model"].value("loaded", false) || !has_model(options) ||
        status["model"].value("problem", "").rfind("loading", 0) != 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (has_model(options) && !status["model"].value("loaded", false)) {
    std::fprintf(stderr, "latent bench lsp: %s\n", status["model"].value("problem", "").c_str());
    return std::nullopt;
  }
  model_name = status["model"].value("name", "none");

  std::string text = "def transform(items):\n";
  int version = 1;
  client.notify("textDocument/didOpen", {{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", version}, {"text", text}}}});
  auto cursor = [&] {
    uint32_t line = static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n'));
    size_t nl = text.rfind('\n');
    return json{{"line", line}, {"character", text.size() - (nl == std::string::npos ? 0 : nl + 1)}};
  };
  auto complete = [&] {
    return client.send_request("textDocument/inlineCompletion",
                               {{"textDocument", {{"uri", uri}}}, {"position", cursor()}, {"context", {{"triggerKind", 2}}}});
  };
  auto type_char = [&](char c) {
    json pos = cursor();
    text += c;
    client.notify("textDocument/didChange", {{"textDocument", {{"uri", uri}, {"version", ++version}}},
                                             {"contentChanges", {{{"range", {{"start", pos}, {"end", pos}}}, {"text", std::string(1, c)}}}}});
  };

  StormResult out;
  out.debounce_ms = options.debounce_ms;
  // Baseline: single requests with the cache warm and nothing else going on.
  std::vector<double> single;
  client.wait(complete());  // warm-up
  for (int i = 0; i < (quick ? 3 : 8); ++i) {
    int id = complete();
    auto t0 = Clock::now();
    client.wait(id);
    single.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  json before = client.call("latent/status", json::object())["result"]["completions"];

  std::vector<int> storm_ids;
  size_t script_pos = 0;
  std::string through;  // characters of a shown completion still to type
  int last_seen = 0;
  auto start = Clock::now();
  for (int k = 0;; ++k) {
    auto at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(k * keystroke_s));
    if (std::chrono::duration<double>(at - start).count() >= duration_s) break;
    std::this_thread::sleep_until(at);
    if (through.empty() && !storm_ids.empty()) {
      if (auto item = client.latest_item_since(std::max(last_seen, storm_ids.back()))) {
        through = item->value("insertText", "").substr(0, 8);
        last_seen = storm_ids.back() + 1;
      }
    }
    char c;
    if (!through.empty()) {
      c = through.front();
      through.erase(0, 1);
    } else {
      c = kScript[script_pos++ % std::strlen(kScript)];
    }
    type_char(c);
    storm_ids.push_back(complete());
  }
  for (int id : storm_ids) client.wait(id);
  json after = client.call("latent/status", json::object())["result"]["completions"];
  out.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();

  auto responses = client.responses();
  std::vector<double> answered;
  for (int id : storm_ids) {
    const auto& [latency, r] = responses[id];
    if (r.contains("error")) {
      ++out.superseded;
      continue;
    }
    answered.push_back(latency);
    if (!r["result"]["items"].empty()) ++out.with_item;
  }
  out.answered = answered.size();
  out.requests = after.value("requests", 0ull) - before.value("requests", 0ull);
  out.engine_runs = after.value("engineRuns", 0ull) - before.value("engineRuns", 0ull);
  out.reused = after.value("reused", 0ull) - before.value("reused", 0ull);
  out.p50_ms = percentile(answered, 0.5) * 1e3;
  out.p99_ms = percentile(answered, 0.99) * 1e3;
  out.single_p50_ms = percentile(single, 0.5) * 1e3;
  return out;
}

// One keystroke of the realistic session.
struct SessionKey {
  std::string phase;  // "cold", "typing", "jump", "after jump"
  double latency_ms = 0;
  int64_t prompt_tokens = 0, recomputed_tokens = 0;
  bool engine_run = false;
};

// The lines of the session's typing: ordinary code, a few lines, newlines included.
const char* kSessionTyping = "    const auto count = items.size();\n    if (count == 0) return {};\n";
const char* kAfterJumpTyping = "    auto it = ";

// Cold means cold: while it lives, the KV store's disk tier ($XDG_CACHE_HOME/latent/kv) is a
// fresh directory, not the pages of an earlier run or session.
class FreshKvCache {
 public:
  FreshKvCache() {
    dir_ = (std::filesystem::temp_directory_path() / "latent-bench-lsp-XXXXXX").string();
    if (!mkdtemp(dir_.data())) throw std::runtime_error("cannot create a directory in " + std::filesystem::temp_directory_path().string());
    setenv("XDG_CACHE_HOME", dir_.c_str(), 1);
  }
  ~FreshKvCache() { std::filesystem::remove_all(dir_); }
  FreshKvCache(const FreshKvCache&) = delete;
  FreshKvCache& operator=(const FreshKvCache&) = delete;

 private:
  std::string dir_;
};

std::optional<std::vector<SessionKey>> run_session(daemon::Options options, const std::filesystem::path& file,
                                                   bool quick, size_t only_keys, std::string& model_name) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "latent bench lsp: cannot read %s\n", file.string().c_str());
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  options.debounce_ms = 0;
  const std::filesystem::path root = std::filesystem::absolute(file).parent_path();
  FreshKvCache cold;
  Client client(options, daemon::default_index_factory());
  client.call("initialize", {{"processId", nullptr},
                             {"rootUri", "file://" + root.string()},
                             {"capabilities", {{"general", {{"positionEncodings", {"utf-8"}}}}}}});
  client.notify("initialized", json::object());
  client.wait_ready();
  json status = client.call("latent/status", json::object())["result"];
  if (!status["model"].value("loaded", false)) {
    std::fprintf(stderr, "latent bench lsp: %s\n", status["model"].value("problem", "no model").c_str());
    return std::nullopt;
  }
  model_name = status["model"].value("name", "");
  const std::string uri = "file://" + std::filesystem::absolute(file).string();
  int version = 1;
  client.notify("textDocument/didOpen",
                {{"textDocument", {{"uri", uri}, {"languageId", "cpp"}, {"version", version}, {"text", text}}}});

  // The cursor: byte offset, and its (line, utf-8 column).
  size_t cursor = 0;
  auto position = [&] {
    size_t line_start = text.rfind('\n', cursor == 0 ? 0 : cursor - 1);
    line_start = (cursor == 0 || line_start == std::string::npos) ? 0 : line_start + 1;
    return json{{"line", std::count(text.begin(), text.begin() + static_cast<long>(cursor), '\n')},
                {"character", cursor - line_start}};
  };
  auto end_of_line = [&](size_t line) {
    size_t at = 0;
    for (size_t i = 0; i < line && at < text.size(); ++i) at = text.find('\n', at) + 1;
    size_t nl = text.find('\n', at);
    return nl == std::string::npos ? text.size() : nl;
  };
  std::vector<SessionKey> keys;
  auto key = [&](const std::string& phase, char c) {
    json before = client.call("latent/status", json::object())["result"];
    json pos = position();
    text.insert(cursor, 1, c);
    ++cursor;
    client.notify("textDocument/didChange", {{"textDocument", {{"uri", uri}, {"version", ++version}}},
                                             {"contentChanges", {{{"range", {{"start", pos}, {"end", pos}}}, {"text", std::string(1, c)}}}}});
    auto t0 = Clock::now();
    client.wait(client.send_request("textDocument/inlineCompletion",
                                    {{"textDocument", {{"uri", uri}}}, {"position", position()}, {"context", {{"triggerKind", 2}}}}),
                std::chrono::seconds(3600));
    SessionKey k;
    k.phase = phase;
    k.latency_ms = std::chrono::duration<double>(Clock::now() - t0).count() * 1e3;
    client.wait_idle();
    json after = client.call("latent/status", json::object())["result"];
    auto delta = [&](const char* group, const char* field) {
      return after[group].value(field, int64_t{0}) - before[group].value(field, int64_t{0});
    };
    k.prompt_tokens = delta("cache", "promptTokens");
    k.recomputed_tokens = k.prompt_tokens - delta("cache", "cachedPromptTokens");
    k.engine_run = delta("completions", "engineRuns") > 0;
    keys.push_back(k);
  };
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  std::string typing = kSessionTyping;
  if (quick) typing = typing.substr(0, 16);
  if (only_keys) typing = typing.substr(0, only_keys);
  // A new line after the middle of the file, then the typing.
  cursor = end_of_line(lines / 2);
  key("cold", '\n');
  for (char c : typing) key("typing", c);
  if (only_keys) return keys;
  // The jump: a new line a quarter of the file further up, in another function.
  cursor = end_of_line(lines / 4);
  key("jump", '\n');
  std::string after_jump = kAfterJumpTyping;
  for (char c : after_jump.substr(0, quick ? 4 : after_jump.size())) key("after jump", c);
  return keys;
}

// Over the keystrokes of `phase` that ran the engine (the others were answered from the
// completion already shown, at no cost).
double percentile_of(const std::vector<SessionKey>& keys, const std::string& phase, double p,
                     double (*field)(const SessionKey&)) {
  std::vector<double> v;
  for (const auto& k : keys)
    if (k.phase == phase && k.engine_run) v.push_back(field(k));
  return percentile(v, p);
}

// `latent bench lsp --file FILE`: the realistic session, and the whole-file baseline.
int bench_session(const ParsedArgs& args, daemon::Options options) {
  if (options.model_path.empty()) throw UsageError("bench lsp --file needs --model FILE (a model with FIM tokens)");
  const bool quick = args.has("quick");
  const std::filesystem::path file = std::filesystem::absolute(args.get_or("file", ""));
  const size_t baseline_keys = static_cast<size_t>(std::max<int64_t>(0, args.get_int("whole-file-baseline", 0)));
  std::string model_name;
  std::vector<std::pair<std::string, std::vector<SessionKey>>> runs;
  if (baseline_keys > 0) {
    daemon::Options whole = options;
    whole.prefix_tokens = whole.suffix_tokens = 1 << 20;  // capped by the model's context
    auto keys = run_session(whole, file, quick, baseline_keys, model_name);
    if (!keys) return 1;
    runs.emplace_back("whole file (baseline)", *keys);
  }
  auto keys = run_session(options, file, quick, 0, model_name);
  if (!keys) return 1;
  runs.emplace_back("bounded window", *keys);

  if (args.has("json")) {
    json out = json::array();
    for (const auto& [name, ks] : runs) {
      json list = json::array();
      for (const auto& k : ks)
        list.push_back({{"phase", k.phase}, {"latency_ms", k.latency_ms}, {"prompt_tokens", k.prompt_tokens},
                        {"recomputed_tokens", k.recomputed_tokens}, {"engine_run", k.engine_run}});
      out.push_back({{"layout", name}, {"keystrokes", list}});
    }
    std::cout << json{{"suite", "lsp-session"}, {"model", model_name}, {"file", file.string()},
                      {"prefix_tokens", options.prefix_tokens}, {"suffix_tokens", options.suffix_tokens},
                      {"context_budget", options.context_budget}, {"runs", out}, {"peak_rss_bytes", peak_rss_bytes()}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << "latent bench lsp: typing in " << file.filename().string() << ", model " << model_name
            << ", one request per keystroke answered before the next (debounce 0), max 16 tokens;\n"
            << "window " << options.prefix_tokens << " tokens before the cursor, " << options.suffix_tokens
            << " after, repository context " << options.context_budget << "\n\n";
  Table t({"layout", "phase", "keys", "engine runs", "prompt tok p50", "recomputed p50", "recomputed p90",
           "latency p50 ms", "latency p90 ms"});
  for (const auto& [name, ks] : runs) {
    for (const char* phase : {"cold", "typing", "jump", "after jump"}) {
      size_t n = 0, engine = 0;
      for (const auto& k : ks)
        if (k.phase == phase) {
          ++n;
          engine += k.engine_run;
        }
      if (n == 0) continue;
      auto field = [&](double (*f)(const SessionKey&), double p, int decimals) {
        return format_fixed(percentile_of(ks, phase, p, f), decimals);
      };
      auto prompt = [](const SessionKey& k) { return static_cast<double>(k.prompt_tokens); };
      auto recomputed = [](const SessionKey& k) { return static_cast<double>(k.recomputed_tokens); };
      auto latency = [](const SessionKey& k) { return k.latency_ms; };
      t.add({name, phase, std::to_string(n), std::to_string(engine), field(prompt, 0.5, 0), field(recomputed, 0.5, 0),
             field(recomputed, 0.9, 0), field(latency, 0.5, 0), field(latency, 0.9, 0)});
    }
  }
  std::cout << t.render() << "peak RSS: " << format_fixed(static_cast<double>(peak_rss_bytes()) / (1 << 20), 1) << " MiB\n";
  return 0;
}

}  // namespace

int bench_lsp(const ParsedArgs& args) {
  const bool quick = args.has("quick");
  const double duration_s = quick ? 5.0 : 30.0;
  daemon::configure_log({daemon::LogLevel::Warn, {}, true});
  daemon::Options options;
  options.model_path = args.get_or("model", "");
  const BackendChoice bc = backend_choice(args);
  options.backend = bc.backend;
  options.device = bc.device;
  options.gpu_layers = bc.gpu_layers;
  options.engine_threads = static_cast<int>(args.get_int("threads", 0));
  options.max_tokens = 16;
  if (args.has("remote") && options.model_path.empty())
    throw UsageError("--remote compares with the local engine: add --model FILE");
  if (args.has("file")) return bench_session(args, options);
  if (options.model_path.empty())
    std::fprintf(stderr, "latent bench lsp: no model (--model FILE): the latencies cover the protocol path and the "
                         "debounce only; no engine runs\n");
  // The daemon's default debounce, and none: every keystroke then starts (and cancels) a run.
  // With --remote: the local model and the remote server, both at the default debounce, so the
  // difference is the latency the remote engine adds.
  std::vector<std::pair<std::string, daemon::Options>> columns;
  if (auto remote = args.get("remote")) {
    daemon::Options o = options;
    o.model_path.clear();
    o.remote_url = *remote;
    o.remote_model = args.get_or("remote-model", "");
    columns = {{"local", options}, {"remote", o}};
  } else {
    for (int debounce : {daemon::Options().debounce_ms, 0}) {
      daemon::Options o = options;
      o.debounce_ms = debounce;
      columns.push_back({"debounce " + std::to_string(debounce) + " ms", o});
    }
  }
  std::vector<StormResult> results;
  std::string model_name;
  for (const auto& [label, o] : columns) {
    auto r = run_storm(o, duration_s, quick, model_name);
    if (!r) return 1;
    r->label = label;
    results.push_back(*r);
  }

  if (args.has("json")) {
    json runs = json::array();
    for (const auto& r : results)
      runs.push_back({{"column", r.label}, {"debounce_ms", r.debounce_ms}, {"duration_s", r.elapsed_s}, {"requests", r.requests},
                      {"answered", r.answered}, {"answered_with_item", r.with_item}, {"superseded", r.superseded},
                      {"engine_runs", r.engine_runs}, {"reused", r.reused}, {"latency_p50_ms", r.p50_ms},
                      {"latency_p99_ms", r.p99_ms}, {"baseline_single_p50_ms", r.single_p50_ms}});
    std::cout << json{{"suite", "lsp"}, {"model", options.model_path.empty() ? "" : model_name},
                      {"keystrokes_per_s", 30}, {"runs", runs}, {"peak_rss_bytes", peak_rss_bytes()}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << "latent bench lsp: typing storm, 30 keystrokes/s for " << format_fixed(duration_s, 0)
            << " s per column, model " << (options.model_path.empty() ? std::string("none") : model_name)
            << ", max 16 tokens per completion\n\n";
  std::vector<std::string> header = {"measure"};
  for (const auto& r : results) header.push_back(r.label);
  Table t(header);
  auto row = [&](const std::string& name, auto get) {
    std::vector<std::string> cells = {name};
    for (const auto& r : results) cells.push_back(get(r));
    t.add(cells);
  };
  row("requests (one per keystroke)", [](const StormResult& r) { return std::to_string(r.requests); });
  row("answered / with an item", [](const StormResult& r) { return std::to_string(r.answered) + " / " + std::to_string(r.with_item); });
  row("superseded (ContentModified)", [](const StormResult& r) { return std::to_string(r.superseded); });
  row("engine runs started", [](const StormResult& r) { return std::to_string(r.engine_runs); });
  row("answered from the shown completion", [](const StormResult& r) { return std::to_string(r.reused); });
  row("latency p50 (ms)", [](const StormResult& r) { return format_fixed(r.p50_ms, 1); });
  row("latency p99 (ms)", [](const StormResult& r) { return format_fixed(r.p99_ms, 1); });
  row("baseline: single request p50 (ms)", [](const StormResult& r) { return format_fixed(r.single_p50_ms, 1); });
  std::cout << t.render() << "peak RSS: " << format_fixed(static_cast<double>(peak_rss_bytes()) / (1 << 20), 1) << " MiB\n";
  return 0;
}

}  // namespace latent::cli
