// The one dispatch table: for each tier, the function each operation uses for it.
#include "kernels.h"

namespace nne {

namespace {

template <class Index>
IndexKernels<Index> index_kernels(Tier tier) {
  return IndexKernels<Index>{gather_for<Index>(tier),          scatter_add_for<Index>(tier),
                             renorm_for<Index>(tier),          bag_kernels_for<Index>(tier),
                             coalesce_for<Index>(tier),        gather_packed_for<Index>(tier),
                             bag_forward_packed_for<Index>(tier)};
}

Kernels make_kernels(Tier tier) {
  return Kernels{tier,
                 optimizer_update_for(tier),
                 optimizer_update_packed_for(tier),
                 narrow_rows_for(tier),
                 init_fill_for(tier),
                 clip_kernels_for(tier),
                 nearest_rows_for(tier),
                 row_inverse_norms_for(tier),
                 index_kernels<int32_t>(tier),
                 index_kernels<uint32_t>(tier),
                 index_kernels<int64_t>(tier)};
}

}  // namespace

const Kernels& kernels_for(Tier tier) {
  static const Kernels tables[kTierCount] = {make_kernels(Tier::scalar), make_kernels(Tier::avx2),
                                             make_kernels(Tier::avx512), make_kernels(Tier::neon)};
  return tables[static_cast<int>(tier)];
}

}  // namespace nne
