// Renorm (Embedding's max_norm): torch.embedding_renorm_. Each distinct looked-up row whose
// p-norm exceeds max_norm is scaled in place by float(max_norm / (norm + 1e-7)).
//
// The 1- and 2-norms are accumulated in double, in eight lanes: element j goes to lane j % 8,
// each lane adds in order of j, and the lanes are combined by the fixed tree
// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). Every tier (and the TypeScript backend)
// follows exactly that order, so they agree to the bit. The inf-norm is a max and needs no
// order; other p go through pow(), scalar, in every tier.
//
// Large calls are split over the thread pool by row (parallel.h): each task reads every index and
// handles the rows of its range, whose bounds are multiples of 8 so that each byte of the seen
// bitmap belongs to one task. Each row's scaling depends on that row alone.
#include <cmath>

#include "kernels.h"
#include "parallel.h"

namespace nne {

namespace {

enum class NormKind { abs_sum, square_sum };

inline double reduce_lanes(const double lanes[8]) {
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// Adds elements [from, dim) of row to the lanes, element j into lane j % 8; from is a
// multiple of 8. The tail of every tier and the whole of the scalar tier.
inline void accumulate_lanes_scalar(const float* row, int64_t from, int64_t dim, NormKind kind,
                                    double lanes[8]) {
  for (int64_t j = from; j < dim; ++j) {
    const double x = static_cast<double>(row[j]);
    lanes[j & 7] += kind == NormKind::square_sum ? x * x : std::fabs(x);
  }
}

double lane_sum_scalar(const float* row, int64_t dim, NormKind kind) {
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  accumulate_lanes_scalar(row, 0, dim, kind, lanes);
  return reduce_lanes(lanes);
}

#if defined(NNE_X86_64)
NNE_TARGET_AVX2 double lane_sum_avx2(const float* row, int64_t dim, NormKind kind) {
  const int64_t blocks8 = dim & ~int64_t{7};
  const __m256d sign = _mm256_set1_pd(-0.0);
  __m256d low = _mm256_setzero_pd();   // lanes 0..3
  __m256d high = _mm256_setzero_pd();  // lanes 4..7
  for (int64_t j = 0; j < blocks8; j += 8) {
    const __m256 x = _mm256_loadu_ps(row + j);
    const __m256d x_low = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
    const __m256d x_high = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    if (kind == NormKind::square_sum) {
      low = _mm256_add_pd(low, _mm256_mul_pd(x_low, x_low));
      high = _mm256_add_pd(high, _mm256_mul_pd(x_high, x_high));
    } else {
      low = _mm256_add_pd(low, _mm256_andnot_pd(sign, x_low));
      high = _mm256_add_pd(high, _mm256_andnot_pd(sign, x_high));
    }
  }
  alignas(32) double lanes[8];
  _mm256_store_pd(lanes, low);
  _mm256_store_pd(lanes + 4, high);
  accumulate_lanes_scalar(row, blocks8, dim, kind, lanes);
  return reduce_lanes(lanes);
}

NNE_TARGET_AVX512 double lane_sum_avx512(const float* row, int64_t dim, NormKind kind) {
  const int64_t blocks8 = dim & ~int64_t{7};
  __m512d acc = _mm512_setzero_pd();  // lanes 0..7
  for (int64_t j = 0; j < blocks8; j += 8) {
    // maskz form: GCC 12 warns about the undefined source operand of the plain form.
    const __m512d x = _mm512_maskz_cvtps_pd(0xff, _mm256_loadu_ps(row + j));
    acc = _mm512_add_pd(acc, kind == NormKind::square_sum ? _mm512_mul_pd(x, x) : _mm512_abs_pd(x));
  }
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, acc);
  accumulate_lanes_scalar(row, blocks8, dim, kind, lanes);
  return reduce_lanes(lanes);
}
#endif

#if defined(NNE_ARM64)
double lane_sum_neon(const float* row, int64_t dim, NormKind kind) {
  const int64_t blocks8 = dim & ~int64_t{7};
  float64x2_t acc[4] = {vdupq_n_f64(0), vdupq_n_f64(0), vdupq_n_f64(0), vdupq_n_f64(0)};
  for (int64_t j = 0; j < blocks8; j += 8) {
    const float32x4_t a = vld1q_f32(row + j);
    const float32x4_t b = vld1q_f32(row + j + 4);
    const float64x2_t x[4] = {vcvt_f64_f32(vget_low_f32(a)), vcvt_high_f64_f32(a),
                              vcvt_f64_f32(vget_low_f32(b)), vcvt_high_f64_f32(b)};
    for (int k = 0; k < 4; ++k) {
      acc[k] = vaddq_f64(acc[k], kind == NormKind::square_sum ? vmulq_f64(x[k], x[k]) : vabsq_f64(x[k]));
    }
  }
  double lanes[8];
  for (int k = 0; k < 4; ++k) vst1q_f64(lanes + 2 * k, acc[k]);
  accumulate_lanes_scalar(row, blocks8, dim, kind, lanes);
  return reduce_lanes(lanes);
}
#endif

using LaneSumFn = double (*)(const float* row, int64_t dim, NormKind kind);

template <LaneSumFn lane_sum>
double row_norm(const float* row, int64_t dim, double p) {
  if (p == 2.0) return std::sqrt(lane_sum(row, dim, NormKind::square_sum));
  if (p == 1.0) return lane_sum(row, dim, NormKind::abs_sum);
  if (std::isinf(p)) {
    // The same as largest = fmax(largest, |x|) (a NaN never compares greater, so it is
    // skipped, as fmax skips it), spelled as a comparison: GCC 12 for aarch64 crashes
    // (internal compiler error in vect_transform_reduction) vectorizing an fmax reduction
    // over floats widened to double.
    double largest = 0.0;
    for (int64_t j = 0; j < dim; ++j) {
      const double x = std::fabs(static_cast<double>(row[j]));
      if (x > largest) largest = x;
    }
    return largest;
  }
  double sum = 0.0;
  for (int64_t j = 0; j < dim; ++j) sum += std::pow(std::fabs(static_cast<double>(row[j])), p);
  return std::pow(sum, 1.0 / p);
}

template <class Index, LaneSumFn lane_sum>
void renorm_rows(float* weight, int64_t dim, const Index* indices, int64_t count, double max_norm,
                 double norm_type, uint8_t* seen, RowRange rows) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = static_cast<int64_t>(indices[i]);
    if (!rows.contains(row)) continue;
    const uint8_t bit = static_cast<uint8_t>(1u << (row & 7));
    if (seen[row >> 3] & bit) continue;
    seen[row >> 3] |= bit;
    float* values = weight + row * dim;
    // torch reads the norm back from a float tensor, so it is compared and used as a float.
    const float norm = static_cast<float>(row_norm<lane_sum>(values, dim, norm_type));
    if (static_cast<double>(norm) > max_norm) {
      const float scale = static_cast<float>(max_norm / (static_cast<double>(norm) + 1e-7));
      for (int64_t j = 0; j < dim; ++j) values[j] *= scale;
    }
  }
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = static_cast<int64_t>(indices[i]);
    if (rows.contains(row)) seen[row >> 3] = 0;
  }
}

template <class Index>
using RenormRangeFn = void (*)(float* weight, int64_t dim, const Index* indices, int64_t count, double max_norm,
                               double norm_type, uint8_t* seen, RowRange rows);

template <class Index, RenormRangeFn<Index> kKernel>
void renorm_parallel(float* weight, int64_t dim, const Index* indices, int64_t count, double max_norm,
                     double norm_type, uint8_t* seen) {
  // Bytes read (each row's norm) and, at most, written; norms other than 1, 2 and inf cost a pow()
  // per element, counted as 16 bytes more.
  const int64_t per_element = norm_type == 1.0 || norm_type == 2.0 || std::isinf(norm_type) ? 8 : 24;
  const int64_t tasks = plan_tasks(per_element * count * dim, count);
  if (tasks == 1) {
    kKernel(weight, dim, indices, count, max_norm, norm_type, seen, kAllRows);
    return;
  }
  int64_t bounds[kMaxParts + 1];
  row_bounds(indices, count, tasks, 8, bounds);
  parallel_for(tasks, [&](int64_t task) {
    kKernel(weight, dim, indices, count, max_norm, norm_type, seen, RowRange{bounds[task], bounds[task + 1]});
  });
}

}  // namespace

template <class Index>
RenormFn<Index> renorm_for(Tier tier) {
  switch (tier) {
    case Tier::scalar: return renorm_parallel<Index, renorm_rows<Index, lane_sum_scalar>>;
#if defined(NNE_X86_64)
    case Tier::avx2: return renorm_parallel<Index, renorm_rows<Index, lane_sum_avx2>>;
    case Tier::avx512: return renorm_parallel<Index, renorm_rows<Index, lane_sum_avx512>>;
#endif
#if defined(NNE_ARM64)
    case Tier::neon: return renorm_parallel<Index, renorm_rows<Index, lane_sum_neon>>;
#endif
    default: return nullptr;
  }
}

template RenormFn<int32_t> renorm_for<int32_t>(Tier);
template RenormFn<uint32_t> renorm_for<uint32_t>(Tier);
template RenormFn<int64_t> renorm_for<int64_t>(Tier);

}  // namespace nne
