// Sampling against independent double-precision references: greedy is argmax, each filter keeps
// exactly the set a brute-force computation keeps, and seeded draws follow the filtered
// distribution within a stated statistical bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "sample/sample.h"

namespace latent::sample {
namespace {

std::vector<float> random_logits(size_t n, uint32_t seed, float scale = 3.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Reference: indices sorted by logit (desc), probabilities in double.
std::vector<int> order_desc(const std::vector<float>& l) {
  std::vector<int> idx(l.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return l[a] > l[b]; });
  return idx;
}

std::vector<double> softmax_d(const std::vector<float>& l, const std::vector<int>& ids, double t = 1.0) {
  double m = -INFINITY;
  for (int i : ids) m = std::max(m, double(l[i]));
  std::vector<double> p;
  double s = 0;
  for (int i : ids) s += std::exp((l[i] - m) / t);
  for (int i : ids) p.push_back(std::exp((l[i] - m) / t) / s);
  return p;
}

std::set<int> ids_of(const std::vector<Candidate>& c) {
  std::set<int> s;
  for (const auto& x : c) s.insert(x.id);
  return s;
}

TEST(Sample, GreedyIsArgmax) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    auto l = random_logits(5000, seed);
    int best = 0;
    for (int i = 0; i < int(l.size()); ++i)
      if (l[i] > l[best]) best = i;
    Sampler s(SamplingParams{});
    EXPECT_EQ(s.sample(l), best);
    EXPECT_EQ(argmax(l), best);
  }
  std::vector<float> ties = {1.0f, 3.0f, 2.0f, 3.0f};
  EXPECT_EQ(argmax(ties), 1);
}

TEST(Sample, TopKKeepsTheKLargest) {
  auto l = random_logits(1000, 7);
  auto ord = order_desc(l);
  for (int k : {1, 5, 40, 999, 1000, 5000}) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = k;
    auto got = ids_of(filtered_distribution(l, p));
    std::set<int> want(ord.begin(), ord.begin() + std::min<size_t>(k, l.size()));
    EXPECT_EQ(got, want) << "k=" << k;
  }
}

TEST(Sample, TopPKeepsSmallestSetReachingP) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    auto l = random_logits(3000, seed, 2.5f);
    auto ord = order_desc(l);
    auto pr = softmax_d(l, ord);
    for (float top_p : {0.05f, 0.5f, 0.9f, 0.99f}) {
      // Reference: smallest prefix of the sorted distribution whose mass reaches top_p.
      double cum = 0;
      size_t n = 0;
      while (n < pr.size() && cum < top_p) cum += pr[n++];
      // Skip borderline cases where float vs double accumulation could legitimately differ.
      if (std::abs(cum - top_p) < 1e-6 || std::abs(cum - pr[n - 1] - top_p) < 1e-6) continue;
      SamplingParams p;
      p.temperature = 1.0f;
      p.top_p = top_p;
      auto got = ids_of(filtered_distribution(l, p));
      std::set<int> want(ord.begin(), ord.begin() + n);
      EXPECT_EQ(got, want) << "seed=" << seed << " top_p=" << top_p;
    }
  }
}

TEST(Sample, MinPKeepsTokensAboveFractionOfMax) {
  auto l = random_logits(2000, 3);
  auto ord = order_desc(l);
  auto pr = softmax_d(l, ord);
  for (float min_p : {0.01f, 0.1f, 0.5f, 1.0f}) {
    std::set<int> want;
    for (size_t i = 0; i < ord.size(); ++i)
      if (pr[i] >= min_p * pr[0]) want.insert(ord[i]);
    SamplingParams p;
    p.temperature = 0.7f;
    p.min_p = min_p;
    EXPECT_EQ(ids_of(filtered_distribution(l, p)), want) << "min_p=" << min_p;
  }
}

TEST(Sample, FiltersComposeInLlamaCppOrder) {
  auto l = random_logits(500, 11, 2.0f);
  auto ord = order_desc(l);
  SamplingParams p;
  p.temperature = 1.5f;
  p.top_k = 50;
  p.top_p = 0.8f;
  p.min_p = 0.05f;
  // top-k, then top-p renormalised over the k survivors, then min-p, then temperature.
  std::vector<int> set(ord.begin(), ord.begin() + 50);
  auto pr = softmax_d(l, set);
  double cum = 0;
  size_t n = 0;
  while (n < pr.size() && cum < p.top_p) cum += pr[n++];
  set.resize(n);
  size_t m = 0;
  while (m < set.size() && pr[m] >= p.min_p * pr[0]) ++m;
  set.resize(m);
  auto want = softmax_d(l, set, p.temperature);
  auto got = filtered_distribution(l, p);
  ASSERT_EQ(got.size(), set.size());
  for (size_t i = 0; i < set.size(); ++i) {
    EXPECT_EQ(got[i].id, set[i]);
    EXPECT_NEAR(got[i].p, want[i], 1e-6);
  }
}

// Empirical frequencies of N seeded draws against the filtered, tempered distribution. Each
// count is Binomial(N, q); we require every |count - N q| <= 5 sqrt(N q (1 - q)) (a 5-sigma bound:
// with ~20 categories the chance that a correct sampler fails is below 1e-5), and no draw outside
// the kept set.
TEST(Sample, DrawsFollowFilteredDistribution) {
  auto l = random_logits(60, 5, 1.5f);
  auto ord = order_desc(l);
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 30;
  p.top_p = 0.95f;
  p.min_p = 0.02f;
  p.seed = 1234;
  auto dist = filtered_distribution(l, p);
  ASSERT_GT(dist.size(), 3u);
  // Independent reference for the tempered probabilities of the kept set.
  std::vector<int> kept;
  for (const auto& c : dist) kept.push_back(c.id);
  auto q = softmax_d(l, kept, p.temperature);

  const int N = 200000;
  Sampler s(p);
  std::map<int, int> counts;
  for (int i = 0; i < N; ++i) counts[s.sample(l)]++;
  std::set<int> kept_set(kept.begin(), kept.end());
  for (const auto& [id, n] : counts) EXPECT_TRUE(kept_set.count(id)) << "drew filtered-out token " << id;
  for (size_t i = 0; i < kept.size(); ++i) {
    double expect = N * q[i];
    double sigma = std::sqrt(N * q[i] * (1 - q[i]));
    EXPECT_LE(std::abs(counts[kept[i]] - expect), 5 * sigma + 1)
        << "token " << kept[i] << " q=" << q[i] << " count=" << counts[kept[i]];
  }
}

TEST(Sample, SameSeedSameTokensDifferentSeedDifferent) {
  auto l = random_logits(200, 9, 1.0f);
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  Sampler a(p), b(p);
  p.seed = 43;
  Sampler c(p);
  std::vector<int> ra, rb, rc;
  for (int i = 0; i < 100; ++i) {
    ra.push_back(a.sample(l));
    rb.push_back(b.sample(l));
    rc.push_back(c.sample(l));
  }
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
}

TEST(Sample, RejectsInvalidParams) {
  SamplingParams p;
  p.top_p = 0.0f;
  EXPECT_THROW(Sampler{p}, std::invalid_argument);
  p = {};
  p.top_k = -1;
  EXPECT_THROW(Sampler{p}, std::invalid_argument);
  p = {};
  p.min_p = 1.5f;
  EXPECT_THROW(Sampler{p}, std::invalid_argument);
  p = {};
  p.temperature = NAN;
  EXPECT_THROW(Sampler{p}, std::invalid_argument);
}

}  // namespace
}  // namespace latent::sample
