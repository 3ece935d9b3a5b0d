// The engine API end to end on the golden tiny model: greedy generation reproduces llama.cpp's
// greedy continuation, FIM prompts match llama.cpp's tokenization, and the scheduler's promises
// hold (cancel within one token, batching does not change results, priorities, stop rules).
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <span>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/engine.h"
#include "common/golden.h"
#include "common/temp_dir.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace latent::engine {
namespace {

using nlohmann::json;

json golden_json(const std::string& rel) {
  return json::parse(latent::testing::read_text_file(latent::testing::golden_file(rel)));
}

std::vector<int32_t> golden_prompt(const std::string& prompt) {
  return golden_json("prompts/" + prompt + ".tokens.json").get<std::vector<int32_t>>();
}

std::vector<int32_t> golden_greedy(const std::string& prompt) {
  return golden_json("logits/ds2-lite-tiny/" + prompt + ".json")["greedy"].get<std::vector<int32_t>>();
}

// The text a reply of these tokens streams: their pieces without the special ones (control,
// added, and the vocabulary's [PAD<id>] fillers), which never reach a user.
std::string reply_text(std::span<const int32_t> tokens) {
  static const tokenizer::Tokenizer tok(tokenizer::load_vocab_file(latent::testing::golden_model("ds2-lite-tiny")));
  std::vector<int32_t> shown;
  for (int32_t t : tokens)
    if (!tok.is_special(t)) shown.push_back(t);
  return tok.decode(shown, true);
}

// One engine for the whole suite (every test waits for its own requests), opened on first use
// so that a missing model fails the test that needs it.
Engine* open_tiny() {
  static std::unique_ptr<Engine> engine = [] {
    EngineOptions o;
    o.model_path = latent::testing::golden_model("ds2-lite-tiny");
    o.threads = 2;
    o.cache_type = "f32";  // the golden continuations come from llama.cpp with an F32 KV cache
    o.disk_cache = false;  // tests never write to the user's cache directory
    return open_engine(o);
  }();
  return engine.get();
}

// Collects one request's stream and waits for its end.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<TokenPiece> pieces;
  std::vector<std::chrono::steady_clock::time_point> times;  // when each piece arrived
  std::optional<Finished> fin;
  std::chrono::steady_clock::time_point done_at;

  OnToken on_token() {
    return [this](const TokenPiece& p) {
      std::lock_guard lk(mu);
      pieces.push_back(p);
      times.push_back(std::chrono::steady_clock::now());
    };
  }
  OnDone on_done() {
    return [this](const Finished& f) {
      std::lock_guard lk(mu);
      fin = f;
      done_at = std::chrono::steady_clock::now();
      cv.notify_all();
    };
  }
  const Finished& wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return fin.has_value(); });
    return *fin;
  }
  std::string text() {
    std::lock_guard lk(mu);
    std::string s;
    for (const auto& p : pieces) s += p.text;
    return s;
  }
  size_t n_token_pieces() {
    std::lock_guard lk(mu);
    size_t n = 0;
    for (const auto& p : pieces) n += p.token >= 0;
    return n;
  }
};

// The decoded bytes as the stream must deliver them: each maximal ill-formed subsequence
// (Unicode 15, section 3.9, "U+FFFD substitution of maximal subparts") becomes U+FFFD.
std::string as_valid_utf8(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    size_t k = 1;
    for (; k < n && i + k < s.size(); ++k) {
      unsigned char b = s[i + k];
      unsigned char lo = 0x80, hi = 0xBF;
      if (k == 1 && c == 0xE0) lo = 0xA0;
      if (k == 1 && c == 0xED) hi = 0x9F;
      if (k == 1 && c == 0xF0) lo = 0x90;
      if (k == 1 && c == 0xF4) hi = 0x8F;
      if (b < lo || b > hi) break;
    }
    if (k == n) {
      out.append(s, i, n);
    } else {
      out += "\xEF\xBF\xBD";
    }
    i += k;
  }
  return out;
}

Request greedy_request(std::vector<int32_t> tokens, int max_tokens) {
  Request r;
  r.tokens = std::move(tokens);
  r.max_tokens = max_tokens;
  r.stop.end_of_generation = false;  // the golden continuation is plain argmax, EOS included
  return r;
}

std::vector<int32_t> run_alone(Engine& e, Request r) {
  Collector c;
  e.submit(std::move(r), c.on_token(), c.on_done());
  return c.wait().tokens;
}

TEST(EngineApi, GreedyMatchesLlamaCppContinuation) {
  auto e = open_tiny();
  Collector c;
  e->submit(greedy_request(golden_prompt("p1_short"), 16), c.on_token(), c.on_done());
  const Finished& f = c.wait();
  EXPECT_EQ(f.reason, FinishReason::length) << f.error;
  EXPECT_EQ(f.tokens, golden_greedy("p1_short"));
  EXPECT_EQ(f.stats.prompt_tokens, 60);
  EXPECT_EQ(f.stats.cached_tokens, 0);
  EXPECT_EQ(f.stats.generated_tokens, 16);
  EXPECT_GT(f.stats.prefill_tokens_per_s, 0);
  EXPECT_GT(f.stats.decode_tokens_per_s, 0);
  EXPECT_GT(f.stats.time_to_first_token_s, 0);
  // The streamed pieces are the reply: their concatenation is the decoded tokens (this
  // continuation holds a lone byte token, which the stream must turn into U+FFFD), less the
  // special tokens (this one holds a [PAD] filler).
  EXPECT_EQ(c.text(), as_valid_utf8(reply_text(f.tokens)));
  EXPECT_NE(e->detokenize(f.tokens), reply_text(f.tokens));
}

TEST(EngineApi, FimPromptMatchesLlamaCppTokens) {
  auto e = open_tiny();
  ASSERT_TRUE(e->model_info().fim);
  std::string text = latent::testing::read_text_file(latent::testing::golden_file("prompts/p2_fim.txt"));
  const std::string begin = "<｜fim▁begin｜>", hole = "<｜fim▁hole｜>", end = "<｜fim▁end｜>";
  size_t h = text.find(hole), en = text.find(end);
  ASSERT_EQ(text.find(begin), 0u);
  ASSERT_NE(h, std::string::npos);
  ASSERT_NE(en, std::string::npos);
  std::string prefix = text.substr(begin.size(), h - begin.size());
  std::string suffix = text.substr(h + hole.size(), en - h - hole.size());
  auto tokens = e->fim_tokens(prefix, suffix);
  EXPECT_EQ(tokens, golden_prompt("p2_fim"));
  EXPECT_EQ(run_alone(*e, greedy_request(tokens, 16)), golden_greedy("p2_fim"));
}

TEST(EngineApi, CancelFromCallbackStopsAtOnce) {
  auto e = open_tiny();
  Collector c;
  std::atomic<RequestId> id{0};
  std::atomic<int> seen{0};
  Engine* eng = e;
  auto inner = c.on_token();
  id = e->submit(greedy_request(golden_prompt("p1_short"), 64),
                 [&, inner](const TokenPiece& p) {
                   inner(p);
                   if (++seen != 3) return;
                   while (id.load() == 0) std::this_thread::yield();  // submit() may not have returned yet
                   eng->cancel(id.load());
                 },
                 c.on_done());
  const Finished& f = c.wait();
  EXPECT_EQ(f.reason, FinishReason::cancelled);
  EXPECT_EQ(c.n_token_pieces(), 3u);
  EXPECT_EQ(f.tokens.size(), 3u);
}

TEST(EngineApi, CancelFromAnotherThreadStopsWithinOneToken) {
  auto e = open_tiny();
  Collector c;
  RequestId id = e->submit(greedy_request(golden_prompt("p1_short"), 500), c.on_token(), c.on_done());
  while (c.n_token_pieces() < 2) std::this_thread::sleep_for(std::chrono::microseconds(200));
  e->cancel(id);
  size_t at_cancel = c.n_token_pieces();
  const Finished& f = c.wait();
  EXPECT_EQ(f.reason, FinishReason::cancelled);
  EXPECT_LE(c.n_token_pieces(), at_cancel + 1);
}

TEST(EngineApi, ConcurrentRequestsGiveTheSameTokensAsAlone) {
  auto e = open_tiny();
  const std::vector<std::string> prompts = {"p1_short", "p2_fim", "p3_long"};
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : prompts) alone.push_back(run_alone(*e, greedy_request(golden_prompt(p), 12)));
  std::vector<std::unique_ptr<Collector>> cs;
  for (const auto& p : prompts) {
    cs.push_back(std::make_unique<Collector>());
    e->submit(greedy_request(golden_prompt(p), 12), cs.back()->on_token(), cs.back()->on_done());
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Finished& f = cs[i]->wait();
    EXPECT_EQ(f.tokens, alone[i]) << prompts[i];
  }
  EXPECT_GE(e->stats().steps, 1u);
}

// Greedy steps take the backend's argmax ids, steps with any sampled row the logits. Sampling at
// temperature 1 with top_k 1 draws the argmax through the sampler, so all three runs agree: a
// greedy request alone (ids), a top-1 request alone (logits), and both together, where the greedy
// row shares a logits step with the sampled one.
TEST(EngineApi, GreedyIdsMatchTopOneSamplingFromLogits) {
  auto e = open_tiny();
  Request top1 = greedy_request(golden_prompt("p2_fim"), 16);
  top1.sampling.temperature = 1.0f;
  top1.sampling.top_k = 1;
  top1.sampling.seed = 5;
  const auto ids = run_alone(*e, greedy_request(golden_prompt("p2_fim"), 16));
  EXPECT_EQ(ids, golden_greedy("p2_fim"));
  EXPECT_EQ(run_alone(*e, top1), ids);
  Collector g, t;
  e->submit(greedy_request(golden_prompt("p2_fim"), 16), g.on_token(), g.on_done());
  e->submit(top1, t.on_token(), t.on_done());
  EXPECT_EQ(g.wait().tokens, ids);
  EXPECT_EQ(t.wait().tokens, ids);
}

TEST(EngineApi, CompletionOvertakesRunningQuestion) {
  auto e = open_tiny();
  Collector question, completion;
  Request q = greedy_request(golden_prompt("p1_short"), 900);
  q.priority = Priority::question;
  RequestId qid = e->submit(std::move(q), question.on_token(), question.on_done());
  while (question.n_token_pieces() < 3) std::this_thread::sleep_for(std::chrono::microseconds(200));

  Request c = greedy_request(golden_prompt("p2_fim"), 4);
  c.priority = Priority::completion;
  auto submitted = std::chrono::steady_clock::now();
  e->submit(std::move(c), completion.on_token(), completion.on_done());
  const Finished& cf = completion.wait();
  auto golden = golden_greedy("p2_fim");
  EXPECT_EQ(cf.tokens, std::vector<int32_t>(golden.begin(), golden.begin() + 4));
  auto completion_first = completion.times.at(0);
  e->cancel(qid);
  question.wait();
  // The question was still running when the completion's first token came...
  EXPECT_LT(completion_first, question.done_at);
  EXPECT_EQ(question.fin->reason, FinishReason::cancelled);
  // ...and while the completion prefilled, the question's decodes waited: only the step already
  // under way at submit() may have added a question token.
  int question_tokens_between = 0;
  for (auto t : question.times) question_tokens_between += t > submitted && t < completion_first;
  EXPECT_LE(question_tokens_between, 1);
}

TEST(EngineApi, CompletionPreemptsQuestionWhenSlotsAreFull) {
  EngineOptions o;
  o.model_path = latent::testing::golden_model("ds2-lite-tiny");
  o.threads = 2;
  o.cache_type = "f32";
  o.max_live_requests = 1;
  o.disk_cache = false;
  auto e = open_engine(o);
  auto alone = run_alone(*e, greedy_request(golden_prompt("p1_short"), 24));

  Collector question, completion;
  Request q = greedy_request(golden_prompt("p1_short"), 24);
  q.priority = Priority::question;
  e->submit(std::move(q), question.on_token(), question.on_done());
  while (question.n_token_pieces() < 3) std::this_thread::sleep_for(std::chrono::microseconds(200));
  Request c = greedy_request(golden_prompt("p2_fim"), 4);
  c.priority = Priority::completion;
  e->submit(std::move(c), completion.on_token(), completion.on_done());
  const Finished& cf = completion.wait();
  const Finished& qf = question.wait();
  auto golden = golden_greedy("p2_fim");
  EXPECT_EQ(cf.tokens, std::vector<int32_t>(golden.begin(), golden.begin() + 4));
  EXPECT_LT(completion.done_at, question.done_at);
  EXPECT_EQ(e->stats().preemptions, 1u);
  // The preempted question resumed where it stopped: the same reply as when it ran alone.
  EXPECT_EQ(qf.reason, FinishReason::length);
  EXPECT_EQ(qf.tokens, alone);
  EXPECT_EQ(question.text(), as_valid_utf8(reply_text(alone)));
}

TEST(EngineApi, RepeatedPromptReusesCachedPrefixWithSameTokens) {
  auto e = open_tiny();
  auto prompt = golden_prompt("p3_long");
  auto golden = golden_greedy("p3_long");
  std::vector<int32_t> want(golden.begin(), golden.begin() + 8);
  Collector cold, warm;
  e->submit(greedy_request(prompt, 8), cold.on_token(), cold.on_done());
  const Finished& c = cold.wait();
  e->submit(greedy_request(prompt, 8), warm.on_token(), warm.on_done());
  const Finished& w = warm.wait();
  EXPECT_EQ(c.tokens, want);
  EXPECT_EQ(w.tokens, want);
  // Whole pages of the prompt (all but its last token) come from the store the second time.
  EXPECT_GE(w.stats.cached_tokens, 512);
  EXPECT_LT(w.stats.cached_tokens, int32_t(prompt.size()));
  EXPECT_GT(e->stats().prompt_tokens_cached, 0u);
}

// A KV disk-tier directory that cannot be created (here a file stands in its way) turns the
// disk tier off with a warning; the model still loads and serves, reusing prefixes from memory
// (issue 20, item 5).
TEST(EngineApi, UncreatableDiskCacheDirTurnsTheDiskTierOffAndServesFromMemory) {
  latent::testing::TempDir dir;
  std::ofstream(dir.file("blocker")) << "not a directory";
  std::vector<std::string> logged;
  std::mutex log_mu;
  EngineOptions o;
  o.model_path = latent::testing::golden_model("ds2-lite-tiny");
  o.threads = 2;
  o.disk_cache = true;
  o.cache_dir = dir.file("blocker") / "kv";
  o.log = [&](std::string_view m) {
    std::lock_guard lk(log_mu);
    logged.emplace_back(m);
  };
  auto e = open_engine(o);
  ASSERT_EQ(e->model_info().warnings.size(), 1u);
  EXPECT_NE(e->model_info().warnings[0].find("disk tier is off"), std::string::npos) << e->model_info().warnings[0];
  {
    std::lock_guard lk(log_mu);
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_NE(logged[0].find("disk tier is off"), std::string::npos) << logged[0];
  }
  auto prompt = golden_prompt("p3_long");
  Collector cold, warm;
  e->submit(greedy_request(prompt, 4), cold.on_token(), cold.on_done());
  EXPECT_EQ(cold.wait().tokens.size(), 4u);
  e->submit(greedy_request(prompt, 4), warm.on_token(), warm.on_done());
  EXPECT_EQ(warm.wait().tokens, cold.wait().tokens);
  EXPECT_GT(warm.wait().stats.cached_tokens, 0);
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.file("blocker")));
}

// The model file truncated while the engine has it mapped and is generating (issue 20, item 4):
// no SIGBUS crash; the run ends, the engine reports the file as changed and refuses new requests.
TEST(EngineApi, ModelFileTruncatedWhileGeneratingIsReportedNotACrash) {
  latent::testing::TempDir dir;
  std::filesystem::path model = dir.file("model.gguf");
  std::filesystem::copy_file(latent::testing::golden_model("ds2-lite-tiny"), model);
  EngineOptions o;
  o.model_path = model;
  o.threads = 2;
  o.disk_cache = false;
  auto e = open_engine(o);
  EXPECT_EQ(e->model_file_problem(), "");
  Collector c;
  e->submit(greedy_request(golden_prompt("p3_long"), 32), c.on_token(), c.on_done());
  ASSERT_EQ(::truncate(model.c_str(), 4096), 0);
  c.wait();
  EXPECT_NE(e->model_file_problem(), "");
  try {
    e->submit(greedy_request(golden_prompt("p3_long"), 4), [](const TokenPiece&) {}, [](const Finished&) {});
    ADD_FAILURE() << "a request was accepted on a truncated model file";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("changed on disk"), std::string::npos) << err.what();
  }
}

TEST(EngineApi, StopStringEndsTheReplyBeforeIt) {
  auto e = open_tiny();
  auto tokens = golden_greedy("p1_short");
  std::string full = reply_text(tokens);
  // A stop string taken from the middle of the known reply (independent of the stream).
  std::string piece = reply_text(std::span<const int32_t>(tokens).subspan(6, 2));
  ASSERT_FALSE(piece.empty());
  std::string want = full.substr(0, full.find(piece));
  Collector c;
  Request r = greedy_request(golden_prompt("p1_short"), 16);
  r.stop.strings = {piece};
  e->submit(std::move(r), c.on_token(), c.on_done());
  const Finished& f = c.wait();
  EXPECT_EQ(f.reason, FinishReason::stop);
  EXPECT_EQ(f.stop_string, piece);
  EXPECT_EQ(c.text(), want);
  EXPECT_LE(f.tokens.size(), 8u);
}

TEST(EngineApi, StopTokenAndMaxTokensEndTheReply) {
  auto e = open_tiny();
  auto golden = golden_greedy("p1_short");
  Collector c;
  Request r = greedy_request(golden_prompt("p1_short"), 16);
  r.stop.tokens = {golden[4]};
  e->submit(std::move(r), c.on_token(), c.on_done());
  const Finished& f = c.wait();
  EXPECT_EQ(f.reason, FinishReason::stop);
  EXPECT_EQ(f.tokens, std::vector<int32_t>(golden.begin(), golden.begin() + 5));
  EXPECT_EQ(c.n_token_pieces(), 4u);  // the stop token itself is not streamed

  Collector m;
  e->submit(greedy_request(golden_prompt("p1_short"), 5), m.on_token(), m.on_done());
  const Finished& mf = m.wait();
  EXPECT_EQ(mf.reason, FinishReason::length);
  EXPECT_EQ(mf.tokens, std::vector<int32_t>(golden.begin(), golden.begin() + 5));
  EXPECT_EQ(m.text(), as_valid_utf8(reply_text(mf.tokens)));
}

TEST(EngineApi, OpenRejectsUnknownCacheTypeAndMissingFile) {
  EngineOptions o;
  o.model_path = latent::testing::golden_model("ds2-lite-tiny");
  o.cache_type = "f8";
  EXPECT_THROW(open_engine(o), Error);
  o.cache_type = "f32";
  o.model_path = o.model_path.string() + ".missing";
  EXPECT_THROW(open_engine(o), Error);
}

TEST(EngineApi, InvalidRequestsFailAtSubmit) {
  auto e = open_tiny();
  bool called = false;
  auto on_token = [&](const TokenPiece&) { called = true; };
  auto on_done = [&](const Finished&) { called = true; };
  EXPECT_THROW(e->submit(Request{}, on_token, on_done), Error);
  Request too_long;
  too_long.tokens.assign(e->model_info().context_length, 100);
  EXPECT_THROW(e->submit(too_long, on_token, on_done), Error);
  Request bad_id = greedy_request({1, 2, 1 << 30}, 4);
  EXPECT_THROW(e->submit(bad_id, on_token, on_done), Error);
  Request bad_p = greedy_request({1, 2, 3}, 4);
  bad_p.sampling.top_p = 2.0f;
  EXPECT_THROW(e->submit(bad_p, on_token, on_done), Error);
  e->wait_idle();
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace latent::engine
