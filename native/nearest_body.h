// The nearest-rows kernels (nearest.cc), written once over a tier's vector traits `Vec` and
// included once per tier inside that tier's namespace and target region (instantiate_tiers.h).
// No include guard: it is meant to be included several times.
//
// Scores are lane_dot.h's eight-lane double sums, whatever the tier: element j of a row and a query
// goes to lane j % 8, each lane adds in order of j, the lanes combine as ((l0 + l1) + (l2 + l3)) +
// ((l4 + l5) + (l6 + l7)). Rows and queries are widened to double first, a block of rows at a time,
// into buffers padded with zeros to a multiple of 8 (a zero term leaves a lane as it was, so the
// padding is lane_dot's tail exactly). The tile below then multiplies kTileRows rows by
// kTileQueries queries from those buffers in registers (products of floats are exact in double,
// so the fused multiply-add is the same double as multiply then add), and reduce4 combines the
// lanes of four (row, query) pairs at a time.

#include "lane_dot.h"
#include "packed_rows.h"

// Queries per tile: AVX-512 has the registers for 4 x 4 pairs; the narrower tiers do 4 x 1.
constexpr int kTileQueries = Vec::kWidth >= 16 ? 4 : 1;

// Row r of the table as floats (float32: the row itself; narrow: dequantized into `scratch`, as
// gatherPacked dequantizes it), for widening.
template <class Rows>
inline const float* row_floats(const Rows& rows, int64_t r, float* scratch) {
  constexpr int W = Vec::kWidth;
  const int64_t dim = rows.dim;
  const auto src = rows.row(r, 0);
  int64_t j = 0;
  for (; j + W <= dim; j += W) Vec::store(scratch + j, src.load(j));
  if (j < dim) {
    if (W == 1) {
      Vec::store(scratch + j, src.load(j));
    } else {
      Vec::store_partial(scratch + j, src.load_partial(j, static_cast<int>(dim - j)), static_cast<int>(dim - j));
    }
  }
  return scratch;
}

inline const float* row_floats(const Float32Rows& rows, int64_t r, float*) { return rows.weight + r * rows.dim; }

// out[i] = 1 / sqrt(lane_dot(row, row)) of rows first + i, i < count, or 0 for a row of norm 0.
template <class Rows>
void inverse_norms_rows(const Rows& rows, int64_t first, int64_t count, double* out, float* scratch) {
  for (int64_t i = 0; i < count; ++i) {
    const float* row = row_floats(rows, first + i, scratch);
    const double squares = lane_dot(row, row, rows.dim);
    out[i] = squares > 0 ? 1.0 / std::sqrt(squares) : 0.0;
  }
}

inline void row_inverse_norms(const PackedTable& table, int64_t first, int64_t count, double* out) {
  std::vector<float> scratch(static_cast<size_t>(table.dim) + Vec::kWidth);
  with_rows(table, [&](const auto& rows) { inverse_norms_rows(rows, first, count, out, scratch.data()); });
}

// The lane sums of rows [0, kTileRows) of `rows_wide` with `queries` queries from `queries_wide`
// (both padded to `padded` doubles per row), reduced: out[s * kTileRows + r].
template <int kQueries, bool kL2>
inline void tile_scores(const double* rows_wide, const double* queries_wide, int64_t padded, double* out) {
  using D8 = typename Vec::D8;
  D8 acc[kQueries][kTileRows];
  const double zero[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int s = 0; s < kQueries; ++s) {
    for (int r = 0; r < kTileRows; ++r) acc[s][r] = D8::load(zero);
  }
  for (int64_t j = 0; j < padded; j += 8) {
    D8 q[kQueries];
    for (int s = 0; s < kQueries; ++s) q[s] = D8::load(queries_wide + s * padded + j);
    for (int r = 0; r < kTileRows; ++r) {
      const D8 x = D8::load(rows_wide + r * padded + j);
      for (int s = 0; s < kQueries; ++s) {
        if (kL2) {
          const D8 d = D8::sub(x, q[s]);
          acc[s][r] = D8::add(acc[s][r], D8::mul(d, d));
        } else {
          acc[s][r] = D8::fma(x, q[s], acc[s][r]);
        }
      }
    }
  }
  for (int s = 0; s < kQueries; ++s) D8::reduce4(acc[s], out + s * kTileRows);
}

// The same lane sums read straight from kTileRows float rows (widened in registers; a row's last
// dim % 8 elements through a zeroed buffer, the padding of the widened form), for one query:
// out[r]. What a batch too small for the query tiles does, without widening the rows into a buffer.
template <bool kL2>
inline void row_scores(const float* const* tile_rows, const double* query_wide, int64_t dim, double* out) {
  using D8 = typename Vec::D8;
  const double zero[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  D8 acc[kTileRows];
  for (int r = 0; r < kTileRows; ++r) acc[r] = D8::load(zero);
  const int64_t full = dim - dim % 8;
  const auto step = [&](const D8& q, const D8 (&x)[kTileRows]) {
    for (int r = 0; r < kTileRows; ++r) {
      if (kL2) {
        const D8 d = D8::sub(x[r], q);
        acc[r] = D8::add(acc[r], D8::mul(d, d));
      } else {
        acc[r] = D8::fma(x[r], q, acc[r]);
      }
    }
  };
  for (int64_t j = 0; j < full; j += 8) {
    D8 x[kTileRows];
    for (int r = 0; r < kTileRows; ++r) x[r] = D8::widen(tile_rows[r] + j);
    step(D8::load(query_wide + j), x);
  }
  if (full < dim) {
    D8 x[kTileRows];
    for (int r = 0; r < kTileRows; ++r) {
      float tail[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(tail, tile_rows[r] + full, static_cast<size_t>(dim - full) * sizeof(float));
      x[r] = D8::widen(tail);
    }
    step(D8::load(query_wide + full), x);
  }
  D8::reduce4(acc, out);
}

// A batch smaller than a query tile: each group of kTileRows rows read once, from the table (or
// dequantized into scratch rows), and scored against every query in turn.
template <class Rows>
void nearest_rows_direct(const Rows& rows, const NearestQuery& query, int64_t begin, int64_t end, TopK* best) {
  const int64_t dim = rows.dim;
  std::vector<float> scratch(static_cast<size_t>(kTileRows * (dim + Vec::kWidth)));
  double scores[kTileRows];
  for (int64_t first = begin; first < end; first += kTileRows) {
    const int live = static_cast<int>(std::min<int64_t>(kTileRows, end - first));
    const float* tile_rows[kTileRows];
    for (int r = 0; r < kTileRows; ++r) {  // a short last group repeats its first row, never offered
      tile_rows[r] = row_floats(rows, first + (r < live ? r : 0), scratch.data() + r * (dim + Vec::kWidth));
    }
    for (int64_t s = 0; s < query.count; ++s) {
      if (query.l2) row_scores<true>(tile_rows, query.wide + s * query.padded, dim, scores);
      else row_scores<false>(tile_rows, query.wide + s * query.padded, dim, scores);
      offer_scores(query, s, first, live, scores, best);
    }
  }
}

// Searches rows [begin, end) for every query, into that task's best lists (nearest.cc).
template <class Rows>
void nearest_rows_range(const Rows& rows, const NearestQuery& query, int64_t begin, int64_t end, TopK* best) {
  if (query.count < kTileQueries || kTileQueries == 1) return nearest_rows_direct(rows, query, begin, end, best);
  const int64_t dim = rows.dim, padded = query.padded;
  const int64_t block = nearest_block_rows(padded);
  std::vector<double> wide(static_cast<size_t>(block * padded), 0.0);
  std::vector<float> scratch(static_cast<size_t>(dim) + Vec::kWidth);
  double scores[kTileQueries * kTileRows];
  for (int64_t b0 = begin; b0 < end; b0 += block) {
    const int64_t count = std::min(block, end - b0);
    for (int64_t i = 0; i < count; ++i) {
      const float* row = row_floats(rows, b0 + i, scratch.data());
      double* target = wide.data() + i * padded;
      for (int64_t j = 0; j < dim; ++j) target[j] = static_cast<double>(row[j]);
    }
    // A last tile's rows past the range hold what an earlier block left (or zeros): their scores
    // are computed and never offered.
    const int64_t tiles = (count + kTileRows - 1) / kTileRows;
    for (int64_t t = 0; t < tiles; ++t) {
      const double* tile_rows = wide.data() + t * kTileRows * padded;
      const int64_t first = b0 + t * kTileRows;
      const int live = static_cast<int>(std::min<int64_t>(kTileRows, end - first));
      int64_t s = 0;
      for (; s + kTileQueries <= query.count; s += kTileQueries) {
        if (query.l2) tile_scores<kTileQueries, true>(tile_rows, query.wide + s * padded, padded, scores);
        else tile_scores<kTileQueries, false>(tile_rows, query.wide + s * padded, padded, scores);
        for (int u = 0; u < kTileQueries; ++u) offer_scores(query, s + u, first, live, scores + u * kTileRows, best);
      }
      for (; s < query.count; ++s) {
        if (query.l2) tile_scores<1, true>(tile_rows, query.wide + s * padded, padded, scores);
        else tile_scores<1, false>(tile_rows, query.wide + s * padded, padded, scores);
        offer_scores(query, s, first, live, scores, best);
      }
    }
  }
}

inline void nearest_rows(const PackedTable& table, const NearestQuery& query, int64_t begin, int64_t end, TopK* best) {
  with_rows(table, [&](const auto& rows) { nearest_rows_range(rows, query, begin, end, best); });
}
