// Table initializers (torch.nn.init's normal_, uniform_ and trunc_normal_; xavier_* and the
// layers' init options reduce to these in src/init.ts): a counter-based generator, so element i
// depends only on the seed and i. The body is in init_body.h, written once over vec_traits.h and
// instantiated per tier below; a large fill is split over the thread pool in chunks, and gives the
// same bits however it is split.
#include <cstdint>

#include "kernels.h"
#include "parallel.h"
#include "vec_traits.h"

namespace nne {

namespace scalar_tier {
#define NNE_INIT_SCALAR_TIER 1
#include "init_body.h"
#undef NNE_INIT_SCALAR_TIER
}  // namespace scalar_tier

#if defined(NNE_X86_64)
NNE_BEGIN_TARGET_AVX2
namespace avx2_tier {
#include "init_body.h"
}  // namespace avx2_tier
NNE_END_TARGET

NNE_BEGIN_TARGET_AVX512
namespace avx512_tier {
#include "init_body.h"
}  // namespace avx512_tier
NNE_END_TARGET
#endif

#if defined(NNE_ARM64)
namespace neon_tier {
#include "init_body.h"
}  // namespace neon_tier
#endif

namespace {

using FillFn = void (*)(const InitParams& p, float* out, uint64_t start, int64_t count);

template <FillFn kFill>
void init_fill_parallel(const InitParams& p, float* out, uint64_t start, int64_t count) {
  // Compute-bound: count each element as 64 bytes of work, so that fills of a few thousand
  // elements stay on the calling thread and large ones use every thread.
  constexpr int64_t kAlign = 64;  // elements: whole cache lines and whole pairs per task
  const int64_t tasks = plan_tasks(count * 64, count / kAlign, 4);
  if (tasks == 1) {
    kFill(p, out, start, count);
    return;
  }
  parallel_for(tasks, [&](int64_t task) {
    const int64_t begin = chunk_bound(count, tasks, task, kAlign);
    const int64_t end = chunk_bound(count, tasks, task + 1, kAlign);
    kFill(p, out + begin, start + static_cast<uint64_t>(begin), end - begin);
  });
}

}  // namespace

InitFillFn init_fill_for(Tier tier) {
  switch (tier) {
    case Tier::scalar: return init_fill_parallel<scalar_tier::init_fill>;
#if defined(NNE_X86_64)
    case Tier::avx2: return init_fill_parallel<avx2_tier::init_fill>;
    case Tier::avx512: return init_fill_parallel<avx512_tier::init_fill>;
#endif
#if defined(NNE_ARM64)
    case Tier::neon: return init_fill_parallel<neon_tier::init_fill>;
#endif
    default: return nullptr;
  }
}

}  // namespace nne
