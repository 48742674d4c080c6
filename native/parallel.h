// How the kernels split their work over the thread pool (thread_pool.h) without changing a bit
// of their results. Each operation's file wraps its per-tier kernels: the dispatch table points
// at a wrapper, which decides whether the work is worth splitting (plan_tasks) and then calls the
// tier's single-threaded kernel once per task, on a part of the work. Three kinds of part:
//
// - Independent outputs (gather: entries; EmbeddingBag forward and the per-sample-weight
//   gradient: bags; a dense optimizer step: elements; row-wise Adagrad: rows): contiguous chunks.
//   Every output element is computed by exactly the operations of the sequential kernel.
// - Accumulation into shared rows (scatter-add, bag scatter-add, renorm, a sparse optimizer step):
//   the DESTINATION rows are split into ranges, and every task reads all entries in order but
//   applies only those whose row is in its range. Each row is updated by one task, by the same
//   entries in the same order as sequentially: no race, no atomics, the same bits. The ranges are
//   quantiles of a sample of the indices, so skewed indices still balance.
// - Max-mode backward, whose winners only the whole max scan finds: features (columns) are split
//   instead, in cache-line-aligned blocks; each task does the scan for its columns.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels.h"
#include "thread_pool.h"

namespace nne {

// The destination rows a task applies: [begin, end).
struct RowRange {
  int64_t begin;
  int64_t end;
  bool contains(int64_t row) const {
    return static_cast<uint64_t>(row - begin) < static_cast<uint64_t>(end - begin);
  }
  bool all() const { return begin == 0 && end == INT64_MAX; }  // kAllRows
};
constexpr RowRange kAllRows{0, INT64_MAX};

// floor(a * b / c) for a >= 0 and 0 <= b <= c <= 2^31, without overflowing.
inline int64_t mul_div(int64_t a, int64_t b, int64_t c) { return (a / c) * b + (a % c) * b / c; }

// Kernels that apply only the entries of a row range work a block of entries at a time: first the
// positions of the block's entries to apply, without branches, then those entries.
constexpr int64_t kSelectBlock = 1024;

// Writes the positions (relative to start) of the entries of [start, min(start + kSelectBlock,
// count)) to apply, those whose row is in `rows` and is not skip_row, and returns how many.
template <class Index>
inline int select_entries(const Index* indices, int64_t start, int64_t count, int64_t skip_row, RowRange rows,
                          int32_t* selected) {
  const int64_t end = count - start < kSelectBlock ? count : start + kSelectBlock;
  int n = 0;
  for (int64_t i = start; i < end; ++i) {
    const int64_t row = static_cast<int64_t>(indices[i]);
    selected[n] = static_cast<int32_t>(i - start);
    n += static_cast<int>(row != skip_row) & static_cast<int>(rows.contains(row));
  }
  return n;
}

// Splits rows into `parts` ranges at quantiles of up to 32 * parts indices sampled evenly from
// indices[0, count): bounds[0] = 0, bounds[parts] = INT64_MAX, every bound a multiple of align.
// Any bounds give the same results; these balance the entries between the ranges.
template <class Index>
void row_bounds(const Index* indices, int64_t count, int64_t parts, int64_t align, int64_t* bounds) {
  constexpr int64_t kMaxSamples = 2048;
  int64_t samples[kMaxSamples];
  int64_t n = std::min<int64_t>({count, 32 * parts, kMaxSamples});
  for (int64_t k = 0; k < n; ++k) {
    samples[k] = static_cast<int64_t>(indices[mul_div(count, k, n)]);
  }
  std::sort(samples, samples + n);
  bounds[0] = 0;
  for (int64_t p = 1; p < parts; ++p) {
    const int64_t q = n > 0 ? samples[p * n / parts] : 0;
    bounds[p] = std::max(bounds[p - 1], q - q % align);
  }
  bounds[parts] = INT64_MAX;
}

// Splits bags into `parts` contiguous chunks of about equal entries + bags: bounds[0] = 0,
// bounds[parts] = num_bags.
inline void bag_bounds(const Bags& bags, int64_t parts, int64_t* bounds) {
  const int64_t total = bags.count + bags.num_bags;
  auto weight = [&](int64_t b) { return (b < bags.num_bags ? bags.begin(b) : bags.count) + b; };
  bounds[0] = 0;
  for (int64_t p = 1; p < parts; ++p) {
    const int64_t target = mul_div(total, p, parts);
    int64_t lo = bounds[p - 1], hi = bags.num_bags;  // the first b in [lo, hi] with weight(b) >= target
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (weight(mid) >= target) hi = mid;
      else lo = mid + 1;
    }
    bounds[p] = lo;
  }
  bounds[parts] = bags.num_bags;
}

// Bags [first, last) of bags, as a Bags of their own (indices and entry positions unchanged).
inline Bags bag_chunk(const Bags& bags, int64_t first, int64_t last) {
  const int64_t length = last < bags.num_bags ? last - first + 1 : bags.offsets_length - first;
  return Bags{bags.offsets + first, length, last - first, bags.count};
}

// [0, n) in `parts` chunks whose inner bounds are multiples of align.
inline int64_t chunk_bound(int64_t n, int64_t parts, int64_t part, int64_t align) {
  if (part >= parts) return n;
  const int64_t at = mul_div(n, part, parts);
  return std::min(n, at - at % align);
}

// Row-range tasks: bounds computed up front on the calling thread, one task per range.
constexpr int64_t kMaxParts = kMaxThreads;

// Accumulation into shared rows: fn(RowRange) once per task, the ranges at quantiles of the rows
// named by indices[0, count) with bounds multiples of align; fn(kAllRows) when there is one task.
template <class Index, class Fn>
void for_row_ranges(const Index* indices, int64_t count, int64_t tasks, int64_t align, const Fn& fn) {
  if (tasks == 1) {
    fn(kAllRows);
    return;
  }
  int64_t bounds[kMaxParts + 1];
  row_bounds(indices, count, tasks, align, bounds);
  parallel_for(tasks, [&](int64_t task) { fn(RowRange{bounds[task], bounds[task + 1]}); });
}

// Independent outputs: fn(begin, end) once per task over [0, n) in contiguous chunks whose inner
// bounds are multiples of align; fn(0, n) when there is one task.
template <class Fn>
void for_chunks(int64_t n, int64_t tasks, int64_t align, const Fn& fn) {
  if (tasks == 1) {
    fn(int64_t{0}, n);
    return;
  }
  parallel_for(tasks, [&](int64_t task) {
    fn(chunk_bound(n, tasks, task, align), chunk_bound(n, tasks, task + 1, align));
  });
}

}  // namespace nne
