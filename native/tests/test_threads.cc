// Threads: every kernel gives the same bits with 1, 2, 3 and 4 threads, on inputs large enough
// that the default grain splits them (checked with the pool's counters), and concurrent callers.
#include <algorithm>
#include <cmath>
#include <thread>

#include "test_support.h"
#include "thread_pool.h"

namespace nne_test {
namespace {

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
void test_threads_of(const nne::Kernels& kernels, const char* type_name) {
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
                                 uses2 ? e2.data() : nullptr, list != nullptr ? list->data() : nullptr, num_rows, dim);
        if (rowwise) e0.resize(static_cast<size_t>(rows));
        w.insert(w.end(), e0.begin(), e0.end());
        w.insert(w.end(), e1.begin(), e1.end());
        w.insert(w.end(), e2.begin(), e2.end());
        return w;
      });
    }
  }
}

}  // namespace

void test_threads(const nne::Kernels& kernels) {
  for_each_index_type([&](auto index, const char* name) { test_threads_of<decltype(index)>(kernels, name); });
  test_threads_optimizers(kernels);
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

}  // namespace nne_test
