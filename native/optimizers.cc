// Optimizer kernels: the update rules of SGD, Adagrad, Adam/AdamW, SparseAdam and row-wise
// Adagrad over a whole table (dense step) or over coalesced rows (sparse step), and the
// coalescing of a sparse gradient's duplicate rows. The bodies are in optimizer_body.h, written
// once over vec_traits.h and instantiated per tier below.
//
// Large updates are split over the thread pool (parallel.h): a dense step by elements (by rows
// for row-wise Adagrad), a sparse step by destination row, so that even a rows list naming a row
// twice updates it in list order from one thread. Coalescing stays sequential: its output order
// is the order of first occurrence.
#include "kernels.h"
#include "parallel.h"

#define NNE_TIER_BODY "optimizer_body.h"
#include "instantiate_tiers.h"

namespace nne {

namespace {

using UpdateElementsFn = void (*)(const OptimizerScalars& s, float* weight, const float* grad, float* state0,
                                  float* state1, float* state2, int64_t begin, int64_t end);
using UpdateRowsFn = void (*)(const OptimizerScalars& s, float* weight, const float* grad, float* state0, float* state1,
                              float* state2, const uint32_t* rows, int64_t k_begin, int64_t k_end, int64_t dim,
                              RowRange range);

template <UpdateElementsFn kElements, UpdateRowsFn kRows>
void optimizer_update_parallel(const OptimizerScalars& s, float* weight, const float* grad, float* state0,
                               float* state1, float* state2, const uint32_t* rows, int64_t num_rows, int64_t dim) {
  const bool rowwise = s.rule == OptimizerRule::rowwise_adagrad;
  // Bytes read and written per element: weight and each table-shaped state both ways, grad once.
  const int64_t states = rowwise ? 0 : (state0 != nullptr) + (state1 != nullptr) + (state2 != nullptr);
  const int64_t work = (12 + 8 * states) * num_rows * dim;
  if (rows == nullptr && !rowwise) {
    constexpr int64_t kAlign = 64;  // elements: whole cache lines per task
    const int64_t n = num_rows * dim;
    for_chunks(n, plan_tasks(work, n / kAlign, 4), kAlign, [&](int64_t begin, int64_t end) {
      kElements(s, weight, grad, state0, state1, state2, begin, end);
    });
    return;
  }
  if (rows == nullptr) {  // a dense row-wise Adagrad step: chunks of rows
    for_chunks(num_rows, plan_tasks(work, num_rows, 4), 1, [&](int64_t begin, int64_t end) {
      kRows(s, weight, grad, state0, state1, state2, nullptr, begin, end, dim, kAllRows);
    });
    return;
  }
  for_row_ranges(rows, num_rows, plan_tasks(work, num_rows), 1, [&](RowRange range) {
    kRows(s, weight, grad, state0, state1, state2, rows, 0, num_rows, dim, range);
  });
}

}  // namespace

OptimizerUpdateFn optimizer_update_for(Tier tier) {
#define NNE_OPTIMIZER_UPDATE(tier_namespace) \
  optimizer_update_parallel<tier_namespace::update_elements, tier_namespace::update_rows>
  NNE_SELECT_TIER(tier, NNE_OPTIMIZER_UPDATE)
#undef NNE_OPTIMIZER_UPDATE
}

#define NNE_COALESCE(tier_namespace) tier_namespace::coalesce<Index>
NNE_INDEX_KERNEL_FOR(CoalesceFn, coalesce_for, NNE_COALESCE)
#undef NNE_COALESCE

}  // namespace nne
