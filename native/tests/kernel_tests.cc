// C++ kernel tests: every kernel of one tier (argv[1]) against a plain reference written from
// the definitions in kernels.h, bit for bit, over awkward dimensions and all three index types.
// Buffers are sized exactly, so AddressSanitizer catches any read or write past a row, and each
// output carries guard values either side. Exit 77 means the CPU cannot run the tier (ctest
// reports it as skipped).
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <random>
#include <thread>
#include <vector>

#include "kernels.h"
#include "map_file.h"
#include "simd.h"
#include "thread_pool.h"

namespace {

int failures = 0;

#define CHECK(condition, ...)                                   \
  do {                                                          \
    if (!(condition)) {                                         \
      ++failures;                                               \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, "\n");                               \
    }                                                           \
  } while (0)

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

const int64_t kDims[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 300};
const int64_t kCounts[] = {0, 1, 5, 9, 40};
constexpr float kGuard = -12345.5f;

std::mt19937_64 rng(42);

std::vector<float> random_floats(int64_t n) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(n));
  for (float& v : values) v = normal(rng);
  return values;
}

template <class Index>
std::vector<Index> random_indices(int64_t count, int64_t rows) {
  std::uniform_int_distribution<int64_t> pick(0, rows - 1);
  std::vector<Index> indices(static_cast<size_t>(count));
  for (Index& index : indices) index = static_cast<Index>(pick(rng));
  if (count > 2) indices[count - 1] = indices[0];  // always a duplicate
  return indices;
}

// The reference norms: the definition in renorm.cc spelled out with no vectors.
double reference_norm(const float* row, int64_t dim, double p) {
  if (p == 1.0 || p == 2.0) {
    double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t j = 0; j < dim; ++j) {
      const double x = row[j];
      lanes[j % 8] += p == 2.0 ? x * x : std::fabs(x);
    }
    const double sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    return p == 2.0 ? std::sqrt(sum) : sum;
  }
  if (std::isinf(p)) {
    // fmax(largest, |x|), spelled as a comparison: GCC 12 for aarch64 crashes vectorizing an
    // fmax reduction over floats widened to double (see renorm.cc).
    double largest = 0;
    for (int64_t j = 0; j < dim; ++j) {
      const double x = std::fabs(static_cast<double>(row[j]));
      if (x > largest) largest = x;
    }
    return largest;
  }
  double sum = 0;
  for (int64_t j = 0; j < dim; ++j) sum += std::pow(std::fabs(static_cast<double>(row[j])), p);
  return std::pow(sum, 1.0 / p);
}

template <class Index>
void test_gather(const nne::Kernels& kernels, const char* type_name) {
  for (int64_t dim : kDims) {
    for (int64_t count : kCounts) {
      const int64_t rows = 13;
      const std::vector<float> weight = random_floats(rows * dim);
      const std::vector<Index> indices = random_indices<Index>(count, rows);
      std::vector<float> out(static_cast<size_t>(count * dim + 2), kGuard);
      kernels.of<Index>().gather(weight.data(), dim, indices.data(), count, out.data() + 1);
      CHECK(out.front() == kGuard && out.back() == kGuard, "gather %s dim %lld wrote outside out", type_name,
            static_cast<long long>(dim));
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t j = 0; j < dim; ++j) {
          const float expected = weight[static_cast<size_t>(static_cast<int64_t>(indices[i]) * dim + j)];
          CHECK(same_bits(out[static_cast<size_t>(1 + i * dim + j)], expected), "gather %s dim %lld i %lld j %lld",
                type_name, static_cast<long long>(dim), static_cast<long long>(i), static_cast<long long>(j));
        }
      }
    }
  }
}

template <class Index>
void test_scatter_add(const nne::Kernels& kernels, const char* type_name) {
  for (int64_t dim : kDims) {
    for (int64_t count : kCounts) {
      for (int scaled = 0; scaled < 2; ++scaled) {
        for (int64_t skip_row : {int64_t{-1}, int64_t{3}}) {
          const int64_t rows = 7;  // few rows, so duplicates are frequent
          const std::vector<Index> indices = random_indices<Index>(count, rows);
          const std::vector<float> grad_output = random_floats(count * dim);
          const std::vector<float> scale = random_floats(count);
          std::vector<float> grad = random_floats(rows * dim);
          std::vector<float> expected = grad;
          for (int64_t i = 0; i < count; ++i) {
            const int64_t row = static_cast<int64_t>(indices[i]);
            if (row == skip_row) continue;
            for (int64_t j = 0; j < dim; ++j) {
              float& g = expected[static_cast<size_t>(row * dim + j)];
              const float x = grad_output[static_cast<size_t>(i * dim + j)];
              if (scaled) {
                const float product = scale[static_cast<size_t>(i)] * x;
                g = g + product;
              } else {
                g = g + x;
              }
            }
          }
          kernels.of<Index>().scatter_add(grad.data(), dim, indices.data(), count, grad_output.data(),
                                          scaled ? scale.data() : nullptr, skip_row);
          bool equal = true;
          for (size_t k = 0; k < grad.size(); ++k) equal &= same_bits(grad[k], expected[k]);
          CHECK(equal, "scatter_add %s dim %lld count %lld scaled %d skip %lld", type_name,
                static_cast<long long>(dim), static_cast<long long>(count), scaled, static_cast<long long>(skip_row));
        }
      }
    }
  }
}

template <class Index>
void test_renorm(const nne::Kernels& kernels, const char* type_name) {
  for (int64_t dim : kDims) {
    for (double p : {1.0, 2.0, 3.0, 0.5, HUGE_VAL}) {
      const int64_t rows = 11;
      const int64_t count = 9;
      std::vector<float> weight = random_floats(rows * dim);
      const std::vector<Index> indices = random_indices<Index>(count, rows);
      std::vector<float> expected = weight;
      std::vector<bool> done(static_cast<size_t>(rows), false);
      const double max_norm = 0.75;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t row = static_cast<int64_t>(indices[i]);
        if (done[static_cast<size_t>(row)]) continue;
        done[static_cast<size_t>(row)] = true;
        float* values = expected.data() + row * dim;
        const float norm = static_cast<float>(reference_norm(values, dim, p));
        if (norm > max_norm) {
          const float scale = static_cast<float>(max_norm / (static_cast<double>(norm) + 1e-7));
          for (int64_t j = 0; j < dim; ++j) values[j] = values[j] * scale;
        }
      }
      std::vector<uint8_t> seen(static_cast<size_t>((rows + 7) / 8), 0);
      kernels.of<Index>().renorm(weight.data(), dim, indices.data(), count, max_norm, p, seen.data());
      bool equal = true;
      for (size_t k = 0; k < weight.size(); ++k) equal &= same_bits(weight[k], expected[k]);
      CHECK(equal, "renorm %s dim %lld p %g", type_name, static_cast<long long>(dim), p);
      bool cleared = true;
      for (uint8_t byte : seen) cleared &= byte == 0;
      CHECK(cleared, "renorm %s left bits set in seen", type_name);
    }
  }
}

// Random bag boundaries over count entries: some bags empty, the last one possibly too.
std::vector<uint32_t> random_offsets(int64_t count, int64_t num_bags) {
  std::uniform_int_distribution<int64_t> pick(0, count);
  std::vector<uint32_t> offsets(static_cast<size_t>(num_bags));
  for (auto& offset : offsets) offset = static_cast<uint32_t>(pick(rng));
  std::sort(offsets.begin(), offsets.end());
  if (num_bags > 0) offsets[0] = 0;
  if (num_bags > 2) offsets[2] = offsets[1];  // an empty bag
  return offsets;
}

template <class Index>
void reference_bag_forward(const std::vector<float>& weight, int64_t dim, const std::vector<Index>& indices,
                           const nne::Bags& bags, const float* per_sample_weights, nne::BagMode mode,
                           int64_t skip_row, std::vector<float>& out) {
  for (int64_t b = 0; b < bags.num_bags; ++b) {
    for (int64_t j = 0; j < dim; ++j) {
      float acc = 0.0f;
      int64_t entries = 0;
      for (int64_t i = bags.begin(b); i < bags.end(b); ++i) {
        const int64_t row = static_cast<int64_t>(indices[i]);
        if (row == skip_row) continue;
        const float x = weight[static_cast<size_t>(row * dim + j)];
        if (mode == nne::BagMode::max) {
          if (entries == 0 || x > acc) acc = x;
        } else if (per_sample_weights != nullptr) {
          const float product = per_sample_weights[i] * x;
          acc = acc + product;
        } else {
          acc = acc + x;
        }
        ++entries;
      }
      if (mode == nne::BagMode::mean && entries > 0) acc = acc / static_cast<float>(entries);
      out[static_cast<size_t>(b * dim + j)] = acc;
    }
  }
}

template <class Index>
void test_bags(const nne::Kernels& kernels, const char* type_name) {
  const auto& bag = kernels.of<Index>().bag;
  for (int64_t dim : kDims) {
    for (int64_t count : {int64_t{0}, int64_t{1}, int64_t{9}, int64_t{40}}) {
      for (bool include_last : {false, true}) {
        for (int64_t skip_row : {int64_t{-1}, int64_t{2}}) {
          const int64_t rows = 6;
          const int64_t num_bags = 5;
          std::vector<float> weight = random_floats(rows * dim);
          // Ties in max: row 1 repeats row 0's first features.
          for (int64_t j = 0; j < dim; j += 2) weight[static_cast<size_t>(dim + j)] = weight[static_cast<size_t>(j)];
          const std::vector<Index> indices = random_indices<Index>(count, rows);
          std::vector<uint32_t> offsets = random_offsets(count, num_bags);
          if (include_last) offsets.push_back(static_cast<uint32_t>(count));
          const nne::Bags bags{offsets.data(), static_cast<int64_t>(offsets.size()), num_bags, count};
          CHECK(nne::first_invalid_offset(offsets.data(), bags.offsets_length, count) == -1, "valid offsets rejected");
          const std::vector<float> per_sample = random_floats(count);
          const std::vector<float> grad_output = random_floats(num_bags * dim);
          for (int mode_number = 0; mode_number < 4; ++mode_number) {
            const nne::BagMode mode = static_cast<nne::BagMode>(mode_number == 3 ? 0 : mode_number);
            const float* weights = mode_number == 3 ? per_sample.data() : nullptr;
            std::vector<float> expected(static_cast<size_t>(num_bags * dim));
            reference_bag_forward(weight, dim, indices, bags, weights, mode, skip_row, expected);
            std::vector<float> out(static_cast<size_t>(num_bags * dim + 2), kGuard);
            bag.forward(weight.data(), dim, indices.data(), bags, weights, mode, skip_row, out.data() + 1);
            bool equal = out.front() == kGuard && out.back() == kGuard;
            for (size_t k = 0; k < expected.size(); ++k) equal &= same_bits(out[k + 1], expected[k]);
            CHECK(equal, "bag forward %s dim %lld count %lld mode %d skip %lld", type_name, static_cast<long long>(dim),
                  static_cast<long long>(count), mode_number, static_cast<long long>(skip_row));
          }
          // Scatter-add of bag rows, scaled and not.
          for (int scaled = 0; scaled < 2; ++scaled) {
            std::vector<float> grad = random_floats(rows * dim);
            std::vector<float> expected = grad;
            for (int64_t b = 0; b < num_bags; ++b) {
              for (int64_t i = bags.begin(b); i < bags.end(b); ++i) {
                const int64_t row = static_cast<int64_t>(indices[i]);
                if (row == skip_row) continue;
                for (int64_t j = 0; j < dim; ++j) {
                  float& g = expected[static_cast<size_t>(row * dim + j)];
                  const float x = grad_output[static_cast<size_t>(b * dim + j)];
                  if (scaled) {
                    const float product = per_sample[static_cast<size_t>(i)] * x;
                    g = g + product;
                  } else {
                    g = g + x;
                  }
                }
              }
            }
            bag.scatter_add(grad.data(), dim, indices.data(), bags, grad_output.data(),
                            scaled ? per_sample.data() : nullptr, skip_row);
            bool equal = true;
            for (size_t k = 0; k < grad.size(); ++k) equal &= same_bits(grad[k], expected[k]);
            CHECK(equal, "bag scatter_add %s dim %lld scaled %d", type_name, static_cast<long long>(dim), scaled);
          }
          // Max backward: each feature's gradient to the first entry that holds the bag's maximum.
          {
            std::vector<float> grad(static_cast<size_t>(rows * dim), 0.0f);
            std::vector<float> expected = grad;
            for (int64_t b = 0; b < num_bags; ++b) {
              for (int64_t j = 0; j < dim; ++j) {
                int64_t winner = -1;
                float best = 0.0f;
                for (int64_t i = bags.begin(b); i < bags.end(b); ++i) {
                  const int64_t row = static_cast<int64_t>(indices[i]);
                  if (row == skip_row) continue;
                  const float x = weight[static_cast<size_t>(row * dim + j)];
                  if (winner < 0 || x > best) {
                    winner = row;
                    best = x;
                  }
                }
                if (winner >= 0) {
                  float& g = expected[static_cast<size_t>(winner * dim + j)];
                  g = g + grad_output[static_cast<size_t>(b * dim + j)];
                }
              }
            }
            bag.max_backward(weight.data(), grad.data(), dim, indices.data(), bags, grad_output.data(), skip_row);
            bool equal = true;
            for (size_t k = 0; k < grad.size(); ++k) equal &= same_bits(grad[k], expected[k]);
            CHECK(equal, "bag max_backward %s dim %lld count %lld", type_name, static_cast<long long>(dim),
                  static_cast<long long>(count));
          }
          // Gradient of the per-sample weights.
          {
            std::vector<float> out(static_cast<size_t>(count + 2), kGuard);
            bag.weight_grad(weight.data(), dim, indices.data(), bags, grad_output.data(), skip_row, out.data() + 1);
            bool equal = out.front() == kGuard && out.back() == kGuard;
            for (int64_t b = 0; b < num_bags; ++b) {
              for (int64_t i = bags.begin(b); i < bags.end(b); ++i) {
                const int64_t row = static_cast<int64_t>(indices[i]);
                double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                if (row != skip_row) {
                  for (int64_t j = 0; j < dim; ++j) {
                    lanes[j % 8] += static_cast<double>(grad_output[static_cast<size_t>(b * dim + j)]) *
                                    static_cast<double>(weight[static_cast<size_t>(row * dim + j)]);
                  }
                }
                const float dot = static_cast<float>(((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
                                                     ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])));
                equal &= same_bits(out[static_cast<size_t>(i + 1)], row == skip_row ? 0.0f : dot);
              }
            }
            CHECK(equal, "bag weight_grad %s dim %lld", type_name, static_cast<long long>(dim));
          }
        }
      }
    }
  }
}

// One float32 operation at a time, in torch.optim's order: the reference for every rule.
void reference_update(const nne::OptimizerScalars& s, float* w, const float* g_in, float* s0, float* s1, float* s2,
                      int64_t n, bool dense) {
  for (int64_t j = 0; j < n; ++j) {
    float p = w[j];
    float g = g_in[j];
    switch (s.rule) {
      case nne::OptimizerRule::sgd: {
        if (s.weight_decay != 0.0f) { const float t = s.weight_decay * p; g = g + t; }
        if (s0 != nullptr) {
          float buf;
          if (s.first_step) buf = g;
          else { const float x = s0[j] * s.a; const float y = s.b * g; buf = x + y; }
          s0[j] = buf;
          if (s.nesterov) { const float t = s.a * buf; g = g + t; } else g = buf;
        }
        const float t = s.lr * g;
        w[j] = p + t;
        break;
      }
      case nne::OptimizerRule::adagrad: {
        if (s.weight_decay != 0.0f) { const float t = s.weight_decay * p; g = g + t; }
        const float sq = g * g;
        const float sum = s0[j] + sq;
        s0[j] = sum;
        const float std = std::sqrt(sum) + s.eps;
        float t;
        if (dense) { const float u = s.lr * g; t = u / std; } else { const float q = g / std; t = s.lr * q; }
        w[j] = p + t;
        break;
      }
      case nne::OptimizerRule::adam: {
        if (s.decay != 1.0f) p = p * s.decay;
        if (s.weight_decay != 0.0f) { const float t = s.weight_decay * p; g = g + t; }
        const float m1 = s0[j] * s.a; const float m2 = s.one_minus_a * g; const float m = m1 + m2;
        const float v1 = s1[j] * s.b; const float v2 = s.one_minus_b * g; const float v3 = v2 * g; float v = v1 + v3;
        s0[j] = m;
        s1[j] = v;
        if (s2 != nullptr) { v = s2[j] > v ? s2[j] : v; s2[j] = v; }
        const float root = std::sqrt(v); const float scaled = root / s.c; const float denom = scaled + s.eps;
        const float u = s.lr * m; const float t = u / denom;
        w[j] = p + t;
        break;
      }
      case nne::OptimizerRule::sparse_adam: {
        const float old_m = s0[j], old_v = s1[j];
        const float dm = g - old_m; const float um = dm * s.one_minus_a; const float m = um + old_m;
        const float sq = g * g; const float dv = sq - old_v; const float uv = dv * s.one_minus_b; const float v = uv + old_v;
        s0[j] = m;
        s1[j] = v;
        const float denom = std::sqrt(v) + s.eps; const float q = m / denom; const float t = s.lr * q;
        w[j] = p + t;
        break;
      }
      case nne::OptimizerRule::rowwise_adagrad:
        break;
    }
  }
}

void reference_rowwise(const nne::OptimizerScalars& s, float* w, const float* g_in, float* h, int64_t dim) {
  std::vector<float> g(static_cast<size_t>(dim));
  for (int64_t j = 0; j < dim; ++j) {
    float x = g_in[j];
    if (s.weight_decay != 0.0f) { const float t = s.weight_decay * w[j]; x = x + t; }
    g[static_cast<size_t>(j)] = x;
  }
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t j = 0; j < dim; ++j) lanes[j % 8] += static_cast<double>(g[static_cast<size_t>(j)]) * g[static_cast<size_t>(j)];
  const double sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  const float updated = *h + static_cast<float>(sum / static_cast<double>(dim));
  *h = updated;
  const float multiplier = static_cast<float>(s.lr_double / (std::sqrt(static_cast<double>(updated)) + s.eps_double));
  for (int64_t j = 0; j < dim; ++j) { const float t = multiplier * g[static_cast<size_t>(j)]; w[j] = w[j] - t; }
}

bool all_same(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) if (!same_bits(a[k], b[k])) return false;
  return true;
}

void test_optimizers(const nne::Kernels& kernels) {
  std::vector<nne::OptimizerScalars> configs;
  auto base = [] {
    nne::OptimizerScalars s{};
    s.lr = -0.05f; s.a = 0.9f; s.b = 0.999f; s.c = 0.3f; s.one_minus_a = 0.1f; s.one_minus_b = 0.001f;
    s.eps = 1e-8f; s.weight_decay = 0.0f; s.decay = 1.0f; s.first_step = false; s.nesterov = false;
    s.lr_double = 0.05; s.eps_double = 1e-10;
    return s;
  };
  for (int variant = 0; variant < 12; ++variant) {
    nne::OptimizerScalars s = base();
    switch (variant) {
      case 0: s.rule = nne::OptimizerRule::sgd; break;
      case 1: s.rule = nne::OptimizerRule::sgd; s.weight_decay = 0.01f; s.first_step = true; break;  // momentum, first step
      case 2: s.rule = nne::OptimizerRule::sgd; s.b = 0.7f; break;                                   // momentum
      case 3: s.rule = nne::OptimizerRule::sgd; s.nesterov = true; s.weight_decay = 0.02f; break;
      case 4: s.rule = nne::OptimizerRule::adagrad; break;
      case 5: s.rule = nne::OptimizerRule::adagrad; s.weight_decay = 0.1f; break;
      case 6: s.rule = nne::OptimizerRule::adam; break;
      case 7: s.rule = nne::OptimizerRule::adam; s.weight_decay = 0.01f; break;  // amsgrad below
      case 8: s.rule = nne::OptimizerRule::adam; s.decay = 0.9995f; break;       // AdamW
      case 9: s.rule = nne::OptimizerRule::sparse_adam; break;
      case 10: s.rule = nne::OptimizerRule::rowwise_adagrad; break;
      default: s.rule = nne::OptimizerRule::rowwise_adagrad; s.weight_decay = 0.05f; break;
    }
    const bool momentum = s.rule == nne::OptimizerRule::sgd && variant != 0;
    const bool amsgrad = variant == 7;
    for (int64_t dim : kDims) {
      const int64_t rows = 9;
      const bool rowwise = s.rule == nne::OptimizerRule::rowwise_adagrad;
      const int64_t state_size = rowwise ? rows : rows * dim;
      std::vector<float> weight = random_floats(rows * dim);
      std::vector<float> grad = random_floats(rows * dim);
      std::vector<float> s0 = random_floats(state_size), s1 = random_floats(state_size), s2 = random_floats(state_size);
      for (auto& x : s1) x = std::fabs(x);  // second moments are non-negative
      for (auto& x : s2) x = std::fabs(x);
      if (s.rule == nne::OptimizerRule::adagrad || rowwise) for (auto& x : s0) x = std::fabs(x);
      std::vector<float> scratch(static_cast<size_t>(dim));
      const bool uses0 = momentum || s.rule != nne::OptimizerRule::sgd;
      const bool uses1 = s.rule == nne::OptimizerRule::adam || s.rule == nne::OptimizerRule::sparse_adam;
      // Dense: the whole table.
      {
        auto w = weight, e0 = s0, e1 = s1, e2 = s2;
        auto rw = weight, r0 = s0, r1 = s1, r2 = s2;
        kernels.optimizer_update(s, w.data(), grad.data(), uses0 ? e0.data() : nullptr, uses1 ? e1.data() : nullptr,
                                 amsgrad ? e2.data() : nullptr, nullptr, rows, dim, scratch.data());
        if (rowwise) {
          for (int64_t r = 0; r < rows; ++r) reference_rowwise(s, rw.data() + r * dim, grad.data() + r * dim, r0.data() + r, dim);
        } else {
          reference_update(s, rw.data(), grad.data(), uses0 ? r0.data() : nullptr, uses1 ? r1.data() : nullptr,
                           amsgrad ? r2.data() : nullptr, rows * dim, true);
        }
        CHECK(all_same(w, rw) && all_same(e0, r0) && all_same(e1, r1) && all_same(e2, r2),
              "optimizer dense variant %d dim %lld", variant, static_cast<long long>(dim));
      }
      // Sparse: rows 7, 2, 5 from compact gradient rows 0, 1, 2.
      {
        const uint32_t touched[] = {7, 2, 5};
        auto w = weight, e0 = s0, e1 = s1, e2 = s2;
        auto rw = weight, r0 = s0, r1 = s1, r2 = s2;
        kernels.optimizer_update(s, w.data(), grad.data(), uses0 ? e0.data() : nullptr, uses1 ? e1.data() : nullptr,
                                 amsgrad ? e2.data() : nullptr, touched, 3, dim, scratch.data());
        for (int k = 0; k < 3; ++k) {
          const int64_t at = touched[k] * dim;
          if (rowwise) {
            reference_rowwise(s, rw.data() + at, grad.data() + k * dim, r0.data() + touched[k], dim);
          } else {
            reference_update(s, rw.data() + at, grad.data() + k * dim, uses0 ? r0.data() + at : nullptr,
                             uses1 ? r1.data() + at : nullptr, amsgrad ? r2.data() + at : nullptr, dim, false);
          }
        }
        CHECK(all_same(w, rw) && all_same(e0, r0) && all_same(e1, r1) && all_same(e2, r2),
              "optimizer sparse variant %d dim %lld", variant, static_cast<long long>(dim));
      }
    }
  }
}

template <class Index>
void test_coalesce(const nne::Kernels& kernels, const char* type_name) {
  for (int64_t dim : kDims) {
    for (int with_bags = 0; with_bags < 2; ++with_bags) {
      const int64_t rows = 8, count = 30, num_bags = 6;
      const std::vector<Index> indices = random_indices<Index>(count, rows);
      const std::vector<uint32_t> offsets = random_offsets(count, num_bags);
      const nne::Bags bags{offsets.data(), num_bags, num_bags, count};
      const std::vector<float> source = random_floats((with_bags ? num_bags : count) * dim);
      const std::vector<float> scale = random_floats(count);
      std::vector<int32_t> slots(static_cast<size_t>(rows), -1);
      std::vector<uint32_t> out_rows(static_cast<size_t>(count));
      std::vector<float> out_values(static_cast<size_t>(count * dim));
      const int64_t skip = 3;
      const int64_t distinct = kernels.of<Index>().coalesce(indices.data(), count, dim, source.data(),
                                                            with_bags ? &bags : nullptr, scale.data(), skip, slots.data(),
                                                            rows, out_rows.data(), out_values.data());
      // Reference: first-occurrence order, sums in entry order of float(scale * source row).
      std::vector<int64_t> order;
      std::vector<float> sums;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t row = static_cast<int64_t>(indices[i]);
        if (row == skip) continue;
        int64_t bag = 0;
        if (with_bags) while (bag + 1 < num_bags && i >= bags.end(bag)) ++bag;
        const float* src = source.data() + (with_bags ? bag : i) * dim;
        size_t slot = std::find(order.begin(), order.end(), row) - order.begin();
        const bool first = slot == order.size();
        if (first) { order.push_back(row); sums.resize(order.size() * static_cast<size_t>(dim)); }
        for (int64_t j = 0; j < dim; ++j) {
          const float x = scale[static_cast<size_t>(i)] * src[j];
          float& acc = sums[slot * static_cast<size_t>(dim) + static_cast<size_t>(j)];
          acc = first ? x : acc + x;
        }
      }
      bool equal = distinct == static_cast<int64_t>(order.size());
      for (size_t k = 0; equal && k < order.size(); ++k) equal &= out_rows[k] == order[k];
      for (size_t k = 0; equal && k < sums.size(); ++k) equal &= same_bits(out_values[k], sums[k]);
      bool reset = true;
      for (int32_t slot : slots) reset &= slot == -1;
      CHECK(equal && reset, "coalesce %s dim %lld bags %d", type_name, static_cast<long long>(dim), with_bags);
    }
  }
}

void test_first_invalid_offset() {
  const uint32_t good[] = {0, 0, 3, 5};
  CHECK(nne::first_invalid_offset(good, 4, 5) == -1, "good offsets");
  CHECK(nne::first_invalid_offset(good, 4, 4) == 3, "offset above count");
  const uint32_t not_zero[] = {1, 2};
  CHECK(nne::first_invalid_offset(not_zero, 2, 5) == 0, "offsets[0] != 0");
  const uint32_t decreasing[] = {0, 3, 2};
  CHECK(nne::first_invalid_offset(decreasing, 3, 5) == 2, "decreasing");
  CHECK(nne::first_invalid_offset(good, 0, 0) == -1, "no bags");
}

// map_file: a file's bytes, copy-on-write (writes never reach the file); map_zeroed: zeroed
// memory; both unmapped by unmap_file; failures reported with the step, never a crash.
void test_map_file() {
  char path[] = "/tmp/nne-map-test-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  if (fd < 0) return;
  const char text[] = "0123456789abcdef";
  CHECK(write(fd, text, 16) == 16, "write");
  close(fd);
  nne::MappedFile mapped;
  std::string error;
  CHECK(nne::map_file(path, &mapped, &error), "map_file: %s", error.c_str());
  CHECK(mapped.size == 16 && std::memcmp(mapped.data, text, 16) == 0, "mapped bytes");
  static_cast<char*>(mapped.data)[0] = 'X';  // private: the file keeps its '0'
  nne::unmap_file(mapped);
  CHECK(nne::map_file(path, &mapped, &error), "map_file again: %s", error.c_str());
  CHECK(static_cast<char*>(mapped.data)[0] == '0', "a write to a private mapping reached the file");
  nne::unmap_file(mapped);
  unlink(path);
  CHECK(!nne::map_file(path, &mapped, &error) && error.rfind("open:", 0) == 0, "missing file: %s", error.c_str());
  CHECK(!nne::map_file("/tmp", &mapped, &error) && error == "it is a directory, not a regular file", "directory: %s", error.c_str());
  // A FIFO is refused without waiting for a writer (opened O_NONBLOCK), named as what it is.
  char fifo[] = "/tmp/nne-fifo-test-XXXXXX";
  CHECK(mkdtemp(fifo) != nullptr, "mkdtemp");
  const std::string fifo_path = std::string(fifo) + "/fifo";
  CHECK(mkfifo(fifo_path.c_str(), 0600) == 0, "mkfifo");
  CHECK(!nne::map_file(fifo_path.c_str(), &mapped, &error) && error == "it is a FIFO (named pipe), not a regular file", "FIFO: %s", error.c_str());
  unlink(fifo_path.c_str());
  rmdir(fifo);
  const size_t size = 5u << 20;
  CHECK(nne::map_zeroed(size, &mapped, &error), "map_zeroed: %s", error.c_str());
  bool zero = true;
  for (size_t i = 0; i < size; i += 4093) zero = zero && static_cast<unsigned char*>(mapped.data)[i] == 0;
  CHECK(zero, "map_zeroed memory is not zero");
  static_cast<char*>(mapped.data)[size - 1] = 1;
  nne::unmap_file(mapped);
  CHECK(nne::map_zeroed(0, &mapped, &error) && mapped.data == nullptr, "empty map_zeroed");
}

void test_first_invalid_index() {
  std::vector<int32_t> indices(1000, 5);
  CHECK(nne::first_invalid_index(indices.data(), 1000, 6) == -1, "all valid");
  CHECK(nne::first_invalid_index(indices.data(), 1000, 5) == 0, "all out of range");
  indices[700] = -1;
  CHECK(nne::first_invalid_index(indices.data(), 1000, 6) == 700, "negative int32");
  indices[300] = 6;
  CHECK(nne::first_invalid_index(indices.data(), 1000, 6) == 300, "first of two");
  const uint32_t big[] = {1, 0x80000000u};
  CHECK(nne::first_invalid_index(big, 2, int64_t{1} << 32) == -1, "uint32 above 2^31 is valid");
  CHECK(nne::first_invalid_index(big, 2, 0x80000000LL) == 1, "uint32 at the limit");
  const int64_t wide[] = {int64_t{1} << 40, -(int64_t{1} << 40)};
  CHECK(nne::first_invalid_index(wide, 2, int64_t{1} << 41) == 1, "negative int64");
  CHECK(nne::first_invalid_index(wide, 0, 0) == -1, "empty");
}

// A table of more than 2^31 floats: offsets must be 64-bit. The mapping is virtual (9 GiB,
// MAP_NORESERVE); only the pages touched are ever backed by memory.
void test_large_table(const nne::Kernels& kernels) {
  const int64_t dim = 1;
  const int64_t rows = (int64_t{1} << 31) + 64;
  const size_t bytes = static_cast<size_t>(rows * dim) * sizeof(float);
  void* mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping == MAP_FAILED) {
    std::printf("  large table: mmap of %zu bytes refused, not tested\n", bytes);
    return;
  }
  float* table = static_cast<float*>(mapping);
  const uint32_t index32[] = {0x80000005u, 7};
  const int64_t index64[] = {rows - 1, 0x80000005LL};
  table[0x80000005LL] = 1.5f;
  table[rows - 1] = -2.0f;
  table[7] = 4.0f;
  float out[2];
  kernels.u32.gather(table, dim, index32, 2, out);
  CHECK(out[0] == 1.5f && out[1] == 4.0f, "large table gather uint32");
  kernels.i64.gather(table, dim, index64, 2, out);
  CHECK(out[0] == -2.0f && out[1] == 1.5f, "large table gather int64");
  const float grad_output[] = {0.25f, 0.5f};
  kernels.i64.scatter_add(table, dim, index64, 2, grad_output, nullptr, -1);
  CHECK(table[rows - 1] == -1.75f && table[0x80000005LL] == 2.0f, "large table scatter_add");
  std::vector<uint8_t> seen(static_cast<size_t>((rows + 7) / 8), 0);
  kernels.i64.renorm(table, dim, index64, 2, 1.0, 2.0, seen.data());
  CHECK(std::fabs(table[rows - 1] + 1.0f) < 1e-6f && std::fabs(table[0x80000005LL] - 1.0f) < 1e-6f,
        "large table renorm");
  munmap(mapping, bytes);
}

// ---------------------------------------------------------------------------------------------
// Threads: every kernel gives the same bits with 1, 2, 3 and 4 threads, on inputs large enough
// that the default grain splits them (checked with the pool's counters).

// Skewed indices: a third of the entries on a few hot rows, the rest uniform.
template <class Index>
std::vector<Index> skewed_indices(int64_t count, int64_t rows) {
  std::uniform_int_distribution<int64_t> pick(0, rows - 1);
  std::uniform_int_distribution<int64_t> hot(0, 5);
  std::vector<Index> indices(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) indices[static_cast<size_t>(i)] = static_cast<Index>(i % 3 == 0 ? hot(rng) * 17 : pick(rng));
  return indices;
}

// Runs `compute` (which returns every output it wrote, concatenated) with 1 thread, then 2, 3 and
// 4, and checks that each gives the bits of 1 thread and that the work was really split.
template <class Compute>
void check_threads(const char* what, Compute&& compute) {
  nne::set_num_threads(1);
  const uint64_t before = nne::pool_stats().split_calls;
  const std::vector<float> expected = compute();
  CHECK(nne::pool_stats().split_calls == before, "%s: split with 1 thread", what);
  // Threads 2, 3, 4 on the pool; then 3 tasks' worth run inline in reverse order, which any
  // dependence on task order would fail whatever the timing.
  for (int threads = 2; threads <= 5; ++threads) {
    const bool reverse = threads == 5;
    nne::set_num_threads(reverse ? 3 : threads);
    nne::set_reverse_inline_for_tests(reverse);
    const uint64_t split_before = nne::pool_stats().split_calls;
    const std::vector<float> got = compute();
    nne::set_reverse_inline_for_tests(false);
    CHECK(nne::pool_stats().split_calls > split_before, "%s: not split with %d threads", what, threads);
    CHECK(all_same(got, expected), "%s: %s differ from 1 thread", what,
          reverse ? "tasks run in reverse" : threads == 2 ? "2 threads" : threads == 3 ? "3 threads" : "4 threads");
  }
  nne::set_num_threads(0);
}

template <class Index>
void test_threads(const nne::Kernels& kernels, const char* type_name) {
  const auto& k = kernels.of<Index>();
  const int64_t rows = 3000, dim = 67, count = 20000, num_bags = 2500;
  const std::vector<float> weight = random_floats(rows * dim);
  const std::vector<Index> indices = skewed_indices<Index>(count, rows);
  const std::vector<float> per_entry = random_floats(count * dim);
  const std::vector<float> scale = random_floats(count);
  std::vector<uint32_t> offsets = random_offsets(count, num_bags);
  const nne::Bags bags{offsets.data(), num_bags, num_bags, count};
  const std::vector<float> grad_output = random_floats(num_bags * dim);
  char name[96];
  auto label = [&](const char* op) {
    std::snprintf(name, sizeof name, "threads %s %s", op, type_name);
    return name;
  };

  check_threads(label("gather"), [&] {
    std::vector<float> out(static_cast<size_t>(count * dim));
    k.gather(weight.data(), dim, indices.data(), count, out.data());
    return out;
  });
  for (int scaled = 0; scaled < 2; ++scaled) {
    check_threads(label(scaled ? "scatter_add scaled" : "scatter_add"), [&] {
      std::vector<float> grad = weight;
      k.scatter_add(grad.data(), dim, indices.data(), count, per_entry.data(), scaled ? scale.data() : nullptr, 17);
      return grad;
    });
  }
  for (double p : {2.0, 3.0}) {
    check_threads(label(p == 2.0 ? "renorm p=2" : "renorm p=3"), [&] {
      std::vector<float> w = weight;
      std::vector<uint8_t> seen(static_cast<size_t>((rows + 7) / 8), 0);
      k.renorm(w.data(), dim, indices.data(), count, 1.5, p, seen.data());
      for (uint8_t byte : seen) CHECK(byte == 0, "renorm left bits set in seen");
      return w;
    });
  }
  for (int mode = 0; mode < 4; ++mode) {
    check_threads(label("bag forward"), [&] {
      std::vector<float> out(static_cast<size_t>(num_bags * dim));
      k.bag.forward(weight.data(), dim, indices.data(), bags, mode == 3 ? scale.data() : nullptr,
                    static_cast<nne::BagMode>(mode == 3 ? 0 : mode), 34, out.data());
      return out;
    });
  }
  for (int scaled = 0; scaled < 2; ++scaled) {
    check_threads(label("bag scatter_add"), [&] {
      std::vector<float> grad = weight;
      k.bag.scatter_add(grad.data(), dim, indices.data(), bags, grad_output.data(), scaled ? scale.data() : nullptr, 17);
      return grad;
    });
  }
  check_threads(label("bag max_backward"), [&] {
    std::vector<float> grad = weight;
    k.bag.max_backward(weight.data(), grad.data(), dim, indices.data(), bags, grad_output.data(), 17);
    return grad;
  });
  check_threads(label("bag weight_grad"), [&] {
    std::vector<float> out(static_cast<size_t>(count));
    k.bag.weight_grad(weight.data(), dim, indices.data(), bags, grad_output.data(), 17, out.data());
    return out;
  });
}

void test_threads_optimizers(const nne::Kernels& kernels) {
  const int64_t rows = 3000, dim = 67;
  const std::vector<float> weight = random_floats(rows * dim);
  const std::vector<float> grad = random_floats(rows * dim);
  std::vector<float> s0 = random_floats(rows * dim), s1 = random_floats(rows * dim), s2 = random_floats(rows * dim);
  for (auto* state : {&s0, &s1, &s2}) for (auto& x : *state) x = std::fabs(x);
  // A sparse step's rows: distinct, in no order, then the same with repeats (which the binding
  // accepts; they must still be applied in list order).
  std::vector<uint32_t> distinct(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) distinct[static_cast<size_t>(r)] = static_cast<uint32_t>(r);
  std::shuffle(distinct.begin(), distinct.end(), rng);
  distinct.resize(2000);
  std::vector<uint32_t> repeated = distinct;
  for (size_t k = 0; k < repeated.size(); k += 3) repeated[k] = repeated[k / 2];
  for (int rule = 0; rule <= 4; ++rule) {
    nne::OptimizerScalars s{};
    s.rule = static_cast<nne::OptimizerRule>(rule);
    s.lr = -0.05f; s.a = 0.9f; s.b = 0.999f; s.c = 0.3f; s.one_minus_a = 0.1f; s.one_minus_b = 0.001f;
    s.eps = 1e-8f; s.weight_decay = 0.01f; s.decay = 1.0f; s.lr_double = 0.05; s.eps_double = 1e-10;
    const bool rowwise = s.rule == nne::OptimizerRule::rowwise_adagrad;
    const bool uses1 = s.rule == nne::OptimizerRule::adam || s.rule == nne::OptimizerRule::sparse_adam;
    const bool uses2 = s.rule == nne::OptimizerRule::adam;
    for (int variant = 0; variant < 3; ++variant) {
      const std::vector<uint32_t>* list = variant == 0 ? nullptr : variant == 1 ? &distinct : &repeated;
      char name[64];
      std::snprintf(name, sizeof name, "threads optimizer rule %d %s", rule,
                    variant == 0 ? "dense" : variant == 1 ? "sparse" : "sparse with repeats");
      check_threads(name, [&] {
        std::vector<float> w = weight, e0 = s0, e1 = s1, e2 = s2;
        const int64_t num_rows = list != nullptr ? static_cast<int64_t>(list->size()) : rows;
        kernels.optimizer_update(s, w.data(), grad.data(), e0.data(), uses1 ? e1.data() : nullptr,
                                 uses2 ? e2.data() : nullptr, list != nullptr ? list->data() : nullptr, num_rows, dim,
                                 nullptr);
        if (rowwise) e0.resize(static_cast<size_t>(rows));
        w.insert(w.end(), e0.begin(), e0.end());
        w.insert(w.end(), e1.begin(), e1.end());
        w.insert(w.end(), e2.begin(), e2.end());
        return w;
      });
    }
  }
}

// Several threads call kernels at once (as worker_threads do): one gets the pool, the others run
// inline; every result is still exact. The thread count changes while they run.
void test_concurrent_callers(const nne::Kernels& kernels) {
  const int64_t rows = 4000, dim = 64, count = 30000;
  const std::vector<float> weight = random_floats(rows * dim);
  const std::vector<int32_t> indices = skewed_indices<int32_t>(count, rows);
  const std::vector<float> grad_output = random_floats(count * dim);
  nne::set_num_threads(1);
  std::vector<float> expected = weight;
  kernels.i32.scatter_add(expected.data(), dim, indices.data(), count, grad_output.data(), nullptr, -1);
  nne::set_num_threads(3);
  const uint64_t inline_before = nne::pool_stats().inline_calls;
  constexpr int kCallers = 4;
  int mismatches[kCallers] = {0, 0, 0, 0};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 12; ++round) {
        if (c == 0 && round % 4 == 3) nne::set_num_threads(2 + round % 3);
        std::vector<float> grad = weight;
        kernels.i32.scatter_add(grad.data(), dim, indices.data(), count, grad_output.data(), nullptr, -1);
        mismatches[c] += all_same(grad, expected) ? 0 : 1;
      }
    });
  }
  for (auto& caller : callers) caller.join();
  for (int c = 0; c < kCallers; ++c) CHECK(mismatches[c] == 0, "concurrent caller %d: %d wrong results", c, mismatches[c]);
  std::printf("  concurrent callers: %llu of %d calls ran inline (pool busy)\n",
              static_cast<unsigned long long>(nne::pool_stats().inline_calls - inline_before), kCallers * 12);
  nne::set_num_threads(0);
}

// Every kernel against its reference.
// The initializers: values pinned from the TypeScript twin (src/init.ts, seed 2026's keys), at the
// start of the stream and across the 2^32 counter boundary, and every start and length against
// the scalar tier's fill (which the pinned values check too).
void test_init(const nne::Kernels& kernels) {
  struct Pinned {
    nne::InitKind kind;
    float p[6];
    uint64_t start;
    uint32_t bits[10];
  };
  const Pinned pinned[] = {
      {nne::InitKind::normal, {0.5f, 2, 0, 0, 0, 0}, 0,
       {0xbf8c722eu, 0x3fd67cedu, 0x3ef06017u, 0x4039b720u, 0x40551435u, 0x3f0f7231u, 0x400ebaf6u, 0xbff14a94u, 0x403d441eu, 0xbed2b04au}},
      {nne::InitKind::normal, {0.5f, 2, 0, 0, 0, 0}, 4294967291u,
       {0xbea8363au, 0x3f04aa63u, 0x3f97dee2u, 0x3e79aa46u, 0xbea36e42u, 0x40182092u, 0xbfa8004eu, 0x3edfbd2eu, 0x3f3fb1d1u, 0xbf90f71fu}},
      {nne::InitKind::uniform, {-1, 3, 0, 0, 0, 0}, 0,
       {0x3f55b5b0u, 0x3e49c340u, 0x3eeac198u, 0xbe79c9c4u, 0x3dd1bc30u, 0xbf7d64d1u, 0x3c5c2d00u, 0x3fc65ac6u, 0x3e8add88u, 0x3fea4a9cu}},
      {nne::InitKind::uniform, {-1, 3, 0, 0, 0, 0}, 4294967291u,
       {0x3f1a24b0u, 0x3fea047au, 0xbe867d0au, 0x3fde3780u, 0x3f8d79f4u, 0x3e8fd4a8u, 0x3fd11166u, 0x3ffcd9d8u, 0xbe06bb10u, 0x3f914796u}},
      {nne::InitKind::trunc_normal, {-0.9f, 1.8f, 1.4142135f, 0.25f, -1, 1.5f}, 0,
       {0x3f01262eu, 0x3ca53220u, 0x3e600b6du, 0xbeaf43e6u, 0xbd5b7990u, 0xbf800000u, 0xbdfee430u, 0x3f92b292u, 0x3d9de878u, 0x3fc00000u}},
      {nne::InitKind::trunc_normal, {-0.9f, 1.8f, 1.4142135f, 0.25f, -1, 1.5f}, 4294967291u,
       {0x3ea75b8eu, 0x3fc00000u, 0xbeb7e82cu, 0x3fb0acf9u, 0x3f38ddeeu, 0x3dad0f1eu, 0x3f9f4acdu, 0x3fc00000u, 0xbe7a37eeu, 0x3f3f4cceu}},
  };
  const nne::Kernels& scalar = nne::kernels_for(nne::Tier::scalar);
  for (const Pinned& pin : pinned) {
    nne::InitParams p{pin.kind, 1009825174u, 3702902197u, {}};
    std::memcpy(p.p, pin.p, sizeof p.p);
    std::vector<float> out(12, kGuard);
    kernels.init_fill(p, out.data() + 1, pin.start, 10);
    CHECK(same_bits(out[0], kGuard) && same_bits(out[11], kGuard), "init kind %d wrote outside its range", static_cast<int>(pin.kind));
    for (int j = 0; j < 10; ++j) {
      uint32_t bits;
      std::memcpy(&bits, &out[static_cast<size_t>(j) + 1], sizeof bits);
      CHECK(bits == pin.bits[j], "init kind %d start %llu element %d: 0x%08x, pinned 0x%08x", static_cast<int>(pin.kind),
            static_cast<unsigned long long>(pin.start), j, bits, pin.bits[j]);
    }
    for (const uint64_t base : {uint64_t{0}, uint64_t{4294967296u - 70}, uint64_t{1} << 45}) {
      std::vector<float> whole(300);
      scalar.init_fill(p, whole.data(), base, 300);
      for (const int64_t offset : {0, 1, 2, 3, 17, 64}) {
        for (const int64_t length : {0, 1, 2, 5, 16, 33, 64, 129, 236}) {
          std::vector<float> part(static_cast<size_t>(length) + 2, kGuard);
          kernels.init_fill(p, part.data() + 1, base + static_cast<uint64_t>(offset), length);
          CHECK(same_bits(part[0], kGuard) && same_bits(part[static_cast<size_t>(length) + 1], kGuard),
                "init kind %d start %llu length %lld wrote outside its range", static_cast<int>(pin.kind),
                static_cast<unsigned long long>(base + offset), static_cast<long long>(length));
          for (int64_t j = 0; j < length; ++j) {
            CHECK(same_bits(part[static_cast<size_t>(j) + 1], whole[static_cast<size_t>(offset + j)]),
                  "init kind %d start %llu element %lld differs from the scalar tier", static_cast<int>(pin.kind),
                  static_cast<unsigned long long>(base + offset), static_cast<long long>(j));
          }
        }
      }
    }
  }
}

void run_reference_tests(const nne::Kernels& kernels) {
  test_first_invalid_index();
  test_gather<int32_t>(kernels, "int32");
  test_gather<uint32_t>(kernels, "uint32");
  test_gather<int64_t>(kernels, "int64");
  test_scatter_add<int32_t>(kernels, "int32");
  test_scatter_add<uint32_t>(kernels, "uint32");
  test_scatter_add<int64_t>(kernels, "int64");
  test_renorm<int32_t>(kernels, "int32");
  test_renorm<uint32_t>(kernels, "uint32");
  test_renorm<int64_t>(kernels, "int64");
  test_first_invalid_offset();
  test_bags<int32_t>(kernels, "int32");
  test_bags<uint32_t>(kernels, "uint32");
  test_bags<int64_t>(kernels, "int64");
  test_optimizers(kernels);
  test_coalesce<int32_t>(kernels, "int32");
  test_coalesce<uint32_t>(kernels, "uint32");
  test_coalesce<int64_t>(kernels, "int64");
  test_large_table(kernels);
  test_init(kernels);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: kernel_tests scalar|avx2|avx512|neon\n");
    return 2;
  }
  nne::Tier tier;
  if (!nne::parse_tier(argv[1], &tier)) {
    std::fprintf(stderr, "unknown tier %s\n", argv[1]);
    return 2;
  }
  if (!nne::tier_supported(tier)) {
    std::printf("tier %s: not supported by this CPU, skipped\n", argv[1]);
    return 77;
  }
  const nne::Kernels& kernels = nne::kernels_for(tier);
  CHECK(kernels.tier == tier, "table of the wrong tier");
  // The suite against the references: first as it runs by default (inputs too small to split:
  // the pool must not even start), then with 3 threads and a grain of one byte, so that every
  // kernel splits even these small, awkward inputs, on the pool and then inline in reverse order.
  for (int pass = 0; pass < 3; ++pass) {
    if (pass == 1) {
      CHECK(nne::pool_stats().workers == 0 && nne::pool_stats().split_calls == 0,
            "small inputs started the pool (%d workers, %llu split calls)", nne::pool_stats().workers,
            static_cast<unsigned long long>(nne::pool_stats().split_calls));
      nne::set_num_threads(3);
      nne::set_parallel_grain(1);
    }
    nne::set_reverse_inline_for_tests(pass == 2);
    run_reference_tests(kernels);
  }
  nne::set_reverse_inline_for_tests(false);
  nne::set_parallel_grain(nne::kDefaultGrain);
  nne::set_num_threads(0);
  test_threads<int32_t>(kernels, "int32");
  test_threads<uint32_t>(kernels, "uint32");
  test_threads<int64_t>(kernels, "int64");
  test_threads_optimizers(kernels);
  test_concurrent_callers(kernels);
  test_map_file();
  std::printf("tier %s: %s\n", argv[1], failures == 0 ? "all kernel tests passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
