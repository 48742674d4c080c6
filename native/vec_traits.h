// Per-tier vector traits: the vocabulary kernel bodies written once over `Vec` use (see
// embedding_bag_body.h, optimizer_body.h). Each tier's Vec lives in its own namespace, inside that
// tier's target region; a kernel file includes its body inside the same namespaces and regions.
//   V, kWidth, zero, load, store, load_partial(p, n), store_partial(p, v, n) (first n < kWidth
//   lanes), broadcast, add, sub, mul, div, sqrt, max(a, b) (a > b ? a : b); Mask,
//   greater(a, b) (ordered a > b), select(m, a, b); I (int32 lanes), ibroadcast, iselect, istore.
// Every operation is one IEEE float32 operation per lane, so all tiers round alike.
#pragma once

#include <cmath>
#include <cstring>

#include "simd.h"

namespace nne {

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
  static V sub(V a, V b) { return a - b; }
  static V sqrt(V a) { return std::sqrt(a); }
  static V max(V a, V b) { return a > b ? a : b; }  // like torch.maximum for non-NaN
  static V div(V a, V b) { return a / b; }
  static Mask greater(V a, V b) { return a > b; }
  static V select(Mask m, V a, V b) { return m ? a : b; }
  static I ibroadcast(int32_t x) { return x; }
  static I iselect(Mask m, I a, I b) { return m ? a : b; }
  static void istore(int32_t* p, I v) { *p = v; }
};
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
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V sqrt(V a) { return _mm256_sqrt_ps(a); }
  static V max(V a, V b) { return _mm256_blendv_ps(b, a, _mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static Mask greater(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static V select(Mask m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
  static I ibroadcast(int32_t x) { return _mm256_set1_epi32(x); }
  static I iselect(Mask m, I a, I b) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m));
  }
  static void istore(int32_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
};
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
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  // maskz form: GCC 12 warns about the undefined source operand of the plain form.
  static V sqrt(V a) { return _mm512_maskz_sqrt_ps(static_cast<__mmask16>(0xffff), a); }
  static V max(V a, V b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), b, a); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static Mask greater(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static V select(Mask m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
  static I ibroadcast(int32_t x) { return _mm512_set1_epi32(x); }
  static I iselect(Mask m, I a, I b) { return _mm512_mask_blend_epi32(m, b, a); }
  static void istore(int32_t* p, I v) { _mm512_storeu_si512(p, v); }
};
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
  // NEON has no masked load or store: partial vectors go through a small buffer.
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
  static V sub(V a, V b) { return vsubq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V div(V a, V b) { return vdivq_f32(a, b); }
  static V sqrt(V a) { return vsqrtq_f32(a); }
  static V max(V a, V b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
  static Mask greater(V a, V b) { return vcgtq_f32(a, b); }
  static V select(Mask m, V a, V b) { return vbslq_f32(m, a, b); }
  static I ibroadcast(int32_t x) { return vdupq_n_s32(x); }
  static I iselect(Mask m, I a, I b) { return vbslq_s32(m, a, b); }
  static void istore(int32_t* p, I v) { vst1q_s32(p, v); }
};
}  // namespace neon_tier
#endif

}  // namespace nne
