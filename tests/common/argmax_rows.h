// Test data for the argmax op: rows whose results depend on its order rules (ties, NaN, signed
// zeros), shared by the CPU backend's test and the Vulkan parity test.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace latent::testing {

// Rows where argmax's order rules decide the result, one kind per row (r % 8): random values;
// the maximum planted twice (anywhere, then 256 apart, as the Vulkan kernel's lanes split rows);
// NaN first (nothing compares greater, so 0 wins); NaNs scattered around a planted maximum; only
// NaN; -0 tied with +0 above negatives; only -inf. Row r starts r * stride floats in.
inline std::vector<float> argmax_rows(int64_t n, int64_t rows, int64_t stride, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-4.0f, 4.0f);
  std::uniform_int_distribution<int64_t> at(0, n - 1);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> v(size_t(rows * stride), 99.0f);  // 99 between rows: never inside a view
  for (int64_t r = 0; r < rows; ++r) {
    float* x = v.data() + r * stride;
    for (int64_t i = 0; i < n; ++i) x[i] = value(rng);
    const int64_t a = at(rng), b = n > 256 && r % 8 == 2 ? (a + 256) % n : at(rng);
    switch (r % 8) {
      case 1:
      case 2:
        x[a] = x[b] = 5.0f;
        break;
      case 3:
        x[0] = nan;
        x[b] = 5.0f;
        break;
      case 4:
        x[a] = 5.0f;
        for (int64_t i = 1; i < n; i += 3)
          if (i != a) x[i] = nan;
        break;
      case 5:
        std::fill_n(x, n, nan);
        break;
      case 6:
        for (int64_t i = 0; i < n; ++i) x[i] = -1.0f - std::fabs(x[i]);
        x[a] = -0.0f;
        x[b] = 0.0f;
        break;
      case 7:
        std::fill_n(x, n, -inf);
        break;
    }
  }
  return v;
}

}  // namespace latent::testing
