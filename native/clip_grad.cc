// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_): the norm of a gradient's
// values, and the values scaled or clamped in place. The bodies are in clip_grad_body.h, written
// once and instantiated per tier.
//
// The norm is one pass in a fixed order (lane_dot.h), never split, so that it is the same for any
// thread count; scaling and clamping are element by element and split over the thread pool in
// chunks of whole cache lines.
#include <cmath>

#include "kernels.h"
#include "parallel.h"

#define NNE_TIER_BODY "clip_grad_body.h"
#include "instantiate_tiers.h"

namespace nne {

namespace {

template <class Fn>
void for_value_chunks(int64_t n, const Fn& fn) {
  constexpr int64_t kAlign = 16;  // floats: one cache line
  for_chunks(n, plan_tasks(8 * n, n / kAlign, 4), kAlign, fn);
}

template <void (*kScale)(float*, int64_t, float)>
void scale_parallel(float* x, int64_t n, float factor) {
  for_value_chunks(n, [&](int64_t begin, int64_t end) { kScale(x + begin, end - begin, factor); });
}

template <void (*kClamp)(float*, int64_t, float, float)>
void clamp_parallel(float* x, int64_t n, float low, float high) {
  for_value_chunks(n, [&](int64_t begin, int64_t end) { kClamp(x + begin, end - begin, low, high); });
}

}  // namespace

ClipKernels clip_kernels_for(Tier tier) {
#define NNE_CLIP_KERNELS(tier_namespace)                                                        \
  ClipKernels{tier_namespace::span_norm, scale_parallel<tier_namespace::scale_span>, \
              clamp_parallel<tier_namespace::clamp_span>}
  NNE_SELECT_TIER(tier, NNE_CLIP_KERNELS)
#undef NNE_CLIP_KERNELS
}

}  // namespace nne
