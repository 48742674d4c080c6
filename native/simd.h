// Instruction-set tiers and the regions that compile functions for a tier. Every translation unit
// is compiled for the baseline ISA (x86-64 / armv8-a); only the functions inside an
// NNE_BEGIN_TARGET_* region (the kernel bodies, see instantiate_tiers.h) use wider instructions,
// and they are only ever called after cpu.cc has confirmed that the CPU and the OS support them.
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#define NNE_X86_64 1
#include <immintrin.h>
#endif

// A region of functions (templates included) compiled for a tier. With GCC the AVX-512 region
// also asks for 512-bit vectors in the loops the compiler vectorizes itself (its generic tuning
// picks 256), such as renorm's scaling loop; lane_dot.h's double sums no longer depend on it (they
// are written over Vec::D8).
#if defined(__clang__)
#define NNE_BEGIN_TARGET_AVX2 _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c\"))), apply_to = function)")
#define NNE_BEGIN_TARGET_AVX512 \
  _Pragma("clang attribute push(__attribute__((target(\"avx512f,avx512bw,avx512vl,avx2,fma,f16c\"))), apply_to = function)")
#define NNE_END_TARGET _Pragma("clang attribute pop")
#elif defined(__GNUC__)
#define NNE_BEGIN_TARGET_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c\")")
#define NNE_BEGIN_TARGET_AVX512 \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512bw,avx512vl,avx2,fma,f16c,prefer-vector-width=512\")")
#define NNE_END_TARGET _Pragma("GCC pop_options")
#else
#define NNE_BEGIN_TARGET_AVX2
#define NNE_BEGIN_TARGET_AVX512
#define NNE_END_TARGET
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define NNE_ARM64 1
#include <arm_neon.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define NNE_PREFETCH(address) __builtin_prefetch((address), 0, 3)
#define NNE_PREFETCH_WRITE(address) __builtin_prefetch((address), 1, 3)
#define NNE_PREFETCH_L2(address) __builtin_prefetch((address), 0, 2)
#else
#define NNE_PREFETCH_L2(address) ((void)0)
#define NNE_PREFETCH(address) ((void)0)
#define NNE_PREFETCH_WRITE(address) ((void)0)
#endif

namespace nne {

// How a prefetch asks for a line: to read it, to write it, or to read it later, into the level-2
// cache only (prefetcht1). The narrow tables' readers and the float32 gather ask for rows with
// read_l2 (packed_rows.h, gather_body.h): a prefetch into L1 holds one of L1's few miss buffers
// until its line arrives, which bounds how many rows are in flight; one into L2 does not. Narrow
// rows are a line or two, so a lookup keeps many of them in flight: on the 4e6 x 128 table (1
// thread, AMD EPYC, avx512) int4 lookups took 463 -> 293 us, int8 531 -> 281, float16 644 -> 455
// (and prefetchnta, like prefetcht0, changed nothing).
enum class Access { read, write, read_l2 };

// Asks for every cache line of bytes [p, p + size) before they are used: rows of a large table are
// random and miss every cache level, so the kernels ask for rows a few entries ahead and keep
// several misses in flight. The one prefetch loop of the kernels.
// Every line the bytes touch is asked for, from the one holding the first byte: a row that does
// not start on a line boundary (a table in a Float32Array that V8 allocated through malloc starts
// 16 bytes into a page) touches one line more than size / 64, and stepping from p itself would
// leave that last line to a demand miss per row (float16 lookups on such a table took 839 us
// instead of 494; 4e6 x 128, 1 thread).
template <Access kAccess = Access::read>
inline void prefetch_bytes(const void* p, int64_t size) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(size);
  for (uintptr_t line = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63}; line < end; line += 64) {
    if (kAccess == Access::write) NNE_PREFETCH_WRITE(reinterpret_cast<const char*>(line));
    else if (kAccess == Access::read_l2) NNE_PREFETCH_L2(reinterpret_cast<const char*>(line));
    else NNE_PREFETCH(reinterpret_cast<const char*>(line));
  }
}

// The same for floats [p, p + n).
template <Access kAccess = Access::read>
inline void prefetch_floats(const float* p, int64_t n) {
  prefetch_bytes<kAccess>(p, n * static_cast<int64_t>(sizeof(float)));
}

enum class Tier : int { scalar = 0, avx2 = 1, avx512 = 2, neon = 3 };
constexpr int kTierCount = 4;

const char* tier_name(Tier tier);
// Returns false when name is not one of "scalar", "avx2", "avx512", "neon".
bool parse_tier(const char* name, Tier* tier);

struct CpuFeatures {
  bool avx2 = false;     // AVX2 and FMA, with the OS saving YMM state
  bool avx512 = false;   // AVX-512 F, BW and VL, with the OS saving ZMM state
  bool neon = false;     // Advanced SIMD (always present on arm64 Linux)
};

// Asked of the CPU once; later calls return the cached answer.
const CpuFeatures& cpu_features();
bool tier_supported(Tier tier);
// The widest tier this CPU runs.
Tier best_tier();

}  // namespace nne
