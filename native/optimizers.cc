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
#include "vec_traits.h"

namespace nne {

namespace scalar_tier {
#include "optimizer_body.h"
}  // namespace scalar_tier

#if defined(NNE_X86_64)
NNE_BEGIN_TARGET_AVX2
namespace avx2_tier {
#include "optimizer_body.h"
}  // namespace avx2_tier
NNE_END_TARGET

NNE_BEGIN_TARGET_AVX512
namespace avx512_tier {
#include "optimizer_body.h"
}  // namespace avx512_tier
NNE_END_TARGET
#endif

#if defined(NNE_ARM64)
namespace neon_tier {
#include "optimizer_body.h"
}  // namespace neon_tier
#endif

namespace {

using UpdateElementsFn = void (*)(const OptimizerScalars& s, float* weight, const float* grad, float* state0,
                                  float* state1, float* state2, int64_t begin, int64_t end);
using UpdateRowsFn = void (*)(const OptimizerScalars& s, float* weight, const float* grad, float* state0, float* state1,
                              float* state2, const uint32_t* rows, int64_t k_begin, int64_t k_end, int64_t dim,
                              RowRange range);

template <UpdateElementsFn kElements, UpdateRowsFn kRows>
void optimizer_update_parallel(const OptimizerScalars& s, float* weight, const float* grad, float* state0,
                               float* state1, float* state2, const uint32_t* rows, int64_t num_rows, int64_t dim,
                               float* /* scratch: not needed (see update_rowwise_adagrad) */) {
  const bool rowwise = s.rule == OptimizerRule::rowwise_adagrad;
  // Bytes read and written per element: weight and each table-shaped state both ways, grad once.
  const int64_t states = rowwise ? 0 : (state0 != nullptr) + (state1 != nullptr) + (state2 != nullptr);
  const int64_t work = (12 + 8 * states) * num_rows * dim;
  if (rows == nullptr && !rowwise) {
    constexpr int64_t kAlign = 64;  // elements: whole cache lines per task
    const int64_t n = num_rows * dim;
    const int64_t tasks = plan_tasks(work, n / kAlign, 4);
    if (tasks == 1) {
      kElements(s, weight, grad, state0, state1, state2, 0, n);
      return;
    }
    parallel_for(tasks, [&](int64_t task) {
      kElements(s, weight, grad, state0, state1, state2, chunk_bound(n, tasks, task, kAlign),
                chunk_bound(n, tasks, task + 1, kAlign));
    });
    return;
  }
  if (rows == nullptr) {  // a dense row-wise Adagrad step: chunks of rows
    const int64_t tasks = plan_tasks(work, num_rows, 4);
    if (tasks == 1) {
      kRows(s, weight, grad, state0, state1, state2, nullptr, 0, num_rows, dim, kAllRows);
      return;
    }
    parallel_for(tasks, [&](int64_t task) {
      kRows(s, weight, grad, state0, state1, state2, nullptr, chunk_bound(num_rows, tasks, task, 1),
            chunk_bound(num_rows, tasks, task + 1, 1), dim, kAllRows);
    });
    return;
  }
  const int64_t tasks = plan_tasks(work, num_rows);
  if (tasks == 1) {
    kRows(s, weight, grad, state0, state1, state2, rows, 0, num_rows, dim, kAllRows);
    return;
  }
  int64_t bounds[kMaxParts + 1];
  row_bounds(rows, num_rows, tasks, 1, bounds);
  parallel_for(tasks, [&](int64_t task) {
    kRows(s, weight, grad, state0, state1, state2, rows, 0, num_rows, dim, RowRange{bounds[task], bounds[task + 1]});
  });
}

}  // namespace

#define NNE_OPTIMIZER_UPDATE(tier) optimizer_update_parallel<tier::update_elements, tier::update_rows>

OptimizerUpdateFn optimizer_update_for(Tier tier) {
  switch (tier) {
    case Tier::scalar: return NNE_OPTIMIZER_UPDATE(scalar_tier);
#if defined(NNE_X86_64)
    case Tier::avx2: return NNE_OPTIMIZER_UPDATE(avx2_tier);
    case Tier::avx512: return NNE_OPTIMIZER_UPDATE(avx512_tier);
#endif
#if defined(NNE_ARM64)
    case Tier::neon: return NNE_OPTIMIZER_UPDATE(neon_tier);
#endif
    default: return nullptr;
  }
}
#undef NNE_OPTIMIZER_UPDATE

template <class Index>
CoalesceFn<Index> coalesce_for(Tier tier) {
  switch (tier) {
    case Tier::scalar: return scalar_tier::coalesce<Index>;
#if defined(NNE_X86_64)
    case Tier::avx2: return avx2_tier::coalesce<Index>;
    case Tier::avx512: return avx512_tier::coalesce<Index>;
#endif
#if defined(NNE_ARM64)
    case Tier::neon: return neon_tier::coalesce<Index>;
#endif
    default: return nullptr;
  }
}

template CoalesceFn<int32_t> coalesce_for<int32_t>(Tier);
template CoalesceFn<uint32_t> coalesce_for<uint32_t>(Tier);
template CoalesceFn<int64_t> coalesce_for<int64_t>(Tier);

}  // namespace nne
