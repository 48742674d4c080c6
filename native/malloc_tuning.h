// glibc's malloc settings for the outputs the package allocates (included by binding.cc; runs once,
// when the addon loads). V8 frees a dead ArrayBuffer's memory only when a collection sweeps it; by
// then glibc has usually handed larger blocks back to the OS (blocks above the mmap threshold are
// unmapped on free, and the heap top beyond the trim threshold is trimmed), so the next output of
// the same size is fresh pages, and each of its pages costs a page fault when the kernel first
// writes it. On the machines this was measured on, the faults cost more than the lookup itself
// (README "Memory of the outputs"). PyTorch frees a tensor's memory the moment it dies and glibc
// reuses it at once; a garbage-collected runtime needs the freed blocks kept a little longer.
//
// So the addon sets glibc's mmap threshold to 32 MiB and its trim threshold to 64 MiB: the values
// glibc's own dynamic thresholds reach after a 32 MiB block is freed (DEFAULT_MMAP_THRESHOLD_MAX on
// 64-bit, and twice it), set from the start. Blocks under 32 MiB come from the heap, and at most
// 64 MiB of free memory stays at the heap's top instead of going back to the OS. Nothing changes
// when the process set its own malloc options (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_,
// MALLOC_TOP_PAD_ or glibc.malloc.* in GLIBC_TUNABLES), when NN_EMBEDDING_MALLOC=default, or off
// glibc (musl and others: the call does not exist). The outcome is reported by mallocTuning().
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace nne {

inline constexpr int kMallocMmapThreshold = 32 << 20;
inline constexpr int kMallocTrimThreshold = 64 << 20;

/** Applies the settings once per process; returns what was done, as getCapabilities() reports it. */
inline const std::string& tune_malloc_once() {
  static const std::string outcome = [] {
#if defined(__GLIBC__)
    const char* choice = std::getenv("NN_EMBEDDING_MALLOC");
    if (choice != nullptr && std::strcmp(choice, "default") == 0) return std::string("default (NN_EMBEDDING_MALLOC=default)");
    for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"}) {
      if (std::getenv(name) != nullptr) return std::string("default (the process sets ") + name + ")";
    }
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) {
      return std::string("default (the process sets glibc.malloc.* in GLIBC_TUNABLES)");
    }
    if (mallopt(M_MMAP_THRESHOLD, kMallocMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kMallocTrimThreshold) == 1) {
      return std::string("tuned");
    }
    return std::string("default (mallopt refused the settings)");
#else
    return std::string("default (not glibc)");
#endif
  }();
  return outcome;
}

}  // namespace nne
