// The kernel interface: what each operation computes, and the dispatch table that holds
// one implementation per instruction-set tier. Nothing here knows about Node.
//
// Sizes and offsets are 64-bit throughout, so tables above 2^31 elements work. Indices
// come as int32, uint32 or int64 (the element types of Int32Array, Uint32Array and
// BigInt64Array) and every kernel is instantiated for each of them.
//
// Every tier computes bit-identical results: the same operations in the same order per
// output element, no fused multiply-add (the build uses -ffp-contract=off), and norms
// accumulated in double in eight lanes striped by element position with a fixed final
// reduction tree. The pure-TypeScript backend follows the same recipe, so every backend
// gives the same numbers (general-p norms aside, which go through pow()).
#pragma once

#include <cstdint>

#include "simd.h"

namespace nne {

// out[i*dim .. i*dim+dim) = weight[indices[i]*dim ..) for i < count.
// Precondition: every index is in [0, rows) (see first_invalid_index).
template <class Index>
using GatherFn = void (*)(const float* weight, int64_t dim, const Index* indices, int64_t count,
                          float* out);

// grad[indices[i]] += scale[i] * grad_output[i] for i < count, in order of i, skipping
// entries whose index equals skip_row (pass -1 to skip none). scale may be null, meaning 1
// (then the update is a plain add). Deterministic: one thread, sequential in i.
template <class Index>
using ScatterAddFn = void (*)(float* grad, int64_t dim, const Index* indices, int64_t count,
                              const float* grad_output, const float* scale, int64_t skip_row);

// torch.embedding_renorm_: every distinct row named by indices whose p-norm exceeds max_norm
// is scaled in place by float(max_norm / (norm + 1e-7)). seen is a zeroed bitmap of at least
// ceil(rows / 8) bytes used to visit each row once; it is zeroed again before returning.
template <class Index>
using RenormFn = void (*)(float* weight, int64_t dim, const Index* indices, int64_t count,
                          double max_norm, double norm_type, uint8_t* seen);

template <class Index>
struct IndexKernels {
  GatherFn<Index> gather;
  ScatterAddFn<Index> scatter_add;
  RenormFn<Index> renorm;
};

struct Kernels {
  Tier tier;
  IndexKernels<int32_t> i32;
  IndexKernels<uint32_t> u32;
  IndexKernels<int64_t> i64;

  template <class Index>
  const IndexKernels<Index>& of() const;
};

template <>
inline const IndexKernels<int32_t>& Kernels::of<int32_t>() const { return i32; }
template <>
inline const IndexKernels<uint32_t>& Kernels::of<uint32_t>() const { return u32; }
template <>
inline const IndexKernels<int64_t>& Kernels::of<int64_t>() const { return i64; }

// The table for a tier. Only call it for a tier that tier_supported() accepts.
const Kernels& kernels_for(Tier tier);

// Each operation's file says which of its functions serves a tier (null when the tier is
// not compiled for this architecture).
template <class Index> GatherFn<Index> gather_for(Tier tier);
template <class Index> ScatterAddFn<Index> scatter_add_for(Tier tier);
template <class Index> RenormFn<Index> renorm_for(Tier tier);

// The position of the first index outside [0, rows), or -1 when all are inside. Indices are
// read as signed 64-bit values, so a negative int32 or int64 is outside. Checked in blocks
// so that the common all-valid case vectorizes.
template <class Index>
int64_t first_invalid_index(const Index* indices, int64_t count, int64_t rows) {
  constexpr int64_t kBlock = 256;
  const uint64_t limit = static_cast<uint64_t>(rows);
  for (int64_t start = 0; start < count; start += kBlock) {
    const int64_t end = start + kBlock < count ? start + kBlock : count;
    bool any_bad = false;
    for (int64_t i = start; i < end; ++i) {
      any_bad |= static_cast<uint64_t>(static_cast<int64_t>(indices[i])) >= limit;
    }
    if (any_bad) {
      for (int64_t i = start; i < end; ++i) {
        if (static_cast<uint64_t>(static_cast<int64_t>(indices[i])) >= limit) return i;
      }
    }
  }
  return -1;
}

// How many rows ahead the gather and scatter kernels prefetch. Random rows of a large table
// miss every cache level; asking for several rows early keeps more misses in flight.
constexpr int64_t kPrefetchRows = 4;

}  // namespace nne
