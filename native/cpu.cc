// CPU feature detection, compiled for the baseline ISA: cpuid and xgetbv on x86-64,
// getauxval on Linux arm64. A feature counts only when both the CPU has it and the OS
// saves the registers it needs across context switches.
#include <cstring>

#include "simd.h"

#if defined(NNE_X86_64)
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

#if defined(NNE_ARM64) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#endif

namespace nne {

namespace {

#if defined(NNE_X86_64)
void cpuid(unsigned leaf, unsigned subleaf, unsigned regs[4]) {
#if defined(_MSC_VER)
  int out[4];
  __cpuidex(out, static_cast<int>(leaf), static_cast<int>(subleaf));
  for (int i = 0; i < 4; ++i) regs[i] = static_cast<unsigned>(out[i]);
#else
  __cpuid_count(leaf, subleaf, regs[0], regs[1], regs[2], regs[3]);
#endif
}

// xgetbv is encoded by hand so that this file needs no -mxsave.
uint64_t read_xcr0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned eax = 0, edx = 0;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
#endif
}
#endif

CpuFeatures detect() {
  CpuFeatures features;
#if defined(NNE_X86_64)
  unsigned regs[4] = {0, 0, 0, 0};
  cpuid(0, 0, regs);
  const unsigned max_leaf = regs[0];
  if (max_leaf < 7) return features;
  cpuid(1, 0, regs);
  const bool osxsave = (regs[2] >> 27) & 1;
  const bool avx = (regs[2] >> 28) & 1;
  const bool fma = (regs[2] >> 12) & 1;
  const bool f16c = (regs[2] >> 29) & 1;  // half-precision conversions (float16 tables); every AVX2 CPU has them
  if (!osxsave || !avx) return features;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;            // SSE and AVX state
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;          // plus opmask, ZMM0-15 upper, ZMM16-31
  cpuid(7, 0, regs);
  const bool avx2 = (regs[1] >> 5) & 1;
  const bool avx512f = (regs[1] >> 16) & 1;
  const bool avx512bw = (regs[1] >> 30) & 1;
  const bool avx512vl = (regs[1] >> 31) & 1;
  features.avx2 = ymm_state && avx2 && fma && f16c;
  features.avx512 = features.avx2 && zmm_state && avx512f && avx512bw && avx512vl;
#elif defined(NNE_ARM64)
#if defined(__linux__)
  features.neon = (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
#else
  features.neon = true;  // Advanced SIMD is mandatory in armv8-a
#endif
#endif
  return features;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

// A feature is only ever detected on its own architecture (CpuFeatures starts all false).
bool tier_supported(Tier tier) {
  const CpuFeatures& f = cpu_features();
  switch (tier) {
    case Tier::scalar: return true;
    case Tier::avx2: return f.avx2;
    case Tier::avx512: return f.avx512;
    case Tier::neon: return f.neon;
  }
  return false;
}

Tier best_tier() {
  if (tier_supported(Tier::avx512)) return Tier::avx512;
  if (tier_supported(Tier::avx2)) return Tier::avx2;
  if (tier_supported(Tier::neon)) return Tier::neon;
  return Tier::scalar;
}

const char* tier_name(Tier tier) {
  switch (tier) {
    case Tier::scalar: return "scalar";
    case Tier::avx2: return "avx2";
    case Tier::avx512: return "avx512";
    case Tier::neon: return "neon";
  }
  return "unknown";
}

bool parse_tier(const char* name, Tier* tier) {
  for (int i = 0; i < kTierCount; ++i) {
    const Tier candidate = static_cast<Tier>(i);
    if (std::strcmp(name, tier_name(candidate)) == 0) {
      *tier = candidate;
      return true;
    }
  }
  return false;
}

}  // namespace nne
