// Gradient clipping: norm (p = 1, 2, 3, 0.5, infinity; a NaN under infinity), scale and clamp, over
// lengths around the vector widths (split over the pool in test_main's later passes).
#include <cmath>

#include "test_support.h"

namespace nne_test {

void test_clip_grad(const nne::Kernels& kernels) {
  std::vector<int64_t> lengths(std::begin(kDims), std::end(kDims));
  lengths.push_back(0);
  for (int64_t n : lengths) {
    std::vector<float> values = random_floats(n);
    for (double p : {1.0, 2.0, 3.0, 0.5, HUGE_VAL}) {
      const double expected = nne::reference::clip_norm(values.data(), n, p);
      const double actual = kernels.clip.norm(values.data(), n, p);
      CHECK(actual == expected, "clip norm n %lld p %g: %.17g, expected %.17g", static_cast<long long>(n), p, actual, expected);
    }
    if (n > 2) {
      std::vector<float> with_nan = values;
      with_nan[static_cast<size_t>(n / 2)] = NAN;
      CHECK(std::isnan(kernels.clip.norm(with_nan.data(), n, HUGE_VAL)), "clip norm n %lld: a NaN must give NaN under p = inf",
            static_cast<long long>(n));
    }
    std::vector<float> scaled = values, expected_scaled = values;
    kernels.clip.scale(scaled.data(), n, 0.3f);
    nne::reference::scale_values(expected_scaled.data(), n, 0.3f);
    CHECK(all_same(scaled, expected_scaled), "clip scale n %lld", static_cast<long long>(n));
    if (n > 0) scaled[0] = NAN;
    std::vector<float> expected_clamped = scaled;
    kernels.clip.clamp(scaled.data(), n, -0.05f, 0.1f);
    nne::reference::clamp_values(expected_clamped.data(), n, -0.05f, 0.1f);
    CHECK(all_same(scaled, expected_clamped), "clip clamp n %lld", static_cast<long long>(n));
  }
}

}  // namespace nne_test
