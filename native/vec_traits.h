// Per-tier vector traits: the vocabulary every kernel body (native/*_body.h) is written in, once.
// Each tier's Vec lives in its own namespace, inside that tier's target region; a kernel file
// includes its body inside the same namespaces and regions (instantiate_tiers.h). Partial vectors
// (load_partial, store_partial) are how the bodies do a row's tail.
//   V, kWidth, zero, load, store, load_partial(p, n), store_partial(p, v, n) (first n < kWidth
//   lanes), broadcast, add, sub, mul, div, sqrt, max(a, b) (a > b ? a : b); Mask,
//   greater(a, b) (ordered a > b), select(m, a, b); I (int32 lanes), ibroadcast, iselect, istore.
//   The random-number kernels (init_body.h) add 32-bit integer lanes, wrapping: iota (0, 1, ..),
//   iadd, imul (low 32 bits of the product), ixor, iand, ior, ishr<k> (logical), ishl<k>, itof
//   (int32 to float, exact below 2^24), as_int / as_float (bit casts), neg (flip the sign bit),
//   nonzero(i) (a Mask of lanes != 0), min(a, b) (a > b ? b : a), store_interleaved(p, a, b)
//   (p[2j] = a[j], p[2j + 1] = b[j]).
//   Narrow tables (packed_rows.h) add half(bits) (one float16 widened, as widen_f16 widens it) and
//   loads of kWidth elements widened to float: widen_f16(p), widen_bf16(p) (16-bit floats,
//   exact), load_u8(p) (bytes as 0..255) and load_u4(codes, j) (the 4-bit codes j .. j + kWidth
//   of a row, two per byte, the even one in the low nibble; j is a multiple of kWidth).
//   Trained 16-bit tables add narrow_f16(p, v) and narrow_bf16(p, v): kWidth floats rounded to
//   nearest even into p[0, kWidth), to the bits of narrow_rounding.h's scalar functions (NaNs too).
//   D8: eight double lanes, lane_dot.h's sums (widen(p): floats p[0, 8) as doubles, add, sub, mul,
//   abs, load(double[8]), store(double[8]), fma(a, b, c) = a * b + c with one rounding (the same
//   double as add(mul(a, b), c) whenever a * b is exact, as a product of two floats is), and
//   reduce4(lanes, out): out[i] = ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) of lanes[i],
//   i < 4, lane_reduce's tree); the x86 tiers hold them in registers, the others in an array the
//   compiler vectorizes (GenericD8).
// Every operation is one IEEE float32 operation per lane, so all tiers round alike.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <cstring>

#include "half.h"
#include "narrow_rounding.h"
#include "simd.h"

namespace nne {

// Eight double lanes as an array: the D8 of the tiers without their own.
struct GenericD8 {
  double v[8];
  static GenericD8 load(const double* p) {
    GenericD8 r;
    for (int l = 0; l < 8; ++l) r.v[l] = p[l];
    return r;
  }
  static void store(double* p, const GenericD8& a) {
    for (int l = 0; l < 8; ++l) p[l] = a.v[l];
  }
  static GenericD8 widen(const float* p) {
    GenericD8 r;
    for (int l = 0; l < 8; ++l) r.v[l] = static_cast<double>(p[l]);
    return r;
  }
  static GenericD8 add(const GenericD8& a, const GenericD8& b) {
    GenericD8 r;
    for (int l = 0; l < 8; ++l) r.v[l] = a.v[l] + b.v[l];
    return r;
  }
  static GenericD8 mul(const GenericD8& a, const GenericD8& b) {
    GenericD8 r;
    for (int l = 0; l < 8; ++l) r.v[l] = a.v[l] * b.v[l];
    return r;
  }
  static GenericD8 abs(const GenericD8& a) {
    GenericD8 r;
    for (int l = 0; l < 8; ++l) r.v[l] = std::fabs(a.v[l]);
    return r;
  }
  static GenericD8 sub(const GenericD8& a, const GenericD8& b) {
    GenericD8 r;
    for (int l = 0; l < 8; ++l) r.v[l] = a.v[l] - b.v[l];
    return r;
  }
  // Products of floats are exact in double: multiply then add is the fused result.
  static GenericD8 fma(const GenericD8& a, const GenericD8& b, const GenericD8& c) { return add(mul(a, b), c); }
  static void reduce4(const GenericD8* lanes, double* out) {
    for (int i = 0; i < 4; ++i) {
      const double* l = lanes[i].v;
      out[i] = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    }
  }
};

namespace scalar_tier {
struct Vec {
  using D8 = GenericD8;
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
  static I iota() { return 0; }
  static I iadd(I a, I b) { return static_cast<I>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b)); }
  static I imul(I a, I b) { return static_cast<I>(static_cast<uint32_t>(a) * static_cast<uint32_t>(b)); }
  static I ixor(I a, I b) { return a ^ b; }
  static I iand(I a, I b) { return a & b; }
  static I ior(I a, I b) { return a | b; }
  template <int k> static I ishr(I a) { return static_cast<I>(static_cast<uint32_t>(a) >> k); }
  template <int k> static I ishl(I a) { return static_cast<I>(static_cast<uint32_t>(a) << k); }
  static V itof(I a) { return static_cast<float>(a); }
  static I as_int(V a) { I i; std::memcpy(&i, &a, sizeof i); return i; }
  static V as_float(I a) { V f; std::memcpy(&f, &a, sizeof f); return f; }
  static V neg(V a) { return as_float(as_int(a) ^ INT32_MIN); }
  static Mask nonzero(I a) { return a != 0; }
  static V min(V a, V b) { return a > b ? b : a; }
  static void store_interleaved(float* p, V a, V b) { p[0] = a; p[1] = b; }
  static float half(uint16_t bits) { return half_to_float(bits); }
  static V widen_f16(const uint16_t* p) { return half_to_float(*p); }
  static V widen_bf16(const uint16_t* p) { return bfloat16_to_float(*p); }
  static void narrow_f16(uint16_t* p, V v) { *p = float16_bits_nearest(float_bits(v)); }
  static void narrow_bf16(uint16_t* p, V v) { *p = bfloat16_bits_nearest(float_bits(v)); }
  static V load_u8(const uint8_t* p) { return static_cast<float>(*p); }
  static V load_u4(const uint8_t* codes, int64_t j) { return static_cast<float>((codes[j >> 1] >> ((j & 1) * 4)) & 15); }
};
}  // namespace scalar_tier

#if defined(NNE_X86_64)
NNE_BEGIN_TARGET_AVX2
namespace avx2_tier {
// Eight double lanes in two registers: lanes 0-3 and 4-7.
struct D8x2 {
  __m256d low, high;
  static D8x2 load(const double* p) { return {_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)}; }
  static void store(double* p, D8x2 a) {
    _mm256_storeu_pd(p, a.low);
    _mm256_storeu_pd(p + 4, a.high);
  }
  static D8x2 widen(const float* p) { return {_mm256_cvtps_pd(_mm_loadu_ps(p)), _mm256_cvtps_pd(_mm_loadu_ps(p + 4))}; }
  static D8x2 add(D8x2 a, D8x2 b) { return {_mm256_add_pd(a.low, b.low), _mm256_add_pd(a.high, b.high)}; }
  static D8x2 mul(D8x2 a, D8x2 b) { return {_mm256_mul_pd(a.low, b.low), _mm256_mul_pd(a.high, b.high)}; }
  static D8x2 abs(D8x2 a) {
    const __m256d sign = _mm256_set1_pd(-0.0);
    return {_mm256_andnot_pd(sign, a.low), _mm256_andnot_pd(sign, a.high)};
  }
  static D8x2 sub(D8x2 a, D8x2 b) { return {_mm256_sub_pd(a.low, b.low), _mm256_sub_pd(a.high, b.high)}; }
  static D8x2 fma(D8x2 a, D8x2 b, D8x2 c) { return {_mm256_fmadd_pd(a.low, b.low, c.low), _mm256_fmadd_pd(a.high, b.high, c.high)}; }
  static void reduce4(const D8x2* lanes, double* out) {
    // hadd pairs neighbouring lanes: [a01, b01, a23, b23] from the low halves of a and b.
    const __m256d ab_low = _mm256_hadd_pd(lanes[0].low, lanes[1].low), cd_low = _mm256_hadd_pd(lanes[2].low, lanes[3].low);
    const __m256d ab_high = _mm256_hadd_pd(lanes[0].high, lanes[1].high), cd_high = _mm256_hadd_pd(lanes[2].high, lanes[3].high);
    // [a01 + a23, b01 + b23, c01 + c23, d01 + d23], the same for lanes 4-7, then their sum.
    const __m256d low = _mm256_add_pd(_mm256_permute2f128_pd(ab_low, cd_low, 0x20), _mm256_permute2f128_pd(ab_low, cd_low, 0x31));
    const __m256d high = _mm256_add_pd(_mm256_permute2f128_pd(ab_high, cd_high, 0x20), _mm256_permute2f128_pd(ab_high, cd_high, 0x31));
    _mm256_storeu_pd(out, _mm256_add_pd(low, high));
  }
};

struct Vec {
  using D8 = D8x2;
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
  static I iota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
  static I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  static I imul(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static I ixor(I a, I b) { return _mm256_xor_si256(a, b); }
  static I iand(I a, I b) { return _mm256_and_si256(a, b); }
  static I ior(I a, I b) { return _mm256_or_si256(a, b); }
  template <int k> static I ishr(I a) { return _mm256_srli_epi32(a, k); }
  template <int k> static I ishl(I a) { return _mm256_slli_epi32(a, k); }
  static V itof(I a) { return _mm256_cvtepi32_ps(a); }
  static I as_int(V a) { return _mm256_castps_si256(a); }
  static V as_float(I a) { return _mm256_castsi256_ps(a); }
  static V neg(V a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
  static Mask nonzero(I a) {
    return _mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpeq_epi32(a, _mm256_setzero_si256()), _mm256_set1_epi32(-1)));
  }
  static V min(V a, V b) { return _mm256_blendv_ps(a, b, _mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
  static void store_interleaved(float* p, V a, V b) {
    const __m256 lo = _mm256_unpacklo_ps(a, b);  // a0 b0 a1 b1 | a4 b4 a5 b5
    const __m256 hi = _mm256_unpackhi_ps(a, b);  // a2 b2 a3 b3 | a6 b6 a7 b7
    _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
  static float half(uint16_t bits) { return _cvtsh_ss(bits); }
  static V widen_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static V widen_bf16(const uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
  }
  // F16C rounds to nearest even (overflow to infinity, subnormals exact); NaNs are patched.
  static void narrow_f16(uint16_t* p, V v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const int nans = _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    if (nans != 0) {
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, v);
      patch_float16_nans(p, lanes, static_cast<uint32_t>(nans));
    }
  }
  // bits + 0x7fff + (bit 16), the top half; NaN lanes 0xffff. Packed to 16 bits in order.
  static void narrow_bf16(uint16_t* p, V v) {
    const __m256i bits = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i top = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), odd), 16);
    top = _mm256_or_si256(top, _mm256_srli_epi32(_mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)), 16));
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(top, top), 0x08);  // quads 0 and 2: lanes 0-3, 4-7
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
  }
  static V load_u8(const uint8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static V load_u4(const uint8_t* codes, int64_t j) {
    int32_t four;  // the 8 codes' 4 bytes
    std::memcpy(&four, codes + j / 2, sizeof four);
    const __m128i bytes = _mm_cvtsi32_si128(four);
    const __m256i twice = _mm256_cvtepu8_epi32(_mm_unpacklo_epi8(bytes, bytes));  // b0 b0 b1 b1 ..
    const __m256i shifted = _mm256_srlv_epi32(twice, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4));
    return _mm256_cvtepi32_ps(_mm256_and_si256(shifted, _mm256_set1_epi32(15)));
  }
};
}  // namespace avx2_tier
NNE_END_TARGET

NNE_BEGIN_TARGET_AVX512
namespace avx512_tier {
// Eight double lanes in one register.
struct D8x1 {
  __m512d v;
  static D8x1 load(const double* p) { return {_mm512_loadu_pd(p)}; }
  static void store(double* p, D8x1 a) { _mm512_storeu_pd(p, a.v); }
  // maskz form: GCC 12 warns about the undefined source operand of the plain form.
  static D8x1 widen(const float* p) { return {_mm512_maskz_cvtps_pd(static_cast<__mmask8>(0xff), _mm256_loadu_ps(p))}; }
  static D8x1 add(D8x1 a, D8x1 b) { return {_mm512_add_pd(a.v, b.v)}; }
  static D8x1 mul(D8x1 a, D8x1 b) { return {_mm512_mul_pd(a.v, b.v)}; }
  static D8x1 abs(D8x1 a) { return {_mm512_abs_pd(a.v)}; }
  static D8x1 sub(D8x1 a, D8x1 b) { return {_mm512_sub_pd(a.v, b.v)}; }
  static D8x1 fma(D8x1 a, D8x1 b, D8x1 c) { return {_mm512_fmadd_pd(a.v, b.v, c.v)}; }
  static void reduce4(const D8x1* lanes, double* out) {
    // [a01, b01, a23, b23, a45, b45, a67, b67] from a and b, the same from c and d.
    // (The maskz forms: GCC 12 warns that the plain ones read an undefined vector.)
    const __mmask8 all = 0xff;
    const __m512d ab = _mm512_add_pd(_mm512_maskz_unpacklo_pd(all, lanes[0].v, lanes[1].v), _mm512_maskz_unpackhi_pd(all, lanes[0].v, lanes[1].v));
    const __m512d cd = _mm512_add_pd(_mm512_maskz_unpacklo_pd(all, lanes[2].v, lanes[3].v), _mm512_maskz_unpackhi_pd(all, lanes[2].v, lanes[3].v));
    // [a0123, b0123, c0123, d0123, a4567, b4567, c4567, d4567], then the two halves added.
    const __m512i pairs01 = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), pairs23 = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    const __m512d quads = _mm512_add_pd(_mm512_permutex2var_pd(ab, pairs01, cd), _mm512_permutex2var_pd(ab, pairs23, cd));
    const __m512d halves = _mm512_add_pd(quads, _mm512_maskz_shuffle_f64x2(all, quads, quads, 0x4e));  // low + high half
    _mm512_mask_storeu_pd(out, static_cast<__mmask8>(0x0f), halves);
  }
};

struct Vec {
  using D8 = D8x1;
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
  static I iota() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  static I imul(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static I ixor(I a, I b) { return _mm512_xor_si512(a, b); }
  static I iand(I a, I b) { return _mm512_and_si512(a, b); }
  static I ior(I a, I b) { return _mm512_or_si512(a, b); }
  // The maskz forms: GCC 12 warns that the plain ones read an undefined vector (_mm512_undefined_*).
  template <int k> static I ishr(I a) { return _mm512_maskz_srli_epi32(static_cast<__mmask16>(0xffff), a, k); }
  template <int k> static I ishl(I a) { return _mm512_maskz_slli_epi32(static_cast<__mmask16>(0xffff), a, k); }
  static V itof(I a) { return _mm512_maskz_cvtepi32_ps(static_cast<__mmask16>(0xffff), a); }
  static I as_int(V a) { return _mm512_castps_si512(a); }
  static V as_float(I a) { return _mm512_castsi512_ps(a); }
  static V neg(V a) { return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN))); }
  static Mask nonzero(I a) { return _mm512_test_epi32_mask(a, a); }
  static V min(V a, V b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), a, b); }
  static void store_interleaved(float* p, V a, V b) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    _mm512_storeu_ps(p, _mm512_permutex2var_ps(a, lo, b));
    _mm512_storeu_ps(p + 16, _mm512_permutex2var_ps(a, hi, b));
  }
  static float half(uint16_t bits) { return _cvtsh_ss(bits); }
  static V widen_f16(const uint16_t* p) {
    return _mm512_maskz_cvtph_ps(static_cast<__mmask16>(0xffff), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static V widen_bf16(const uint16_t* p) {
    const __m512i wide = _mm512_maskz_cvtepu16_epi32(static_cast<__mmask16>(0xffff), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(ishl<16>(wide));
  }
  static void narrow_f16(uint16_t* p, V v) {
    const __m256i h = _mm512_maskz_cvtps_ph(static_cast<__mmask16>(0xffff), v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
    const __mmask16 nans = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    if (nans != 0) {
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, v);
      patch_float16_nans(p, lanes, static_cast<uint32_t>(nans));
    }
  }
  static void narrow_bf16(uint16_t* p, V v) {
    const __m512i bits = _mm512_castps_si512(v);
    const __m512i odd = _mm512_and_si512(ishr<16>(bits), _mm512_set1_epi32(1));
    __m512i top = ishr<16>(_mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7fff)), odd));
    top = _mm512_mask_mov_epi32(top, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0xffff));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_maskz_cvtepi32_epi16(static_cast<__mmask16>(0xffff), top));
  }
  static V load_u8(const uint8_t* p) {
    return itof(_mm512_maskz_cvtepu8_epi32(static_cast<__mmask16>(0xffff), _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static V load_u4(const uint8_t* codes, int64_t j) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + j / 2));  // the 16 codes' 8 bytes
    const __m512i twice = _mm512_maskz_cvtepu8_epi32(static_cast<__mmask16>(0xffff), _mm_unpacklo_epi8(bytes, bytes));
    const __m512i shift = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    const __m512i shifted = _mm512_maskz_srlv_epi32(static_cast<__mmask16>(0xffff), twice, shift);
    return itof(_mm512_and_si512(shifted, _mm512_set1_epi32(15)));
  }
  // An int4 row's 16 possible values, lane k = k * scale + bias (two roundings, as dequantize), and
  // its codes j .. j + 15 looked up there: one permute instead of a mask, a conversion, a multiply
  // and an add per vector (packed_rows.h Int4Rows; the same bits, each lane being the same operations
  // on the same operands).
  struct U4Table {
    __m512 lanes;
  };
  static U4Table u4_table(float scale, float bias) {
    const __m512 codes = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return U4Table{_mm512_add_ps(_mm512_mul_ps(codes, _mm512_set1_ps(scale)), _mm512_set1_ps(bias))};
  }
  static V load_u4_lookup(const uint8_t* codes, int64_t j, const U4Table& table) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + j / 2));
    const __m512i twice = _mm512_maskz_cvtepu8_epi32(static_cast<__mmask16>(0xffff), _mm_unpacklo_epi8(bytes, bytes));
    const __m512i shift = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    // The permute reads each index lane's low 4 bits: the even code's nibble, or the odd one's shifted down.
    return _mm512_maskz_permutexvar_ps(static_cast<__mmask16>(0xffff), _mm512_maskz_srlv_epi32(static_cast<__mmask16>(0xffff), twice, shift), table.lanes);
  }
};
}  // namespace avx512_tier
NNE_END_TARGET
#endif

#if defined(NNE_ARM64)
namespace neon_tier {
struct Vec {
  using D8 = GenericD8;
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
  static I iota() {
    static const int32_t lanes[4] = {0, 1, 2, 3};
    return vld1q_s32(lanes);
  }
  static I iadd(I a, I b) { return vaddq_s32(a, b); }
  static I imul(I a, I b) { return vmulq_s32(a, b); }
  static I ixor(I a, I b) { return veorq_s32(a, b); }
  static I iand(I a, I b) { return vandq_s32(a, b); }
  static I ior(I a, I b) { return vorrq_s32(a, b); }
  template <int k> static I ishr(I a) { return vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(a), k)); }
  template <int k> static I ishl(I a) { return vshlq_n_s32(a, k); }
  static V itof(I a) { return vcvtq_f32_s32(a); }
  static I as_int(V a) { return vreinterpretq_s32_f32(a); }
  static V as_float(I a) { return vreinterpretq_f32_s32(a); }
  static V neg(V a) { return vnegq_f32(a); }
  static Mask nonzero(I a) { return vtstq_s32(a, a); }
  static V min(V a, V b) { return vbslq_f32(vcgtq_f32(a, b), b, a); }
  static void store_interleaved(float* p, V a, V b) { vst2q_f32(p, float32x4x2_t{{a, b}}); }
  static float half(uint16_t bits) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(bits))), 0); }
  static V widen_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static V widen_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  // FPCR's default rounding: nearest even; NaNs are patched.
  static void narrow_f16(uint16_t* p, V v) {
    vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v)));
    const uint32x4_t numbers = vceqq_f32(v, v);
    if (vminvq_u32(numbers) == 0) {
      float lanes[4];
      vst1q_f32(lanes, v);
      uint32_t nans = 0;
      for (int l = 0; l < 4; ++l) nans |= (lanes[l] != lanes[l] ? 1u : 0u) << l;
      patch_float16_nans(p, lanes, nans);
    }
  }
  static void narrow_bf16(uint16_t* p, V v) {
    const uint32x4_t bits = vreinterpretq_u32_f32(v);
    const uint32x4_t odd = vandq_u32(vshrq_n_u32(bits, 16), vdupq_n_u32(1));
    const uint32x4_t top = vshrq_n_u32(vaddq_u32(vaddq_u32(bits, vdupq_n_u32(0x7fff)), odd), 16);
    vst1_u16(p, vmovn_u32(vbslq_u32(vceqq_f32(v, v), top, vdupq_n_u32(0xffff))));
  }
  static V load_u8(const uint8_t* p) {
    uint32_t four;
    std::memcpy(&four, p, sizeof four);
    const uint16x8_t wide = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(four)));
    return vcvtq_f32_u32(vmovl_u16(vget_low_u16(wide)));
  }
  static V load_u4(const uint8_t* codes, int64_t j) {
    uint16_t two;  // the 4 codes' 2 bytes
    std::memcpy(&two, codes + j / 2, sizeof two);
    const uint32_t lanes[4] = {two & 15u, (two >> 4) & 15u, (two >> 8) & 15u, (two >> 12) & 15u};
    return vcvtq_f32_u32(vld1q_u32(lanes));
  }
};
}  // namespace neon_tier
#endif

}  // namespace nne
