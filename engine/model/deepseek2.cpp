// The deepseek2 graph (llama.cpp src/models/deepseek2.cpp), composed from helpers: norm,
// attention (absorbed or plain MLA), dense FFN, MoE. Intermediates carry llama.cpp's names.
#include <algorithm>
#include <cmath>

#include "backend/backend.h"
#include "model/forward.h"
#include "model/weights.h"

namespace latent::model {
namespace {

using backend::Tensor;
using gguf::TensorType;
constexpr size_t kF = sizeof(float);

// A float view: shape ne, strides in elements for dims 1..3, offset in elements.
Tensor view(const Tensor& t, std::array<int64_t, 4> ne, std::array<int64_t, 3> stride, int64_t offset,
            const char* name) {
  return t.view(ne, {kF, size_t(stride[0]) * kF, size_t(stride[1]) * kF, size_t(stride[2]) * kF},
                size_t(offset) * kF, name);
}

class Graph {
 public:
  Graph(const Model& m, LatentStore& store, const Ubatch& ub)
      : m_(m), hp_(m.hparams()), w_(m.weights()), be_(&m.io_backend()), store_(store), ub_(ub),
        mla_(m.options().mla), T_(int64_t(ub.ids.size())) {
    rope_.n_rot = int(hp_.qk_rope);
    rope_.freq_base = hp_.rope_freq_base;
    rope_.freq_scale = hp_.rope_freq_scale;
    rope_.n_ctx_orig = int(hp_.rope_n_ctx_orig);
    if (hp_.rope_yarn) {
      // llama.cpp passes attn_factor 1/(1 + 0.1 ln s) and ggml's YaRN multiplies the same
      // factor back, so cos/sin keep magnitude 1 (the attention temperature is in kq_scale).
      rope_.ext_factor = 1.0f;
      rope_.attn_factor = 1.0f / (1.0f + 0.1f * std::log(1.0f / hp_.rope_freq_scale));
    }
    route_.n_expert_used = int(hp_.n_expert_used);
    route_.n_group = int(hp_.n_expert_groups);
    route_.n_group_used = int(hp_.n_group_used);
    route_.gating = backend::Gating(int(hp_.gating));
    route_.norm_weights = hp_.expert_weights_norm;
    route_.weights_scale = hp_.expert_weights_scale;
  }

  void run() {
    const int64_t E = hp_.n_embd;
    m_.layer_backend(0).release_scratch(0);
    m_.io_backend().release_scratch(0);
    be_ = &m_.io_backend();
    Tensor x = f32({E, T_, 1, 1}, "inp_embd");
    be_->get_rows(w_.tok_embd, ub_.ids, x);
    for (int il = 0; il < int(hp_.n_layer); ++il) {
      x = move_to(m_.layer_backend(il), x);
      const size_t mark = be_->scratch_mark();
      const LayerWeights& l = w_.layers[size_t(il)];
      Tensor cur = be_->scratch(TensorType::F32, {E, T_, 1, 1}, "attn_norm");
      be_->rms_norm(x, l.attn_norm, hp_.rms_eps, cur);
      Tensor attn = attention(il, l, cur);
      Tensor ffn_inp = be_->scratch(TensorType::F32, {E, T_, 1, 1}, "ffn_inp");
      be_->add(attn, x, ffn_inp);
      Tensor h = be_->scratch(TensorType::F32, {E, T_, 1, 1}, "ffn_norm");
      be_->rms_norm(ffn_inp, l.ffn_norm, hp_.rms_eps, h);
      Tensor y = hp_.is_moe_layer(il) ? moe(il, l, h) : ffn(h, l.ffn_gate, l.ffn_up, l.ffn_down);
      // x is rewritten in place: the layer's intermediates above it are released next.
      be_->add(y, ffn_inp, x);
      be_->release_scratch(mark);
    }
    output(move_to(m_.io_backend(), x));
  }

 private:
  // The hidden state where the next layers run (partial offload: between the GPU's layers and
  // the CPU's, once each way per micro-batch).
  Tensor move_to(backend::Backend& to, const Tensor& x) {
    if (&to == be_) return x;
    std::vector<float> host(size_t(x.n_elements()));
    be_->read(x, host.data(), host.size() * sizeof(float));
    be_ = &to;
    Tensor y = f32(x.ne, x.name);
    be_->write(y, host.data(), host.size() * sizeof(float));
    return y;
  }

  Tensor f32(std::array<int64_t, 4> ne, const char* name) { return be_->scratch(TensorType::F32, ne, name); }

  // [n_embd, T] -> [n_embd, T]
  Tensor attention(int il, const LayerWeights& l, const Tensor& cur) {
    const int64_t H = hp_.n_head, nope = hp_.qk_nope, rope = hp_.qk_rope, L = hp_.kv_lora_rank;
    const int64_t V = hp_.v_head, Dq = nope + rope, W = L + rope, T = T_;
    Tensor q = f32({H * Dq, T, 1, 1}, "q");
    if (l.wq.data) {
      be_->mul_mat(l.wq, cur, q);  // [n_head * Dq, T]
    } else {
      Tensor qa = f32({hp_.q_lora_rank, T, 1, 1}, "q");
      be_->mul_mat(l.wq_a, cur, qa);                   // [q_lora_rank, T]
      be_->rms_norm(qa, l.q_a_norm, hp_.rms_eps, qa);  // [q_lora_rank, T]
      be_->mul_mat(l.wq_b, qa, q);                     // [n_head * Dq, T]
    }
    Tensor q_pe = view(q, {rope, H, T, 1}, {Dq, H * Dq, H * Dq * T}, nope, "q_pe");  // [rope, H, T]
    be_->rope(q_pe, ub_.positions, rope_);

    Tensor kv = f32({W, T, 1, 1}, "kv_cmpr_pe");
    be_->mul_mat(l.wkv_a_mqa, cur, kv);  // [kv_lora + rope, T]
    Tensor k_pe = view(kv, {rope, 1, T, 1}, {W, W, W * T}, L, "k_pe");  // [rope, 1, T]
    be_->rope(k_pe, ub_.positions, rope_);
    Tensor c = view(kv, {L, T, 1, 1}, {W, W * T, W * T}, 0, "kv_cmpr");  // [kv_lora, T]
    be_->rms_norm(c, l.kv_a_norm, hp_.rms_eps, c);

    // The latent cache gets [c | k_pe] of every new token; attention reads it back.
    for (const auto& s : ub_.segments) {
      Tensor rows = view(kv, {W, s.count, 1, 1}, {W, W * s.count, W * s.count}, s.begin * W, "Kcur");
      be_->store_latent(rows, store_.rows(s.seq, il, s.first_pos + s.count), s.first_pos);
    }

    Tensor o = f32({V, H, T, 1}, "kqv_out");  // [v_head, n_head, T]
    if (mla_ == MlaMode::Absorbed) {
      Tensor qabs = f32({W, H, T, 1}, "Qcur");  // [kv_lora + rope, n_head, T]
      // [nope, T, n_head] x K_h -> [kv_lora, T, n_head], written into Qcur's first kv_lora.
      Tensor q_nope = view(q, {nope, T, H, 1}, {H * Dq, Dq, H * Dq * T}, 0, "q_nope_perm");
      Tensor q_lat = view(qabs, {L, T, H, 1}, {H * W, W, H * W * T}, 0, "q_nope_absorbed");
      be_->mul_mat(l.wk_b, q_nope, q_lat);
      Tensor qabs_pe = view(qabs, {rope, H, T, 1}, {W, H * W, H * W * T}, L, "Qcur_pe");
      be_->copy(q_pe, qabs_pe);
      Tensor olat = f32({L, H, T, 1}, "kqv");  // [kv_lora, n_head, T]
      for (const auto& s : ub_.segments) {
        Tensor qs = view(qabs, {W, H, s.count, 1}, {W, H * W, H * W * s.count}, s.begin * H * W, "Qcur");
        Tensor os = view(olat, {L, H, s.count, 1}, {L, H * L, H * L * s.count}, s.begin * H * L, "kqv");
        be_->attention_latent(qs, store_.rows(s.seq, il, s.first_pos + s.count), s.first_pos,
                             hp_.kq_scale, os);
      }
      // [kv_lora, T, n_head] x V_h -> [v_head, T, n_head]
      be_->mul_mat(l.wv_b, view(olat, {L, T, H, 1}, {H * L, L, H * L * T}, 0, "kqv_perm"),
                  view(o, {V, T, H, 1}, {H * V, V, H * V * T}, 0, "kqv_out_perm"));
    } else {
      for (const auto& s : ub_.segments) {
        const size_t mark = be_->scratch_mark();
        const int64_t S = s.first_pos + s.count;
        Tensor lat = f32({W, S, 1, 1}, "kv_cache");  // [kv_lora + rope, S]
        be_->load_latent(store_.rows(s.seq, il, S), 0, lat);
        Tensor c_all = view(lat, {L, S, 1, 1}, {W, W * S, W * S}, 0, "kv_cmpr");
        Tensor k = f32({Dq, H, S, 1}, "Kcur");  // [Dq, n_head, S]
        be_->mul_mat(l.wk_b_t, c_all, view(k, {nope, S, H, 1}, {H * Dq, Dq, H * Dq * S}, 0, "k_nope"));
        for (int64_t h = 0; h < H; ++h)
          be_->copy(view(lat, {rope, S, 1, 1}, {W, W * S, W * S}, L, "k_pe"),
                   view(k, {rope, S, 1, 1}, {H * Dq, H * Dq * S, H * Dq * S}, h * Dq + nope, "k_pe_rep"));
        Tensor v = f32({V, H, S, 1}, "Vcur");  // [v_head, n_head, S]
        be_->mul_mat(l.wv_b, c_all, view(v, {V, S, H, 1}, {H * V, V, H * V * S}, 0, "Vcur_perm"));
        Tensor qs = view(q, {Dq, H, s.count, 1}, {Dq, H * Dq, H * Dq * s.count}, s.begin * H * Dq, "Qcur");
        Tensor os = view(o, {V, H, s.count, 1}, {V, H * V, H * V * s.count}, s.begin * H * V, "kqv_out");
        be_->attention(qs, k, v, s.first_pos, hp_.kq_scale, os);
        be_->release_scratch(mark);
      }
    }
    Tensor out = f32({hp_.n_embd, T, 1, 1}, "attn_out");
    be_->mul_mat(l.wo, view(o, {H * V, T, 1, 1}, {H * V, H * V * T, H * V * T}, 0, "kqv_out"), out);
    return out;
  }

  // down(silu(gate h) * up h): [n_embd, T] -> [n_embd, T]
  Tensor ffn(const Tensor& h, const Tensor& gate, const Tensor& up, const Tensor& down) {
    const int64_t F = gate.ne[1];
    Tensor g = f32({F, T_, 1, 1}, "ffn_gate");
    Tensor u = f32({F, T_, 1, 1}, "ffn_up");
    be_->mul_mat(gate, h, g);
    be_->mul_mat(up, h, u);
    be_->swiglu(g, u, g);
    Tensor y = f32({hp_.n_embd, T_, 1, 1}, "ffn_out");
    be_->mul_mat(down, g, y);
    return y;
  }

  Tensor moe(int il, const LayerWeights& l, const Tensor& h) {
    const int64_t E = hp_.n_embd, X = hp_.n_expert, U = hp_.n_expert_used, F = hp_.n_ff_exp;
    Tensor logits = f32({X, T_, 1, 1}, "ffn_moe_logits");
    be_->mul_mat(l.gate_inp, h, logits);  // [n_expert, T]
    Tensor ids = be_->scratch(TensorType::I32, {U, T_, 1, 1}, "ffn_moe_topk");
    Tensor wts = f32({U, T_, 1, 1}, "ffn_moe_weights");
    be_->moe_route(logits, l.exp_probs_b, route_, ids, wts);  // [n_used, T] each
    Tensor h3 = view(h, {E, 1, T_, 1}, {E, E, E * T_}, 0, "ffn_norm");
    Tensor g = f32({F, U, T_, 1}, "ffn_moe_gate");
    Tensor u = f32({F, U, T_, 1}, "ffn_moe_up");
    be_->mul_mat_id(l.gate_exps, h3, ids, g);  // [n_ff_exp, n_used, T]
    be_->mul_mat_id(l.up_exps, h3, ids, u);
    be_->swiglu(g, u, g);
    Tensor d = f32({E, U, T_, 1}, "ffn_moe_down");
    be_->mul_mat_id(l.down_exps, g, ids, d);  // [n_embd, n_used, T]
    Tensor y = f32({E, T_, 1, 1}, "ffn_moe_out");
    be_->moe_combine(d, wts, y);
    if (l.gate_shexp.data) be_->add(y, ffn(h, l.gate_shexp, l.up_shexp, l.down_shexp), y);
    if (ub_.expert_ids) record_routing(il, ids, wts);
    return y;
  }

  void record_routing(int il, const Tensor& ids, const Tensor& wts) {
    const int64_t U = hp_.n_expert_used, m = il - hp_.n_layer_dense_lead;
    std::vector<int32_t> id(size_t(U * T_));
    std::vector<float> wt(size_t(U * T_));
    be_->read(ids, id.data(), id.size() * sizeof(int32_t));
    be_->read(wts, wt.data(), wt.size() * sizeof(float));
    for (int64_t t = 0; t < T_; ++t) {
      const int64_t dst = (m * ub_.routing_tokens + ub_.routing_index[size_t(t)]) * U;
      std::copy_n(id.data() + t * U, U, ub_.expert_ids + dst);
      std::copy_n(wt.data() + t * U, U, ub_.expert_weights + dst);
    }
  }

  // output_norm and the LM head for the requested tokens only, in chunks of rows so that the
  // logits' scratch stays bounded when every position of a long prompt is requested.
  void output(const Tensor& x) {
    const int64_t R = int64_t(ub_.outputs.size()), E = hp_.n_embd, V = hp_.n_vocab;
    constexpr int64_t kRowsPerChunk = 64;
    for (int64_t r0 = 0; r0 < R; r0 += kRowsPerChunk) {
      const size_t mark = be_->scratch_mark();
      const int64_t n = std::min(kRowsPerChunk, R - r0);
      Tensor sel = f32({E, n, 1, 1}, "inp_out");
      for (int64_t r = 0; r < n; ++r)
        be_->copy(view(x, {E, 1, 1, 1}, {E, E, E}, ub_.outputs[size_t(r0 + r)] * E, "l_out"),
                 view(sel, {E, 1, 1, 1}, {E, E, E}, r * E, "inp_out"));
      Tensor hn = f32({E, n, 1, 1}, "result_norm");
      be_->rms_norm(sel, w_.output_norm, hp_.rms_eps, hn);
      if (ub_.hidden) be_->read(hn, ub_.hidden + r0 * E, size_t(E * n) * sizeof(float));
      Tensor logits = f32({V, n, 1, 1}, "result_output");
      be_->mul_mat(w_.output, hn, logits);
      if (ub_.argmax_vocab > 0) {
        // [argmax_vocab, n] view of the rows' heads -> [n] ids: only those are read back.
        Tensor ids = be_->scratch(TensorType::I32, {n, 1, 1, 1}, "result_argmax");
        be_->argmax(view(logits, {ub_.argmax_vocab, n, 1, 1}, {V, V * n, V * n}, 0, "result_output"), ids);
        be_->read(ids, ub_.argmax + r0, size_t(n) * sizeof(int32_t));
      } else {
        be_->read(logits, ub_.logits + r0 * V, size_t(V * n) * sizeof(float));
      }
      be_->release_scratch(mark);
    }
  }

  const Model& m_;
  const HParams& hp_;
  const Weights& w_;
  backend::Backend* be_;  // where the current layer runs
  LatentStore& store_;
  const Ubatch& ub_;
  MlaMode mla_;
  int64_t T_;
  backend::RopeParams rope_;
  backend::RouteParams route_;
};

}  // namespace

void forward(const Model& model, LatentStore& store, const Ubatch& ub) { Graph(model, store, ub).run(); }

}  // namespace latent::model
