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
//
// The functions in the table split large calls over the process-wide thread pool
// (thread_pool.h) and give the same bits whatever the number of threads: parallel.h says how
// each kind of operation is split. Coalescing stays on the calling thread.
#pragma once

#include <cstdint>

#include "simd.h"

namespace nne {

// out[i*dim .. i*dim+dim) = weight[indices[i]*dim ..) for i < count.
// Precondition: every index is in [0, rows) (see first_invalid_index).
template <class Index>
using GatherFn = void (*)(const float* weight, int64_t dim, const Index* indices, int64_t count,
                          float* out);

// Narrow tables: rows of float16 or bfloat16 bits (2 * dim bytes), or row-wise quantized as
// torch's embedding_bag_byte_prepack (dim uint8 codes, float32 scale, float32 bias: dim + 8
// bytes) and embedding_bag_4bit_prepack (dim / 2 bytes of 4-bit codes, float16 scale, float16
// bias: dim / 2 + 4 bytes; dim even). Numbered as src/dtype.ts numbers them.
enum class Dtype : int { float32 = 0, float16 = 1, bfloat16 = 2, int8 = 3, int4 = 4 };

// Bytes per row of a table of dim features, or -1 for an int4 table of odd dim.
inline int64_t dtype_row_bytes(Dtype dtype, int64_t dim) {
  switch (dtype) {
    case Dtype::float16:
    case Dtype::bfloat16: return 2 * dim;
    case Dtype::int8: return dim + 8;
    case Dtype::int4: return dim % 2 == 0 ? dim / 2 + 4 : -1;
    default: return 4 * dim;
  }
}

struct PackedTable {
  const void* data;
  Dtype dtype;
  int64_t dim;
};

// out[i] = row indices[i] of a narrow table, widened (exact) or dequantized (code * scale + bias,
// two roundings, as torch's embedding_bag_*_unpack) to float32.
template <class Index>
using PackedGatherFn = void (*)(const PackedTable& table, const Index* indices, int64_t count, float* out);

// grad[indices[i]] += scale[i] * grad_output[i] for i < count, in order of i, skipping
// entries whose index equals skip_row (pass -1 to skip none). scale may be null, meaning 1
// (then the update is a plain add). Deterministic: each row gets its updates in order of i, from
// one thread (calls are split over threads by destination row).
template <class Index>
using ScatterAddFn = void (*)(float* grad, int64_t dim, const Index* indices, int64_t count,
                              const float* grad_output, const float* scale, int64_t skip_row);

// torch.embedding_renorm_: every distinct row named by indices whose p-norm exceeds max_norm
// is scaled in place by float(max_norm / (norm + 1e-7)). seen is a zeroed bitmap of at least
// ceil(rows / 8) bytes used to visit each row once; it is zeroed again before returning.
template <class Index>
using RenormFn = void (*)(float* weight, int64_t dim, const Index* indices, int64_t count,
                          double max_norm, double norm_type, uint8_t* seen);

// EmbeddingBag. Bag b holds entries [begin(b), end(b)) of indices; offsets are validated
// (offsets[0] == 0, non-decreasing, none above count) before any kernel sees them.
struct Bags {
  const uint32_t* offsets;
  int64_t offsets_length;  // num_bags, or num_bags + 1 with torch's include_last_offset
  int64_t num_bags;
  int64_t count;           // entries in indices

  int64_t begin(int64_t bag) const { return offsets[bag]; }
  int64_t end(int64_t bag) const { return bag + 1 < offsets_length ? offsets[bag + 1] : count; }
};

enum class BagMode : int { sum = 0, mean = 1, max = 2 };

// out[b] = the reduction over bag b's entries whose index is not skip_row (-1: none) of their
// weight rows: sum (per_sample_weights[i] * row when given, multiply then add), mean (the sum
// divided by the entry count), or max (per feature; the first occurrence wins ties, a NaN that
// comes first stays). Sums accumulate in float in entry order. A bag with no entries is zeros.
template <class Index>
using BagForwardFn = void (*)(const float* weight, int64_t dim, const Index* indices, const Bags& bags,
                              const float* per_sample_weights, BagMode mode, int64_t skip_row, float* out);

// The same over a narrow table: bit for bit the float32 bag of its widened or dequantized rows.
template <class Index>
using PackedBagForwardFn = void (*)(const PackedTable& table, const Index* indices, const Bags& bags,
                                    const float* per_sample_weights, BagMode mode, int64_t skip_row, float* out);

// grad[indices[i]] += scale[i] * grad_output[bag of i] in order of i, skipping skip_row; scale null
// means a plain add. The dense backward of sum and mean (mean passes 1 / count in scale).
template <class Index>
using BagScatterAddFn = void (*)(float* grad, int64_t dim, const Index* indices, const Bags& bags,
                                 const float* grad_output, const float* scale, int64_t skip_row);

// The dense backward of max: for each bag and feature, grad[row that won the max][j] +=
// grad_output[bag][j], the winner found again from weight exactly as the forward found it.
template <class Index>
using BagMaxBackwardFn = void (*)(const float* weight, float* grad, int64_t dim, const Index* indices,
                                  const Bags& bags, const float* grad_output, int64_t skip_row);

// out[i] = dot(grad_output[bag of i], weight[indices[i]]), the gradient of per_sample_weights;
// 0 for skip_row entries. The dot is accumulated in double in the eight-lane order of the norms.
template <class Index>
using BagWeightGradFn = void (*)(const float* weight, int64_t dim, const Index* indices, const Bags& bags,
                                 const float* grad_output, int64_t skip_row, float* out);

template <class Index>
struct BagKernels {
  BagForwardFn<Index> forward;
  BagScatterAddFn<Index> scatter_add;
  BagMaxBackwardFn<Index> max_backward;
  BagWeightGradFn<Index> weight_grad;
};

// Optimizers (optimizers.cc). Scalars are torch's scalar arguments, computed in double by the
// caller and rounded once to float, as torch does for float32 tensors.
enum class OptimizerRule : int { sgd = 0, adagrad = 1, adam = 2, sparse_adam = 3, rowwise_adagrad = 4 };

struct OptimizerScalars {
  OptimizerRule rule;
  float lr;            // the signed multiplier of the update: -lr (sgd), -clr (adagrad), -step size (adam)
  float a, b, c;       // sgd: momentum, 1 - dampening; adam: beta1, beta2, sqrt(bias correction 2)
  float one_minus_a;   // adam, sparse adam: 1 - beta1
  float one_minus_b;   // adam, sparse adam: 1 - beta2
  float eps;
  float weight_decay;  // L2 folded into the gradient (0: none)
  float decay;         // AdamW's 1 - lr * weight_decay applied to the weight first (1: none)
  bool first_step;     // sgd: the momentum buffer starts as a copy of the gradient
  bool nesterov;
  double lr_double;    // rowwise adagrad computes its multiplier in double
  double eps_double;
};

// Updates `num_rows` rows of dim elements: rows[k] of weight and of the table-shaped states (or,
// for rowwise adagrad, state0[rows[k]]) from grad row k. rows null: every row, grad is the whole
// table. States a rule does not use are null.
using OptimizerUpdateFn = void (*)(const OptimizerScalars& scalars, float* weight, const float* grad, float* state0,
                                   float* state1, float* state2, const uint32_t* rows, int64_t num_rows, int64_t dim);

// Trained float16/bfloat16 tables: a table's rows as the optimizers write them, and how a float32
// row is rounded back: rounding < 0 to nearest even (torch's .half() / .bfloat16() and their NaN
// rules, narrow_rounding.h), else stochastically with rounding (a uint32) as the update's key.
struct HalfTable {
  uint16_t* data;
  bool bfloat16;
  int64_t dim;
};

// optimizer_update's sparse step on a 16-bit table: for each k, table row rows[k] widened into a
// float32 row, updated there by the float32 rule with the states at rows[k], and rounded back.
// The same bits as the float32 step of the widened table, rounded. work (num_rows rows of dim
// floats) is scratch space the kernel may use (rows of up to 1024 floats are updated on the stack).
using OptimizerUpdatePackedFn = void (*)(const OptimizerScalars& scalars, const HalfTable& table, const float* grad,
                                         float* state0, float* state1, float* state2, const uint32_t* rows,
                                         int64_t num_rows, int64_t rounding, float* work);

// Table row rows[k] = values row k rounded back, for k < num_rows.
using NarrowRowsFn = void (*)(const HalfTable& table, const uint32_t* rows, int64_t num_rows, const float* values,
                              int64_t rounding);

// Sums the gradient rows of entries with the same index, in entry order, into out_rows (first
// occurrence order) and out_values; returns how many distinct rows. Entry i's row is
// scale[i] * source[i] (bags null) or scale[i] * source[bag of i]; scale null means 1; entries
// equal to skip_row are left out. slots has slots_length int32s (one per table row; every index is
// below it), all -1, and is -1 again after. JavaScript may write slots and out_rows meanwhile (an
// async call): the results are then garbage, but nothing is written outside the arrays.
template <class Index>
using CoalesceFn = int64_t (*)(const Index* indices, int64_t count, int64_t dim, const float* source, const Bags* bags,
                               const float* scale, int64_t skip_row, int32_t* slots, int64_t slots_length,
                               uint32_t* out_rows, float* out_values);

template <class Index>
struct IndexKernels {
  GatherFn<Index> gather;
  ScatterAddFn<Index> scatter_add;
  RenormFn<Index> renorm;
  BagKernels<Index> bag;
  CoalesceFn<Index> coalesce;
  PackedGatherFn<Index> gather_packed;
  PackedBagForwardFn<Index> bag_forward_packed;
};

// The table initializers (init.cc, init_body.h): element i of a seeded stream, for out[j] = element
// start + j, j < count. kind normal: p = {mean, std}; uniform: p = {low, range}; truncNormal: p =
// {lo, range, scale, mean, a, b} (torch's trunc_normal_: lo = 2 cdf(a') - 1, range = 2 cdf(b') -
// 2 cdf(a'), scale = std * sqrt(2)). k0, k1: the seed's keys (src/init.ts derives them).
enum class InitKind : int { normal = 0, uniform = 1, trunc_normal = 2 };
struct InitParams {
  InitKind kind;
  uint32_t k0;
  uint32_t k1;
  float p[6];
};
using InitFillFn = void (*)(const InitParams& params, float* out, uint64_t start, int64_t count);

// Gradient clipping (clip_grad.cc): norm(x, n, p) is the p-norm of n floats (p > 0, or inf: the
// largest |x|, NaN if any is NaN); scale multiplies each by a float; clamp clamps each to
// [low, high], keeping NaN.
struct ClipKernels {
  double (*norm)(const float* x, int64_t n, double p);
  void (*scale)(float* x, int64_t n, float factor);
  void (*clamp)(float* x, int64_t n, float low, float high);
};
// Nearest rows (nearest.cc): the k rows of rows [0, rows) of a table (float32 or narrow, read as
// gatherPacked reads it) that score best against each of num_queries queries (dim floats each),
// best first, ties to the lower row. Scores: dot = the eight-lane double dot (lane_dot.h's order),
// cosine = (dot * inv_norms[row]) * inv_query with inv = 1 / sqrt(lane dot of a vector with
// itself), 0 for a zero vector; l2 = the eight-lane sum of (row - query)^2 in double, lowest first.
// NaN scores rank last. A query never returns query_rows[q] (null: none) nor a row of exclude
// (ascending, exclude_count of them); slots left over get row -1 and score NaN. out_indices and
// out_scores hold num_queries * k values (scores rounded to float once). inv_norms (cosine only)
// has one value per row. The same bits for every tier and number of threads.
enum class NearestMetric : int { dot = 0, cosine = 1, l2 = 2 };
using NearestRowsFn = void (*)(const PackedTable& table, int64_t rows, const float* queries, int64_t num_queries, int64_t k,
                               NearestMetric metric, const double* inv_norms, const int32_t* query_rows,
                               const int32_t* exclude, int64_t exclude_count, int32_t* out_indices, float* out_scores);
// out[i] = 1 / sqrt(lane dot of row first + i with itself), 0 for a row of norm 0, i < count.
using RowInverseNormsFn = void (*)(const PackedTable& table, int64_t first, int64_t count, double* out);

struct Kernels {
  Tier tier;
  OptimizerUpdateFn optimizer_update;
  OptimizerUpdatePackedFn optimizer_update_packed;
  NarrowRowsFn narrow_rows;
  InitFillFn init_fill;
  ClipKernels clip;
  NearestRowsFn nearest_rows;
  RowInverseNormsFn row_inverse_norms;
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
template <class Index> PackedGatherFn<Index> gather_packed_for(Tier tier);  // gather.cc
template <class Index> PackedBagForwardFn<Index> bag_forward_packed_for(Tier tier);  // embedding_bag.cc
template <class Index> ScatterAddFn<Index> scatter_add_for(Tier tier);
template <class Index> BagScatterAddFn<Index> bag_scatter_add_for(Tier tier);  // scatter_add.cc
template <class Index> RenormFn<Index> renorm_for(Tier tier);
template <class Index> BagKernels<Index> bag_kernels_for(Tier tier);
template <class Index> CoalesceFn<Index> coalesce_for(Tier tier);
OptimizerUpdateFn optimizer_update_for(Tier tier);
OptimizerUpdatePackedFn optimizer_update_packed_for(Tier tier);  // optimizers.cc
NarrowRowsFn narrow_rows_for(Tier tier);
InitFillFn init_fill_for(Tier tier);
ClipKernels clip_kernels_for(Tier tier);
NearestRowsFn nearest_rows_for(Tier tier);
RowInverseNormsFn row_inverse_norms_for(Tier tier);  // nearest.cc

// The position of the first offset that breaks the Bags rules (offsets[0] == 0, non-decreasing,
// none above count, bags shorter than 2^31 entries), or -1.
int64_t first_invalid_offset(const uint32_t* offsets, int64_t offsets_length, int64_t count);

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
