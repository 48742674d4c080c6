// Scatter-add (the dense backward pass of Embedding): grad[indices[i]] += scale[i] * grad_output[i].
// Entries are applied strictly in order of i, so duplicate indices accumulate in input order
// and the result is bit-identical on every run and every tier. A scaled update is a multiply
// then an add, two roundings, never a fused multiply-add, so that every tier and the
// TypeScript backend round alike.
//
// Large scatter-adds are split over the thread pool by destination row (parallel.h): each task
// reads every entry in order and applies those whose row is in its range, so each row still
// receives its updates in order of i, from one thread. The kernels below take that range and
// work a block of entries at a time: first the positions of the block's entries to apply
// (branch-free), then those entries, prefetching rows a few selected entries ahead (the first
// few as soon as the block is selected, so that their misses overlap).
#include "kernels.h"
#include "parallel.h"

namespace nne {

namespace {

// Entry k of a block: selected[k], or k itself when every entry is applied (kAll: one task over
// all rows, whose kernels skip the selection pass and check skip_row as they go).
template <bool kAll>
inline int64_t entry(const int32_t* selected, int64_t k) { return kAll ? k : selected[k]; }

inline bool is_all(RowRange rows) { return rows.begin == kAllRows.begin && rows.end == kAllRows.end; }

template <class Index, bool kAll>
void scatter_add_scalar_impl(float* grad, int64_t dim, const Index* indices, int64_t count,
                             const float* grad_output, const float* scale, int64_t skip_row, RowRange rows) {
  int32_t selected[kSelectBlock];
  for (int64_t start = 0; start < count; start += kAll ? count : kSelectBlock) {
    const int64_t n = kAll ? count : select_entries(indices, start, count, skip_row, rows, selected);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = start + entry<kAll>(selected, k);
      const int64_t row = static_cast<int64_t>(indices[i]);
      if (kAll && row == skip_row) continue;
      float* dst = grad + row * dim;
      const float* src = grad_output + i * dim;
      if (scale != nullptr) {
        const float s = scale[i];
        for (int64_t j = 0; j < dim; ++j) dst[j] = dst[j] + s * src[j];
      } else {
        for (int64_t j = 0; j < dim; ++j) dst[j] = dst[j] + src[j];
      }
    }
  }
}

template <class Index>
void scatter_add_scalar(float* grad, int64_t dim, const Index* indices, int64_t count, const float* grad_output,
                        const float* scale, int64_t skip_row, RowRange rows) {
  (is_all(rows) ? scatter_add_scalar_impl<Index, true> : scatter_add_scalar_impl<Index, false>)(
      grad, dim, indices, count, grad_output, scale, skip_row, rows);
}

#if defined(NNE_X86_64)
template <class Index, bool kScaled, bool kAll>
NNE_TARGET_AVX2 void scatter_add_avx2_impl(float* grad, int64_t dim, const Index* indices,
                                           int64_t count, const float* grad_output,
                                           const float* scale, int64_t skip_row, RowRange rows) {
  const int64_t blocks32 = dim & ~int64_t{31};
  const int64_t blocks8 = dim & ~int64_t{7};
  const int tail = static_cast<int>(dim - blocks8);
  const __m256i tail_mask =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  int32_t selected[kSelectBlock];
  for (int64_t start = 0; start < count; start += kAll ? count : kSelectBlock) {
    const int64_t n = kAll ? count : select_entries(indices, start, count, skip_row, rows, selected);
    for (int64_t k = 0; k < kPrefetchRows && k < n; ++k) {
      prefetch_row_for_write(grad + static_cast<int64_t>(indices[start + entry<kAll>(selected, k)]) * dim, dim);
    }
    for (int64_t k = 0; k < n; ++k) {
      if (k + kPrefetchRows < n) {
        const int64_t ahead = start + entry<kAll>(selected, k + kPrefetchRows);
        prefetch_row_for_write(grad + static_cast<int64_t>(indices[ahead]) * dim, dim);
      }
      const int64_t i = start + entry<kAll>(selected, k);
      const int64_t row = static_cast<int64_t>(indices[i]);
      if (kAll && row == skip_row) continue;
      float* dst = grad + row * dim;
      const float* src = grad_output + i * dim;
      const __m256 s = _mm256_set1_ps(kScaled ? scale[i] : 1.0f);
      auto update = [&](__m256 d, __m256 g) NNE_TARGET_AVX2 {
        return kScaled ? _mm256_add_ps(d, _mm256_mul_ps(s, g)) : _mm256_add_ps(d, g);
      };
      int64_t j = 0;
      for (; j < blocks32; j += 32) {
        const __m256 a = update(_mm256_loadu_ps(dst + j), _mm256_loadu_ps(src + j));
        const __m256 b = update(_mm256_loadu_ps(dst + j + 8), _mm256_loadu_ps(src + j + 8));
        const __m256 c = update(_mm256_loadu_ps(dst + j + 16), _mm256_loadu_ps(src + j + 16));
        const __m256 d = update(_mm256_loadu_ps(dst + j + 24), _mm256_loadu_ps(src + j + 24));
        _mm256_storeu_ps(dst + j, a);
        _mm256_storeu_ps(dst + j + 8, b);
        _mm256_storeu_ps(dst + j + 16, c);
        _mm256_storeu_ps(dst + j + 24, d);
      }
      for (; j < blocks8; j += 8) {
        _mm256_storeu_ps(dst + j, update(_mm256_loadu_ps(dst + j), _mm256_loadu_ps(src + j)));
      }
      if (tail != 0) {
        const __m256 d = _mm256_maskload_ps(dst + j, tail_mask);
        const __m256 g = _mm256_maskload_ps(src + j, tail_mask);
        _mm256_maskstore_ps(dst + j, tail_mask, update(d, g));
      }
    }
  }
}

template <class Index>
void scatter_add_avx2(float* grad, int64_t dim, const Index* indices, int64_t count,
                      const float* grad_output, const float* scale, int64_t skip_row, RowRange rows) {
  const bool all = is_all(rows);
  if (scale != nullptr) {
    (all ? scatter_add_avx2_impl<Index, true, true> : scatter_add_avx2_impl<Index, true, false>)(
        grad, dim, indices, count, grad_output, scale, skip_row, rows);
  } else {
    (all ? scatter_add_avx2_impl<Index, false, true> : scatter_add_avx2_impl<Index, false, false>)(
        grad, dim, indices, count, grad_output, scale, skip_row, rows);
  }
}

template <class Index, bool kScaled, bool kAll>
NNE_TARGET_AVX512 void scatter_add_avx512_impl(float* grad, int64_t dim, const Index* indices,
                                               int64_t count, const float* grad_output,
                                               const float* scale, int64_t skip_row, RowRange rows) {
  const int64_t blocks64 = dim & ~int64_t{63};
  const int64_t blocks16 = dim & ~int64_t{15};
  const __mmask16 tail_mask = static_cast<__mmask16>((1u << (dim - blocks16)) - 1u);
  int32_t selected[kSelectBlock];
  for (int64_t start = 0; start < count; start += kAll ? count : kSelectBlock) {
    const int64_t n = kAll ? count : select_entries(indices, start, count, skip_row, rows, selected);
    for (int64_t k = 0; k < kPrefetchRows && k < n; ++k) {
      prefetch_row_for_write(grad + static_cast<int64_t>(indices[start + entry<kAll>(selected, k)]) * dim, dim);
    }
    for (int64_t k = 0; k < n; ++k) {
      if (k + kPrefetchRows < n) {
        const int64_t ahead = start + entry<kAll>(selected, k + kPrefetchRows);
        prefetch_row_for_write(grad + static_cast<int64_t>(indices[ahead]) * dim, dim);
      }
      const int64_t i = start + entry<kAll>(selected, k);
      const int64_t row = static_cast<int64_t>(indices[i]);
      if (kAll && row == skip_row) continue;
      float* dst = grad + row * dim;
      const float* src = grad_output + i * dim;
      const __m512 s = _mm512_set1_ps(kScaled ? scale[i] : 1.0f);
      auto update = [&](__m512 d, __m512 g) NNE_TARGET_AVX512 {
        return kScaled ? _mm512_add_ps(d, _mm512_mul_ps(s, g)) : _mm512_add_ps(d, g);
      };
      int64_t j = 0;
      for (; j < blocks64; j += 64) {
        const __m512 a = update(_mm512_loadu_ps(dst + j), _mm512_loadu_ps(src + j));
        const __m512 b = update(_mm512_loadu_ps(dst + j + 16), _mm512_loadu_ps(src + j + 16));
        const __m512 c = update(_mm512_loadu_ps(dst + j + 32), _mm512_loadu_ps(src + j + 32));
        const __m512 d = update(_mm512_loadu_ps(dst + j + 48), _mm512_loadu_ps(src + j + 48));
        _mm512_storeu_ps(dst + j, a);
        _mm512_storeu_ps(dst + j + 16, b);
        _mm512_storeu_ps(dst + j + 32, c);
        _mm512_storeu_ps(dst + j + 48, d);
      }
      for (; j < blocks16; j += 16) {
        _mm512_storeu_ps(dst + j, update(_mm512_loadu_ps(dst + j), _mm512_loadu_ps(src + j)));
      }
      if (tail_mask != 0) {
        const __m512 d = _mm512_maskz_loadu_ps(tail_mask, dst + j);
        const __m512 g = _mm512_maskz_loadu_ps(tail_mask, src + j);
        _mm512_mask_storeu_ps(dst + j, tail_mask, update(d, g));
      }
    }
  }
}

template <class Index>
void scatter_add_avx512(float* grad, int64_t dim, const Index* indices, int64_t count,
                        const float* grad_output, const float* scale, int64_t skip_row, RowRange rows) {
  const bool all = is_all(rows);
  if (scale != nullptr) {
    (all ? scatter_add_avx512_impl<Index, true, true> : scatter_add_avx512_impl<Index, true, false>)(
        grad, dim, indices, count, grad_output, scale, skip_row, rows);
  } else {
    (all ? scatter_add_avx512_impl<Index, false, true> : scatter_add_avx512_impl<Index, false, false>)(
        grad, dim, indices, count, grad_output, scale, skip_row, rows);
  }
}
#endif

#if defined(NNE_ARM64)
template <class Index, bool kScaled, bool kAll>
void scatter_add_neon_impl(float* grad, int64_t dim, const Index* indices, int64_t count,
                           const float* grad_output, const float* scale, int64_t skip_row, RowRange rows) {
  const int64_t blocks4 = dim & ~int64_t{3};
  int32_t selected[kSelectBlock];
  for (int64_t start = 0; start < count; start += kAll ? count : kSelectBlock) {
    const int64_t n = kAll ? count : select_entries(indices, start, count, skip_row, rows, selected);
    for (int64_t k = 0; k < kPrefetchRows && k < n; ++k) {
      prefetch_row_for_write(grad + static_cast<int64_t>(indices[start + entry<kAll>(selected, k)]) * dim, dim);
    }
    for (int64_t k = 0; k < n; ++k) {
      if (k + kPrefetchRows < n) {
        const int64_t ahead = start + entry<kAll>(selected, k + kPrefetchRows);
        prefetch_row_for_write(grad + static_cast<int64_t>(indices[ahead]) * dim, dim);
      }
      const int64_t i = start + entry<kAll>(selected, k);
      const int64_t row = static_cast<int64_t>(indices[i]);
      if (kAll && row == skip_row) continue;
      float* dst = grad + row * dim;
      const float* src = grad_output + i * dim;
      const float s = kScaled ? scale[i] : 1.0f;
      const float32x4_t sv = vdupq_n_f32(s);
      int64_t j = 0;
      for (; j < blocks4; j += 4) {
        const float32x4_t g = vld1q_f32(src + j);
        const float32x4_t d = vld1q_f32(dst + j);
        vst1q_f32(dst + j, kScaled ? vaddq_f32(d, vmulq_f32(sv, g)) : vaddq_f32(d, g));
      }
      for (; j < dim; ++j) dst[j] = kScaled ? dst[j] + s * src[j] : dst[j] + src[j];
    }
  }
}

template <class Index>
void scatter_add_neon(float* grad, int64_t dim, const Index* indices, int64_t count,
                      const float* grad_output, const float* scale, int64_t skip_row, RowRange rows) {
  const bool all = is_all(rows);
  if (scale != nullptr) {
    (all ? scatter_add_neon_impl<Index, true, true> : scatter_add_neon_impl<Index, true, false>)(
        grad, dim, indices, count, grad_output, scale, skip_row, rows);
  } else {
    (all ? scatter_add_neon_impl<Index, false, true> : scatter_add_neon_impl<Index, false, false>)(
        grad, dim, indices, count, grad_output, scale, skip_row, rows);
  }
}
#endif

template <class Index>
using ScatterAddRangeFn = void (*)(float* grad, int64_t dim, const Index* indices, int64_t count,
                                   const float* grad_output, const float* scale, int64_t skip_row, RowRange rows);

template <class Index, ScatterAddRangeFn<Index> kKernel>
void scatter_add_parallel(float* grad, int64_t dim, const Index* indices, int64_t count, const float* grad_output,
                          const float* scale, int64_t skip_row) {
  const int64_t tasks = plan_tasks(12 * count * dim, count);  // bytes read and written
  if (tasks == 1) {
    kKernel(grad, dim, indices, count, grad_output, scale, skip_row, kAllRows);
    return;
  }
  int64_t bounds[kMaxParts + 1];
  row_bounds(indices, count, tasks, 1, bounds);
  parallel_for(tasks, [&](int64_t task) {
    kKernel(grad, dim, indices, count, grad_output, scale, skip_row, RowRange{bounds[task], bounds[task + 1]});
  });
}

}  // namespace

template <class Index>
ScatterAddFn<Index> scatter_add_for(Tier tier) {
  switch (tier) {
    case Tier::scalar: return scatter_add_parallel<Index, scatter_add_scalar<Index>>;
#if defined(NNE_X86_64)
    case Tier::avx2: return scatter_add_parallel<Index, scatter_add_avx2<Index>>;
    case Tier::avx512: return scatter_add_parallel<Index, scatter_add_avx512<Index>>;
#endif
#if defined(NNE_ARM64)
    case Tier::neon: return scatter_add_parallel<Index, scatter_add_neon<Index>>;
#endif
    default: return nullptr;
  }
}

template ScatterAddFn<int32_t> scatter_add_for<int32_t>(Tier);
template ScatterAddFn<uint32_t> scatter_add_for<uint32_t>(Tier);
template ScatterAddFn<int64_t> scatter_add_for<int64_t>(Tier);

}  // namespace nne
