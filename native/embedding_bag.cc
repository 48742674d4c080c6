// EmbeddingBag kernels: fused lookup-and-reduce (sum, mean, weighted sum, max) straight into the
// output row, never materializing the looked-up rows, and their backward passes.
//
// The kernel bodies are written once, in embedding_bag_body.h, over a tier's vector traits
// (vec_traits.h); instantiate_tiers.h includes the body inside each tier's namespace and target
// region, so this file stays compiled for the baseline ISA like every other. Results
// are bit-identical across tiers: the arithmetic per output element is the same (float adds in
// entry order, multiply then add, one division for mean) whatever the vector width.
//
// Large calls are split over the thread pool (parallel.h) by the wrappers at the end of this file:
// the forward pass and the per-sample-weight gradient by bags (each output written by one task)
// and max backward by feature; the scatter-add is scatter_add.cc's, split by destination row.
// Results do not depend on the number of threads.
#include "kernels.h"
#include "parallel.h"

#define NNE_TIER_BODY "embedding_bag_body.h"
#include "instantiate_tiers.h"

namespace nne {

int64_t first_invalid_offset(const uint32_t* offsets, int64_t offsets_length, int64_t count) {
  if (offsets_length > 0 && offsets[0] != 0) return 0;
  for (int64_t b = 1; b < offsets_length; ++b) {
    if (offsets[b] < offsets[b - 1] || offsets[b] > count || offsets[b] - offsets[b - 1] > 0x7fffffffu) return b;
  }
  if (offsets_length > 0 && count - offsets[offsets_length - 1] > 0x7fffffffLL) return offsets_length - 1;
  return -1;
}

namespace {

template <class Index>
using BagMaxBackwardColumnsFn = void (*)(const float* weight, float* grad, int64_t dim, const Index* indices,
                                         const Bags& bags, const float* grad_output, int64_t skip_row, int64_t j_begin,
                                         int64_t j_end);

// fn(first bag, chunk) over contiguous chunks of bags, balanced by entries + bags; fn(0, bags) when
// there is one task.
template <class Fn>
void for_bag_chunks(const Bags& bags, int64_t tasks, const Fn& fn) {
  if (tasks == 1) {
    fn(int64_t{0}, bags);
    return;
  }
  int64_t bounds[kMaxParts * 4 + 1];
  bag_bounds(bags, tasks, bounds);
  parallel_for(tasks, [&](int64_t task) {
    if (bounds[task] < bounds[task + 1]) fn(bounds[task], bag_chunk(bags, bounds[task], bounds[task + 1]));
  });
}

template <class Index, PackedBagForwardFn<Index> kKernel>
void bag_forward_packed_parallel(const PackedTable& table, const Index* indices, const Bags& bags,
                                 const float* per_sample_weights, BagMode mode, int64_t skip_row, float* out) {
  const int64_t dim = table.dim;
  const int64_t tasks = plan_tasks(bags.count * dtype_row_bytes(table.dtype, dim) + 4 * bags.num_bags * dim, bags.num_bags, 4);
  for_bag_chunks(bags, tasks, [&](int64_t first, const Bags& chunk) {
    kKernel(table, indices, chunk, per_sample_weights, mode, skip_row, out + first * dim);
  });
}

template <class Index, BagForwardFn<Index> kKernel>
void bag_forward_parallel(const float* weight, int64_t dim, const Index* indices, const Bags& bags,
                          const float* per_sample_weights, BagMode mode, int64_t skip_row, float* out) {
  const int64_t tasks = plan_tasks(4 * (bags.count + bags.num_bags) * dim, bags.num_bags, 4);
  for_bag_chunks(bags, tasks, [&](int64_t first, const Bags& chunk) {
    kKernel(weight, dim, indices, chunk, per_sample_weights, mode, skip_row, out + first * dim);
  });
}

// Split by feature, in blocks of 32 (128 bytes: tasks never share a cache line of grad).
template <class Index, BagMaxBackwardColumnsFn<Index> kKernel>
void bag_max_backward_parallel(const float* weight, float* grad, int64_t dim, const Index* indices, const Bags& bags,
                               const float* grad_output, int64_t skip_row) {
  constexpr int64_t kColumns = 32;
  const int64_t tasks = plan_tasks(4 * (bags.count + 2 * bags.num_bags) * dim, dim / kColumns);
  for_chunks(dim, tasks, kColumns, [&](int64_t j_begin, int64_t j_end) {
    kKernel(weight, grad, dim, indices, bags, grad_output, skip_row, j_begin, j_end);
  });
}

template <class Index, BagWeightGradFn<Index> kKernel>
void bag_weight_grad_parallel(const float* weight, int64_t dim, const Index* indices, const Bags& bags,
                              const float* grad_output, int64_t skip_row, float* out) {
  const int64_t tasks = plan_tasks(8 * bags.count * dim, bags.num_bags, 4);
  for_bag_chunks(bags, tasks, [&](int64_t first, const Bags& chunk) {
    kKernel(weight, dim, indices, chunk, grad_output + first * dim, skip_row, out);  // out is indexed by entry
  });
}

template <class Index, BagForwardFn<Index> kForward, BagMaxBackwardColumnsFn<Index> kMaxBackward,
          BagWeightGradFn<Index> kWeightGrad>
BagKernels<Index> bag_table(Tier tier) {
  return BagKernels<Index>{bag_forward_parallel<Index, kForward>, bag_scatter_add_for<Index>(tier),
                           bag_max_backward_parallel<Index, kMaxBackward>, bag_weight_grad_parallel<Index, kWeightGrad>};
}

}  // namespace

#define NNE_BAG_FORWARD_PACKED(tier_namespace) bag_forward_packed_parallel<Index, tier_namespace::bag_forward_packed<Index>>
NNE_INDEX_KERNEL_FOR(PackedBagForwardFn, bag_forward_packed_for, NNE_BAG_FORWARD_PACKED)
#undef NNE_BAG_FORWARD_PACKED

#define NNE_BAG_TABLE(tier_namespace)                                                            \
  bag_table<Index, tier_namespace::bag_forward<Index>, tier_namespace::bag_max_backward<Index>, \
            tier_namespace::bag_weight_grad<Index>>(tier)
NNE_INDEX_KERNEL_FOR(BagKernels, bag_kernels_for, NNE_BAG_TABLE)
#undef NNE_BAG_TABLE

}  // namespace nne
