// Renorm (Embedding's max_norm): torch.embedding_renorm_. Each distinct looked-up row whose
// p-norm exceeds max_norm is scaled in place by float(max_norm / (norm + 1e-7)).
//
// The 1- and 2-norms are accumulated in double in lane_dot.h's order (eight lanes striped by
// element position, a fixed reduction tree), which every tier and the TypeScript backend follow,
// so they agree to the bit. The inf-norm is a max and needs no order; other p go through pow(),
// in every tier. The body is in renorm_body.h, written once over vec_traits.h and instantiated per
// tier.
//
// Large calls are split over the thread pool by row (parallel.h): each task reads every index and
// handles the rows of its range, whose bounds are multiples of 8 so that each byte of the seen
// bitmap belongs to one task. Each row's scaling depends on that row alone.
#include <cmath>

#include "kernels.h"
#include "parallel.h"

#define NNE_TIER_BODY "renorm_body.h"
#include "instantiate_tiers.h"

namespace nne {

namespace {

template <class Index>
using RenormRangeFn = void (*)(float* weight, int64_t dim, const Index* indices, int64_t count, double max_norm,
                               double norm_type, uint8_t* seen, RowRange rows);

template <class Index, RenormRangeFn<Index> kKernel>
void renorm_parallel(float* weight, int64_t dim, const Index* indices, int64_t count, double max_norm,
                     double norm_type, uint8_t* seen) {
  // Bytes read (each row's norm) and, at most, written; norms other than 1, 2 and inf cost a pow()
  // per element, counted as 16 bytes more.
  const int64_t per_element = norm_type == 1.0 || norm_type == 2.0 || std::isinf(norm_type) ? 8 : 24;
  const int64_t tasks = plan_tasks(per_element * count * dim, count);
  for_row_ranges(indices, count, tasks, 8,
                 [&](RowRange rows) { kKernel(weight, dim, indices, count, max_norm, norm_type, seen, rows); });
}

}  // namespace

#define NNE_RENORM(tier_namespace) renorm_parallel<Index, tier_namespace::renorm_rows<Index>>
NNE_INDEX_KERNEL_FOR(RenormFn, renorm_for, NNE_RENORM)
#undef NNE_RENORM

}  // namespace nne
