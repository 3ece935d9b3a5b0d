#include "sample/sample.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace latent::sample {

void validate(const SamplingParams& params) {
  if (!std::isfinite(params.temperature))
    throw std::invalid_argument("sampling: temperature must be a finite number");
  if (params.top_k < 0)
    throw std::invalid_argument("sampling: top_k must be >= 0 (0 turns it off), got " +
                                std::to_string(params.top_k));
  if (!(params.top_p > 0.0f && params.top_p <= 1.0f))
    throw std::invalid_argument("sampling: top_p must be in (0, 1] (1 turns it off), got " +
                                std::to_string(params.top_p));
  if (!(params.min_p >= 0.0f && params.min_p <= 1.0f))
    throw std::invalid_argument("sampling: min_p must be in [0, 1] (0 turns it off), got " +
                                std::to_string(params.min_p));
}

int32_t argmax(std::span<const float> logits) {
  if (logits.empty()) throw std::invalid_argument("sampling: empty logits row");
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

namespace {

struct Entry {
  int32_t id;
  float logit;
};

// Most likely first; equal logits keep the lower id first so results never depend on sort order.
bool before(const Entry& a, const Entry& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}  // namespace

std::vector<Candidate> filtered_distribution(std::span<const float> logits, const SamplingParams& params) {
  validate(params);
  if (logits.empty()) throw std::invalid_argument("sampling: empty logits row");
  std::vector<Entry> c(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) c[i] = {static_cast<int32_t>(i), logits[i]};

  if (params.top_k > 0 && static_cast<size_t>(params.top_k) < c.size()) {
    std::nth_element(c.begin(), c.begin() + params.top_k, c.end(), before);
    c.resize(params.top_k);
  }

  // Probabilities at temperature 1 over the current set (top-p and min-p are defined on them).
  float max_logit = c[0].logit;
  for (const auto& e : c) max_logit = std::max(max_logit, e.logit);
  double z = 0;
  for (const auto& e : c) z += std::exp(double(e.logit) - max_logit);

  // Only a most-likely prefix is ever kept, so sort just as far as needed: top-p on a peaked
  // distribution over a 100k vocabulary then costs a partial sort of a few dozen entries.
  size_t keep = c.size();
  if (params.top_p < 1.0f) {
    size_t sorted = 0;
    double cum = 0;
    keep = 0;
    for (size_t m = std::min<size_t>(64, c.size()); keep == 0; m = std::min(c.size(), m * 4)) {
      std::partial_sort(c.begin() + sorted, c.begin() + m, c.end(), before);
      for (; sorted < m; ++sorted) {
        cum += std::exp(double(c[sorted].logit) - max_logit) / z;
        if (cum >= params.top_p) {
          keep = sorted + 1;
          break;
        }
      }
      if (keep == 0 && m == c.size()) keep = c.size();  // rounding left cum just below top_p
    }
    c.resize(keep);
  } else {
    std::sort(c.begin(), c.end(), before);
  }

  if (params.min_p > 0.0f) {
    // p_i >= min_p * p_max  <=>  logit_i >= max_logit + log(min_p)
    double floor_logit = double(max_logit) + std::log(double(params.min_p));
    size_t n = 1;
    while (n < c.size() && double(c[n].logit) >= floor_logit) ++n;
    c.resize(n);
  }

  double inv_t = params.temperature > 0 ? 1.0 / params.temperature : 1.0;
  std::vector<Candidate> out(c.size());
  double sum = 0;
  for (size_t i = 0; i < c.size(); ++i) sum += std::exp((double(c[i].logit) - max_logit) * inv_t);
  for (size_t i = 0; i < c.size(); ++i)
    out[i] = {c[i].id, static_cast<float>(std::exp((double(c[i].logit) - max_logit) * inv_t) / sum)};
  return out;
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) { validate(params); }

int32_t Sampler::sample(std::span<const float> logits) {
  if (params_.temperature <= 0.0f) return argmax(logits);
  std::vector<Candidate> dist = filtered_distribution(logits, params_);
  // 53 random bits give a uniform double in [0, 1) independent of the standard library's
  // distribution implementations, so a seed reproduces across platforms.
  double u = double(rng_() >> 11) * 0x1.0p-53;
  double cum = 0;
  for (const auto& cand : dist) {
    cum += cand.p;
    if (u < cum) return cand.id;
  }
  return dist.back().id;
}

}  // namespace latent::sample
