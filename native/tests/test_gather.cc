// gather (the forward of Embedding) and first_invalid_index, the check that runs before it.
#include "test_support.h"

namespace nne_test {
namespace {

void test_first_invalid_index() {
  std::vector<int32_t> indices(1000, 5);
  CHECK(nne::first_invalid_index(indices.data(), 1000, 6) == -1, "all valid");
  CHECK(nne::first_invalid_index(indices.data(), 1000, 5) == 0, "all out of range");
  indices[700] = -1;
  CHECK(nne::first_invalid_index(indices.data(), 1000, 6) == 700, "negative int32");
  indices[300] = 6;
  CHECK(nne::first_invalid_index(indices.data(), 1000, 6) == 300, "first of two");
  const uint32_t big[] = {1, 0x80000000u};
  CHECK(nne::first_invalid_index(big, 2, int64_t{1} << 32) == -1, "uint32 above 2^31 is valid");
  CHECK(nne::first_invalid_index(big, 2, 0x80000000LL) == 1, "uint32 at the limit");
  const int64_t wide[] = {int64_t{1} << 40, -(int64_t{1} << 40)};
  CHECK(nne::first_invalid_index(wide, 2, int64_t{1} << 41) == 1, "negative int64");
  CHECK(nne::first_invalid_index(wide, 0, 0) == -1, "empty");
}

template <class Index>
void test_gather_of(const nne::Kernels& kernels, const char* type_name) {
  for (int64_t dim : kDims) {
    for (int64_t count : kCounts) {
      const int64_t rows = 13;
      const std::vector<float> weight = random_floats(rows * dim);
      const std::vector<Index> indices = random_indices<Index>(count, rows);
      std::vector<float> expected(static_cast<size_t>(count * dim));
      nne::reference::gather(weight.data(), dim, indices.data(), count, expected.data());
      std::vector<float> out(static_cast<size_t>(count * dim + 2), kGuard);
      kernels.of<Index>().gather(weight.data(), dim, indices.data(), count, out.data() + 1);
      CHECK(out.front() == kGuard && out.back() == kGuard, "gather %s dim %lld wrote outside out", type_name,
            static_cast<long long>(dim));
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t j = 0; j < dim; ++j) {
          const size_t at = static_cast<size_t>(i * dim + j);
          CHECK(same_bits(out[1 + at], expected[at]), "gather %s dim %lld i %lld j %lld", type_name,
                static_cast<long long>(dim), static_cast<long long>(i), static_cast<long long>(j));
        }
      }
    }
  }
}

}  // namespace

void test_gather(const nne::Kernels& kernels) {
  test_first_invalid_index();
  for_each_index_type([&](auto index, const char* name) { test_gather_of<decltype(index)>(kernels, name); });
}

}  // namespace nne_test
