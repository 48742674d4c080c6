// The EmbeddingBag kernels, written once over a tier's vector traits `Vec` and included by
// embedding_bag.cc once per tier, inside that tier's namespace and target region
// (instantiate_tiers.h). The bag scatter-add is scatter-add's (scatter_add_body.h). Vec provides:
//   V, kWidth, zero, load, store, load_partial(p, n), store_partial(p, v, n) (first n < kWidth
//   lanes), broadcast, add, mul, div; Mask, greater(a, b) (ordered a > b), select(m, a, b);
//   I (int32 lanes), ibroadcast, iselect, istore.
// The forward blocks read the table through a row reader (packed_rows.h), so that float32 and
// narrow tables share them: a narrow bag is the float32 bag of the widened or dequantized table.
// No include guard: it is meant to be included several times.

// Accumulators for up to kBlockVectors full vectors plus a partial one stay in registers while a
// bag's entries stream past; wider rows are done a block of features at a time. A bag sum uses its
// reader's kSumBlockVectors (packed_rows.h): 8 for the quantized rows, whose per-row setup (scale,
// bias, int4's lookup table) is then paid once per row at D = 128 instead of once per block.
constexpr int kBlockVectors = 4;
constexpr int kMaxBlockVectors = 8;

#include "lane_dot.h"
#include "packed_rows.h"

// Sum (kWeighted: of per_sample_weights[i] * row) or mean of features [j0, j0 + width) of one bag.
template <class Rows, class Index, int kVectors, bool kTail, bool kWeighted, bool kMean>
inline void sum_block(const Rows& rows, const Index* indices, int64_t begin, int64_t end, int64_t prefetch_end,
                      const float* per_sample_weights, int64_t skip_row, int64_t j0, int tail, float* out) {
  constexpr int kAccumulators = kVectors + (kTail ? 1 : 0);
  constexpr int W = Vec::kWidth;
  typename Vec::V acc[kAccumulators > 0 ? kAccumulators : 1];
  for (int k = 0; k < kAccumulators; ++k) acc[k] = Vec::zero();
  const int64_t width = kVectors * W + (kTail ? tail : 0);
  int64_t entries = 0;
  for (int64_t i = begin; i < end; ++i) {
    if (i + rows.prefetch_rows < prefetch_end) rows.prefetch(static_cast<int64_t>(indices[i + rows.prefetch_rows]), j0, width);
    const int64_t row = static_cast<int64_t>(indices[i]);
    if (row == skip_row) continue;
    ++entries;
    const auto src = rows.row(row, j0);
    if (kWeighted) {
      const typename Vec::V w = Vec::broadcast(per_sample_weights[i]);
      for (int k = 0; k < kVectors; ++k) acc[k] = Vec::add(acc[k], Vec::mul(w, src.load(k * W)));
      if (kTail) acc[kVectors] = Vec::add(acc[kVectors], Vec::mul(w, src.load_partial(kVectors * W, tail)));
    } else {
      for (int k = 0; k < kVectors; ++k) acc[k] = Vec::add(acc[k], src.load(k * W));
      if (kTail) acc[kVectors] = Vec::add(acc[kVectors], src.load_partial(kVectors * W, tail));
    }
  }
  if (kMean && entries > 0) {
    const typename Vec::V count = Vec::broadcast(static_cast<float>(entries));
    for (int k = 0; k < kAccumulators; ++k) acc[k] = Vec::div(acc[k], count);
  }
  for (int k = 0; k < kVectors; ++k) Vec::store(out + j0 + k * W, acc[k]);
  if (kTail) Vec::store_partial(out + j0 + kVectors * W, acc[kVectors], tail);
}

// Max of features [j0, j0 + width) of one bag. Forward (grad == nullptr): writes the maxima to
// out. Backward: adds grad_output[j] to grad[row that won feature j][j].
template <class Rows, class Index, int kVectors, bool kTail>
inline void max_block(const Rows& rows, const Index* indices, int64_t begin, int64_t end, int64_t prefetch_end,
                      int64_t skip_row, int64_t j0, int tail, float* out, float* grad, const float* grad_output) {
  constexpr int kAccumulators = kVectors + (kTail ? 1 : 0);
  constexpr int W = Vec::kWidth;
  typename Vec::V best[kAccumulators > 0 ? kAccumulators : 1];
  typename Vec::I winner[kAccumulators > 0 ? kAccumulators : 1];  // entry position - begin
  for (int k = 0; k < kAccumulators; ++k) {
    best[k] = Vec::zero();
    winner[k] = Vec::ibroadcast(0);
  }
  bool any = false;
  const int64_t width = kVectors * W + (kTail ? tail : 0);
  for (int64_t i = begin; i < end; ++i) {
    if (i + rows.prefetch_rows < prefetch_end) rows.prefetch(static_cast<int64_t>(indices[i + rows.prefetch_rows]), j0, width);
    const int64_t row = static_cast<int64_t>(indices[i]);
    if (row == skip_row) continue;
    const auto src = rows.row(row, j0);
    const typename Vec::I position = Vec::ibroadcast(static_cast<int32_t>(i - begin));
    if (!any) {
      any = true;
      for (int k = 0; k < kVectors; ++k) best[k] = src.load(k * W);
      if (kTail) best[kVectors] = src.load_partial(kVectors * W, tail);
      for (int k = 0; k < kAccumulators; ++k) winner[k] = position;
      continue;
    }
    for (int k = 0; k < kAccumulators; ++k) {
      const typename Vec::V x = (kTail && k == kVectors) ? src.load_partial(k * W, tail) : src.load(k * W);
      const typename Vec::Mask greater = Vec::greater(x, best[k]);
      best[k] = Vec::select(greater, x, best[k]);
      winner[k] = Vec::iselect(greater, position, winner[k]);
    }
  }
  if (grad == nullptr) {
    if (!any) {
      for (int64_t j = 0; j < width; ++j) out[j0 + j] = 0.0f;
      return;
    }
    for (int k = 0; k < kVectors; ++k) Vec::store(out + j0 + k * W, best[k]);
    if (kTail) Vec::store_partial(out + j0 + kVectors * W, best[kVectors], tail);
    return;
  }
  if (!any) return;
  int32_t winners[(kAccumulators > 0 ? kAccumulators : 1) * W];
  for (int k = 0; k < kAccumulators; ++k) Vec::istore(winners + k * W, winner[k]);
  for (int64_t j = 0; j < width; ++j) {
    const int64_t row = static_cast<int64_t>(indices[begin + winners[j]]);
    float& g = grad[row * rows.dim + j0 + j];
    g = g + grad_output[j0 + j];
  }
}

// Runs Block over features [j_begin, j_end) in blocks of kVectorsPerBlock vectors, then of kBlockVectors; the last block is
// picked by how many full vectors and whether a partial one remain.
template <template <int, bool> class Block, int kVectorsPerBlock = kBlockVectors, class... Args>
inline void for_each_block(int64_t j_begin, int64_t j_end, Args&&... args) {
  static_assert(kVectorsPerBlock >= kBlockVectors && kVectorsPerBlock <= kMaxBlockVectors, "a block of 4 to 8 vectors");
  constexpr int W = Vec::kWidth;
  int64_t j0 = j_begin;
  // Wider blocks first (a reader's kSumBlockVectors); what remains goes as every reader's does, so
  // the wider block adds one instantiation, not one per remainder.
  if constexpr (kVectorsPerBlock != kBlockVectors) {
    constexpr int64_t kWide = kVectorsPerBlock * W;
    for (; j0 + kWide <= j_end; j0 += kWide) Block<kVectorsPerBlock, false>::run(j0, 0, args...);
  }
  constexpr int64_t kBlock = kBlockVectors * W;
  for (; j0 + kBlock <= j_end; j0 += kBlock) Block<kBlockVectors, false>::run(j0, 0, args...);
  const int64_t rest = j_end - j0;
  const int vectors = static_cast<int>(rest / W);
  const int tail = static_cast<int>(rest % W);
  if (W == 1 || tail == 0) {
    switch (vectors) {
      case 1: Block<1, false>::run(j0, 0, args...); break;
      case 2: Block<2, false>::run(j0, 0, args...); break;
      case 3: Block<3, false>::run(j0, 0, args...); break;
      default: break;
    }
  } else {
    switch (vectors) {
      case 0: Block<0, (W > 1)>::run(j0, tail, args...); break;
      case 1: Block<1, (W > 1)>::run(j0, tail, args...); break;
      case 2: Block<2, (W > 1)>::run(j0, tail, args...); break;
      default: Block<3, (W > 1)>::run(j0, tail, args...); break;
    }
  }
}

template <class Rows, class Index, bool kWeighted, bool kMean>
struct SumBlock {
  template <int kVectors, bool kTail>
  struct At {
    static void run(int64_t j0, int tail, const Rows& rows, const Index* indices, int64_t begin, int64_t end,
                    int64_t prefetch_end, const float* per_sample_weights, int64_t skip_row, float* out) {
      sum_block<Rows, Index, kVectors, kTail, kWeighted, kMean>(rows, indices, begin, end, prefetch_end, per_sample_weights, skip_row,
                                                                j0, tail, out);
    }
  };
};

template <class Rows, class Index>
struct MaxBlock {
  template <int kVectors, bool kTail>
  struct At {
    static void run(int64_t j0, int tail, const Rows& rows, const Index* indices, int64_t begin, int64_t end,
                    int64_t prefetch_end, int64_t skip_row, float* out, float* grad, const float* grad_output) {
      max_block<Rows, Index, kVectors, kTail>(rows, indices, begin, end, prefetch_end, skip_row, j0, tail, out, grad, grad_output);
    }
  };
};

// Where the forward blocks of bag b stop prefetching. Narrow tables: at the last bag's end, across
// the end of the bag being summed, so that a bag's first entries arrive prefetched too (with
// prefetches only within a bag, a narrow table's distance of ~30 rows (packed_rows.h) left most
// entries of bags of ~20 unprefetched: int4 bag sums were 1.47x slower than with 4 rows; across
// bags, 0.55x). float32: at the bag's end, as before: across bags cost 1.1-1.3x on tables in
// cache (10^4 x 64, 10^5 x 16) for 0.9x on 10^6 x 128 (bench/ab-builds.mjs, CPU time).
template <class Rows>
inline int64_t prefetch_end(const Bags& bags, int64_t b) {
  if (!Rows::kPrefetchAcrossBags) return bags.end(b);
  return bags.num_bags > 0 ? bags.end(bags.num_bags - 1) : 0;
}

template <class Rows, class Index, bool kWeighted, bool kMean>
void sum_bags(const Rows& rows, const Index* indices, const Bags& bags, const float* per_sample_weights,
              int64_t skip_row, float* out) {
  const int64_t dim = rows.dim;
  for (int64_t b = 0; b < bags.num_bags; ++b) {
    for_each_block<SumBlock<Rows, Index, kWeighted, kMean>::template At, Rows::kSumBlockVectors>(0, dim, rows, indices, bags.begin(b), bags.end(b), prefetch_end<Rows>(bags, b),
                                                                         per_sample_weights, skip_row, out + b * dim);
  }
}

template <class Rows, class Index>
void bag_forward_rows(const Rows& rows, const Index* indices, const Bags& bags, const float* per_sample_weights,
                      BagMode mode, int64_t skip_row, float* out) {
  switch (mode) {
    case BagMode::sum:
      if (per_sample_weights != nullptr) {
        sum_bags<Rows, Index, true, false>(rows, indices, bags, per_sample_weights, skip_row, out);
      } else {
        sum_bags<Rows, Index, false, false>(rows, indices, bags, nullptr, skip_row, out);
      }
      return;
    case BagMode::mean:
      sum_bags<Rows, Index, false, true>(rows, indices, bags, nullptr, skip_row, out);
      return;
    case BagMode::max:
      for (int64_t b = 0; b < bags.num_bags; ++b) {
        for_each_block<MaxBlock<Rows, Index>::template At>(0, rows.dim, rows, indices, bags.begin(b), bags.end(b), prefetch_end<Rows>(bags, b), skip_row,
                                                           out + b * rows.dim, static_cast<float*>(nullptr),
                                                           static_cast<const float*>(nullptr));
      }
      return;
  }
}

template <class Index>
void bag_forward(const float* weight, int64_t dim, const Index* indices, const Bags& bags,
                 const float* per_sample_weights, BagMode mode, int64_t skip_row, float* out) {
  bag_forward_rows(Float32Rows{weight, dim}, indices, bags, per_sample_weights, mode, skip_row, out);
}

// The bag forward of a narrow table (float16, bfloat16, int8, int4): the float32 bag of its
// widened or dequantized rows, bit for bit.
template <class Index>
void bag_forward_packed(const PackedTable& table, const Index* indices, const Bags& bags,
                        const float* per_sample_weights, BagMode mode, int64_t skip_row, float* out) {
  with_rows(table, [&](const auto& rows) { bag_forward_rows(rows, indices, bags, per_sample_weights, mode, skip_row, out); });
}

// Features [j_begin, j_end) only: the thread pool splits max backward by feature.
template <class Index>
void bag_max_backward(const float* weight, float* grad, int64_t dim, const Index* indices, const Bags& bags,
                      const float* grad_output, int64_t skip_row, int64_t j_begin, int64_t j_end) {
  const Float32Rows rows{weight, dim};
  for (int64_t b = 0; b < bags.num_bags; ++b) {
    for_each_block<MaxBlock<Float32Rows, Index>::template At>(j_begin, j_end, rows, indices, bags.begin(b), bags.end(b), bags.end(b),
                                                              skip_row, static_cast<float*>(nullptr), grad,
                                                              grad_output + b * dim);
  }
}

// The same fixed-order double accumulation in every tier (lane_dot.h).
template <class Index>
void bag_weight_grad(const float* weight, int64_t dim, const Index* indices, const Bags& bags,
                     const float* grad_output, int64_t skip_row, float* out) {
  for (int64_t b = 0; b < bags.num_bags; ++b) {
    const float* g = grad_output + b * dim;
    const int64_t end = bags.end(b);
    for (int64_t i = bags.begin(b); i < end; ++i) {
      const int64_t row = static_cast<int64_t>(indices[i]);
      if (row == skip_row) {
        out[i] = 0.0f;
        continue;
      }
      out[i] = static_cast<float>(lane_dot(g, weight + row * dim, dim));
    }
  }
}
