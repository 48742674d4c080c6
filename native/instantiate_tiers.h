// Instantiates one kernel body for every tier: a kernel file defines NNE_TIER_BODY as its body's
// header name and includes this file, which includes the body once inside each tier's namespace
// (scalar_tier, avx2_tier, avx512_tier, neon_tier) and target region, where `Vec` is that tier's
// vector traits (vec_traits.h). The kernel file itself stays compiled for the baseline ISA, and
// picks a tier's instance with NNE_SELECT_TIER or NNE_INDEX_KERNEL_FOR (below). NNE_SCALAR_TIER is
// defined while the scalar instance is included. No include guard: each kernel file includes it
// once.
#if !defined(NNE_TIER_BODY)
#error "define NNE_TIER_BODY as the kernel body's header before including instantiate_tiers.h"
#endif

#include "vec_traits.h"

namespace nne {

namespace scalar_tier {
#define NNE_SCALAR_TIER 1
#include NNE_TIER_BODY
#undef NNE_SCALAR_TIER
}  // namespace scalar_tier

#if defined(NNE_X86_64)
NNE_BEGIN_TARGET_AVX2
namespace avx2_tier {
#include NNE_TIER_BODY
}  // namespace avx2_tier
NNE_END_TARGET

NNE_BEGIN_TARGET_AVX512
namespace avx512_tier {
#include NNE_TIER_BODY
}  // namespace avx512_tier
NNE_END_TARGET
#endif

#if defined(NNE_ARM64)
namespace neon_tier {
#include NNE_TIER_BODY
}  // namespace neon_tier
#endif

}  // namespace nne

#undef NNE_TIER_BODY

#if !defined(NNE_SELECT_TIER)
// The body of an operation's dispatch: returns PICK(namespace) for the tier's namespace (PICK is a
// macro naming that tier's instance of the operation), or an empty (null) value for a tier this
// architecture does not compile.
#define NNE_SELECT_TIER(tier, PICK)                    \
  switch (tier) {                                      \
    case ::nne::Tier::scalar: return PICK(scalar_tier); \
    NNE_SELECT_X86_TIERS(PICK)                         \
    NNE_SELECT_ARM64_TIERS(PICK)                       \
    default: return {};                                \
  }
#if defined(NNE_X86_64)
#define NNE_SELECT_X86_TIERS(PICK)                  \
  case ::nne::Tier::avx2: return PICK(avx2_tier); \
  case ::nne::Tier::avx512: return PICK(avx512_tier);
#else
#define NNE_SELECT_X86_TIERS(PICK)
#endif
#if defined(NNE_ARM64)
#define NNE_SELECT_ARM64_TIERS(PICK) case ::nne::Tier::neon: return PICK(neon_tier);
#else
#define NNE_SELECT_ARM64_TIERS(PICK)
#endif

// Defines an operation's dispatch over index types, `template <class Index> Result<Index>
// name(Tier)` (kernels.h declares it), with NNE_SELECT_TIER, and instantiates it for every index
// type. PICK may use Index.
#define NNE_INDEX_KERNEL_FOR(Result, name, PICK)                                \
  template <class Index>                                                        \
  Result<Index> name(Tier tier) {                                               \
    NNE_SELECT_TIER(tier, PICK)                                                 \
  }                                                                             \
  template Result<int32_t> name<int32_t>(Tier);                                 \
  template Result<uint32_t> name<uint32_t>(Tier);                               \
  template Result<int64_t> name<int64_t>(Tier);
#endif
