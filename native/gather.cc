// Row gather (the forward pass of Embedding): out[i] = weight[indices[i]]. The body is in
// gather_body.h, written once over vec_traits.h and instantiated per tier. Large gathers are split
// into contiguous chunks of entries over the thread pool (parallel.h).
#include "kernels.h"
#include "parallel.h"

#define NNE_TIER_BODY "gather_body.h"
#include "instantiate_tiers.h"

namespace nne {

namespace {

// A tier's kernel over chunks of entries: each output row is written by exactly one task.
template <class Index, GatherFn<Index> kKernel>
void gather_parallel(const float* weight, int64_t dim, const Index* indices, int64_t count, float* out) {
  const int64_t tasks = plan_tasks(8 * count * dim, count, 4);  // bytes read and written
  for_chunks(count, tasks, 1, [&](int64_t begin, int64_t end) {
    kKernel(weight, dim, indices + begin, end - begin, out + begin * dim);
  });
}

template <class Index, PackedGatherFn<Index> kKernel>
void gather_packed_parallel(const PackedTable& table, const Index* indices, int64_t count, float* out) {
  const int64_t bytes = count * (dtype_row_bytes(table.dtype, table.dim) + 4 * table.dim);  // read and written
  const int64_t tasks = plan_tasks(bytes, count, 4);
  for_chunks(count, tasks, 1, [&](int64_t begin, int64_t end) {
    kKernel(table, indices + begin, end - begin, out + begin * table.dim);
  });
}

}  // namespace

#define NNE_GATHER_PACKED(tier_namespace) gather_packed_parallel<Index, tier_namespace::gather_packed<Index>>
NNE_INDEX_KERNEL_FOR(PackedGatherFn, gather_packed_for, NNE_GATHER_PACKED)
#undef NNE_GATHER_PACKED

#define NNE_GATHER(tier_namespace) gather_parallel<Index, tier_namespace::gather_rows<Index>>
NNE_INDEX_KERNEL_FOR(GatherFn, gather_for, NNE_GATHER)
#undef NNE_GATHER

}  // namespace nne
