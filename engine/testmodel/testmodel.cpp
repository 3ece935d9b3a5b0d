#include "testmodel/testmodel.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <optional>
#include <thread>

#include "quant/quant.h"
#include "tokenizer/vocab.h"

namespace latent::testmodel {

using gguf::TensorType;

namespace {

constexpr const char* kArch = "deepseek2";
std::string arch_key(const char* suffix) { return std::string(kArch) + "." + suffix; }

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t tensor_seed(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return splitmix64(seed ^ splitmix64(h));
}

// How a tensor's values are distributed: centre + k·step, k ≈ N(0, (std/step)²) clipped to
// ±15, with step the power of two that puts std/step in (2, 4].
struct Dist {
  double centre = 0;
  double std = 1;
  double step = 1;
};

Dist make_dist(double std, double centre = 0) {
  Dist d;
  d.centre = centre;
  d.std = std;
  d.step = std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(std / 4.0))));
  return d;
}

// Element idx of a tensor: one 64-bit hash gives four 16-bit uniforms whose centred sum
// (Irwin–Hall) is a cheap, bounded, roughly Gaussian variate.
float value_at(uint64_t seed, uint64_t idx, const Dist& d) {
  const uint64_t r = splitmix64(seed + idx * 0xd1b54a32d192ed03ull);
  double s = 0;
  for (int i = 0; i < 4; ++i) s += static_cast<double>((r >> (16 * i)) & 0xffff);
  const double z = (s / 65536.0 - 2.0) * std::sqrt(3.0);
  const double k = std::clamp(std::nearbyint(z * d.std / d.step), -15.0, 15.0);
  return static_cast<float>(d.centre + k * d.step);
}

struct Base {
  TensorType type;
  bool mix;
  uint32_t file_type;  // llama_ftype, for general.file_type
};

Base parse_type(std::string_view t) {
  struct Entry {
    const char* name;
    Base base;
  };
  static const Entry kEntries[] = {
      {"F32", {TensorType::F32, false, 0}},    {"F16", {TensorType::F16, false, 1}},
      {"BF16", {TensorType::BF16, false, 32}}, {"Q4_0", {TensorType::Q4_0, false, 2}},
      {"Q4_1", {TensorType::Q4_1, false, 3}},  {"Q8_0", {TensorType::Q8_0, false, 7}},
      {"Q5_0", {TensorType::Q5_0, false, 8}},  {"Q5_1", {TensorType::Q5_1, false, 9}},
      {"Q4_K", {TensorType::Q4_K, false, 14}}, {"Q5_K", {TensorType::Q5_K, false, 16}},
      {"Q6_K", {TensorType::Q6_K, false, 18}}, {"Q4_K_M", {TensorType::Q4_K, true, 15}},
      {"Q5_K_M", {TensorType::Q5_K, true, 17}},
  };
  for (const auto& e : kEntries)
    if (t == e.name) return e.base;
  std::string names;
  for (const auto& e : kEntries) names += std::string(names.empty() ? "" : ", ") + e.name;
  throw std::invalid_argument("unknown model type '" + std::string(t) + "' (one of: " + names + ")");
}

bool is_float_type(TensorType t) {
  return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16;
}

int64_t block_elements(TensorType t) {
  return static_cast<int64_t>(gguf::type_traits(static_cast<uint32_t>(t))->block_elements);
}

// llama.cpp's tensor_type_fallback: rows that are not a whole number of blocks.
TensorType fallback(TensorType t, int64_t ne0) {
  if (ne0 % block_elements(t) == 0) return t;
  switch (t) {
    case TensorType::Q4_K: t = TensorType::Q5_0; break;
    case TensorType::Q5_K: t = TensorType::Q5_1; break;
    case TensorType::Q6_K: t = TensorType::Q8_0; break;
    default: return TensorType::F16;
  }
  return ne0 % block_elements(t) == 0 ? t : TensorType::F16;
}

bool use_more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

int64_t layer_of(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int64_t il = 0;
  size_t i = 4;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) il = il * 10 + (name[i] - '0');
  return i > 4 ? il : -1;
}

// llama-quantize visits tensors in name order (a std::map), so its running attn_kv_b counter
// ranks layers as strings: blk.0, blk.1, blk.10, ..., blk.2, ...
int64_t lexicographic_rank(int64_t il, int64_t n_layer) {
  const std::string me = std::to_string(il);
  int64_t rank = 0;
  for (int64_t j = 0; j < n_layer; ++j)
    if (std::to_string(j) < me) ++rank;
  return rank;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

}  // namespace

TensorType tensor_type_for(std::string_view file_type, std::string_view name,
                           std::span<const int64_t> ne, int64_t n_layer) {
  const Base base = parse_type(file_type);
  const bool ends_weight = name.size() >= 6 && name.substr(name.size() - 6) == "weight";
  const bool quantizable = ne.size() >= 2 && ends_weight && !contains(name, "_norm.weight") &&
                           !contains(name, "ffn_gate_inp.weight");
  if (!quantizable) return TensorType::F32;
  if (is_float_type(base.type)) return base.type;
  TensorType t = base.type;
  if (base.mix) {
    if (name == "output.weight") {
      t = ne[0] % block_elements(t) != 0 ? TensorType::Q8_0 : TensorType::Q6_K;
    } else if (contains(name, "attn_kv_b.weight")) {
      if (use_more_bits(lexicographic_rank(layer_of(name), n_layer), n_layer)) t = TensorType::Q6_K;
    } else if (contains(name, "ffn_down")) {
      if (use_more_bits(layer_of(name), n_layer)) t = TensorType::Q6_K;
    }
  }
  return fallback(t, ne[0]);
}

Shape preset(std::string_view name) {
  Shape s;
  if (name == "ds2-lite-tiny") {
    s.name = "ds2-lite-tiny";
    return s;  // the defaults are the golden ds2-lite-tiny
  }
  if (name == "ds3-tiny") {
    s.name = "ds3-tiny";
    s.n_embd = 192;
    s.n_head = 8;
    s.q_lora_rank = 160;
    s.kv_lora_rank = 96;
    s.qk_nope = 48;
    s.qk_rope = 16;
    s.v_head = 40;
    s.n_ff = 512;
    s.n_ff_exp = 128;
    s.n_expert_shared = 1;
    s.n_group = 4;
    s.n_group_used = 2;
    s.sigmoid_gating = true;
    s.exp_probs_b = true;
    s.weights_norm = true;
    s.weights_scale = 2.5f;
    s.yarn_log_multiplier = 0.1f;
    return s;
  }
  if (name == "deepseek-coder-v2-lite") {
    // DeepSeek-Coder-V2-Lite's config.json as llama.cpp's converter writes it.
    s.name = "deepseek-coder-v2-lite";
    s.n_vocab = 102400;
    s.n_embd = 2048;
    s.n_layer = 27;
    s.n_head = 16;
    s.q_lora_rank = 0;
    s.kv_lora_rank = 512;
    s.qk_nope = 128;
    s.qk_rope = 64;
    s.v_head = 128;
    s.n_ff = 10944;
    s.n_ff_exp = 1408;
    s.n_expert = 64;
    s.n_expert_used = 6;
    s.n_expert_shared = 2;
    s.n_dense_lead = 1;
    s.context_length = 163840;
    s.rope_factor = 40.0f;
    s.rope_orig_ctx = 4096;
    s.yarn_log_multiplier = 0.0707f;  // 0.1 · mscale_all_dim 0.707
    return s;
  }
  std::string names;
  for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown model shape '" + std::string(name) + "' (one of: " + names + ")");
}

std::vector<std::string> preset_names() { return {"deepseek-coder-v2-lite", "ds2-lite-tiny", "ds3-tiny"}; }

void validate(const Options& o) {
  const Shape& s = o.shape;
  parse_type(o.type);
  auto positive = [](int64_t v, const char* what) {
    if (v <= 0) throw std::invalid_argument(std::string(what) + " must be positive (got " + std::to_string(v) + ")");
  };
  positive(s.n_vocab, "vocabulary size");
  positive(s.n_embd, "n_embd");
  positive(s.n_layer, "layers");
  positive(s.n_head, "heads");
  positive(s.kv_lora_rank, "kv_lora_rank");
  positive(s.qk_nope, "qk_nope");
  positive(s.qk_rope, "qk_rope");
  positive(s.v_head, "v_head");
  if (s.q_lora_rank < 0) throw std::invalid_argument("q_lora_rank must be 0 (plain attn_q) or positive");
  if (s.qk_rope % 2 != 0) throw std::invalid_argument("qk_rope must be even (rope rotates pairs)");
  if (s.n_dense_lead < 0 || s.n_dense_lead > s.n_layer)
    throw std::invalid_argument("dense layers must be within 0..layers");
  if (s.n_dense_lead > 0) positive(s.n_ff, "dense n_ff");
  if (s.n_dense_lead < s.n_layer) {
    positive(s.n_expert, "experts");
    positive(s.n_ff_exp, "expert n_ff");
    if (s.n_expert_used < 1 || s.n_expert_used > s.n_expert)
      throw std::invalid_argument("experts used must be within 1..experts (" + std::to_string(s.n_expert) + ")");
    if (s.n_expert_shared < 0) throw std::invalid_argument("shared experts must not be negative");
    if (s.n_group < 1 || s.n_expert % s.n_group != 0)
      throw std::invalid_argument("expert groups (" + std::to_string(s.n_group) + ") must divide the experts (" +
                                  std::to_string(s.n_expert) + ")");
    if (s.n_group_used < 1 || s.n_group_used > s.n_group)
      throw std::invalid_argument("groups used must be within 1..groups");
    if (s.n_group > 1 && s.n_group_used * (s.n_expert / s.n_group) < s.n_expert_used)
      throw std::invalid_argument("the groups used hold fewer experts than experts used");
  }
  if (s.rope_factor > 1.0f && s.rope_orig_ctx == 0)
    throw std::invalid_argument("YaRN needs the original context length");
  if (o.threads < 0) throw std::invalid_argument("threads must not be negative");
}

namespace {

struct TensorPlan {
  std::string name;
  std::vector<int64_t> ne;
  Dist dist;
  TensorType type = TensorType::F32;
  // Legacy attn_kv_b: values are taken from the attn_k_b / attn_v_b streams of the same layer.
  bool assembled_kv_b = false;
  int64_t layer = -1;
};

int64_t n_elements(const std::vector<int64_t>& ne) {
  int64_t n = 1;
  for (auto v : ne) n *= v;
  return n;
}

std::vector<TensorPlan> plan(const Options& o, int64_t n_vocab) {
  const Shape& s = o.shape;
  const int64_t E = s.n_embd, H = s.n_head;
  const int64_t q_dim = H * (s.qk_nope + s.qk_rope);
  auto proj = [](int64_t fan_in) { return make_dist(1.0 / std::sqrt(static_cast<double>(fan_in))); };
  const Dist norm = make_dist(0.05, 1.0);
  std::vector<TensorPlan> out;
  auto add = [&](std::string name, std::vector<int64_t> ne, Dist d, int64_t layer = -1) {
    TensorPlan p;
    p.name = std::move(name);
    p.ne = std::move(ne);
    p.dist = d;
    p.layer = layer;
    out.push_back(std::move(p));
  };
  add("token_embd.weight", {E, n_vocab}, make_dist(1.0));
  add("output_norm.weight", {E}, norm);
  add("output.weight", {E, n_vocab}, make_dist(s.logit_gain / std::sqrt(static_cast<double>(E))));
  for (int64_t il = 0; il < s.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    add(b + "attn_norm.weight", {E}, norm, il);
    if (s.q_lora_rank > 0) {
      add(b + "attn_q_a.weight", {E, s.q_lora_rank}, proj(E), il);
      add(b + "attn_q_a_norm.weight", {s.q_lora_rank}, norm, il);
      add(b + "attn_q_b.weight", {s.q_lora_rank, q_dim}, proj(s.q_lora_rank), il);
    } else {
      add(b + "attn_q.weight", {E, q_dim}, proj(E), il);
    }
    add(b + "attn_kv_a_mqa.weight", {E, s.kv_lora_rank + s.qk_rope}, proj(E), il);
    add(b + "attn_kv_a_norm.weight", {s.kv_lora_rank}, norm, il);
    // k_nope = K_hᵀ·c and v = V_h·c both sum over the latent: fan-in kv_lora_rank.
    if (s.legacy_layout) {
      add(b + "attn_kv_b.weight", {s.kv_lora_rank, H * (s.qk_nope + s.v_head)}, proj(s.kv_lora_rank), il);
      out.back().assembled_kv_b = true;
    } else {
      add(b + "attn_k_b.weight", {s.qk_nope, s.kv_lora_rank, H}, proj(s.kv_lora_rank), il);
      add(b + "attn_v_b.weight", {s.kv_lora_rank, s.v_head, H}, proj(s.kv_lora_rank), il);
    }
    add(b + "attn_output.weight", {H * s.v_head, E}, proj(H * s.v_head), il);
    add(b + "ffn_norm.weight", {E}, norm, il);
    if (il < s.n_dense_lead) {
      add(b + "ffn_gate.weight", {E, s.n_ff}, proj(E), il);
      add(b + "ffn_up.weight", {E, s.n_ff}, proj(E), il);
      add(b + "ffn_down.weight", {s.n_ff, E}, proj(s.n_ff), il);
    } else {
      const int64_t X = s.n_expert, F = s.n_ff_exp;
      add(b + "ffn_gate_inp.weight", {E, X}, make_dist(s.router_gain / std::sqrt(static_cast<double>(E))), il);
      if (s.exp_probs_b) add(b + "exp_probs_b.bias", {X}, make_dist(0.25), il);
      add(b + "ffn_gate_exps.weight", {E, F, X}, proj(E), il);
      add(b + "ffn_up_exps.weight", {E, F, X}, proj(E), il);
      add(b + "ffn_down_exps.weight", {F, E, X}, proj(F), il);
      if (s.n_expert_shared > 0) {
        const int64_t S = F * s.n_expert_shared;
        add(b + "ffn_gate_shexp.weight", {E, S}, proj(E), il);
        add(b + "ffn_up_shexp.weight", {E, S}, proj(E), il);
        add(b + "ffn_down_shexp.weight", {S, E}, proj(S), il);
      }
    }
  }
  for (auto& p : out) p.type = tensor_type_for(o.type, p.name, p.ne, s.n_layer);
  return out;
}

// Fills one row of a tensor with its values.
void fill_row(const Options& o, const TensorPlan& p, uint64_t seed, int64_t row, float* dst) {
  if (!p.assembled_kv_b) {
    const int64_t n = p.ne[0];
    for (int64_t j = 0; j < n; ++j) dst[j] = value_at(seed, static_cast<uint64_t>(row * n + j), p.dist);
    return;
  }
  // attn_kv_b row r of head h = r / (nope + v): its first qk_nope rows are attn_k_b[h]
  // transposed, the rest attn_v_b[h] (the README's relation between the layouts).
  const Shape& s = o.shape;
  const std::string b = "blk." + std::to_string(p.layer) + ".";
  const int64_t per_head = s.qk_nope + s.v_head, R = s.kv_lora_rank;
  const int64_t h = row / per_head, i = row % per_head;
  if (i < s.qk_nope) {
    const uint64_t ks = tensor_seed(o.seed, b + "attn_k_b.weight");
    for (int64_t j = 0; j < R; ++j)
      dst[j] = value_at(ks, static_cast<uint64_t>((h * R + j) * s.qk_nope + i), p.dist);
  } else {
    const uint64_t vs = tensor_seed(o.seed, b + "attn_v_b.weight");
    for (int64_t j = 0; j < R; ++j)
      dst[j] = value_at(vs, static_cast<uint64_t>((h * s.v_head + (i - s.qk_nope)) * R + j), p.dist);
  }
}

std::vector<uint8_t> make_tensor(const Options& o, const TensorPlan& p, int threads) {
  const int64_t n = p.ne[0], rows = n_elements(p.ne) / n;
  const size_t row_bytes = gguf::row_bytes(p.type, n);
  std::vector<uint8_t> data(row_bytes * static_cast<size_t>(rows));
  const uint64_t seed = tensor_seed(o.seed, p.name);
  std::atomic<int64_t> next{0};
  const int64_t chunk = std::max<int64_t>(1, (1 << 16) / n);
  auto work = [&] {
    std::vector<float> buf(static_cast<size_t>(n));
    for (;;) {
      const int64_t r0 = next.fetch_add(chunk);
      if (r0 >= rows) return;
      for (int64_t r = r0; r < std::min(rows, r0 + chunk); ++r) {
        fill_row(o, p, seed, r, buf.data());
        quant::quantize_row(p.type, buf.data(), data.data() + static_cast<size_t>(r) * row_bytes, n);
      }
    }
  };
  const int t = static_cast<int>(std::min<int64_t>(threads, (rows + chunk - 1) / chunk));
  std::vector<std::thread> pool;
  for (int i = 1; i < t; ++i) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  return data;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

gguf::Writer build(const Options& o, Summary* summary) {
  validate(o);
  const Shape& s = o.shape;
  const Base base = parse_type(o.type);
  gguf::Writer w;

  // Tokenizer first: its size decides n_vocab.
  int64_t n_vocab = s.n_vocab;
  std::vector<std::pair<std::string, const gguf::Value*>> tok_keys;
  std::optional<gguf::File> vocab_gguf;
  std::optional<tokenizer::Vocab> vocab_json;
  if (!o.vocab_from.empty()) {
    if (ends_with(o.vocab_from.string(), ".gguf")) {
      vocab_gguf = gguf::File::open(o.vocab_from);
      const gguf::Value* tokens = vocab_gguf->find("tokenizer.ggml.tokens");
      if (!tokens || !tokens->is_array())
        throw gguf::Error(o.vocab_from.string() + ": no tokenizer.ggml.tokens array to copy the vocabulary from");
      n_vocab = static_cast<int64_t>(tokens->array_size());
      for (const auto& [k, v] : vocab_gguf->metadata())
        if (k.rfind("tokenizer.", 0) == 0) tok_keys.emplace_back(k, &v);
    } else {
      vocab_json = tokenizer::load_hf_tokenizer_json(o.vocab_from);
      n_vocab = static_cast<int64_t>(vocab_json->tokens.size());
    }
  }

  w.add_string("general.architecture", kArch);
  w.add_string("general.name", s.name);
  w.add_uint32("general.file_type", base.file_type);
  if (!is_float_type(base.type)) w.add_uint32("general.quantization_version", 2);
  w.add_uint32(arch_key("block_count"), static_cast<uint32_t>(s.n_layer));
  w.add_uint32(arch_key("context_length"), s.context_length);
  w.add_uint32(arch_key("embedding_length"), static_cast<uint32_t>(s.n_embd));
  w.add_uint32(arch_key("feed_forward_length"), static_cast<uint32_t>(s.n_ff));
  w.add_uint32(arch_key("attention.head_count"), static_cast<uint32_t>(s.n_head));
  w.add_float32(arch_key("rope.freq_base"), s.rope_base);
  w.add_float32(arch_key("attention.layer_norm_rms_epsilon"), s.rms_eps);
  w.add_uint32(arch_key("expert_count"), static_cast<uint32_t>(s.n_expert));
  w.add_uint32(arch_key("expert_used_count"), static_cast<uint32_t>(s.n_expert_used));
  w.add_uint32(arch_key("expert_group_count"), static_cast<uint32_t>(s.n_group));
  w.add_uint32(arch_key("expert_group_used_count"), static_cast<uint32_t>(s.n_group_used));
  w.add_uint32(arch_key("expert_gating_func"), s.sigmoid_gating ? 2u : 1u);
  if (s.rope_factor > 1.0f) {
    w.add_string(arch_key("rope.scaling.type"), "yarn");
    w.add_float32(arch_key("rope.scaling.factor"), s.rope_factor);
    w.add_uint32(arch_key("rope.scaling.original_context_length"), s.rope_orig_ctx);
    w.add_float32(arch_key("rope.scaling.yarn_beta_fast"), 32.0f);
    w.add_float32(arch_key("rope.scaling.yarn_beta_slow"), 1.0f);
  }
  w.add_uint32(arch_key("leading_dense_block_count"), static_cast<uint32_t>(s.n_dense_lead));
  w.add_uint32(arch_key("vocab_size"), static_cast<uint32_t>(n_vocab));
  w.add_uint32(arch_key("attention.q_lora_rank"), static_cast<uint32_t>(s.q_lora_rank));
  w.add_uint32(arch_key("attention.kv_lora_rank"), static_cast<uint32_t>(s.kv_lora_rank));
  if (s.legacy_layout) {
    w.add_uint32(arch_key("attention.head_count_kv"), static_cast<uint32_t>(s.n_head));
    w.add_uint32(arch_key("attention.key_length"), static_cast<uint32_t>(s.qk_nope + s.qk_rope));
    w.add_uint32(arch_key("attention.value_length"), static_cast<uint32_t>(s.v_head));
  } else {
    // The MLA layout caches [c | k_pe] as one K/V head: key = kv_lora + rope, value = kv_lora.
    w.add_uint32(arch_key("attention.head_count_kv"), 1);
    w.add_uint32(arch_key("attention.key_length"), static_cast<uint32_t>(s.kv_lora_rank + s.qk_rope));
    w.add_uint32(arch_key("attention.value_length"), static_cast<uint32_t>(s.kv_lora_rank));
    w.add_uint32(arch_key("attention.key_length_mla"), static_cast<uint32_t>(s.qk_nope + s.qk_rope));
    w.add_uint32(arch_key("attention.value_length_mla"), static_cast<uint32_t>(s.v_head));
  }
  w.add_uint32(arch_key("expert_feed_forward_length"), static_cast<uint32_t>(s.n_ff_exp));
  w.add_uint32(arch_key("expert_shared_count"), static_cast<uint32_t>(s.n_expert_shared));
  w.add_float32(arch_key("expert_weights_scale"), s.weights_scale);
  // The current converter writes the flag only when set; pre-2025 (legacy layout) ones always.
  if (s.weights_norm || s.legacy_layout) w.add_bool(arch_key("expert_weights_norm"), s.weights_norm);
  w.add_uint32(arch_key("rope.dimension_count"), static_cast<uint32_t>(s.qk_rope));
  if (s.rope_factor > 1.0f) w.add_float32(arch_key("rope.scaling.yarn_log_multiplier"), s.yarn_log_multiplier);
  for (const auto& [k, v] : tok_keys) w.add_value(k, *v);
  if (vocab_json) tokenizer::write_gguf_vocab(w, *vocab_json);

  const std::vector<TensorPlan> tensors = plan(o, n_vocab);
  const int threads = o.threads > 0 ? o.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  Progress progress;
  progress.n_tensors = tensors.size();
  for (const auto& p : tensors) progress.params_total += static_cast<uint64_t>(n_elements(p.ne));
  Summary sum;
  sum.n_vocab = n_vocab;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorPlan& p = tensors[i];
    progress.tensor_index = i;
    progress.tensor = p.name;
    if (o.progress) o.progress(progress);
    std::vector<uint8_t> data = make_tensor(o, p, threads);
    sum.n_bytes += data.size();
    sum.n_params += static_cast<uint64_t>(n_elements(p.ne));
    ++sum.tensors_per_type[std::string(gguf::type_name(p.type))];
    progress.params_done += static_cast<uint64_t>(n_elements(p.ne));
    w.add_tensor(p.name, p.type, p.ne, std::move(data));
  }
  sum.n_tensors = tensors.size();
  if (summary) *summary = sum;
  return w;
}

Summary write(const Options& options, const std::filesystem::path& out) {
  Summary s;
  gguf::Writer w = build(options, &s);
  w.write(out);
  return s;
}

}  // namespace latent::testmodel
