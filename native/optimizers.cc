// Optimizer kernels: the update rules of SGD, Adagrad, Adam/AdamW, SparseAdam and row-wise
// Adagrad over a whole table (dense step) or over coalesced rows (sparse step, also of float16 and
// bfloat16 tables: their rows widened, updated and rounded back), the rounding of float32 rows
// into such a table, and the coalescing of a sparse gradient's duplicate rows. The bodies are in optimizer_body.h, written
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

using UpdateHalfRowsFn = void (*)(const OptimizerScalars& s, const HalfTable& table, const float* grad, float* state0,
                                  float* state1, float* state2, const uint32_t* rows, int64_t num_rows, int64_t rounding,
                                  float* work, RowRange range);
using NarrowHalfRowsFn = void (*)(const HalfTable& table, const uint32_t* rows, int64_t num_rows, const float* values,
                                  int64_t rounding, RowRange range);

// A 16-bit table's sparse step, split by destination row as the float32 one.
template <UpdateHalfRowsFn kRows>
void optimizer_update_packed_parallel(const OptimizerScalars& s, const HalfTable& table, const float* grad, float* state0,
                                      float* state1, float* state2, const uint32_t* rows, int64_t num_rows,
                                      int64_t rounding, float* work) {
  const bool rowwise = s.rule == OptimizerRule::rowwise_adagrad;
  const int64_t states = rowwise ? 0 : (state0 != nullptr) + (state1 != nullptr) + (state2 != nullptr);
  // Per element: the 16-bit weight both ways, grad read, work written and read, the states both ways.
  const int64_t work_bytes = (16 + 8 * states) * num_rows * table.dim;
  for_row_ranges(rows, num_rows, plan_tasks(work_bytes, num_rows), 1, [&](RowRange range) {
    kRows(s, table, grad, state0, state1, state2, rows, num_rows, rounding, work, range);
  });
}

template <NarrowHalfRowsFn kRows>
void narrow_rows_parallel(const HalfTable& table, const uint32_t* rows, int64_t num_rows, const float* values,
                          int64_t rounding) {
  for_row_ranges(rows, num_rows, plan_tasks(6 * num_rows * table.dim, num_rows), 1,
                 [&](RowRange range) { kRows(table, rows, num_rows, values, rounding, range); });
}

}  // namespace

OptimizerUpdatePackedFn optimizer_update_packed_for(Tier tier) {
#define NNE_OPTIMIZER_UPDATE_PACKED(tier_namespace) optimizer_update_packed_parallel<tier_namespace::update_half_rows>
  NNE_SELECT_TIER(tier, NNE_OPTIMIZER_UPDATE_PACKED)
#undef NNE_OPTIMIZER_UPDATE_PACKED
}

NarrowRowsFn narrow_rows_for(Tier tier) {
#define NNE_NARROW_ROWS(tier_namespace) narrow_rows_parallel<tier_namespace::narrow_half_rows>
  NNE_SELECT_TIER(tier, NNE_NARROW_ROWS)
#undef NNE_NARROW_ROWS
}

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
