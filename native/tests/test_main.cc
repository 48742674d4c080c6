// C++ kernel tests: every kernel of one tier (argv[1]) against its reference in
// native/reference.h, bit for bit, over awkward dimensions and all three index types; one file
// per operation (test_<operation>.cc), the shared helpers in test_support.h. Exit 77 means the
// CPU cannot run the tier (ctest reports it as skipped).
#include <cstdio>

#include "simd.h"
#include "test_support.h"
#include "thread_pool.h"

namespace nne_test {

int failures = 0;
long long checks = 0;
std::mt19937_64 rng(42);

namespace {

// Every kernel against its reference, in a fixed order (the inputs come from one generator).
void run_reference_tests(const nne::Kernels& kernels) {
  test_gather(kernels);
  test_scatter_add(kernels);
  test_renorm(kernels);
  test_embedding_bag(kernels);
  test_optimizers(kernels);
  test_optimizers_packed(kernels);
  test_coalesce(kernels);
  test_large_table(kernels);
  test_init(kernels);
  test_packed(kernels);
  test_clip_grad(kernels);
  test_nearest(kernels);
  test_parse_text_lines(kernels);
}

}  // namespace
}  // namespace nne_test

int main(int argc, char** argv) {
  using namespace nne_test;
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
  test_threads(kernels);
  test_concurrent_callers(kernels);
  test_map_file();
  test_word2vec_binary();
  test_add_words();
  test_parse_text_numbers();
  std::printf("tier %s: %s (%lld checks)\n", argv[1], failures == 0 ? "all kernel tests passed" : "FAILED", checks);
  return failures == 0 ? 0 : 1;
}
