// Optimizer kernels: the update rules of SGD, Adagrad, Adam/AdamW, SparseAdam and row-wise
// Adagrad over a whole table (dense step) or over coalesced rows (sparse step), and the
// coalescing of a sparse gradient's duplicate rows. The bodies are in optimizer_body.h, written
// once over vec_traits.h and instantiated per tier below.
#include "kernels.h"
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

OptimizerUpdateFn optimizer_update_for(Tier tier) {
  switch (tier) {
    case Tier::scalar: return scalar_tier::optimizer_update;
#if defined(NNE_X86_64)
    case Tier::avx2: return avx2_tier::optimizer_update;
    case Tier::avx512: return avx512_tier::optimizer_update;
#endif
#if defined(NNE_ARM64)
    case Tier::neon: return neon_tier::optimizer_update;
#endif
    default: return nullptr;
  }
}

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
