// Sums over n floats accumulated in double: term j goes to lane j % 8, each lane adds in order of
// j, and the lanes are combined as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) — the order
// of every norm and dot of the kernels (renorm's 1- and 2-norms, the per-sample-weight gradient,
// row-wise Adagrad) and of the TypeScript backend. Products of floats are exact in double. Written
// as blocks of eight independent lanes so that the compiler vectorizes it for the tier it is
// compiled for (included inside each tier's namespace and target region, by the kernel bodies; no
// include guard).
//
// The _accumulate forms add to lanes that a previous call left, so a long sum can be taken in
// pieces whose lengths are multiples of 8.
template <class Term>
inline void lane_sum_accumulate(int64_t n, const Term& term, double lanes_io[8]) {
  double lanes[8];
  for (int l = 0; l < 8; ++l) lanes[l] = lanes_io[l];
  const int64_t blocks = n - n % 8;
  for (int64_t j = 0; j < blocks; j += 8) {
    for (int l = 0; l < 8; ++l) lanes[l] += term(j + l);
  }
  for (int64_t j = blocks; j < n; ++j) lanes[j - blocks] += term(j);
  for (int l = 0; l < 8; ++l) lanes_io[l] = lanes[l];
}

inline double lane_reduce(const double lanes[8]) {
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// dot(a, b).
inline void lane_dot_accumulate(const float* a, const float* b, int64_t n, double lanes_io[8]) {
  lane_sum_accumulate(n, [a, b](int64_t j) { return static_cast<double>(a[j]) * static_cast<double>(b[j]); }, lanes_io);
}

inline double lane_dot(const float* a, const float* b, int64_t n) {
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  lane_dot_accumulate(a, b, n, lanes);
  return lane_reduce(lanes);
}

// The sum of |a[j]| (the 1-norm).
inline double lane_abs_sum(const float* a, int64_t n) {
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  lane_sum_accumulate(n, [a](int64_t j) { return std::fabs(static_cast<double>(a[j])); }, lanes);
  return lane_reduce(lanes);
}
