// Trained float16/bfloat16 tables: optimizer_update_packed (each rule of the sparse step, on rows
// widened, rounded back) and narrow_rows against their references, to nearest even and
// stochastically. The float32 values rounded are random bit patterns and the edges of both formats
// (NaNs with payloads, infinities, overflow, ties, float16 and float32 subnormals), so the tiers'
// conversions (F16C, AVX-512, NEON, integer rounding for bfloat16) meet every case.
#include <cmath>

#include "test_support.h"

namespace nne_test {
namespace {

constexpr uint32_t kEdges[] = {
    0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, 0x7fbfffff, 0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff,
    0x477fe000, 0x477fefff, 0x477ff000, 0x477ff001, 0xc77ff000, 0x47800000, 0x38800000, 0x387fffff, 0x33800000,
    0x33000000, 0x33000001, 0x32ffffff, 0x33c00000, 0x00000001, 0x80000001, 0x007fffff, 0x00800000, 0x00008000,
    0x3f808000, 0x3f818000, 0x3f807fff, 0x3f801000, 0x3f803000, 0x80000000, 0x00000000};

// n floats: the edges first, then random bit patterns (every exponent, NaNs included).
std::vector<float> edge_floats(int64_t n) {
  std::uniform_int_distribution<uint32_t> bits(0, 0xffffffffu);
  std::vector<float> values(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    const uint32_t b = k < static_cast<int64_t>(std::size(kEdges)) ? kEdges[k] : bits(rng);
    std::memcpy(&values[static_cast<size_t>(k)], &b, 4);
  }
  return values;
}

std::vector<uint16_t> random_halves(int64_t n, bool bfloat16) {
  // Finite values near 1 in magnitude, so that the steps stay in range.
  std::vector<float> values = random_floats(n);
  std::vector<uint16_t> out(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    const uint32_t b = nne::float_bits(values[static_cast<size_t>(k)]);
    out[static_cast<size_t>(k)] = bfloat16 ? nne::bfloat16_bits_nearest(b) : nne::float16_bits_nearest(b);
  }
  return out;
}

}  // namespace

void test_optimizers_packed(const nne::Kernels& kernels) {
  nne::OptimizerScalars s{};
  s.lr = -0.05f; s.a = 0.9f; s.b = 0.999f; s.c = 1.0f; s.one_minus_a = 0.1f; s.one_minus_b = 0.001f;
  s.eps = 1e-8f; s.decay = 1.0f; s.lr_double = 0.05; s.eps_double = 1e-10;
  const nne::OptimizerRule kRules[] = {nne::OptimizerRule::sgd, nne::OptimizerRule::adagrad,
                                       nne::OptimizerRule::sparse_adam, nne::OptimizerRule::rowwise_adagrad};
  const uint32_t touched[] = {7, 2, 5, 0};
  for (const bool bfloat16 : {false, true}) {
    for (const int64_t rounding : {int64_t{-1}, int64_t{0x9e3779b9}}) {
      // kDims, and a row longer than the kernel's stack row (1024 floats): updated in work.
      std::vector<int64_t> dims(std::begin(kDims), std::end(kDims));
      dims.push_back(1030);
      for (int64_t dim : dims) {
        const int64_t rows = 9;
        // narrow_rows: edge values into rows 7, 2, 5, 0.
        const std::vector<float> values = edge_floats(4 * dim);
        std::vector<uint16_t> data(static_cast<size_t>(rows * dim), 0x1234), expected = data;
        kernels.narrow_rows(nne::HalfTable{data.data(), bfloat16, dim}, touched, 4, values.data(), rounding);
        nne::reference::narrow_rows(nne::HalfTable{expected.data(), bfloat16, dim}, touched, 4, values.data(), rounding);
        CHECK(data == expected, "narrow_rows %s rounding %lld dim %lld", bfloat16 ? "bfloat16" : "float16",
              static_cast<long long>(rounding), static_cast<long long>(dim));
        // optimizer_update_packed: each rule, weight decay on for row-wise Adagrad.
        for (const nne::OptimizerRule rule : kRules) {
          s.rule = rule;
          const bool rowwise = rule == nne::OptimizerRule::rowwise_adagrad;
          s.weight_decay = rowwise ? 0.05f : 0.0f;
          const int64_t state_size = rowwise ? rows : rows * dim;
          const std::vector<uint16_t> start = random_halves(rows * dim, bfloat16);
          // Gradients with edge values in the last row: NaNs, infinities and huge values reach the rounding.
          std::vector<float> grad = random_floats(4 * dim);
          const std::vector<float> edges = edge_floats(dim);
          std::copy(edges.begin(), edges.end(), grad.begin() + 3 * dim);
          // Row-wise Adagrad sums a row's squares: two NaNs meet there, and C leaves open whose
          // payload survives (the compiler may swap an add's operands). Its rows get infinities.
          if (rowwise) for (float& g : grad) if (std::isnan(g)) g = std::copysign(INFINITY, g);
          std::vector<float> s0 = random_floats(state_size), s1 = random_floats(state_size);
          for (auto& x : s0) x = std::fabs(x);
          for (auto& x : s1) x = std::fabs(x);
          const bool uses1 = rule == nne::OptimizerRule::sparse_adam;
          const bool uses0 = rule != nne::OptimizerRule::sgd;
          auto d = start, rd = start;
          auto e0 = s0, e1 = s1, r0 = s0, r1 = s1;
          std::vector<float> work(static_cast<size_t>(4 * dim)), reference_work(work.size());
          kernels.optimizer_update_packed(s, nne::HalfTable{d.data(), bfloat16, dim}, grad.data(), uses0 ? e0.data() : nullptr,
                                          uses1 ? e1.data() : nullptr, nullptr, touched, 4, rounding, work.data());
          nne::reference::optimizer_update_packed(s, nne::HalfTable{rd.data(), bfloat16, dim}, grad.data(),
                                                  uses0 ? r0.data() : nullptr, uses1 ? r1.data() : nullptr, nullptr, touched, 4,
                                                  rounding, reference_work.data());
          CHECK(d == rd && all_same(e0, r0) && all_same(e1, r1),
                "optimizer_update_packed %s rule %d rounding %lld dim %lld", bfloat16 ? "bfloat16" : "float16",
                static_cast<int>(rule), static_cast<long long>(rounding), static_cast<long long>(dim));
        }
      }
    }
  }
}

}  // namespace nne_test
