// scatter_add (the dense backward of Embedding), scaled and not, with and without a skipped row.
#include "test_support.h"

namespace nne_test {
namespace {

template <class Index>
void test_scatter_add_of(const nne::Kernels& kernels, const char* type_name) {
  for (int64_t dim : kDims) {
    for (int64_t count : kCounts) {
      for (int scaled = 0; scaled < 2; ++scaled) {
        for (int64_t skip_row : {int64_t{-1}, int64_t{3}}) {
          const int64_t rows = 7;  // few rows, so duplicates are frequent
          const std::vector<Index> indices = random_indices<Index>(count, rows);
          const std::vector<float> grad_output = random_floats(count * dim);
          const std::vector<float> scale = random_floats(count);
          std::vector<float> grad = random_floats(rows * dim);
          std::vector<float> expected = grad;
          const float* scale_or_null = scaled ? scale.data() : nullptr;
          nne::reference::scatter_add(expected.data(), dim, indices.data(), count, grad_output.data(), scale_or_null,
                                      skip_row);
          kernels.of<Index>().scatter_add(grad.data(), dim, indices.data(), count, grad_output.data(), scale_or_null,
                                          skip_row);
          CHECK(all_same(grad, expected), "scatter_add %s dim %lld count %lld scaled %d skip %lld", type_name,
                static_cast<long long>(dim), static_cast<long long>(count), scaled, static_cast<long long>(skip_row));
        }
      }
    }
  }
}

}  // namespace

void test_scatter_add(const nne::Kernels& kernels) {
  for_each_index_type([&](auto index, const char* name) { test_scatter_add_of<decltype(index)>(kernels, name); });
}

}  // namespace nne_test
