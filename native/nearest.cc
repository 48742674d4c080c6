// Nearest rows: the exact k best rows of a table for each of a batch of queries (dot, cosine or
// squared L2), fused with the top-k selection (no score array the size of the table), and the row
// norms that cosine divides by. The bodies are in nearest_body.h, written once over vec_traits.h
// and instantiated per tier below; what the tiers share is in nearest.h.
//
// The table is read once per call whatever the number of queries: each block of rows is widened
// once and every query tile reads it from cache. Large calls are split over the thread pool by row
// ranges (parallel.h, independent outputs): each task keeps its own best k per query, and the
// lists are merged on the calling thread by (rank, row), a total order, so the result does not
// depend on the split.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "nearest.h"
#include "parallel.h"

#define NNE_TIER_BODY "nearest_body.h"
#include "instantiate_tiers.h"

namespace nne {

namespace {

using SearchFn = void (*)(const PackedTable& table, const NearestQuery& query, int64_t begin, int64_t end, TopK* best);
using NormsFn = void (*)(const PackedTable& table, int64_t first, int64_t count, double* out);

// Each task's lists take this much memory at most in all (with fewer tasks when k is large).
constexpr int64_t kMaxListBytes = int64_t{256} << 20;

struct Entry {
  double score;
  double rank;
  int32_t row;
};

template <SearchFn kSearch>
void nearest_rows_parallel(const PackedTable& table, int64_t rows, const float* queries, int64_t num_queries, int64_t k,
                           NearestMetric metric, const double* inv_norms, const int32_t* query_rows,
                           const int32_t* exclude, int64_t exclude_count, int32_t* out_indices, float* out_scores) {
  if (num_queries == 0 || k == 0) return;
  const int64_t dim = table.dim;
  const int64_t padded = (dim + 7) / 8 * 8;
  std::vector<double> wide(static_cast<size_t>(num_queries * padded), 0.0);
  std::vector<double> inv_query(static_cast<size_t>(num_queries), 0.0);
  for (int64_t s = 0; s < num_queries; ++s) {
    const float* q = queries + s * dim;
    for (int64_t j = 0; j < dim; ++j) wide[s * padded + j] = static_cast<double>(q[j]);
    if (metric == NearestMetric::cosine) {
      const double squares = scalar_tier::lane_dot(q, q, dim);  // every tier's lane_dot gives these bits
      inv_query[s] = squares > 0 ? 1.0 / std::sqrt(squares) : 0.0;
    }
  }
  const NearestQuery query{wide.data(), padded,          num_queries, k,    metric, metric == NearestMetric::l2,
                           inv_norms,   inv_query.data(), query_rows,  exclude, exclude_count};
  // Work: the rows read, and a multiply-add per element and query.
  const int64_t row_bytes = dtype_row_bytes(table.dtype, dim);
  const int64_t list_bytes = num_queries * std::min(k, rows) * 20;
  int64_t tasks = plan_tasks(rows * (row_bytes + 2 * dim * num_queries), rows / kTileRows);
  tasks = std::max<int64_t>(1, std::min(tasks, kMaxListBytes / std::max<int64_t>(list_bytes, 1)));
  const int64_t slots = num_queries * k;
  std::vector<double> scores(static_cast<size_t>(tasks * slots)), ranks(static_cast<size_t>(tasks * slots));
  std::vector<int32_t> best_rows(static_cast<size_t>(tasks * slots));
  std::vector<TopK> lists(static_cast<size_t>(tasks * num_queries));
  for (int64_t t = 0; t < tasks; ++t) {
    for (int64_t s = 0; s < num_queries; ++s) {
      const int64_t at = t * slots + s * k;
      lists[t * num_queries + s] = TopK{scores.data() + at, ranks.data() + at, best_rows.data() + at, 0, k};
    }
  }
  if (tasks == 1) {
    kSearch(table, query, 0, rows, lists.data());
  } else {
    parallel_for(tasks, [&](int64_t task) {
      kSearch(table, query, chunk_bound(rows, tasks, task, kTileRows), chunk_bound(rows, tasks, task + 1, kTileRows),
              lists.data() + task * num_queries);
    });
  }
  std::vector<Entry> merged;
  for (int64_t s = 0; s < num_queries; ++s) {
    merged.clear();
    for (int64_t t = 0; t < tasks; ++t) {
      const TopK& list = lists[t * num_queries + s];
      for (int64_t i = 0; i < list.size; ++i) merged.push_back(Entry{list.score[i], list.rank[i], list.row[i]});
    }
    std::sort(merged.begin(), merged.end(),
              [](const Entry& a, const Entry& b) { return after(b.rank, b.row, a.rank, a.row); });
    for (int64_t i = 0; i < k; ++i) {
      const bool found = i < static_cast<int64_t>(merged.size());
      out_indices[s * k + i] = found ? merged[i].row : -1;
      out_scores[s * k + i] = found ? static_cast<float>(merged[i].score) : std::numeric_limits<float>::quiet_NaN();
    }
  }
}

template <NormsFn kNorms>
void row_inverse_norms_parallel(const PackedTable& table, int64_t first, int64_t count, double* out) {
  const int64_t tasks = plan_tasks(count * dtype_row_bytes(table.dtype, table.dim), count, 4);
  for_chunks(count, tasks, 1, [&](int64_t begin, int64_t end) { kNorms(table, first + begin, end - begin, out + begin); });
}

}  // namespace

NearestRowsFn nearest_rows_for(Tier tier) {
#define NNE_NEAREST_ROWS(tier_namespace) nearest_rows_parallel<tier_namespace::nearest_rows>
  NNE_SELECT_TIER(tier, NNE_NEAREST_ROWS)
#undef NNE_NEAREST_ROWS
}

RowInverseNormsFn row_inverse_norms_for(Tier tier) {
#define NNE_ROW_INVERSE_NORMS(tier_namespace) row_inverse_norms_parallel<tier_namespace::row_inverse_norms>
  NNE_SELECT_TIER(tier, NNE_ROW_INVERSE_NORMS)
#undef NNE_ROW_INVERSE_NORMS
}

}  // namespace nne
