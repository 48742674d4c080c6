// The scatter-add of Embedding and EmbeddingBag (one operation: entry i's gradient row is row i of
// grad_output, or the row of i's bag), written once over a tier's vector traits `Vec` and
// included by scatter_add.cc once per tier (instantiate_tiers.h). No include guard.

// dst += s * src (kScaled) or dst += src over [0, dim): blocks of four vectors, single vectors,
// then one partial vector. A scaled update is a multiply then an add, never a fused one.
template <bool kScaled>
inline void add_row(float* dst, const float* src, float s, int64_t dim) {
  constexpr int W = Vec::kWidth;
  const typename Vec::V scale = Vec::broadcast(s);
  auto update = [scale](typename Vec::V d, typename Vec::V g) {
    return kScaled ? Vec::add(d, Vec::mul(scale, g)) : Vec::add(d, g);
  };
  int64_t j = 0;
  for (; j + 4 * W <= dim; j += 4 * W) {
    const typename Vec::V a = update(Vec::load(dst + j), Vec::load(src + j));
    const typename Vec::V b = update(Vec::load(dst + j + W), Vec::load(src + j + W));
    const typename Vec::V c = update(Vec::load(dst + j + 2 * W), Vec::load(src + j + 2 * W));
    const typename Vec::V d = update(Vec::load(dst + j + 3 * W), Vec::load(src + j + 3 * W));
    Vec::store(dst + j, a);
    Vec::store(dst + j + W, b);
    Vec::store(dst + j + 2 * W, c);
    Vec::store(dst + j + 3 * W, d);
  }
  for (; j + W <= dim; j += W) Vec::store(dst + j, update(Vec::load(dst + j), Vec::load(src + j)));
  const int tail = static_cast<int>(dim - j);
  if (W > 1 && tail != 0) {
    Vec::store_partial(dst + j, update(Vec::load_partial(dst + j, tail), Vec::load_partial(src + j, tail)), tail);
  }
}

// Entry k of a block: selected[k], or k itself when every entry is applied (kAll: one task over
// all rows, which skips the selection pass and checks skip_row as it goes).
template <bool kAll>
inline int64_t entry(const int32_t* selected, int64_t k) { return kAll ? k : selected[k]; }

// Applies entries [0, source.count) whose row is in `rows`, in order of entry, a block at a time:
// first the positions of the block's entries to apply (select_entries, parallel.h), then those
// entries, prefetching rows a few selected entries ahead (the first few as soon as the block is
// selected, so that their misses overlap).
template <bool kScaled, bool kAll, class Index, class Source>
void scatter_add_selected(float* grad, int64_t dim, const Index* indices, Source source, const float* scale,
                          int64_t skip_row, RowRange rows) {
  const int64_t count = source.count;
  int32_t selected[kSelectBlock];
  for (int64_t start = 0; start < count; start += kAll ? count : kSelectBlock) {
    const int64_t n = kAll ? count : select_entries(indices, start, count, skip_row, rows, selected);
    for (int64_t k = 0; k < kPrefetchRows && k < n; ++k) {
      prefetch_floats<Access::write>(grad + static_cast<int64_t>(indices[start + entry<kAll>(selected, k)]) * dim, dim);
    }
    for (int64_t k = 0; k < n; ++k) {
      if (k + kPrefetchRows < n) {
        const int64_t ahead = start + entry<kAll>(selected, k + kPrefetchRows);
        prefetch_floats<Access::write>(grad + static_cast<int64_t>(indices[ahead]) * dim, dim);
      }
      const int64_t i = start + entry<kAll>(selected, k);
      const int64_t row = static_cast<int64_t>(indices[i]);
      if (kAll && row == skip_row) continue;
      add_row<kScaled>(grad + row * dim, source.row(i), kScaled ? scale[i] : 1.0f, dim);
    }
  }
}

// grad[indices[i]] += scale[i] * (source row of i) for the entries whose row is in `rows`, in
// order of i, skipping skip_row; scale null: a plain add.
template <class Index, class Source>
void scatter_add_rows(float* grad, int64_t dim, const Index* indices, Source source, const float* scale,
                      int64_t skip_row, RowRange rows) {
  const bool all = rows.all();
  if (scale != nullptr) {
    (all ? scatter_add_selected<true, true, Index, Source> : scatter_add_selected<true, false, Index, Source>)(
        grad, dim, indices, source, scale, skip_row, rows);
  } else {
    (all ? scatter_add_selected<false, true, Index, Source> : scatter_add_selected<false, false, Index, Source>)(
        grad, dim, indices, source, scale, skip_row, rows);
  }
}
