// nearest_rows and row_inverse_norms against the brute force in reference.h, bit for bit: every
// metric, awkward dims, batches below and above a query tile, exclusions, k past the rows left.
#include <cmath>

#include "test_support.h"

namespace nne_test {

void test_nearest(const nne::Kernels& kernels) {
  for (int64_t dim : kDims) {
    for (int64_t rows : {0, 1, 5, 9, 40, 103}) {
      std::vector<float> table = random_floats(rows * dim);
      if (rows > 3) std::fill(table.begin() + 2 * dim, table.begin() + 3 * dim, 0.0f);                 // a zero row
      if (rows > 5) std::copy(table.begin(), table.begin() + dim, table.begin() + 5 * dim);           // an exact tie
      const nne::PackedTable packed{table.data(), nne::Dtype::float32, dim};
      std::vector<double> inv(static_cast<size_t>(rows) + 1, -7.0);  // one guard value after
      kernels.row_inverse_norms(packed, 0, rows, inv.data());
      bool norms = inv[static_cast<size_t>(rows)] == -7.0;
      for (int64_t r = 0; r < rows; ++r) {
        const double squares = nne::reference::lane_dot(table.data() + r * dim, table.data() + r * dim, dim);
        norms &= inv[static_cast<size_t>(r)] == (squares > 0 ? 1.0 / std::sqrt(squares) : 0.0);
      }
      CHECK(norms, "row_inverse_norms dim %lld rows %lld", static_cast<long long>(dim), static_cast<long long>(rows));
      for (int64_t q : {0, 1, 3, 4, 5, 9}) {
        const std::vector<float> queries = random_floats(q * dim);
        std::vector<int32_t> query_rows(static_cast<size_t>(q));
        for (int64_t s = 0; s < q; ++s) query_rows[static_cast<size_t>(s)] = static_cast<int32_t>(rows > 0 ? (s * 7) % rows : -1);
        const int32_t exclude[] = {1, 4, 33};
        for (int metric = 0; metric < 3; ++metric) {
          for (int64_t k : {int64_t{1}, int64_t{3}, rows + 2}) {
            for (int variant = 0; variant < 2; ++variant) {
              const int32_t* self = variant == 1 ? query_rows.data() : nullptr;
              const int64_t excluded = variant == 1 ? 3 : 0;
              std::vector<int32_t> indices(static_cast<size_t>(q * k)), expected_indices(indices.size());
              std::vector<float> scores(indices.size()), expected_scores(indices.size());
              kernels.nearest_rows(packed, rows, queries.data(), q, k, static_cast<nne::NearestMetric>(metric), inv.data(), self,
                                   exclude, excluded, indices.data(), scores.data());
              nne::reference::nearest_rows(table.data(), dim, rows, queries.data(), q, k, metric, self, exclude, excluded,
                                      expected_indices.data(), expected_scores.data());
              CHECK(indices == expected_indices && all_same(scores, expected_scores),
                    "nearest_rows dim %lld rows %lld queries %lld metric %d k %lld variant %d", static_cast<long long>(dim),
                    static_cast<long long>(rows), static_cast<long long>(q), metric, static_cast<long long>(k), variant);
            }
          }
        }
      }
    }
  }
}

}  // namespace nne_test
