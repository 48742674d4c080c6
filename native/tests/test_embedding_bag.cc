// EmbeddingBag: first_invalid_offset, then the forward (sum, mean, max, weighted sum) and the
// three backward kernels over random bags, some empty, with and without include_last_offset and
// a skipped (padding) row. Row 1 repeats row 0's even features, so max meets ties.
#include "test_support.h"

namespace nne_test {
namespace {

void test_first_invalid_offset() {
  const uint32_t good[] = {0, 0, 3, 5};
  CHECK(nne::first_invalid_offset(good, 4, 5) == -1, "good offsets");
  CHECK(nne::first_invalid_offset(good, 4, 4) == 3, "offset above count");
  const uint32_t not_zero[] = {1, 2};
  CHECK(nne::first_invalid_offset(not_zero, 2, 5) == 0, "offsets[0] != 0");
  const uint32_t decreasing[] = {0, 3, 2};
  CHECK(nne::first_invalid_offset(decreasing, 3, 5) == 2, "decreasing");
  CHECK(nne::first_invalid_offset(good, 0, 0) == -1, "no bags");
}

template <class Index>
void test_bags_of(const nne::Kernels& kernels, const char* type_name) {
  const auto& bag = kernels.of<Index>().bag;
  for (int64_t dim : kDims) {
    for (int64_t count : {int64_t{0}, int64_t{1}, int64_t{9}, int64_t{40}}) {
      for (bool include_last : {false, true}) {
        for (int64_t skip_row : {int64_t{-1}, int64_t{2}}) {
          const int64_t rows = 6;
          const int64_t num_bags = 5;
          std::vector<float> weight = random_floats(rows * dim);
          for (int64_t j = 0; j < dim; j += 2) weight[static_cast<size_t>(dim + j)] = weight[static_cast<size_t>(j)];
          const std::vector<Index> indices = random_indices<Index>(count, rows);
          std::vector<uint32_t> offsets = random_offsets(count, num_bags);
          if (include_last) offsets.push_back(static_cast<uint32_t>(count));
          const nne::Bags bags{offsets.data(), static_cast<int64_t>(offsets.size()), num_bags, count};
          CHECK(nne::first_invalid_offset(offsets.data(), bags.offsets_length, count) == -1, "valid offsets rejected");
          const std::vector<float> per_sample = random_floats(count);
          const std::vector<float> grad_output = random_floats(num_bags * dim);
          // Forward: modes sum, mean, max, then sum with per-sample weights.
          for (int mode_number = 0; mode_number < 4; ++mode_number) {
            const nne::BagMode mode = static_cast<nne::BagMode>(mode_number == 3 ? 0 : mode_number);
            const float* weights = mode_number == 3 ? per_sample.data() : nullptr;
            std::vector<float> expected(static_cast<size_t>(num_bags * dim));
            nne::reference::bag_forward(weight.data(), dim, indices.data(), bags, weights, mode, skip_row,
                                        expected.data());
            std::vector<float> out(static_cast<size_t>(num_bags * dim + 2), kGuard);
            bag.forward(weight.data(), dim, indices.data(), bags, weights, mode, skip_row, out.data() + 1);
            CHECK(same_inside_guards(out, expected), "bag forward %s dim %lld count %lld mode %d skip %lld", type_name, static_cast<long long>(dim),
                  static_cast<long long>(count), mode_number, static_cast<long long>(skip_row));
          }
          // Scatter-add of bag rows, scaled and not.
          for (int scaled = 0; scaled < 2; ++scaled) {
            std::vector<float> grad = random_floats(rows * dim);
            std::vector<float> expected = grad;
            const float* scale = scaled ? per_sample.data() : nullptr;
            nne::reference::bag_scatter_add(expected.data(), dim, indices.data(), bags, grad_output.data(), scale,
                                            skip_row);
            bag.scatter_add(grad.data(), dim, indices.data(), bags, grad_output.data(), scale, skip_row);
            CHECK(all_same(grad, expected), "bag scatter_add %s dim %lld scaled %d", type_name,
                  static_cast<long long>(dim), scaled);
          }
          // Max backward.
          {
            std::vector<float> grad(static_cast<size_t>(rows * dim), 0.0f);
            std::vector<float> expected = grad;
            nne::reference::bag_max_backward(weight.data(), expected.data(), dim, indices.data(), bags,
                                             grad_output.data(), skip_row);
            bag.max_backward(weight.data(), grad.data(), dim, indices.data(), bags, grad_output.data(), skip_row);
            CHECK(all_same(grad, expected), "bag max_backward %s dim %lld count %lld", type_name,
                  static_cast<long long>(dim), static_cast<long long>(count));
          }
          // Gradient of the per-sample weights.
          {
            std::vector<float> expected(static_cast<size_t>(count));
            nne::reference::bag_weight_grad(weight.data(), dim, indices.data(), bags, grad_output.data(), skip_row,
                                            expected.data());
            std::vector<float> out(static_cast<size_t>(count + 2), kGuard);
            bag.weight_grad(weight.data(), dim, indices.data(), bags, grad_output.data(), skip_row, out.data() + 1);
            CHECK(same_inside_guards(out, expected), "bag weight_grad %s dim %lld", type_name, static_cast<long long>(dim));
          }
        }
      }
    }
  }
}

}  // namespace

void test_embedding_bag(const nne::Kernels& kernels) {
  test_first_invalid_offset();
  for_each_index_type([&](auto index, const char* name) { test_bags_of<decltype(index)>(kernels, name); });
}

}  // namespace nne_test
