// Rounding float32 values to the 16-bit float formats of trainable narrow tables, one value at a
// time: to nearest with ties to even (torch's .half() and .bfloat16(), and their NaN rules as
// src/dtype.ts states them: a float16 NaN becomes sign | 0x7e00, a bfloat16 NaN 0xffff), and
// stochastically with 32 random bits from a counter-based hash of (seed, step, row, column).
// src/rounding.ts is the TypeScript of the same and says what stochastic rounding computes. The
// vector tiers round to nearest with their own conversions (vec_traits.h narrow_f16, narrow_bf16)
// to the same bits; stochastic rounding is this scalar code in every tier.
#pragma once

#include <cstdint>

#include "half.h"

namespace nne {

// lowbias32 (Chris Wellons' integer hash), as src/init.ts and init_body.h mix.
inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}

// The random bits of a row and column under an update's key (src/rounding.ts roundingKey).
inline uint32_t row_rounding_key(uint32_t key, uint32_t row) { return mix32(key ^ row); }
inline uint32_t rounding_bits(uint32_t row_key, uint32_t column) { return mix32(row_key + column * 0x9e3779b9u); }

inline uint16_t float16_bits_nearest(uint32_t bits) {
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (magnitude == 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u);
  const int32_t e = static_cast<int32_t>(magnitude >> 23) - 127 + 15;
  const uint32_t mantissa = magnitude & 0x7fffffu;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    const uint32_t significand = mantissa | 0x800000u;
    const uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half = significand >> shift;
    const uint32_t rest = significand & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u) != 0)) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u) != 0)) ++half;  // a carry may reach infinity: right
  return static_cast<uint16_t>(sign | half);
}

inline uint16_t bfloat16_bits_nearest(uint32_t bits) {
  if ((bits & 0x7fffffffu) > 0x7f800000u) return 0xffffu;
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

inline uint16_t float16_bits_stochastic(uint32_t bits, uint32_t r) {
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) return float16_bits_nearest(bits);  // NaN and infinities
  const uint32_t sign = (bits >> 16) & 0x8000u;
  if (magnitude >= 0x47800000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 2^16
  const uint32_t exponent = magnitude >> 23;
  uint32_t lo;
  uint64_t threshold;
  if (exponent >= 113) {
    lo = ((exponent - 112) << 10) | ((magnitude & 0x7fffffu) >> 13);
    threshold = static_cast<uint64_t>(magnitude & 0x1fffu) << 19;
  } else {
    const uint32_t significand = exponent == 0 ? magnitude : (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t shift = exponent == 0 ? 125 : 126 - exponent;
    lo = shift >= 24 ? 0 : significand >> shift;
    const uint64_t rest = shift >= 24 ? significand : significand & ((1u << shift) - 1);
    threshold = shift <= 32 ? rest << (32 - shift) : (shift - 32 >= 64 ? 0 : rest >> (shift - 32));
  }
  return static_cast<uint16_t>(sign | (lo + (r < threshold ? 1u : 0u)));
}

inline uint16_t bfloat16_bits_stochastic(uint32_t bits, uint32_t r) {
  if ((bits & 0x7fffffffu) >= 0x7f800000u) return bfloat16_bits_nearest(bits);
  const uint64_t threshold = static_cast<uint64_t>(bits & 0xffffu) << 16;
  return static_cast<uint16_t>((bits >> 16) + (r < threshold ? 1u : 0u));
}

// Row `row` of a table rounded stochastically from values[0, dim) under an update's key.
inline void narrow_row_stochastic(const float* values, uint16_t* out, int64_t dim, bool bfloat16, uint32_t key,
                                  uint32_t row) {
  const uint32_t row_key = row_rounding_key(key, row);
  for (int64_t j = 0; j < dim; ++j) {
    const uint32_t r = rounding_bits(row_key, static_cast<uint32_t>(j));
    const uint32_t bits = float_bits(values[j]);
    out[j] = bfloat16 ? bfloat16_bits_stochastic(bits, r) : float16_bits_stochastic(bits, r);
  }
}

}  // namespace nne

namespace nne {

// Lanes l of a vector (its floats in `lanes`) whose bit l of nan_mask is set, rounded again by
// float16_bits_nearest into p[l]: the vector conversions keep a NaN's payload, torch drops it.
inline void patch_float16_nans(uint16_t* p, const float* lanes, uint32_t nan_mask) {
  for (int l = 0; nan_mask != 0; ++l, nan_mask >>= 1) {
    if ((nan_mask & 1u) != 0) p[l] = float16_bits_nearest(float_bits(lanes[l]));
  }
}

}  // namespace nne
