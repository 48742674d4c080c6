// EmbeddingBag kernels: fused lookup-and-reduce (sum, mean, weighted sum, max) straight into the
// output row, never materializing the looked-up rows, and their backward passes.
//
// The kernel bodies are written once, in embedding_bag_body.h, over a tier's vector traits
// (vec_traits.h); each tier instantiates the body inside its own namespace and target region, so
// this file stays compiled for the baseline ISA like every other. Results
// are bit-identical across tiers: the arithmetic per output element is the same (float adds in
// entry order, multiply then add, one division for mean) whatever the vector width.
#include <cstring>

#include "kernels.h"
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

template <class Index>
BagKernels<Index> bag_kernels_for(Tier tier) {
  switch (tier) {
    case Tier::scalar: return scalar_tier::bag_table<Index>();
#if defined(NNE_X86_64)
    case Tier::avx2: return avx2_tier::bag_table<Index>();
    case Tier::avx512: return avx512_tier::bag_table<Index>();
#endif
#if defined(NNE_ARM64)
    case Tier::neon: return neon_tier::bag_table<Index>();
#endif
    default: return BagKernels<Index>{nullptr, nullptr, nullptr, nullptr};
  }
}

template BagKernels<int32_t> bag_kernels_for<int32_t>(Tier);
template BagKernels<uint32_t> bag_kernels_for<uint32_t>(Tier);
template BagKernels<int64_t> bag_kernels_for<int64_t>(Tier);

}  // namespace nne
