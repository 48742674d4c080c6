// What the nearest-rows kernels share across tiers (nearest.cc, nearest_body.h): a call's queries
// as the tiles read them, and the best-k list each task keeps per query. Nothing here is
// tier-specific.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels.h"

namespace nne {

// Rows per tile of nearest_body.h (reduce4 combines four pairs at a time).
constexpr int kTileRows = 4;

// Rows widened per block: about 64 KiB of doubles (the block stays in cache while every query
// tile reads it), at least one tile, a whole number of tiles.
inline int64_t nearest_block_rows(int64_t padded) {
  const int64_t rows = (int64_t{64} << 10) / (8 * padded);
  return rows < kTileRows ? kTileRows : rows - rows % kTileRows;
}

// A call's queries: widened to double and padded to `padded` (a multiple of 8) per query; with
// cosine, inv_query[s] = 1 / norm of query s (0 for a zero query) and inv_norms[row] the table's.
struct NearestQuery {
  const double* wide;
  int64_t padded;
  int64_t count;
  int64_t k;
  NearestMetric metric;
  bool l2;
  const double* inv_norms;
  const double* inv_query;
  const int32_t* query_rows;  // per query, a row it never returns (-1: none); may be null
  const int32_t* exclude;     // rows no query returns, ascending; exclude_count of them
  int64_t exclude_count;
};

// Higher ranks first: the score (dot, cosine), or minus it (l2), with NaN lowest.
inline double rank_of(double score, bool l2) {
  if (std::isnan(score)) return -std::numeric_limits<double>::infinity();
  return l2 ? -score : score;
}

// Whether (rank a, row ia) comes after (rank b, row ib): a lower rank, or the same rank and a
// higher row (ties go to the lower row).
inline bool after(double a, int32_t ia, double b, int32_t ib) { return a < b || (a == b && ia > ib); }

// A query's best k so far, as a binary heap whose root is the one that comes last.
struct TopK {
  double* score;   // k slots
  double* rank;    // k slots
  int32_t* row;    // k slots
  int64_t size;
  int64_t k;

  // Whether (rank, r) would enter: the list is not full, or it comes before the root.
  bool wants(double rank_value, int32_t r) const {
    return size < k || after(rank[0], row[0], rank_value, r);
  }

  void push(double score_value, double rank_value, int32_t r) {
    int64_t at;
    if (size < k) {
      at = size++;
      while (at > 0) {  // sift up
        const int64_t parent = (at - 1) / 2;
        if (!after(rank_value, r, rank[parent], row[parent])) break;
        move(parent, at);
        at = parent;
      }
    } else {
      at = 0;
      for (;;) {  // sift down from the root
        int64_t child = 2 * at + 1;
        if (child >= size) break;
        if (child + 1 < size && after(rank[child + 1], row[child + 1], rank[child], row[child])) ++child;
        if (!after(rank[child], row[child], rank_value, r)) break;
        move(child, at);
        at = child;
      }
    }
    score[at] = score_value;
    rank[at] = rank_value;
    row[at] = r;
  }

  void move(int64_t from, int64_t to) {
    score[to] = score[from];
    rank[to] = rank[from];
    row[to] = row[from];
  }
};

// Whether row r is one the query may not return.
inline bool excluded(const NearestQuery& q, int64_t s, int32_t r) {
  if (q.query_rows != nullptr && q.query_rows[s] == r) return true;
  int64_t lo = 0, hi = q.exclude_count;  // binary search of the ascending list
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (q.exclude[mid] < r) lo = mid + 1;
    else hi = mid;
  }
  return lo < q.exclude_count && q.exclude[lo] == r;
}

// Offers rows first .. first + live - 1 with their raw scores (lane sums) to query s's list.
inline void offer_scores(const NearestQuery& q, int64_t s, int64_t first, int live, const double* sums, TopK* best) {
  TopK& list = best[s];
  for (int i = 0; i < live; ++i) {
    const int32_t r = static_cast<int32_t>(first + i);
    double score = sums[i];
    if (q.metric == NearestMetric::cosine) score = (score * q.inv_norms[r]) * q.inv_query[s];
    const double rank = rank_of(score, q.l2);
    if (list.wants(rank, r) && !excluded(q, s, r)) list.push(score, rank, r);
  }
}

}  // namespace nne
