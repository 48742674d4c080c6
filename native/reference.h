// Reference implementations of the kernels in kernels.h: each operation written from its
// definition there, one element at a time, with no vectors, no threads and no prefetching. They
// are the oracle the fast kernels are tested against bit for bit (native/tests/), as FBGEMM keeps
// RefImplementations beside its kernels. They follow the same arithmetic recipe as every tier
// (float32 operations in the documented order, no fused multiply-add, norms and dots accumulated
// in double in eight lanes striped by element position and reduced by a fixed tree), so equal
// bits are the expectation, not an approximation.
//
// Header-only and inline: the kernel library does not link them, and they need no entry in
// binding.gyp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "add_words.h"
#include "half.h"
#include "narrow_rounding.h"
#include "kernels.h"
#include "word2vec_binary.h"

namespace nne {
namespace reference {

// The fixed reduction tree of the eight double lanes (element j goes to lane j % 8).
inline double reduce_lanes(const double lanes[8]) {
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// dot(a, b) over dim elements, each product taken in double, in the eight-lane order.
inline double lane_dot(const float* a, const float* b, int64_t dim) {
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t j = 0; j < dim; ++j) lanes[j % 8] += static_cast<double>(a[j]) * static_cast<double>(b[j]);
  return reduce_lanes(lanes);
}

// max |x| over the row, in double; a NaN never compares greater, so it is skipped, as fmax
// skips it. Spelled as a comparison: GCC 12 for aarch64 crashes vectorizing an fmax reduction
// over floats widened to double (see renorm.cc).
inline double max_abs_norm(const float* row, int64_t dim) {
  double largest = 0;
  for (int64_t j = 0; j < dim; ++j) {
    const double x = std::fabs(static_cast<double>(row[j]));
    if (x > largest) largest = x;
  }
  return largest;
}

// (sum |x|^p)^(1/p) through pow(), in element order.
inline double general_p_norm(const float* row, int64_t dim, double p) {
  double sum = 0;
  for (int64_t j = 0; j < dim; ++j) sum += std::pow(std::fabs(static_cast<double>(row[j])), p);
  return std::pow(sum, 1.0 / p);
}

// The p-norm of a row as renorm.cc defines it: p = 1 and 2 in the eight-lane order, infinity as
// the largest magnitude, any other p through pow().
inline double norm(const float* row, int64_t dim, double p) {
  if (p == 1.0 || p == 2.0) {
    double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t j = 0; j < dim; ++j) {
      const double x = row[j];
      lanes[j % 8] += p == 2.0 ? x * x : std::fabs(x);
    }
    const double sum = reduce_lanes(lanes);
    return p == 2.0 ? std::sqrt(sum) : sum;
  }
  if (std::isinf(p)) return max_abs_norm(row, dim);
  return general_p_norm(row, dim, p);
}

// Gradient clipping's norm: as norm() but, for infinity, NaN if any element is NaN (torch's abs().max()).
inline double clip_norm(const float* x, int64_t n, double p) {
  if (!std::isinf(p)) return norm(x, n, p);
  for (int64_t j = 0; j < n; ++j) {
    if (std::isnan(x[j])) return NAN;
  }
  return max_abs_norm(x, n);
}

inline void scale_values(float* x, int64_t n, float factor) {
  for (int64_t j = 0; j < n; ++j) x[j] = x[j] * factor;
}

// clamp to [low, high]; a NaN stays.
inline void clamp_values(float* x, int64_t n, float low, float high) {
  for (int64_t j = 0; j < n; ++j) {
    if (x[j] < low) x[j] = low;
    else if (x[j] > high) x[j] = high;
  }
}

// destination += scale * source (product rounded first), or a plain add when scale is null.
inline void add_row(float* destination, const float* source, const float* scale, int64_t dim) {
  for (int64_t j = 0; j < dim; ++j) {
    if (scale != nullptr) {
      const float product = *scale * source[j];
      destination[j] = destination[j] + product;
    } else {
      destination[j] = destination[j] + source[j];
    }
  }
}

// GatherFn.
template <class Index>
void gather(const float* weight, int64_t dim, const Index* indices, int64_t count, float* out) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = static_cast<int64_t>(indices[i]);
    for (int64_t j = 0; j < dim; ++j) out[i * dim + j] = weight[row * dim + j];
  }
}

// ScatterAddFn.
template <class Index>
void scatter_add(float* grad, int64_t dim, const Index* indices, int64_t count, const float* grad_output,
                 const float* scale, int64_t skip_row) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = static_cast<int64_t>(indices[i]);
    if (row == skip_row) continue;
    add_row(grad + row * dim, grad_output + i * dim, scale != nullptr ? scale + i : nullptr, dim);
  }
}

// RenormFn, without the caller's bitmap: each distinct row once, in first-occurrence order.
template <class Index>
void renorm(float* weight, int64_t dim, const Index* indices, int64_t count, double max_norm, double norm_type) {
  std::vector<bool> done;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = static_cast<int64_t>(indices[i]);
    if (static_cast<int64_t>(done.size()) <= row) done.resize(static_cast<size_t>(row) + 1, false);
    if (done[static_cast<size_t>(row)]) continue;
    done[static_cast<size_t>(row)] = true;
    float* values = weight + row * dim;
    const float row_norm = static_cast<float>(norm(values, dim, norm_type));
    if (row_norm > max_norm) {
      const float scale = static_cast<float>(max_norm / (static_cast<double>(row_norm) + 1e-7));
      for (int64_t j = 0; j < dim; ++j) values[j] = values[j] * scale;
    }
  }
}

// BagForwardFn.
template <class Index>
void bag_forward(const float* weight, int64_t dim, const Index* indices, const Bags& bags,
                 const float* per_sample_weights, BagMode mode, int64_t skip_row, float* out) {
  for (int64_t b = 0; b < bags.num_bags; ++b) {
    for (int64_t j = 0; j < dim; ++j) {
      float acc = 0.0f;
      int64_t entries = 0;
      for (int64_t i = bags.begin(b); i < bags.end(b); ++i) {
        const int64_t row = static_cast<int64_t>(indices[i]);
        if (row == skip_row) continue;
        const float x = weight[row * dim + j];
        if (mode == BagMode::max) {
          if (entries == 0 || x > acc) acc = x;
        } else if (per_sample_weights != nullptr) {
          const float product = per_sample_weights[i] * x;
          acc = acc + product;
        } else {
          acc = acc + x;
        }
        ++entries;
      }
      if (mode == BagMode::mean && entries > 0) acc = acc / static_cast<float>(entries);
      out[b * dim + j] = acc;
    }
  }
}

// BagScatterAddFn.
template <class Index>
void bag_scatter_add(float* grad, int64_t dim, const Index* indices, const Bags& bags, const float* grad_output,
                     const float* scale, int64_t skip_row) {
  for (int64_t b = 0; b < bags.num_bags; ++b) {
    for (int64_t i = bags.begin(b); i < bags.end(b); ++i) {
      const int64_t row = static_cast<int64_t>(indices[i]);
      if (row == skip_row) continue;
      add_row(grad + row * dim, grad_output + b * dim, scale != nullptr ? scale + i : nullptr, dim);
    }
  }
}

// BagMaxBackwardFn: each feature's gradient to the first entry that holds the bag's maximum.
template <class Index>
void bag_max_backward(const float* weight, float* grad, int64_t dim, const Index* indices, const Bags& bags,
                      const float* grad_output, int64_t skip_row) {
  for (int64_t b = 0; b < bags.num_bags; ++b) {
    for (int64_t j = 0; j < dim; ++j) {
      int64_t winner = -1;
      float best = 0.0f;
      for (int64_t i = bags.begin(b); i < bags.end(b); ++i) {
        const int64_t row = static_cast<int64_t>(indices[i]);
        if (row == skip_row) continue;
        const float x = weight[row * dim + j];
        if (winner < 0 || x > best) {
          winner = row;
          best = x;
        }
      }
      if (winner >= 0) {
        float& g = grad[winner * dim + j];
        g = g + grad_output[b * dim + j];
      }
    }
  }
}

// BagWeightGradFn.
template <class Index>
void bag_weight_grad(const float* weight, int64_t dim, const Index* indices, const Bags& bags,
                     const float* grad_output, int64_t skip_row, float* out) {
  for (int64_t b = 0; b < bags.num_bags; ++b) {
    for (int64_t i = bags.begin(b); i < bags.end(b); ++i) {
      const int64_t row = static_cast<int64_t>(indices[i]);
      out[i] = row == skip_row ? 0.0f : static_cast<float>(lane_dot(grad_output + b * dim, weight + row * dim, dim));
    }
  }
}

// One float32 operation at a time, in torch.optim's order: n elements of one rule other than
// rowwise_adagrad. dense: Adagrad's dense form (lr * g / std) rather than the sparse one
// (lr * (g / std)).
inline void optimizer_elements(const OptimizerScalars& s, float* w, const float* g_in, float* s0, float* s1,
                               float* s2, int64_t n, bool dense) {
  for (int64_t j = 0; j < n; ++j) {
    float p = w[j];
    float g = g_in[j];
    switch (s.rule) {
      case OptimizerRule::sgd: {
        if (s.weight_decay != 0.0f) { const float t = s.weight_decay * p; g = g + t; }
        if (s0 != nullptr) {
          float buf;
          if (s.first_step) buf = g;
          else { const float x = s0[j] * s.a; const float y = s.b * g; buf = x + y; }
          s0[j] = buf;
          if (s.nesterov) { const float t = s.a * buf; g = g + t; } else g = buf;
        }
        const float t = s.lr * g;
        w[j] = p + t;
        break;
      }
      case OptimizerRule::adagrad: {
        if (s.weight_decay != 0.0f) { const float t = s.weight_decay * p; g = g + t; }
        const float sq = g * g;
        const float sum = s0[j] + sq;
        s0[j] = sum;
        const float std = std::sqrt(sum) + s.eps;
        float t;
        if (dense) { const float u = s.lr * g; t = u / std; } else { const float q = g / std; t = s.lr * q; }
        w[j] = p + t;
        break;
      }
      case OptimizerRule::adam: {
        if (s.decay != 1.0f) p = p * s.decay;
        if (s.weight_decay != 0.0f) { const float t = s.weight_decay * p; g = g + t; }
        const float m1 = s0[j] * s.a; const float m2 = s.one_minus_a * g; const float m = m1 + m2;
        const float v1 = s1[j] * s.b; const float v2 = s.one_minus_b * g; const float v3 = v2 * g; float v = v1 + v3;
        s0[j] = m;
        s1[j] = v;
        if (s2 != nullptr) { v = s2[j] > v ? s2[j] : v; s2[j] = v; }
        const float root = std::sqrt(v); const float scaled = root / s.c; const float denom = scaled + s.eps;
        const float u = s.lr * m; const float t = u / denom;
        w[j] = p + t;
        break;
      }
      case OptimizerRule::sparse_adam: {
        const float old_m = s0[j], old_v = s1[j];
        const float dm = g - old_m; const float um = dm * s.one_minus_a; const float m = um + old_m;
        const float sq = g * g; const float dv = sq - old_v; const float uv = dv * s.one_minus_b; const float v = uv + old_v;
        s0[j] = m;
        s1[j] = v;
        const float denom = std::sqrt(v) + s.eps; const float q = m / denom; const float t = s.lr * q;
        w[j] = p + t;
        break;
      }
      case OptimizerRule::rowwise_adagrad:
        break;
    }
  }
}

// Row-wise Adagrad on one row: g' = g + weight_decay * w; h += mean(g'^2) (in the eight-lane
// order, in double); w -= float(lr / (sqrt(h) + eps)) * g'.
inline void rowwise_adagrad_row(const OptimizerScalars& s, float* w, const float* g_in, float* h, int64_t dim) {
  std::vector<float> g(static_cast<size_t>(dim));
  for (int64_t j = 0; j < dim; ++j) {
    float x = g_in[j];
    if (s.weight_decay != 0.0f) { const float t = s.weight_decay * w[j]; x = x + t; }
    g[static_cast<size_t>(j)] = x;
  }
  const double sum = lane_dot(g.data(), g.data(), dim);
  const float updated = *h + static_cast<float>(sum / static_cast<double>(dim));
  *h = updated;
  const float multiplier = static_cast<float>(s.lr_double / (std::sqrt(static_cast<double>(updated)) + s.eps_double));
  for (int64_t j = 0; j < dim; ++j) { const float t = multiplier * g[static_cast<size_t>(j)]; w[j] = w[j] - t; }
}

// OptimizerUpdateFn: rows null is the dense update of the whole table.
inline void optimizer_update(const OptimizerScalars& s, float* weight, const float* grad, float* state0,
                             float* state1, float* state2, const uint32_t* rows, int64_t num_rows, int64_t dim) {
  for (int64_t k = 0; k < num_rows; ++k) {
    const int64_t row = rows != nullptr ? static_cast<int64_t>(rows[k]) : k;
    const int64_t at = row * dim;
    if (s.rule == OptimizerRule::rowwise_adagrad) {
      rowwise_adagrad_row(s, weight + at, grad + k * dim, state0 + row, dim);
    } else {
      optimizer_elements(s, weight + at, grad + k * dim, state0 != nullptr ? state0 + at : nullptr,
                         state1 != nullptr ? state1 + at : nullptr, state2 != nullptr ? state2 + at : nullptr, dim,
                         rows == nullptr);
    }
  }
}

// A float16/bfloat16 table's values rounded back from float32 one at a time (NarrowRowsFn):
// nearest even (rounding < 0) or stochastic under the key `rounding`.
inline void narrow_rows(const HalfTable& table, const uint32_t* rows, int64_t num_rows, const float* values,
                        int64_t rounding) {
  const int64_t dim = table.dim;
  for (int64_t k = 0; k < num_rows; ++k) {
    const float* from = values + k * dim;
    uint16_t* to = table.data + static_cast<int64_t>(rows[k]) * dim;
    if (rounding >= 0) {
      narrow_row_stochastic(from, to, dim, table.bfloat16, static_cast<uint32_t>(rounding), rows[k]);
      continue;
    }
    for (int64_t j = 0; j < dim; ++j) {
      to[j] = table.bfloat16 ? bfloat16_bits_nearest(float_bits(from[j])) : float16_bits_nearest(float_bits(from[j]));
    }
  }
}

// OptimizerUpdatePackedFn: each row widened into work, the float32 sparse step there (the states
// at the table row), then rounded back.
inline void optimizer_update_packed(const OptimizerScalars& s, const HalfTable& table, const float* grad, float* state0,
                                    float* state1, float* state2, const uint32_t* rows, int64_t num_rows,
                                    int64_t rounding, float* work) {
  const int64_t dim = table.dim;
  for (int64_t k = 0; k < num_rows; ++k) {
    const int64_t row = rows[k];
    float* w = work + k * dim;
    for (int64_t j = 0; j < dim; ++j) {
      const uint16_t bits = table.data[row * dim + j];
      w[j] = table.bfloat16 ? bfloat16_to_float(bits) : half_to_float(bits);
    }
    if (s.rule == OptimizerRule::rowwise_adagrad) {
      rowwise_adagrad_row(s, w, grad + k * dim, state0 + row, dim);
    } else {
      const int64_t at = row * dim;
      optimizer_elements(s, w, grad + k * dim, state0 != nullptr ? state0 + at : nullptr,
                         state1 != nullptr ? state1 + at : nullptr, state2 != nullptr ? state2 + at : nullptr, dim, false);
    }
    narrow_rows(table, rows + k, 1, w, rounding);
  }
}

// CoalesceFn, without the slots: rows in first-occurrence order, each the float32 sum in entry
// order of scale[i] * its source row (the first entry's product stands as it is).
template <class Index>
int64_t coalesce(const Index* indices, int64_t count, int64_t dim, const float* source, const Bags* bags,
                 const float* scale, int64_t skip_row, uint32_t* out_rows, float* out_values) {
  std::vector<int64_t> order;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = static_cast<int64_t>(indices[i]);
    if (row == skip_row) continue;
    int64_t bag = 0;
    if (bags != nullptr) while (bag + 1 < bags->num_bags && i >= bags->end(bag)) ++bag;
    const float* src = source + (bags != nullptr ? bag : i) * dim;
    size_t slot = 0;
    while (slot < order.size() && order[slot] != row) ++slot;
    const bool first = slot == order.size();
    if (first) {
      order.push_back(row);
      out_rows[slot] = static_cast<uint32_t>(row);
    }
    float* acc = out_values + static_cast<int64_t>(slot) * dim;
    for (int64_t j = 0; j < dim; ++j) {
      const float x = (scale != nullptr ? scale[i] : 1.0f) * src[j];
      acc[j] = first ? x : acc[j] + x;
    }
  }
  return static_cast<int64_t>(order.size());
}

// A narrow table's rows as float32, one element at a time: float16 and bfloat16 widened, int8 and
// int4 codes as float(code) * scale + bias (two roundings). The packed kernels' results are the
// float32 kernels' results over these rows.
inline std::vector<float> dequantize_rows(const PackedTable& table, int64_t rows) {
  const int64_t dim = table.dim;
  std::vector<float> out(static_cast<size_t>(rows * dim));
  const int64_t row_bytes = dtype_row_bytes(table.dtype, dim);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(table.data) + r * row_bytes;
    float* values = out.data() + r * dim;
    if (table.dtype == Dtype::float16 || table.dtype == Dtype::bfloat16) {
      for (int64_t j = 0; j < dim; ++j) {
        uint16_t bits;
        std::memcpy(&bits, row + 2 * j, sizeof bits);
        values[j] = table.dtype == Dtype::float16 ? half_to_float(bits) : bfloat16_to_float(bits);
      }
      continue;
    }
    float scale, bias;
    if (table.dtype == Dtype::int8) {
      std::memcpy(&scale, row + dim, sizeof scale);
      std::memcpy(&bias, row + dim + 4, sizeof bias);
    } else {
      uint16_t halves[2];
      std::memcpy(halves, row + dim / 2, sizeof halves);
      scale = half_to_float(halves[0]);
      bias = half_to_float(halves[1]);
    }
    for (int64_t j = 0; j < dim; ++j) {
      const int code = table.dtype == Dtype::int8 ? row[j] : (row[j / 2] >> (4 * (j % 2))) & 15;
      const float scaled = static_cast<float>(code) * scale;
      values[j] = scaled + bias;
    }
  }
  return out;
}

// nearest_rows: every row scored as kernels.h says (the eight-lane sums above, cosine scaled by the
// inverse norms), all sorted by rank (score, or -score for l2; NaN last) then row, the first k
// eligible kept; slots left over are row -1, score NaN.
inline void nearest_rows(const float* table, int64_t dim, int64_t rows, const float* queries, int64_t num_queries,
                         int64_t k, int metric, const int32_t* query_rows, const int32_t* exclude, int64_t exclude_count,
                         int32_t* out_indices, float* out_scores) {
  const auto inverse = [dim](const float* v) {
    const double squares = lane_dot(v, v, dim);
    return squares > 0 ? 1.0 / std::sqrt(squares) : 0.0;
  };
  for (int64_t s = 0; s < num_queries; ++s) {
    const float* q = queries + s * dim;
    std::vector<std::pair<double, std::pair<int32_t, double>>> all;  // (rank, (row, score))
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = table + r * dim;
      if (query_rows != nullptr && query_rows[s] == r) continue;
      if (std::find(exclude, exclude + exclude_count, static_cast<int32_t>(r)) != exclude + exclude_count) continue;
      double score;
      if (metric == 2) {
        double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int64_t j = 0; j < dim; ++j) {
          const double d = static_cast<double>(row[j]) - static_cast<double>(q[j]);
          lanes[j % 8] += d * d;
        }
        score = reduce_lanes(lanes);
      } else {
        score = lane_dot(row, q, dim);
        if (metric == 1) score = (score * inverse(row)) * inverse(q);
      }
      const double rank = std::isnan(score) ? -HUGE_VAL : metric == 2 ? -score : score;
      all.push_back({rank, {static_cast<int32_t>(r), score}});
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second.first < b.second.first);
    });
    for (int64_t i = 0; i < k; ++i) {
      const bool found = i < static_cast<int64_t>(all.size());
      out_indices[s * k + i] = found ? all[i].second.first : -1;
      out_scores[s * k + i] = found ? static_cast<float>(all[i].second.second) : NAN;
    }
  }
}

// word2vec_binary_records from its definition, a byte at a time as the TypeScript loader reads:
// whitespace 9..13 skipped, the word up to its space (more than max_word_bytes bytes without one:
// too long), then the vector, copied a float at a time, each value checked as it is copied.
inline BinaryRecordsResult word2vec_binary_records(const uint8_t* bytes, int64_t length, int64_t start,
                                                   int64_t max_word_bytes, int64_t dim, float* rows, int64_t max_records,
                                                   int32_t* word_starts, int32_t* word_ends) {
  BinaryRecordsResult result;
  int64_t p = start;
  while (result.records < max_records) {
    while (p < length && bytes[p] >= 9 && bytes[p] <= 13) ++p;
    const int64_t word_start = p;
    result.position = word_start;
    while (p < length && bytes[p] != 32 && p - word_start <= max_word_bytes) ++p;
    if (p - word_start > max_word_bytes) {
      result.status = BinaryRecordStatus::word_too_long;
      return result;
    }
    if (p + 1 + 4 * dim > length) {
      result.status = BinaryRecordStatus::need_more;
      return result;
    }
    if (p == word_start) {
      result.status = BinaryRecordStatus::empty_word;
      return result;
    }
    const int64_t n = result.records;
    for (int64_t k = word_start; k < p; ++k) result.high |= bytes[k];
    word_starts[n] = static_cast<int32_t>(word_start);
    word_ends[n] = static_cast<int32_t>(p);
    for (int64_t j = 0; j < dim; ++j) {
      const uint8_t* v = bytes + p + 1 + 4 * j;
      const uint32_t bits = uint32_t{v[0]} | uint32_t{v[1]} << 8 | uint32_t{v[2]} << 16 | uint32_t{v[3]} << 24;
      std::memcpy(rows + n * dim + j, &bits, 4);
      if ((bits & 0x7f800000u) == 0x7f800000u && result.bad_value < 0) result.bad_value = j;
    }
    if (result.bad_value >= 0) {
      result.status = BinaryRecordStatus::not_finite;
      return result;
    }
    p += 1 + 4 * dim;
    result.records = n + 1;
  }
  result.position = p;
  result.status = BinaryRecordStatus::done;
  return result;
}

// add_distinct_words as TableBuilder.addWordIfNew (src/io/word-vectors/table-builder.ts) adds one
// word: its bytes copied after the table's words and hashed in the same pass, a byte at a time,
// then the slots probed from hash & mask; every value read back from the table checked as it is
// read. No hashing ahead, no prefetching.
inline AddWordsResult add_distinct_words(const uint8_t* chunk, const int32_t* starts, const int32_t* ends, int64_t n,
                                         const WordTable& table) {
  AddWordsResult result;
  result.used = table.used;
  int64_t count = table.count;
  const int64_t mask = table.slot_count - 1;
  for (int64_t i = 0; i < n; ++i, ++result.added) {
    const int64_t word_start = result.used;
    const int64_t length = int64_t{ends[i]} - starts[i];
    if (word_start + length + 1 > table.capacity) {
      result.status = AddWordsStatus::need_space;
      return result;
    }
    uint32_t hash = 0x811c9dc5u;
    uint32_t high = 0;
    for (int64_t k = 0; k < length; ++k) {
      const uint8_t c = chunk[starts[i] + k];
      table.bytes[word_start + k] = c;
      hash = (hash ^ c) * 16777619u;
      high |= c;
    }
    int64_t slot = hash & mask;
    // Every slot at most once: a table with no empty slot left is corrupt.
    for (int64_t probes = 0;; ++probes) {
      const int64_t other = probes == table.slot_count ? -1 : table.slots[2 * slot];
      if (other == 0) break;
      if (other < 1 || other > count) {
        result.status = AddWordsStatus::corrupt;
        return result;
      }
      if (static_cast<uint32_t>(table.slots[2 * slot + 1]) == hash) {
        const int64_t other_start = other == 1 ? 0 : table.ends[other - 2] + int64_t{1};
        const int64_t other_end = table.ends[other - 1];
        if (other_start < 0 || other_end < other_start || other_end >= word_start) {
          result.status = AddWordsStatus::corrupt;
          return result;
        }
        bool same = other_end - other_start == length;
        for (int64_t k = 0; same && k < length; ++k) same = table.bytes[other_start + k] == table.bytes[word_start + k];
        if (same) {
          result.status = AddWordsStatus::duplicate;
          result.earlier = other - 1;
          return result;
        }
      }
      slot = (slot + 1) & mask;
    }
    table.slots[2 * slot] = static_cast<int32_t>(count + 1);
    table.slots[2 * slot + 1] = static_cast<int32_t>(hash);
    result.last_slot = slot;
    table.bytes[word_start + length] = table.separator;
    table.ends[count++] = static_cast<int32_t>(word_start + length);
    result.used = word_start + length + 1;
    result.high |= high;
  }
  return result;
}

}  // namespace reference
}  // namespace nne
