// Token sampling: turns one row of logits into the next token id.
//
// Greedy (temperature 0) is a plain argmax. Otherwise the candidates are filtered in the order of
// llama.cpp's default sampler chain (common/sampling.cpp: top-k, top-p, min-p, then temperature),
// so the kept set depends only on the logits and the filter settings, never on the temperature;
// the draw is then made from softmax(logit / temperature) over the kept set. Each Sampler owns its
// random generator, seeded from SamplingParams::seed, so a request's tokens are a function of its
// logits and its seed alone, whatever else is batched with it.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace latent::sample {

struct SamplingParams {
  float temperature = 0.0f;  // 0 (or below): greedy argmax; the filters below are then unused
  int32_t top_k = 0;         // keep the k most likely tokens; 0: off
  float top_p = 1.0f;        // keep the smallest most-likely set whose probability reaches p; 1: off
  float min_p = 0.0f;        // keep tokens with probability >= min_p * max probability; 0: off
  uint64_t seed = 0;         // the same seed and logits give the same tokens
};

// Throws std::invalid_argument naming the field when a value is out of range
// (top_k < 0, top_p outside (0, 1], min_p outside [0, 1], a non-finite temperature).
void validate(const SamplingParams& params);

// Index of the largest logit; the lowest index among equal maxima.
int32_t argmax(std::span<const float> logits);

struct Candidate {
  int32_t id;
  float p;  // probability within the kept set (sums to 1)
};

// The distribution a non-greedy draw is made from: the tokens that survive top-k, top-p and
// min-p, most likely first, with their probabilities after temperature, renormalised.
std::vector<Candidate> filtered_distribution(std::span<const float> logits, const SamplingParams& params);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);  // validates params
  int32_t sample(std::span<const float> logits);
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace latent::sample
