// Row gather (the forward pass of Embedding): out[i] = weight[indices[i]].
// One function per tier, side by side. The scalar version is one memcpy per row, which is
// also the memory-bandwidth reference the benchmark measures against. Large gathers are split
// into contiguous chunks of entries over the thread pool (parallel.h).
#include <cstring>

#include "kernels.h"
#include "parallel.h"

namespace nne {

namespace {

// Prefetches every cache line of a row that will be read a few iterations from now.
inline void prefetch_row(const float* row, int64_t dim) {
  const char* bytes = reinterpret_cast<const char*>(row);
  const int64_t size = dim * static_cast<int64_t>(sizeof(float));
  for (int64_t offset = 0; offset < size; offset += 64) NNE_PREFETCH(bytes + offset);
}

template <class Index>
void gather_scalar(const float* weight, int64_t dim, const Index* indices, int64_t count,
                   float* out) {
  const size_t row_bytes = static_cast<size_t>(dim) * sizeof(float);
  for (int64_t i = 0; i < count; ++i) {
    std::memcpy(out + i * dim, weight + static_cast<int64_t>(indices[i]) * dim, row_bytes);
  }
}

#if defined(NNE_X86_64)
template <class Index>
NNE_TARGET_AVX2 void gather_avx2(const float* weight, int64_t dim, const Index* indices,
                                 int64_t count, float* out) {
  const int64_t blocks32 = dim & ~int64_t{31};
  const int64_t blocks8 = dim & ~int64_t{7};
  const int tail = static_cast<int>(dim - blocks8);
  const __m256i tail_mask =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int64_t i = 0; i < count; ++i) {
    if (i + kPrefetchRows < count) {
      prefetch_row(weight + static_cast<int64_t>(indices[i + kPrefetchRows]) * dim, dim);
    }
    const float* src = weight + static_cast<int64_t>(indices[i]) * dim;
    float* dst = out + i * dim;
    int64_t j = 0;
    for (; j < blocks32; j += 32) {
      const __m256 a = _mm256_loadu_ps(src + j);
      const __m256 b = _mm256_loadu_ps(src + j + 8);
      const __m256 c = _mm256_loadu_ps(src + j + 16);
      const __m256 d = _mm256_loadu_ps(src + j + 24);
      _mm256_storeu_ps(dst + j, a);
      _mm256_storeu_ps(dst + j + 8, b);
      _mm256_storeu_ps(dst + j + 16, c);
      _mm256_storeu_ps(dst + j + 24, d);
    }
    for (; j < blocks8; j += 8) _mm256_storeu_ps(dst + j, _mm256_loadu_ps(src + j));
    if (tail != 0) _mm256_maskstore_ps(dst + j, tail_mask, _mm256_maskload_ps(src + j, tail_mask));
  }
}

template <class Index>
NNE_TARGET_AVX512 void gather_avx512(const float* weight, int64_t dim, const Index* indices,
                                     int64_t count, float* out) {
  const int64_t blocks64 = dim & ~int64_t{63};
  const int64_t blocks16 = dim & ~int64_t{15};
  const __mmask16 tail_mask = static_cast<__mmask16>((1u << (dim - blocks16)) - 1u);
  for (int64_t i = 0; i < count; ++i) {
    if (i + kPrefetchRows < count) {
      prefetch_row(weight + static_cast<int64_t>(indices[i + kPrefetchRows]) * dim, dim);
    }
    const float* src = weight + static_cast<int64_t>(indices[i]) * dim;
    float* dst = out + i * dim;
    int64_t j = 0;
    for (; j < blocks64; j += 64) {
      const __m512 a = _mm512_loadu_ps(src + j);
      const __m512 b = _mm512_loadu_ps(src + j + 16);
      const __m512 c = _mm512_loadu_ps(src + j + 32);
      const __m512 d = _mm512_loadu_ps(src + j + 48);
      _mm512_storeu_ps(dst + j, a);
      _mm512_storeu_ps(dst + j + 16, b);
      _mm512_storeu_ps(dst + j + 32, c);
      _mm512_storeu_ps(dst + j + 48, d);
    }
    for (; j < blocks16; j += 16) _mm512_storeu_ps(dst + j, _mm512_loadu_ps(src + j));
    if (tail_mask != 0) {
      _mm512_mask_storeu_ps(dst + j, tail_mask, _mm512_maskz_loadu_ps(tail_mask, src + j));
    }
  }
}
#endif

#if defined(NNE_ARM64)
template <class Index>
void gather_neon(const float* weight, int64_t dim, const Index* indices, int64_t count,
                 float* out) {
  const int64_t blocks16 = dim & ~int64_t{15};
  const int64_t blocks4 = dim & ~int64_t{3};
  for (int64_t i = 0; i < count; ++i) {
    if (i + kPrefetchRows < count) {
      prefetch_row(weight + static_cast<int64_t>(indices[i + kPrefetchRows]) * dim, dim);
    }
    const float* src = weight + static_cast<int64_t>(indices[i]) * dim;
    float* dst = out + i * dim;
    int64_t j = 0;
    for (; j < blocks16; j += 16) {
      const float32x4_t a = vld1q_f32(src + j);
      const float32x4_t b = vld1q_f32(src + j + 4);
      const float32x4_t c = vld1q_f32(src + j + 8);
      const float32x4_t d = vld1q_f32(src + j + 12);
      vst1q_f32(dst + j, a);
      vst1q_f32(dst + j + 4, b);
      vst1q_f32(dst + j + 8, c);
      vst1q_f32(dst + j + 12, d);
    }
    for (; j < blocks4; j += 4) vst1q_f32(dst + j, vld1q_f32(src + j));
    for (; j < dim; ++j) dst[j] = src[j];
  }
}
#endif

// A tier's kernel over chunks of entries: each output row is written by exactly one task.
template <class Index, GatherFn<Index> kKernel>
void gather_parallel(const float* weight, int64_t dim, const Index* indices, int64_t count, float* out) {
  const int64_t tasks = plan_tasks(8 * count * dim, count, 4);  // bytes read and written
  if (tasks == 1) {
    kKernel(weight, dim, indices, count, out);
    return;
  }
  parallel_for(tasks, [&](int64_t task) {
    const int64_t begin = chunk_bound(count, tasks, task, 1);
    const int64_t end = chunk_bound(count, tasks, task + 1, 1);
    kKernel(weight, dim, indices + begin, end - begin, out + begin * dim);
  });
}

}  // namespace

template <class Index>
GatherFn<Index> gather_for(Tier tier) {
  switch (tier) {
    case Tier::scalar: return gather_parallel<Index, gather_scalar<Index>>;
#if defined(NNE_X86_64)
    case Tier::avx2: return gather_parallel<Index, gather_avx2<Index>>;
    case Tier::avx512: return gather_parallel<Index, gather_avx512<Index>>;
#endif
#if defined(NNE_ARM64)
    case Tier::neon: return gather_parallel<Index, gather_neon<Index>>;
#endif
    default: return nullptr;
  }
}

template GatherFn<int32_t> gather_for<int32_t>(Tier);
template GatherFn<uint32_t> gather_for<uint32_t>(Tier);
template GatherFn<int64_t> gather_for<int64_t>(Tier);

}  // namespace nne
