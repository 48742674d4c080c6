// Table initializers (torch.nn.init's normal_, uniform_ and trunc_normal_; xavier_* and the
// layers' init options reduce to these in src/init.ts): a counter-based generator, so element i
// depends only on the seed and i. The body is in init_body.h, written once over vec_traits.h and
// instantiated per tier below; a large fill is split over the thread pool in chunks, and gives the
// same bits however it is split.
#include <cstdint>

#include "kernels.h"
#include "parallel.h"

#define NNE_TIER_BODY "init_body.h"
#include "instantiate_tiers.h"

namespace nne {

namespace {

using FillFn = void (*)(const InitParams& p, float* out, uint64_t start, int64_t count);

template <FillFn kFill>
void init_fill_parallel(const InitParams& p, float* out, uint64_t start, int64_t count) {
  // Compute-bound: count each element as 64 bytes of work, so that fills of a few thousand
  // elements stay on the calling thread and large ones use every thread.
  constexpr int64_t kAlign = 64;  // elements: whole cache lines and whole pairs per task
  for_chunks(count, plan_tasks(count * 64, count / kAlign, 4), kAlign, [&](int64_t begin, int64_t end) {
    kFill(p, out + begin, start + static_cast<uint64_t>(begin), end - begin);
  });
}

}  // namespace

InitFillFn init_fill_for(Tier tier) {
#define NNE_INIT_FILL(tier_namespace) init_fill_parallel<tier_namespace::init_fill>
  NNE_SELECT_TIER(tier, NNE_INIT_FILL)
#undef NNE_INIT_FILL
}

}  // namespace nne
