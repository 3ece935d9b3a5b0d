// The deepseek2 graph (llama.cpp src/models/deepseek2.cpp), composed from helpers: norm,
// attention (absorbed or plain MLA, chosen per segment), dense FFN, MoE. Intermediates carry llama.cpp's names.
// It names no backend: the scheduler places the layers (set_layer tags them).
#include <algorithm>
#include <utility>

#include "backend/graph.h"
#include "model/forward.h"
#include "model/weights.h"

namespace latent::model {
namespace {

using backend::Graph;
using backend::TensorId;
using gguf::TensorType;

class Builder {
 public:
  Builder(const Model& m, const UbatchShape& shape, ForwardGraph& out)
      : hp_(m.hparams()), w_(m.weights()), shape_(shape), out_(out), g_(out.graph) {
    for (int64_t c : shape.counts) T_ += c;
    rope_.n_rot = int(hp_.qk_rope);
    rope_.freq_base = hp_.rope_freq_base;
    rope_.freq_scale = hp_.rope_freq_scale;
    rope_.n_ctx_orig = int(hp_.rope_n_ctx_orig);
    if (hp_.rope_yarn) {
      // llama.cpp passes attn_factor 1/mscale and ggml's YaRN multiplies the same factor back,
      // so cos/sin keep magnitude 1 (the attention temperature is in kq_scale).
      rope_.ext_factor = 1.0f;
      rope_.attn_factor = 1.0f / backend::yarn_mscale(hp_.rope_freq_scale);
    }
    route_.n_expert_used = int(hp_.n_expert_used);
    route_.n_group = int(hp_.n_expert_groups);
    route_.n_group_used = int(hp_.n_group_used);
    route_.gating = hp_.gating;
    route_.norm_weights = hp_.expert_weights_norm;
    route_.weights_scale = hp_.expert_weights_scale;
  }

  void build() {
    const int64_t E = hp_.n_embd;
    tokens_ = g_.input(TensorType::I32, {T_, 1, 1, 1}, "inp_tokens");
    positions_ = g_.input(TensorType::I32, {T_, 1, 1, 1}, "inp_pos");
    out_.in_tokens = g_.tensor(tokens_).input;
    out_.in_positions = g_.tensor(positions_).input;
    g_.set_layer(-1);
    TensorId x = f32({E, T_, 1, 1}, "inp_embd");
    g_.get_rows(g_.external(w_.tok_embd), tokens_, x);
    for (int il = 0; il < int(hp_.n_layer); ++il) {
      g_.set_layer(il);
      const LayerWeights& l = w_.layers[size_t(il)];
      const TensorId cur = f32({E, T_, 1, 1}, "attn_norm");
      g_.rms_norm(x, weight(l.attn_norm), hp_.rms_eps, cur);
      const TensorId attn = attention(il, l, cur);
      const TensorId ffn_inp = f32({E, T_, 1, 1}, "ffn_inp");
      g_.add(attn, x, ffn_inp);
      const TensorId h = f32({E, T_, 1, 1}, "ffn_norm");
      g_.rms_norm(ffn_inp, weight(l.ffn_norm), hp_.rms_eps, h);
      const TensorId y = hp_.is_moe_layer(il) ? moe(l, h) : ffn(h, l.ffn_gate, l.ffn_up, l.ffn_down);
      x = f32({E, T_, 1, 1}, "l_out");
      g_.add(y, ffn_inp, x);
    }
    g_.set_layer(int(hp_.n_layer));
    if (shape_.n_outputs > 0) output(x);
  }

 private:
  TensorId f32(std::array<int64_t, 4> ne, const char* name) { return g_.tensor(TensorType::F32, ne, name); }
  TensorId weight(const backend::Tensor& t) { return g_.external(t); }

  // [n_embd, T] -> [n_embd, T]
  TensorId attention(int il, const LayerWeights& l, TensorId cur) {
    const int64_t H = hp_.n_head, nope = hp_.qk_nope, rope = hp_.qk_rope, L = hp_.kv_lora_rank;
    const int64_t V = hp_.v_head, Dq = nope + rope, W = L + rope, T = T_;
    const TensorId q = f32({H * Dq, T, 1, 1}, "q");
    if (l.wq.data) {
      g_.mul_mat(weight(l.wq), cur, q);  // [n_head * Dq, T]
    } else {
      const TensorId qa = f32({hp_.q_lora_rank, T, 1, 1}, "q");
      g_.mul_mat(weight(l.wq_a), cur, qa);                    // [q_lora_rank, T]
      g_.rms_norm(qa, weight(l.q_a_norm), hp_.rms_eps, qa);  // [q_lora_rank, T]
      g_.mul_mat(weight(l.wq_b), qa, q);                      // [n_head * Dq, T]
    }
    const TensorId q_pe = g_.view_f32(q, {rope, H, T, 1}, {Dq, H * Dq, H * Dq * T}, nope, "q_pe");  // [rope, H, T]
    g_.rope(q_pe, positions_, rope_);

    const TensorId kv = f32({W, T, 1, 1}, "kv_cmpr_pe");
    g_.mul_mat(weight(l.wkv_a_mqa), cur, kv);  // [kv_lora + rope, T]
    const TensorId k_pe = g_.view_f32(kv, {rope, 1, T, 1}, {W, W, W * T}, L, "k_pe");  // [rope, 1, T]
    g_.rope(k_pe, positions_, rope_);
    const TensorId c = g_.view_f32(kv, {L, T, 1, 1}, {W, W * T, W * T}, 0, "kv_cmpr");  // [kv_lora, T]
    g_.rms_norm(c, weight(l.kv_a_norm), hp_.rms_eps, c);

    // The latent cache gets [c | k_pe] of every new token; attention reads it back. One cache
    // slot per segment (sequence) of the micro-batch, bound per step to its rows.
    std::vector<int> slots;
    int64_t begin = 0;
    for (size_t s = 0; s < shape_.counts.size(); ++s) {
      const int64_t n = shape_.counts[s];
      slots.push_back(g_.cache(W, int64_t(s), il));
      g_.store_latent(g_.view_f32(kv, {W, n, 1, 1}, {W, W * n, W * n}, begin * W, "Kcur"), slots.back());
      begin += n;
    }

    const TensorId o = f32({V, H, T, 1}, "kqv_out");  // [v_head, n_head, T]
    std::vector<int64_t> begins;
    begin = 0;
    for (int64_t n : shape_.counts) begins.push_back(std::exchange(begin, begin + n));
    auto plain = [&](size_t s) { return !shape_.first_pos.empty() && shape_.first_pos[s] >= 0; };
    std::vector<size_t> absorbed_segments;
    for (size_t s = 0; s < shape_.counts.size(); ++s)
      if (!plain(s)) absorbed_segments.push_back(s);
    if (absorbed_segments.size() == shape_.counts.size()) {
      absorbed(l, q, o, 0, T, absorbed_segments, begins, slots);  // one matmul each for all tokens
    } else {
      for (size_t s : absorbed_segments) absorbed(l, q, o, begins[s], shape_.counts[s], {s}, begins, slots);
    }
    for (size_t s = 0; s < shape_.counts.size(); ++s) {
      if (!plain(s)) continue;
      const int64_t n = shape_.counts[s], first = shape_.first_pos[s], S = first + n;
      const TensorId lat = f32({W, S, 1, 1}, "kv_cache");  // [kv_lora + rope, S]
      g_.load_latent(slots[s], 0, lat);
      const TensorId c_all = g_.view_f32(lat, {L, S, 1, 1}, {W, W * S, W * S}, 0, "kv_cmpr");
      const TensorId k = f32({Dq, H, S, 1}, "Kcur");  // [Dq, n_head, S]
      g_.mul_mat(weight(l.wk_b_t), c_all, g_.view_f32(k, {nope, S, H, 1}, {H * Dq, Dq, H * Dq * S}, 0, "k_nope"));
      const TensorId k_pe_all = g_.view_f32(lat, {rope, S, 1, 1}, {W, W * S, W * S}, L, "k_pe");
      for (int64_t h = 0; h < H; ++h)
        g_.copy(k_pe_all, g_.view_f32(k, {rope, S, 1, 1}, {H * Dq, H * Dq * S, H * Dq * S}, h * Dq + nope, "k_pe_rep"));
      const TensorId v = f32({V, H, S, 1}, "Vcur");  // [v_head, n_head, S]
      g_.mul_mat(weight(l.wv_b), c_all, g_.view_f32(v, {V, S, H, 1}, {H * V, V, H * V * S}, 0, "Vcur_perm"));
      const TensorId qs = g_.view_f32(q, {Dq, H, n, 1}, {Dq, H * Dq, H * Dq * n}, begins[s] * H * Dq, "Qcur");
      const TensorId os = g_.view_f32(o, {V, H, n, 1}, {V, H * V, H * V * n}, begins[s] * H * V, "kqv_out");
      g_.attention(qs, k, v, first, hp_.kq_scale, os);
    }
    const TensorId out = f32({hp_.n_embd, T, 1, 1}, "attn_out");
    g_.mul_mat(weight(l.wo), g_.view_f32(o, {H * V, T, 1, 1}, {H * V, H * V * T, H * V * T}, 0, "kqv_out"), out);
    return out;
  }

  // The absorbed form for tokens [b0, b0 + nT) of q [n_head * Dq, T] (the given segments cover
  // them), into their rows of o [v_head, n_head, T]: queries mapped into latent space by attn_k_b,
  // attention against the latent cache, outputs mapped back by attn_v_b.
  void absorbed(const LayerWeights& l, TensorId q, TensorId o, int64_t b0, int64_t nT, const std::vector<size_t>& segments,
                const std::vector<int64_t>& begins, const std::vector<int>& slots) {
    const int64_t H = hp_.n_head, nope = hp_.qk_nope, rope = hp_.qk_rope, L = hp_.kv_lora_rank;
    const int64_t V = hp_.v_head, Dq = nope + rope, W = L + rope, T = T_;
    const TensorId qabs = f32({W, H, nT, 1}, "Qcur");  // [kv_lora + rope, n_head, nT]
    // [nope, nT, n_head] x K_h -> [kv_lora, nT, n_head], written into Qcur's first kv_lora.
    const TensorId q_nope = g_.view_f32(q, {nope, nT, H, 1}, {H * Dq, Dq, H * Dq * T}, b0 * H * Dq, "q_nope_perm");
    const TensorId q_lat = g_.view_f32(qabs, {L, nT, H, 1}, {H * W, W, H * W * nT}, 0, "q_nope_absorbed");
    g_.mul_mat(weight(l.wk_b), q_nope, q_lat);
    g_.copy(g_.view_f32(q, {rope, H, nT, 1}, {Dq, H * Dq, H * Dq * T}, b0 * H * Dq + nope, "q_pe"),
            g_.view_f32(qabs, {rope, H, nT, 1}, {W, H * W, H * W * nT}, L, "Qcur_pe"));
    const TensorId olat = f32({L, H, nT, 1}, "kqv");  // [kv_lora, n_head, nT]
    for (size_t s : segments) {
      const int64_t n = shape_.counts[s], at = begins[s] - b0;
      const TensorId qs = g_.view_f32(qabs, {W, H, n, 1}, {W, H * W, H * W * n}, at * H * W, "Qcur");
      const TensorId os = g_.view_f32(olat, {L, H, n, 1}, {L, H * L, H * L * n}, at * H * L, "kqv");
      g_.attention_latent(qs, slots[s], hp_.kq_scale, os);
    }
    // [kv_lora, nT, n_head] x V_h -> [v_head, nT, n_head]
    g_.mul_mat(weight(l.wv_b), g_.view_f32(olat, {L, nT, H, 1}, {H * L, L, H * L * nT}, 0, "kqv_perm"),
               g_.view_f32(o, {V, nT, H, 1}, {H * V, V, H * V * T}, b0 * H * V, "kqv_out_perm"));
  }

  // down(silu(gate h) * up h): [n_embd, T] -> [n_embd, T]
  TensorId ffn(TensorId h, const backend::Tensor& gate, const backend::Tensor& up, const backend::Tensor& down) {
    const int64_t F = gate.ne[1];
    const TensorId g = f32({F, T_, 1, 1}, "ffn_gate");
    const TensorId u = f32({F, T_, 1, 1}, "ffn_up");
    g_.mul_mat(weight(gate), h, g);
    g_.mul_mat(weight(up), h, u);
    g_.swiglu(g, u, g);
    const TensorId y = f32({hp_.n_embd, T_, 1, 1}, "ffn_out");
    g_.mul_mat(weight(down), g, y);
    return y;
  }

  TensorId moe(const LayerWeights& l, TensorId h) {
    const int64_t E = hp_.n_embd, X = hp_.n_expert, U = hp_.n_expert_used, F = hp_.n_ff_exp;
    const TensorId logits = f32({X, T_, 1, 1}, "ffn_moe_logits");
    g_.mul_mat(weight(l.gate_inp), h, logits);  // [n_expert, T]
    const TensorId ids = g_.tensor(TensorType::I32, {U, T_, 1, 1}, "ffn_moe_topk");
    const TensorId wts = f32({U, T_, 1, 1}, "ffn_moe_weights");
    g_.moe_route(logits, l.exp_probs_b.data ? weight(l.exp_probs_b) : backend::kNoTensor, route_, ids, wts);
    const TensorId h3 = g_.view_f32(h, {E, 1, T_, 1}, {E, E, E * T_}, 0, "ffn_norm");
    const TensorId g = f32({F, U, T_, 1}, "ffn_moe_gate");
    const TensorId u = f32({F, U, T_, 1}, "ffn_moe_up");
    g_.mul_mat_id(weight(l.gate_exps), h3, ids, g);  // [n_ff_exp, n_used, T]
    g_.mul_mat_id(weight(l.up_exps), h3, ids, u);
    g_.swiglu(g, u, g);
    const TensorId d = f32({E, U, T_, 1}, "ffn_moe_down");
    g_.mul_mat_id(weight(l.down_exps), g, ids, d);  // [n_embd, n_used, T]
    const TensorId y = f32({E, T_, 1, 1}, "ffn_moe_out");
    g_.moe_combine(d, wts, y);
    if (l.gate_shexp.data) g_.add(y, ffn(h, l.gate_shexp, l.up_shexp, l.down_shexp), y);
    // The routing decisions are read when the graph ends.
    if (shape_.routing) {
      out_.out_route_ids.push_back(g_.output(ids));
      out_.out_route_weights.push_back(g_.output(wts));
    }
    return y;
  }

  // output_norm and the LM head for the requested tokens only.
  void output(TensorId x) {
    const int64_t R = shape_.n_outputs, E = hp_.n_embd, V = hp_.n_vocab;
    const TensorId rows = g_.input(TensorType::I32, {R, 1, 1, 1}, "inp_out_ids");
    out_.in_outputs = g_.tensor(rows).input;
    const TensorId sel = f32({E, R, 1, 1}, "inp_out");
    g_.get_rows(x, rows, sel);
    const TensorId hn = f32({E, R, 1, 1}, "result_norm");
    g_.rms_norm(sel, weight(w_.output_norm), hp_.rms_eps, hn);
    if (shape_.hidden) out_.out_hidden = g_.output(hn);
    const TensorId logits = f32({V, R, 1, 1}, "result_output");
    g_.mul_mat(weight(w_.output), hn, logits);
    if (shape_.argmax_vocab > 0) {
      // [argmax_vocab, R] view of the rows' heads -> [R] ids: only those are read back.
      const TensorId ids = g_.tensor(TensorType::I32, {R, 1, 1, 1}, "result_argmax");
      g_.argmax(g_.view_f32(logits, {shape_.argmax_vocab, R, 1, 1}, {V, V * R, V * R}, 0, "result_output"), ids);
      out_.out_logits = g_.output(ids);
    } else {
      out_.out_logits = g_.output(logits);
    }
  }

  const HParams& hp_;
  const Weights& w_;
  const UbatchShape& shape_;
  ForwardGraph& out_;
  Graph& g_;
  int64_t T_ = 0;
  TensorId tokens_ = backend::kNoTensor, positions_ = backend::kNoTensor;
  backend::RopeParams rope_;
  backend::RouteParams route_;
};

}  // namespace

ForwardGraph build_deepseek2(const Model& m, const UbatchShape& shape) {
  ForwardGraph f;
  Builder(m, shape, f).build();
  return f;
}

}  // namespace latent::model
