// EmbeddingBag kernels: fused lookup-and-reduce (sum, mean, weighted sum, max) straight into the
// output row, never materializing the looked-up rows, and their backward passes.
//
// The kernel bodies are written once, in embedding_bag_body.h, over a tier's vector traits
// (vec_traits.h); each tier instantiates the body inside its own namespace and target region, so
// this file stays compiled for the baseline ISA like every other. Results
// are bit-identical across tiers: the arithmetic per output element is the same (float adds in
// entry order, multiply then add, one division for mean) whatever the vector width.
//
// Large calls are split over the thread pool (parallel.h) by the wrappers at the end of this file:
// the forward pass and the per-sample-weight gradient by bags (each output written by one task),
// the scatter-add by destination row, and max backward by feature. Results do not depend on the
// number of threads.
#include <cstring>

#include "kernels.h"
#include "parallel.h"
#include "vec_traits.h"

namespace nne {

int64_t first_invalid_offset(const uint32_t* offsets, int64_t offsets_length, int64_t count) {
  if (offsets_length > 0 && offsets[0] != 0) return 0;
  for (int64_t b = 1; b < offsets_length; ++b) {
    if (offsets[b] < offsets[b - 1] || offsets[b] > count || offsets[b] - offsets[b - 1] > 0x7fffffffu) return b;
  }
  if (offsets_length > 0 && count - offsets[offsets_length - 1] > 0x7fffffffLL) return offsets_length - 1;
  return -1;
}

namespace scalar_tier {
#include "embedding_bag_body.h"
}  // namespace scalar_tier

#if defined(NNE_X86_64)
NNE_BEGIN_TARGET_AVX2
namespace avx2_tier {
#include "embedding_bag_body.h"
}  // namespace avx2_tier
NNE_END_TARGET

NNE_BEGIN_TARGET_AVX512
namespace avx512_tier {
#include "embedding_bag_body.h"
}  // namespace avx512_tier
NNE_END_TARGET
#endif

#if defined(NNE_ARM64)
namespace neon_tier {
#include "embedding_bag_body.h"
}  // namespace neon_tier
#endif

namespace {

template <class Index>
using BagScatterAddRangeFn = void (*)(float* grad, int64_t dim, const Index* indices, const Bags& bags,
                                      const float* grad_output, const float* scale, int64_t skip_row, RowRange rows);
template <class Index>
using BagMaxBackwardColumnsFn = void (*)(const float* weight, float* grad, int64_t dim, const Index* indices,
                                         const Bags& bags, const float* grad_output, int64_t skip_row, int64_t j_begin,
                                         int64_t j_end);

// Tasks over contiguous chunks of bags, balanced by entries + bags.
template <class Fn>
void for_bag_chunks(const Bags& bags, int64_t tasks, const Fn& fn) {
  int64_t bounds[kMaxParts * 4 + 1];
  bag_bounds(bags, tasks, bounds);
  parallel_for(tasks, [&](int64_t task) {
    if (bounds[task] < bounds[task + 1]) fn(bounds[task], bag_chunk(bags, bounds[task], bounds[task + 1]));
  });
}

template <class Index, BagForwardFn<Index> kKernel>
void bag_forward_parallel(const float* weight, int64_t dim, const Index* indices, const Bags& bags,
                          const float* per_sample_weights, BagMode mode, int64_t skip_row, float* out) {
  const int64_t tasks = plan_tasks(4 * (bags.count + bags.num_bags) * dim, bags.num_bags, 4);
  if (tasks == 1) {
    kKernel(weight, dim, indices, bags, per_sample_weights, mode, skip_row, out);
    return;
  }
  for_bag_chunks(bags, tasks, [&](int64_t first, const Bags& chunk) {
    kKernel(weight, dim, indices, chunk, per_sample_weights, mode, skip_row, out + first * dim);
  });
}

template <class Index, BagScatterAddRangeFn<Index> kKernel>
void bag_scatter_add_parallel(float* grad, int64_t dim, const Index* indices, const Bags& bags,
                              const float* grad_output, const float* scale, int64_t skip_row) {
  const int64_t tasks = plan_tasks(8 * bags.count * dim, bags.count);
  if (tasks == 1) {
    kKernel(grad, dim, indices, bags, grad_output, scale, skip_row, kAllRows);
    return;
  }
  int64_t bounds[kMaxParts + 1];
  row_bounds(indices, bags.count, tasks, 1, bounds);
  parallel_for(tasks, [&](int64_t task) {
    kKernel(grad, dim, indices, bags, grad_output, scale, skip_row, RowRange{bounds[task], bounds[task + 1]});
  });
}

// Split by feature, in blocks of 32 (128 bytes: tasks never share a cache line of grad).
template <class Index, BagMaxBackwardColumnsFn<Index> kKernel>
void bag_max_backward_parallel(const float* weight, float* grad, int64_t dim, const Index* indices, const Bags& bags,
                               const float* grad_output, int64_t skip_row) {
  constexpr int64_t kColumns = 32;
  const int64_t tasks = plan_tasks(4 * (bags.count + 2 * bags.num_bags) * dim, dim / kColumns);
  if (tasks == 1) {
    kKernel(weight, grad, dim, indices, bags, grad_output, skip_row, 0, dim);
    return;
  }
  parallel_for(tasks, [&](int64_t task) {
    kKernel(weight, grad, dim, indices, bags, grad_output, skip_row, chunk_bound(dim, tasks, task, kColumns),
            chunk_bound(dim, tasks, task + 1, kColumns));
  });
}

template <class Index, BagWeightGradFn<Index> kKernel>
void bag_weight_grad_parallel(const float* weight, int64_t dim, const Index* indices, const Bags& bags,
                              const float* grad_output, int64_t skip_row, float* out) {
  const int64_t tasks = plan_tasks(8 * bags.count * dim, bags.num_bags, 4);
  if (tasks == 1) {
    kKernel(weight, dim, indices, bags, grad_output, skip_row, out);
    return;
  }
  for_bag_chunks(bags, tasks, [&](int64_t first, const Bags& chunk) {
    kKernel(weight, dim, indices, chunk, grad_output + first * dim, skip_row, out);  // out is indexed by entry
  });
}

template <class Index, BagForwardFn<Index> kForward, BagScatterAddRangeFn<Index> kScatterAdd,
          BagMaxBackwardColumnsFn<Index> kMaxBackward, BagWeightGradFn<Index> kWeightGrad>
BagKernels<Index> bag_table() {
  return BagKernels<Index>{bag_forward_parallel<Index, kForward>, bag_scatter_add_parallel<Index, kScatterAdd>,
                           bag_max_backward_parallel<Index, kMaxBackward>, bag_weight_grad_parallel<Index, kWeightGrad>};
}

}  // namespace

#define NNE_BAG_TABLE(tier)                                                                               \
  bag_table<Index, tier::bag_forward<Index>, tier::bag_scatter_add<Index>, tier::bag_max_backward<Index>, \
            tier::bag_weight_grad<Index>>()

template <class Index>
BagKernels<Index> bag_kernels_for(Tier tier) {
  switch (tier) {
    case Tier::scalar: return NNE_BAG_TABLE(scalar_tier);
#if defined(NNE_X86_64)
    case Tier::avx2: return NNE_BAG_TABLE(avx2_tier);
    case Tier::avx512: return NNE_BAG_TABLE(avx512_tier);
#endif
#if defined(NNE_ARM64)
    case Tier::neon: return NNE_BAG_TABLE(neon_tier);
#endif
    default: return BagKernels<Index>{nullptr, nullptr, nullptr, nullptr};
  }
}
#undef NNE_BAG_TABLE

template BagKernels<int32_t> bag_kernels_for<int32_t>(Tier);
template BagKernels<uint32_t> bag_kernels_for<uint32_t>(Tier);
template BagKernels<int64_t> bag_kernels_for<int64_t>(Tier);

}  // namespace nne
