// What every C++ kernel test file shares: the CHECK macro and its counters, bit-exact
// comparison, the awkward dimensions, seeded inputs, and the thread-count check. The tests
// compare each kernel of one tier with its reference in native/reference.h, bit for bit.
// Buffers are sized exactly, so AddressSanitizer catches any read or write past a row, and
// outputs carry guard values either side.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kernels.h"
#include "reference.h"

namespace nne_test {

extern int failures;
extern long long checks;  // CHECKs evaluated: the same count on every tier

#define CHECK(condition, ...)                                   \
  do {                                                          \
    ++::nne_test::checks;                                       \
    if (!(condition)) {                                         \
      ++::nne_test::failures;                                   \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, "\n");                               \
    }                                                           \
  } while (0)

inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

inline bool all_same(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) if (!same_bits(a[k], b[k])) return false;
  return true;
}

inline constexpr float kGuard = -12345.5f;

// out holds expected's values between two guard values that are still kGuard.
inline bool same_inside_guards(const std::vector<float>& out, const std::vector<float>& expected) {
  bool equal = out.size() == expected.size() + 2 && out.front() == kGuard && out.back() == kGuard;
  for (size_t k = 0; equal && k < expected.size(); ++k) equal &= same_bits(out[k + 1], expected[k]);
  return equal;
}

inline constexpr int64_t kDims[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 300};
inline constexpr int64_t kCounts[] = {0, 1, 5, 9, 40};

// One seeded generator for the whole run, so every run draws the same inputs.
extern std::mt19937_64 rng;

inline std::vector<float> random_floats(int64_t n) {
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

// Random bag boundaries over count entries: some bags empty, the last one possibly too.
inline std::vector<uint32_t> random_offsets(int64_t count, int64_t num_bags) {
  std::uniform_int_distribution<int64_t> pick(0, count);
  std::vector<uint32_t> offsets(static_cast<size_t>(num_bags));
  for (auto& offset : offsets) offset = static_cast<uint32_t>(pick(rng));
  std::sort(offsets.begin(), offsets.end());
  if (num_bags > 0) offsets[0] = 0;
  if (num_bags > 2) offsets[2] = offsets[1];  // an empty bag
  return offsets;
}

// Calls test(Index{}, name) for each index type, int32, uint32 and int64, in that order.
template <class Test>
void for_each_index_type(Test&& test) {
  test(int32_t{}, "int32");
  test(uint32_t{}, "uint32");
  test(int64_t{}, "int64");
}

// Each file's tests. The reference tests (run three times: default, split on the pool, split
// inline in reverse order) ...
void test_gather(const nne::Kernels& kernels);
void test_scatter_add(const nne::Kernels& kernels);
void test_renorm(const nne::Kernels& kernels);
void test_embedding_bag(const nne::Kernels& kernels);
void test_optimizers(const nne::Kernels& kernels);
void test_optimizers_packed(const nne::Kernels& kernels);
void test_coalesce(const nne::Kernels& kernels);
void test_large_table(const nne::Kernels& kernels);
void test_init(const nne::Kernels& kernels);
void test_packed(const nne::Kernels& kernels);
void test_clip_grad(const nne::Kernels& kernels);
void test_nearest(const nne::Kernels& kernels);
void test_parse_text_lines(const nne::Kernels& kernels);
void test_parse_text_numbers();
// ... and those that run once: the thread counts, concurrent callers, map_file.
void test_threads(const nne::Kernels& kernels);
void test_concurrent_callers(const nne::Kernels& kernels);
void test_map_file();
void test_word2vec_binary();
void test_add_words();

}  // namespace nne_test
