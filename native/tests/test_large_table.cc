// A table of more than 2^31 floats: gather, scatter_add and renorm must compute 64-bit offsets.
#include <sys/mman.h>

#include <cmath>

#include "test_support.h"

namespace nne_test {

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

}  // namespace nne_test
