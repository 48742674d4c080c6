// Optimizer update rules, written once over a tier's vector traits `Vec` (vec_traits.h) and
// included by optimizers.cc once per tier. Each rule is a pass over a contiguous span of
// elements (a whole table for a dense step, one row for a sparse step); every operation is one
// float32 operation, grouped as torch.optim groups it, with one rounding per operation: torch's
// CPU kernels fuse `t.add_(u, alpha=a)` and addcmul into fused multiply-adds where this never
// does, so every tier and the TypeScript backend agree to the bit, and torch to a few ulps.
// No include guard: it is meant to be included several times.

#include "lane_dot.h"
#include "mix32_lanes.h"

// Applies `op(V* x)` lane-wise over [0, n): full vectors, then one partial vector.
template <class Op>
inline void for_span(int64_t n, Op&& op) {
  constexpr int W = Vec::kWidth;
  const int64_t full = n - n % W;
  for (int64_t j = 0; j < full; j += W) op(j, W);
  if (full < n) op(full, static_cast<int>(n - full));
}

inline typename Vec::V load_n(const float* p, int lanes) {
  return lanes == Vec::kWidth ? Vec::load(p) : Vec::load_partial(p, lanes);
}
inline void store_n(float* p, typename Vec::V v, int lanes) {
  if (lanes == Vec::kWidth) Vec::store(p, v);
  else Vec::store_partial(p, v, lanes);
}

// Weight decay folded into the gradient: g + wd * p (torch's grad.add(param, alpha=wd)).
inline typename Vec::V decayed(typename Vec::V g, typename Vec::V p, const OptimizerScalars& s) {
  return s.weight_decay != 0.0f ? Vec::add(g, Vec::mul(Vec::broadcast(s.weight_decay), p)) : g;
}

// dense: a whole-table step (torch groups some updates differently for dense and sparse steps).
void update_span(const OptimizerScalars& s, float* weight, const float* grad, float* state0, float* state1,
                 float* state2, int64_t n, bool dense) {
  using V = typename Vec::V;
  const V lr = Vec::broadcast(s.lr);
  const V a = Vec::broadcast(s.a);
  const V b = Vec::broadcast(s.b);
  const V c = Vec::broadcast(s.c);
  const V eps = Vec::broadcast(s.eps);
  switch (s.rule) {
    case OptimizerRule::sgd:
      // a = momentum, b = 1 - dampening; state0 = momentum buffer (null without momentum).
      for_span(n, [&](int64_t j, int lanes) {
        V p = load_n(weight + j, lanes);
        V d = decayed(load_n(grad + j, lanes), p, s);
        if (state0 != nullptr) {
          V buf = s.first_step ? d : Vec::add(Vec::mul(load_n(state0 + j, lanes), a), Vec::mul(b, d));
          store_n(state0 + j, buf, lanes);
          d = s.nesterov ? Vec::add(d, Vec::mul(a, buf)) : buf;
        }
        store_n(weight + j, Vec::add(p, Vec::mul(lr, d)), lanes);  // lr holds -lr
      });
      return;
    case OptimizerRule::adagrad:
      // state0 = sum of squares; lr holds -clr.
      for_span(n, [&](int64_t j, int lanes) {
        V p = load_n(weight + j, lanes);
        V g = decayed(load_n(grad + j, lanes), p, s);
        V sum = Vec::add(load_n(state0 + j, lanes), Vec::mul(g, g));
        store_n(state0 + j, sum, lanes);
        V std = Vec::add(Vec::sqrt(sum), eps);
        // torch groups the dense update as addcdiv, p + (-clr * g) / std, and the sparse one as
        // p + -clr * (g / std).
        V step = dense ? Vec::div(Vec::mul(lr, g), std) : Vec::mul(lr, Vec::div(g, std));
        store_n(weight + j, Vec::add(p, step), lanes);
      });
      return;
    case OptimizerRule::adam:
      // a = beta1, b = beta2, c = sqrt(bias correction 2), lr holds -step size, decay = AdamW's
      // 1 - lr * wd (or 1); state0 = m, state1 = v, state2 = max v (amsgrad) or null.
      for_span(n, [&](int64_t j, int lanes) {
        V p = load_n(weight + j, lanes);
        if (s.decay != 1.0f) p = Vec::mul(p, Vec::broadcast(s.decay));
        V g = decayed(load_n(grad + j, lanes), p, s);
        V m = Vec::add(Vec::mul(load_n(state0 + j, lanes), a), Vec::mul(Vec::broadcast(s.one_minus_a), g));
        V v = Vec::add(Vec::mul(load_n(state1 + j, lanes), b), Vec::mul(Vec::mul(Vec::broadcast(s.one_minus_b), g), g));
        store_n(state0 + j, m, lanes);
        store_n(state1 + j, v, lanes);
        if (state2 != nullptr) {
          v = Vec::max(load_n(state2 + j, lanes), v);
          store_n(state2 + j, v, lanes);
        }
        V denom = Vec::add(Vec::div(Vec::sqrt(v), c), eps);
        store_n(weight + j, Vec::add(p, Vec::div(Vec::mul(lr, m), denom)), lanes);  // addcdiv: p + (-step * m) / denom
      });
      return;
    case OptimizerRule::sparse_adam:
      // torch's SparseAdam on coalesced rows: m += (g - m) * (1 - beta1), v += (g*g - v) * (1 - beta2),
      // p += -step_size * (m / (sqrt(v) + eps)); lr holds -step_size.
      for_span(n, [&](int64_t j, int lanes) {
        V g = load_n(grad + j, lanes);
        V old_m = load_n(state0 + j, lanes);
        V old_v = load_n(state1 + j, lanes);
        V m = Vec::add(Vec::mul(Vec::sub(g, old_m), Vec::broadcast(s.one_minus_a)), old_m);
        V v = Vec::add(Vec::mul(Vec::sub(Vec::mul(g, g), old_v), Vec::broadcast(s.one_minus_b)), old_v);
        store_n(state0 + j, m, lanes);
        store_n(state1 + j, v, lanes);
        V denom = Vec::add(Vec::sqrt(v), eps);
        store_n(weight + j, Vec::add(load_n(weight + j, lanes), Vec::mul(lr, Vec::div(m, denom))), lanes);
      });
      return;
    case OptimizerRule::rowwise_adagrad:
      return;  // per row: see update_rowwise_adagrad
  }
}

// FBGEMM's row-wise Adagrad on one row: g' = g + wd * w; h += mean(g'^2) (the squares summed in
// double in the eight-lane order); w -= float(lr / (sqrt(h) + eps)) * g'. g' is computed twice (a
// block at a time for the sum, then again for the update, from the same unchanged weights, so to
// the same bits) rather than kept in a per-row buffer that every thread would need its own of.
void update_rowwise_adagrad(const OptimizerScalars& s, float* weight, const float* grad, float* h, int64_t dim) {
  using V = typename Vec::V;
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (s.weight_decay == 0.0f) {
    lane_dot_accumulate(grad, grad, dim, lanes);
  } else {
    constexpr int64_t kBlock = 256;  // a multiple of 8: every block starts at lane 0
    alignas(64) float block[kBlock];
    for (int64_t j0 = 0; j0 < dim; j0 += kBlock) {
      const int64_t n = dim - j0 < kBlock ? dim - j0 : kBlock;
      for_span(n, [&](int64_t j, int lanes_n) {
        store_n(block + j, decayed(load_n(grad + j0 + j, lanes_n), load_n(weight + j0 + j, lanes_n), s), lanes_n);
      });
      lane_dot_accumulate(block, block, n, lanes);
    }
  }
  const double sum = lane_reduce(lanes);
  const float updated = *h + static_cast<float>(sum / static_cast<double>(dim));
  *h = updated;
  const V multiplier = Vec::broadcast(static_cast<float>(s.lr_double / (std::sqrt(static_cast<double>(updated)) + s.eps_double)));
  for_span(dim, [&](int64_t j, int lanes_n) {
    const V p = load_n(weight + j, lanes_n);
    store_n(weight + j, Vec::sub(p, Vec::mul(multiplier, decayed(load_n(grad + j, lanes_n), p, s))), lanes_n);
  });
}

// A dense step of every rule but row-wise Adagrad, on elements [begin, end) of the table.
void update_elements(const OptimizerScalars& s, float* weight, const float* grad, float* state0, float* state1,
                     float* state2, int64_t begin, int64_t end) {
  update_span(s, weight + begin, grad + begin, state0 != nullptr ? state0 + begin : nullptr,
              state1 != nullptr ? state1 + begin : nullptr, state2 != nullptr ? state2 + begin : nullptr, end - begin,
              true);
}

// Row updates: for k in [k_begin, k_end), table row rows[k] (k itself when rows is null: a dense
// row-wise Adagrad step) from grad row k, if that row is in `range` (the thread pool splits
// sparse steps by destination row).
// How many rows ahead a sparse step prefetches the weight and state rows it will update: rows of a
// large table are random and miss every cache (measured at 10^6 x 64: 8 ahead cut the update of
// row-wise Adagrad from 2.9 to 1.6 ms per 16k rows, and helped every rule).
constexpr int64_t kPrefetchUpdateRows = 8;

void update_rows(const OptimizerScalars& s, float* weight, const float* grad, float* state0, float* state1,
                 float* state2, const uint32_t* rows, int64_t k_begin, int64_t k_end, int64_t dim, RowRange range) {
  const bool rowwise = s.rule == OptimizerRule::rowwise_adagrad;
  for (int64_t k = k_begin; k < k_end; ++k) {
    if (rows != nullptr && k + kPrefetchUpdateRows < k_end) {
      const int64_t ahead = rows[k + kPrefetchUpdateRows];
      if (range.contains(ahead)) {
        prefetch_floats<Access::write>(weight + ahead * dim, dim);
        if (state0 != nullptr) prefetch_floats<Access::write>(state0 + (rowwise ? ahead : ahead * dim), rowwise ? 1 : dim);
        if (state1 != nullptr) prefetch_floats<Access::write>(state1 + ahead * dim, dim);
        if (state2 != nullptr) prefetch_floats<Access::write>(state2 + ahead * dim, dim);
      }
    }
    const int64_t row = rows != nullptr ? rows[k] : k;
    if (!range.contains(row)) continue;
    if (rowwise) {
      update_rowwise_adagrad(s, weight + row * dim, grad + k * dim, state0 + row, dim);
      continue;
    }
    const int64_t at = row * dim;
    update_span(s, weight + at, grad + k * dim, state0 != nullptr ? state0 + at : nullptr,
                state1 != nullptr ? state1 + at : nullptr, state2 != nullptr ? state2 + at : nullptr, dim, false);
  }
}

// Coalescing rows of one entry stream (see CoalesceFn in kernels.h).
template <class Index>
int64_t coalesce(const Index* indices, int64_t count, int64_t dim, const float* source, const Bags* bags,
                 const float* scale, int64_t skip_row, int32_t* slots, int64_t slots_length, uint32_t* out_rows,
                 float* out_values) {
  using V = typename Vec::V;
  int64_t distinct = 0;
  int64_t bag = 0;
  for (int64_t i = 0; i < count; ++i) {
    int64_t source_row = i;
    if (bags != nullptr) {
      while (bag + 1 < bags->num_bags && i >= bags->end(bag)) ++bag;
      source_row = bag;
    }
    // The slot of a row a few entries ahead: one int per table row, a cache miss on a large table.
    if (i + kPrefetchUpdateRows < count) NNE_PREFETCH(slots + static_cast<int64_t>(indices[i + kPrefetchUpdateRows]));
    const int64_t row = static_cast<int64_t>(indices[i]);
    if (row == skip_row) continue;
    const float* src = source + source_row * dim;
    int32_t slot = slots[row];
    // A slot is trusted only if it points at this row: slots handed in dirty cannot send a write
    // outside out_values.
    const bool seen = slot >= 0 && slot < distinct && out_rows[slot] == row;
    if (!seen) {
      slot = static_cast<int32_t>(distinct++);
      slots[row] = slot;
      out_rows[slot] = static_cast<uint32_t>(row);
    }
    float* dst = out_values + static_cast<int64_t>(slot) * dim;
    const V s = Vec::broadcast(scale != nullptr ? scale[i] : 1.0f);
    for_span(dim, [&](int64_t j, int lanes) {
      V x = load_n(src + j, lanes);
      if (scale != nullptr) x = Vec::mul(s, x);
      store_n(dst + j, seen ? Vec::add(load_n(dst + j, lanes), x) : x, lanes);
    });
  }
  // out_rows is read back: bounded, since JavaScript may have written it meanwhile.
  for (int64_t k = 0; k < distinct; ++k) {
    const int64_t row = out_rows[k];
    if (row < slots_length) slots[row] = -1;
  }
  return distinct;
}

// Trained 16-bit tables (kernels.h HalfTable): a row widened exactly (the tier's conversions, as
// gather_packed widens), and rounded back.
inline void widen_half_row(const uint16_t* in, float* out, int64_t dim, bool bfloat16) {
  constexpr int W = Vec::kWidth;
  const int64_t full = dim - dim % W;
  for (int64_t j = 0; j < full; j += W) Vec::store(out + j, bfloat16 ? Vec::widen_bf16(in + j) : Vec::widen_f16(in + j));
  for (int64_t j = full; j < dim; ++j) out[j] = bfloat16 ? bfloat16_to_float(in[j]) : half_to_float(in[j]);
}

// Stochastic rounding (narrow_rounding.h): the random bits of a vector of columns at a time on
// the tier's integer lanes, each value then rounded by the scalar function.
inline void narrow_half_row_stochastic(const float* values, uint16_t* out, int64_t dim, bool bfloat16, uint32_t key,
                                       uint32_t row) {
  constexpr int W = Vec::kWidth;
  const uint32_t row_key = row_rounding_key(key, row);
  const typename Vec::I golden = Vec::ibroadcast(static_cast<int32_t>(0x9e3779b9u));
  alignas(64) int32_t bits[W];
  const int64_t full = dim - dim % W;
  for (int64_t j = 0; j < full; j += W) {
    const typename Vec::I columns = Vec::iadd(Vec::ibroadcast(static_cast<int32_t>(j)), Vec::iota());
    Vec::istore(bits, mix32_lanes(Vec::iadd(Vec::ibroadcast(static_cast<int32_t>(row_key)), Vec::imul(columns, golden))));
    for (int l = 0; l < W; ++l) {
      const uint32_t x = float_bits(values[j + l]);
      const uint32_t r = static_cast<uint32_t>(bits[l]);
      out[j + l] = bfloat16 ? bfloat16_bits_stochastic(x, r) : float16_bits_stochastic(x, r);
    }
  }
  for (int64_t j = full; j < dim; ++j) {
    const uint32_t x = float_bits(values[j]);
    const uint32_t r = rounding_bits(row_key, static_cast<uint32_t>(j));
    out[j] = bfloat16 ? bfloat16_bits_stochastic(x, r) : float16_bits_stochastic(x, r);
  }
}

inline void narrow_half_row(const float* values, uint16_t* out, int64_t dim, bool bfloat16, int64_t rounding, uint32_t row) {
  if (rounding >= 0) {
    narrow_half_row_stochastic(values, out, dim, bfloat16, static_cast<uint32_t>(rounding), row);
    return;
  }
  constexpr int W = Vec::kWidth;
  const int64_t full = dim - dim % W;
  for (int64_t j = 0; j < full; j += W) {
    if (bfloat16) Vec::narrow_bf16(out + j, Vec::load(values + j));
    else Vec::narrow_f16(out + j, Vec::load(values + j));
  }
  for (int64_t j = full; j < dim; ++j) {
    out[j] = bfloat16 ? bfloat16_bits_nearest(float_bits(values[j])) : float16_bits_nearest(float_bits(values[j]));
  }
}

// OptimizerUpdatePackedFn for the rows in `range` (the thread pool splits by destination row).
void update_half_rows(const OptimizerScalars& s, const HalfTable& table, const float* grad, float* state0,
                      float* state1, float* state2, const uint32_t* rows, int64_t num_rows, int64_t rounding,
                      float* work, RowRange range) {
  const int64_t dim = table.dim;
  // A row of up to kStackRow floats is updated on the stack, where it stays in the L1 cache; a
  // longer one in its row of work (a few MB per step that would otherwise go to memory and back).
  constexpr int64_t kStackRow = 1024;
  alignas(64) float stack_row[kStackRow];
  for (int64_t k = 0; k < num_rows; ++k) {
    if (k + kPrefetchUpdateRows < num_rows && range.contains(rows[k + kPrefetchUpdateRows])) {
      // The table row and the states a few rows ahead, as update_rows asks for them. Written out
      // here: GCC 12 (-O1 and above) left no prefetch at all in this loop when these went through
      // prefetch_bytes / prefetch_floats or a helper function.
      const int64_t ahead = rows[k + kPrefetchUpdateRows];
      // Every line a row touches, from the one holding its first byte (see prefetch_bytes).
      const uintptr_t row_at = reinterpret_cast<uintptr_t>(table.data + ahead * dim);
      for (uintptr_t line = row_at & ~uintptr_t{63}; line < row_at + 2 * dim; line += 64) NNE_PREFETCH_WRITE(reinterpret_cast<const char*>(line));
      const bool rowwise = s.rule == OptimizerRule::rowwise_adagrad;
      for (float* state : {state0, state1, state2}) {
        if (state == nullptr) continue;
        const uintptr_t at = reinterpret_cast<uintptr_t>(state + (rowwise ? ahead : ahead * dim));
        const uintptr_t end = at + (rowwise ? 4 : 4 * dim);
        for (uintptr_t line = at & ~uintptr_t{63}; line < end; line += 64) NNE_PREFETCH_WRITE(reinterpret_cast<const char*>(line));
      }
    }
    const int64_t row = rows[k];
    if (!range.contains(row)) continue;
    float* w = dim <= kStackRow ? stack_row : work + k * dim;
    uint16_t* bits = table.data + row * dim;
    widen_half_row(bits, w, dim, table.bfloat16);
    if (s.rule == OptimizerRule::rowwise_adagrad) {
      update_rowwise_adagrad(s, w, grad + k * dim, state0 + row, dim);
    } else {
      const int64_t at = row * dim;
      update_span(s, w, grad + k * dim, state0 != nullptr ? state0 + at : nullptr, state1 != nullptr ? state1 + at : nullptr,
                  state2 != nullptr ? state2 + at : nullptr, dim, false);
    }
    narrow_half_row(w, bits, dim, table.bfloat16, rounding, static_cast<uint32_t>(row));
  }
}

// NarrowRowsFn for the rows in `range`.
void narrow_half_rows(const HalfTable& table, const uint32_t* rows, int64_t num_rows, const float* values,
                      int64_t rounding, RowRange range) {
  const int64_t dim = table.dim;
  for (int64_t k = 0; k < num_rows; ++k) {
    const int64_t row = rows[k];
    if (range.contains(row)) {
      narrow_half_row(values + k * dim, table.data + row * dim, dim, table.bfloat16, rounding, static_cast<uint32_t>(row));
    }
  }
}
