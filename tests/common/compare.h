// Max-|Δ| comparisons that cannot pass on NaN.
//
// `m = std::max(m, std::fabs(a - b))` drops a NaN difference (std::max(m, NaN) returns m), so
// a kernel that writes NaN passes any tolerance. Here a NaN difference makes the result
// +infinity, which fails every EXPECT_LE(..., tolerance) and prints as "inf".
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <ranges>

namespace latent::testing {

// One value folded into a running max |Δ| (or max |x|): max(m, |d|), but +infinity once d is
// NaN, and it stays there. For loops that do not compare two ranges element by element.
template <std::floating_point M, typename D>
M worse(M m, D d) {
  const M a = static_cast<M>(std::fabs(d));
  return std::isnan(a) ? std::numeric_limits<M>::infinity() : std::max(m, a);
}

// max_i |a[i] - b[i]| over two ranges of the same length (vectors, spans, subspans for a row),
// in double; +infinity if any difference is NaN. Ranges of different lengths fail the calling
// test and give +infinity.
template <std::ranges::random_access_range A, std::ranges::random_access_range B>
double max_abs_diff(const A& a, const B& b) {
  const auto n = std::ranges::size(a);
  if (n != static_cast<decltype(n)>(std::ranges::size(b))) {
    ADD_FAILURE() << "max_abs_diff: ranges of " << n << " and " << std::ranges::size(b) << " values";
    return std::numeric_limits<double>::infinity();
  }
  double m = 0;
  for (std::size_t i = 0; i < n; ++i)
    m = worse(m, static_cast<double>(std::ranges::begin(a)[i]) - static_cast<double>(std::ranges::begin(b)[i]));
  return m;
}

}  // namespace latent::testing
