// Gradient clipping (clip_grad.cc), written once and included once per tier, inside the tier's
// namespace and target region (instantiate_tiers.h), where the compiler vectorizes the loops for
// the tier. No include guard.

#include "lane_dot.h"

// The p-norm of n floats: p = 1 and 2 in lane_dot.h's eight-lane double order, other finite p
// through pow() (row_norm), inf as the largest |x| where, unlike row_norm's (renorm's), a NaN
// anywhere gives NaN: torch's clip_grad_norm_ takes abs().max(), which propagates it.
inline double span_norm(const float* x, int64_t n, double p) {
  if (!std::isinf(p)) return row_norm(x, n, p);
  float largest = 0.0f;
  bool nan = false;
  for (int64_t j = 0; j < n; ++j) {
    const float a = std::fabs(x[j]);
    nan |= a != a;
    largest = a > largest ? a : largest;
  }
  return nan ? static_cast<double>(NAN) : static_cast<double>(largest);
}

// x[j] *= factor: one float32 product each (torch's grad.mul_(clip_coef)).
inline void scale_span(float* x, int64_t n, float factor) {
  for (int64_t j = 0; j < n; ++j) x[j] *= factor;
}

// x[j] = clamp(x[j], low, high), a NaN kept (torch's clamp_).
inline void clamp_span(float* x, int64_t n, float low, float high) {
  for (int64_t j = 0; j < n; ++j) {
    const float v = x[j];
    x[j] = v < low ? low : v > high ? high : v;
  }
}
