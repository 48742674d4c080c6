// The row gather, written once over a tier's vector traits `Vec` and included by gather.cc once
// per tier (instantiate_tiers.h). No include guard.

#include "packed_rows.h"

// dst[0, dim) = src[0, dim): blocks of four vectors (loads grouped before stores), single
// vectors, then one partial vector. The scalar tier copies with memcpy, faster than a loop over one
// float at a time (measured: 1.2-2x at D = 64 and 300).
inline void copy_row(const float* src, float* dst, int64_t dim) {
  constexpr int W = Vec::kWidth;
  if (W == 1) {
    std::memcpy(dst, src, static_cast<size_t>(dim) * sizeof(float));
    return;
  }
  // Bounds from dim alone, the same for every row: the compiler keeps them, and the tail's mask,
  // out of gather_rows' loop over rows (with bounds from the loop counter, as `j + W <= dim`, it
  // unrolled the single vectors into compares and rebuilt the mask per row: 1.07-1.2x slower at
  // D = 16 and 64 than the hand-written tiers before issue 13).
  const int64_t quads = dim - dim % (4 * W);
  const int64_t whole = dim - dim % W;
  const int tail = static_cast<int>(dim - whole);
  for (int64_t j = 0; j < quads; j += 4 * W) {
    const typename Vec::V a = Vec::load(src + j);
    const typename Vec::V b = Vec::load(src + j + W);
    const typename Vec::V c = Vec::load(src + j + 2 * W);
    const typename Vec::V d = Vec::load(src + j + 3 * W);
    Vec::store(dst + j, a);
    Vec::store(dst + j + W, b);
    Vec::store(dst + j + 2 * W, c);
    Vec::store(dst + j + 3 * W, d);
  }
  for (int64_t j = quads; j < whole; j += W) Vec::store(dst + j, Vec::load(src + j));
  if (W > 1 && tail != 0) Vec::store_partial(dst + whole, Vec::load_partial(src + whole, tail), tail);
}

// out[i] = weight[indices[i]] for i < count, rows prefetched into L2 about kPrefetchBytes ahead
// (packed_rows.h; at least kPrefetchRows rows), as the narrow tables' rows are: 4e6 x 128 lookups
// (1 thread, AMD EPYC, avx512) took 1158 -> 805 us against 4 rows prefetched into L1, in-cache
// shapes unchanged (bench/ab-builds.mjs). The scalar tier is one memcpy per row and nothing else:
// the memory-bandwidth reference the benchmark measures against (the prefetches cost it 15-30% at
// D = 64).
template <class Index>
void gather_rows(const float* weight, int64_t dim, const Index* indices, int64_t count, float* out) {
  const int64_t ahead = prefetch_rows_for(4 * dim);
  for (int64_t i = 0; i < count; ++i) {
    if (Vec::kWidth > 1 && i + ahead < count) prefetch_bytes<Access::read_l2>(weight + static_cast<int64_t>(indices[i + ahead]) * dim, 4 * dim);
    copy_row(weight + static_cast<int64_t>(indices[i]) * dim, out + i * dim, dim);
  }
}

// The gather of a narrow table: each row widened or dequantized into the output by its reader
// (packed_rows.h), a row prefetched rows.prefetch_rows entries ahead.
template <class Rows, class Index>
void gather_rows_of(const Rows& rows, const Index* indices, int64_t count, float* out) {
  constexpr int W = Vec::kWidth;
  const int64_t dim = rows.dim;
  const int64_t ahead = rows.prefetch_rows;
  for (int64_t i = 0; i < count; ++i) {
    if (i + ahead < count) rows.prefetch(static_cast<int64_t>(indices[i + ahead]), 0, dim);
    const auto src = rows.row(static_cast<int64_t>(indices[i]), 0);
    float* dst = out + i * dim;
    int64_t j = 0;
    for (; j + 2 * W <= dim; j += 2 * W) {
      const typename Vec::V a = src.load(j);
      const typename Vec::V b = src.load(j + W);
      Vec::store(dst + j, a);
      Vec::store(dst + j + W, b);
    }
    for (; j + W <= dim; j += W) Vec::store(dst + j, src.load(j));
    const int tail = static_cast<int>(dim - j);
    if (W > 1 && tail != 0) Vec::store_partial(dst + j, src.load_partial(j, tail), tail);
  }
}

template <class Index>
void gather_packed(const PackedTable& table, const Index* indices, int64_t count, float* out) {
  with_rows(table, [&](const auto& rows) { gather_rows_of(rows, indices, count, out); });
}
