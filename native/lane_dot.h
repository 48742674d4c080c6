// Sums over n floats accumulated in double: term j goes to lane j % 8, each lane adds in order of
// j, and the lanes are combined as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) — the order
// of every norm and dot of the kernels (renorm's 1- and 2-norms, the per-sample-weight gradient,
// row-wise Adagrad) and of the TypeScript backend. Products of floats are exact in double. The
// blocks of eight are the tier's Vec::D8 (vec_traits.h: one AVX-512 register, two AVX2 ones, or
// an array the compiler vectorizes), the last n % 8 terms one at a time. Included inside each
// tier's namespace and target region, by the kernel bodies; no include guard.
//
// The _accumulate forms add to lanes that a previous call left, so a long sum can be taken in
// pieces whose lengths are multiples of 8.
template <class BlockTerm, class Term>
inline void lane_sum_accumulate(int64_t n, const BlockTerm& block_term, const Term& term, double lanes_io[8]) {
  using D8 = typename Vec::D8;
  const int64_t blocks = n - n % 8;
  D8 lanes = D8::load(lanes_io);
  for (int64_t j = 0; j < blocks; j += 8) lanes = D8::add(lanes, block_term(j));
  D8::store(lanes_io, lanes);
  for (int64_t j = blocks; j < n; ++j) lanes_io[j - blocks] += term(j);
}

inline double lane_reduce(const double lanes[8]) {
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// dot(a, b).
inline void lane_dot_accumulate(const float* a, const float* b, int64_t n, double lanes_io[8]) {
  using D8 = typename Vec::D8;
  lane_sum_accumulate(
      n, [a, b](int64_t j) { return D8::mul(D8::widen(a + j), D8::widen(b + j)); },
      [a, b](int64_t j) { return static_cast<double>(a[j]) * static_cast<double>(b[j]); }, lanes_io);
}

inline double lane_dot(const float* a, const float* b, int64_t n) {
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  lane_dot_accumulate(a, b, n, lanes);
  return lane_reduce(lanes);
}

// The sum of |a[j]| (the 1-norm).
inline double lane_abs_sum(const float* a, int64_t n) {
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  using D8 = typename Vec::D8;
  lane_sum_accumulate(
      n, [a](int64_t j) { return D8::abs(D8::widen(a + j)); }, [a](int64_t j) { return std::fabs(static_cast<double>(a[j])); },
      lanes);
  return lane_reduce(lanes);
}

// The p-norm of a row: p = 1 and 2 in lane_dot.h's eight-lane double order, inf as a max (no
// order), other p through pow(), summed in order of j.
inline double row_norm(const float* row, int64_t dim, double p) {
  if (p == 2.0) return std::sqrt(lane_dot(row, row, dim));
  if (p == 1.0) return lane_abs_sum(row, dim);
  if (std::isinf(p)) {
    // The same as largest = fmax(largest, |x|) (a NaN never compares greater, so it is
    // skipped, as fmax skips it), spelled as a comparison: GCC 12 for aarch64 crashes
    // (internal compiler error in vect_transform_reduction) vectorizing an fmax reduction
    // over floats widened to double.
    double largest = 0.0;
    for (int64_t j = 0; j < dim; ++j) {
      const double x = std::fabs(static_cast<double>(row[j]));
      if (x > largest) largest = x;
    }
    return largest;
  }
  double sum = 0.0;
  for (int64_t j = 0; j < dim; ++j) sum += std::pow(std::fabs(static_cast<double>(row[j])), p);
  return std::pow(sum, 1.0 / p);
}
