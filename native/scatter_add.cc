// Scatter-add, the dense backward pass of Embedding and of EmbeddingBag's sum and mean:
// grad[indices[i]] += scale[i] * (row i of grad_output, or the row of i's bag). Entries are applied
// strictly in order of i, so duplicate indices accumulate in input order and the result is
// bit-identical on every run and every tier. The body is in scatter_add_body.h, written once over
// vec_traits.h and instantiated per tier, for both sources of rows.
//
// Large scatter-adds are split over the thread pool by destination row (parallel.h): each task
// reads every entry in order and applies those whose row is in its range, so each row still
// receives its updates in order of i, from one thread.
#include "kernels.h"
#include "parallel.h"

namespace nne {

namespace {

// Embedding: entry i's gradient is row i of grad_output.
struct EntryRows {
  static constexpr int64_t kBytesPerElement = 12;  // read and written per element (plan_tasks)
  const float* grad_output;
  int64_t dim;
  int64_t count;
  const float* row(int64_t i) const { return grad_output + i * dim; }
};

// EmbeddingBag: entry i's gradient is the row of its bag, found by walking the offsets forward as
// i grows (each task walks its own copy). Entries after the last bag's end (include_last_offset
// with a last offset below count) belong to no bag and are not counted.
struct BagRows {
  static constexpr int64_t kBytesPerElement = 8;
  const float* grad_output;
  int64_t dim;
  int64_t count;
  const Bags* bags;
  int64_t bag = 0;
  BagRows(const float* grad_output_, int64_t dim_, const Bags& bags_)
      : grad_output(grad_output_), dim(dim_), count(bags_.num_bags > 0 ? bags_.end(bags_.num_bags - 1) : 0),
        bags(&bags_) {}
  const float* row(int64_t i) {
    while (i >= bags->end(bag)) ++bag;
    return grad_output + bag * dim;
  }
};

}  // namespace

}  // namespace nne

#define NNE_TIER_BODY "scatter_add_body.h"
#include "instantiate_tiers.h"

namespace nne {

namespace {

template <class Index, class Source>
using ScatterAddRowsFn = void (*)(float* grad, int64_t dim, const Index* indices, Source source, const float* scale,
                                  int64_t skip_row, RowRange rows);

template <class Index, class Source, ScatterAddRowsFn<Index, Source> kKernel>
void scatter_add_parallel(float* grad, int64_t dim, const Index* indices, const Source& source, const float* scale,
                          int64_t skip_row) {
  const int64_t tasks = plan_tasks(Source::kBytesPerElement * source.count * dim, source.count);
  for_row_ranges(indices, source.count, tasks, 1,
                 [&](RowRange rows) { kKernel(grad, dim, indices, source, scale, skip_row, rows); });
}

template <class Index, ScatterAddRowsFn<Index, EntryRows> kKernel>
void scatter_add_entries(float* grad, int64_t dim, const Index* indices, int64_t count, const float* grad_output,
                         const float* scale, int64_t skip_row) {
  scatter_add_parallel<Index, EntryRows, kKernel>(grad, dim, indices, EntryRows{grad_output, dim, count}, scale,
                                                  skip_row);
}

template <class Index, ScatterAddRowsFn<Index, BagRows> kKernel>
void scatter_add_bags(float* grad, int64_t dim, const Index* indices, const Bags& bags, const float* grad_output,
                      const float* scale, int64_t skip_row) {
  scatter_add_parallel<Index, BagRows, kKernel>(grad, dim, indices, BagRows(grad_output, dim, bags), scale, skip_row);
}

}  // namespace

#define NNE_SCATTER_ADD(tier_namespace) scatter_add_entries<Index, tier_namespace::scatter_add_rows<Index, EntryRows>>
NNE_INDEX_KERNEL_FOR(ScatterAddFn, scatter_add_for, NNE_SCATTER_ADD)
#undef NNE_SCATTER_ADD

#define NNE_BAG_SCATTER_ADD(tier_namespace) scatter_add_bags<Index, tier_namespace::scatter_add_rows<Index, BagRows>>
NNE_INDEX_KERNEL_FOR(BagScatterAddFn, bag_scatter_add_for, NNE_BAG_SCATTER_ADD)
#undef NNE_BAG_SCATTER_ADD

}  // namespace nne
