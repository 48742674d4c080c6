// torch.embedding_renorm_, written once and included by renorm.cc once per tier, inside the tier's
// namespace and target region (instantiate_tiers.h), where the compiler vectorizes its loops for
// the tier. No include guard.

#include "lane_dot.h"

// Renorms the distinct rows named by indices[0, count) that are in `rows` (the thread pool splits
// the work by row, in ranges whose bounds are multiples of 8, so that each byte of seen belongs to
// one task), then clears their bits of seen. No software prefetch: with the norm a few
// instructions per eight elements (Vec::D8), the CPU runs ahead into the next rows by itself, and
// prefetching kPrefetchRows entries ahead cost 1.3-1.4x on tables that fit in the last-level cache
// (10^4 x 64 and 10^5 x 16) for 0.9-1.3x at 10^6 x 128 (A/B in one process, CPU time).
template <class Index>
void renorm_rows(float* weight, int64_t dim, const Index* indices, int64_t count, double max_norm, double norm_type,
                 uint8_t* seen, RowRange rows) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = static_cast<int64_t>(indices[i]);
    if (!rows.contains(row)) continue;
    const uint8_t bit = static_cast<uint8_t>(1u << (row & 7));
    if (seen[row >> 3] & bit) continue;
    seen[row >> 3] |= bit;
    float* values = weight + row * dim;
    // torch reads the norm back from a float tensor, so it is compared and used as a float.
    const float norm = static_cast<float>(row_norm(values, dim, norm_type));
    if (static_cast<double>(norm) > max_norm) {
      const float scale = static_cast<float>(max_norm / (static_cast<double>(norm) + 1e-7));
      for (int64_t j = 0; j < dim; ++j) values[j] *= scale;  // vectorized by the compiler, for the tier
    }
  }
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = static_cast<int64_t>(indices[i]);
    if (rows.contains(row)) seen[row >> 3] = 0;
  }
}
