// coalesce (the sparse optimizers' duplicate-row sum), of entry rows and of bag rows.
#include "test_support.h"

namespace nne_test {
namespace {

template <class Index>
void test_coalesce_of(const nne::Kernels& kernels, const char* type_name) {
  for (int64_t dim : kDims) {
    for (int with_bags = 0; with_bags < 2; ++with_bags) {
      const int64_t rows = 8, count = 30, num_bags = 6;
      const std::vector<Index> indices = random_indices<Index>(count, rows);
      const std::vector<uint32_t> offsets = random_offsets(count, num_bags);
      const nne::Bags bags{offsets.data(), num_bags, num_bags, count};
      const nne::Bags* bags_or_null = with_bags ? &bags : nullptr;
      const std::vector<float> source = random_floats((with_bags ? num_bags : count) * dim);
      const std::vector<float> scale = random_floats(count);
      std::vector<int32_t> slots(static_cast<size_t>(rows), -1);
      std::vector<uint32_t> out_rows(static_cast<size_t>(count));
      std::vector<float> out_values(static_cast<size_t>(count * dim));
      const int64_t skip = 3;
      const int64_t distinct = kernels.of<Index>().coalesce(indices.data(), count, dim, source.data(), bags_or_null,
                                                            scale.data(), skip, slots.data(), rows, out_rows.data(),
                                                            out_values.data());
      std::vector<uint32_t> expected_rows(static_cast<size_t>(count));
      std::vector<float> expected_values(static_cast<size_t>(count * dim));
      const int64_t expected_distinct = nne::reference::coalesce(indices.data(), count, dim, source.data(), bags_or_null,
                                                                 scale.data(), skip, expected_rows.data(),
                                                                 expected_values.data());
      bool equal = distinct == expected_distinct;
      for (int64_t k = 0; equal && k < distinct; ++k) equal &= out_rows[static_cast<size_t>(k)] == expected_rows[static_cast<size_t>(k)];
      for (int64_t k = 0; equal && k < distinct * dim; ++k) {
        equal &= same_bits(out_values[static_cast<size_t>(k)], expected_values[static_cast<size_t>(k)]);
      }
      bool reset = true;
      for (int32_t slot : slots) reset &= slot == -1;
      CHECK(equal && reset, "coalesce %s dim %lld bags %d", type_name, static_cast<long long>(dim), with_bags);
    }
  }
}

}  // namespace

void test_coalesce(const nne::Kernels& kernels) {
  for_each_index_type([&](auto index, const char* name) { test_coalesce_of<decltype(index)>(kernels, name); });
}

}  // namespace nne_test
