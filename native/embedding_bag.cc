// EmbeddingBag kernels: fused lookup-and-reduce (sum, mean, weighted sum, max) straight into the
// output row, never materializing the looked-up rows, and their backward passes.
//
// The kernel bodies are written once, in embedding_bag_body.h, over a tier's vector traits; each
// tier below defines its traits side by side and instantiates the body inside its own namespace
// and target region, so this file stays compiled for the baseline ISA like every other. Results
// are bit-identical across tiers: the arithmetic per output element is the same (float adds in
// entry order, multiply then add, one division for mean) whatever the vector width.
#include <cstring>

#include "kernels.h"

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
struct Vec {
  using V = float;
  using I = int32_t;
  using Mask = bool;
  static constexpr int kWidth = 1;
  static V zero() { return 0.0f; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V load_partial(const float*, int) { return 0.0f; }  // never called: width 1 has no partial vector
  static void store_partial(float*, V, int) {}
  static V broadcast(float x) { return x; }
  static V add(V a, V b) { return a + b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static Mask greater(V a, V b) { return a > b; }
  static V select(Mask m, V a, V b) { return m ? a : b; }
  static I ibroadcast(int32_t x) { return x; }
  static I iselect(Mask m, I a, I b) { return m ? a : b; }
  static void istore(int32_t* p, I v) { *p = v; }
};
#include "embedding_bag_body.h"
}  // namespace scalar_tier

#if defined(NNE_X86_64)
NNE_BEGIN_TARGET_AVX2
namespace avx2_tier {
struct Vec {
  using V = __m256;
  using I = __m256i;
  using Mask = __m256;
  static constexpr int kWidth = 8;
  static __m256i lanes_below(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V load_partial(const float* p, int n) { return _mm256_maskload_ps(p, lanes_below(n)); }
  static void store_partial(float* p, V v, int n) { _mm256_maskstore_ps(p, lanes_below(n), v); }
  static V broadcast(float x) { return _mm256_set1_ps(x); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static Mask greater(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static V select(Mask m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
  static I ibroadcast(int32_t x) { return _mm256_set1_epi32(x); }
  static I iselect(Mask m, I a, I b) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m));
  }
  static void istore(int32_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
};
#include "embedding_bag_body.h"
}  // namespace avx2_tier
NNE_END_TARGET

NNE_BEGIN_TARGET_AVX512
namespace avx512_tier {
struct Vec {
  using V = __m512;
  using I = __m512i;
  using Mask = __mmask16;
  static constexpr int kWidth = 16;
  static __mmask16 lanes_below(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(lanes_below(n), p); }
  static void store_partial(float* p, V v, int n) { _mm512_mask_storeu_ps(p, lanes_below(n), v); }
  static V broadcast(float x) { return _mm512_set1_ps(x); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static Mask greater(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static V select(Mask m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
  static I ibroadcast(int32_t x) { return _mm512_set1_epi32(x); }
  static I iselect(Mask m, I a, I b) { return _mm512_mask_blend_epi32(m, b, a); }
  static void istore(int32_t* p, I v) { _mm512_storeu_si512(p, v); }
};
#include "embedding_bag_body.h"
}  // namespace avx512_tier
NNE_END_TARGET
#endif

#if defined(NNE_ARM64)
namespace neon_tier {
struct Vec {
  using V = float32x4_t;
  using I = int32x4_t;
  using Mask = uint32x4_t;
  static constexpr int kWidth = 4;
  static V zero() { return vdupq_n_f32(0.0f); }
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V load_partial(const float* p, int n) {
    float lanes[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    std::memcpy(lanes, p, static_cast<size_t>(n) * sizeof(float));
    return vld1q_f32(lanes);
  }
  static void store_partial(float* p, V v, int n) {
    float lanes[4];
    vst1q_f32(lanes, v);
    std::memcpy(p, lanes, static_cast<size_t>(n) * sizeof(float));
  }
  static V broadcast(float x) { return vdupq_n_f32(x); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V div(V a, V b) { return vdivq_f32(a, b); }
  static Mask greater(V a, V b) { return vcgtq_f32(a, b); }
  static V select(Mask m, V a, V b) { return vbslq_f32(m, a, b); }
  static I ibroadcast(int32_t x) { return vdupq_n_s32(x); }
  static I iselect(Mask m, I a, I b) { return vbslq_s32(m, a, b); }
  static void istore(int32_t* p, I v) { vst1q_s32(p, v); }
};
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
