// renorm (max_norm): p = 1, 2, 3, 0.5 and infinity; the seen bitmap must be clear again after.
#include <cmath>

#include "test_support.h"

namespace nne_test {
namespace {

template <class Index>
void test_renorm_of(const nne::Kernels& kernels, const char* type_name) {
  for (int64_t dim : kDims) {
    for (double p : {1.0, 2.0, 3.0, 0.5, HUGE_VAL}) {
      const int64_t rows = 11;
      const int64_t count = 9;
      std::vector<float> weight = random_floats(rows * dim);
      const std::vector<Index> indices = random_indices<Index>(count, rows);
      std::vector<float> expected = weight;
      const double max_norm = 0.75;
      nne::reference::renorm(expected.data(), dim, indices.data(), count, max_norm, p);
      std::vector<uint8_t> seen(static_cast<size_t>((rows + 7) / 8), 0);
      kernels.of<Index>().renorm(weight.data(), dim, indices.data(), count, max_norm, p, seen.data());
      CHECK(all_same(weight, expected), "renorm %s dim %lld p %g", type_name, static_cast<long long>(dim), p);
      bool cleared = true;
      for (uint8_t byte : seen) cleared &= byte == 0;
      CHECK(cleared, "renorm %s left bits set in seen", type_name);
    }
  }
}

}  // namespace

void test_renorm(const nne::Kernels& kernels) {
  for_each_index_type([&](auto index, const char* name) { test_renorm_of<decltype(index)>(kernels, name); });
}

}  // namespace nne_test
