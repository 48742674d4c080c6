// The glibc floor of the portable prebuilds (scripts/prebuilds.sh): an addon built here, against
// glibc 2.36, must load on every glibc Linux that Node 20 supports, down to glibc 2.28 (RHEL 8,
// Debian 10, Ubuntu 18.04/20.04, Amazon Linux 2 with a newer Node). Three things get it there:
//
//   - libstdc++ and libgcc are linked statically (-static-libstdc++ -static-libgcc), so no
//     GLIBCXX_/CXXABI_/GCC_ version of the build machine is needed at load time;
//   - the few glibc functions whose default symbol version is newer than the floor are reached
//     through the linker's --wrap (binding.gyp, nne_glibc_floor_ldflags), which sends every
//     reference, in our objects and in libstdc++.a's alike, to a __wrap_ function below that calls
//     the oldest version of the same function (still exported by every newer glibc);
//   - __libc_single_threaded (glibc 2.32), which libstdc++'s headers read to skip atomic
//     reference counts in single-threaded processes, is defined here as 0: "not single-threaded",
//     the always-correct answer (a Node process runs threads anyway).
//
// The oldest versions are GLIBC_2.2.5 on x86-64 and GLIBC_2.17 on aarch64 (each architecture's
// first glibc). scripts/check-prebuilds.js reads the finished ELF files and fails if any symbol
// version above the floor, or any NEEDED library beyond libc/libm/libpthread/libdl/ld.so, ships.
// Outside portable builds (no NNE_GLIBC_FLOOR define) this file compiles to nothing.
#if defined(NNE_GLIBC_FLOOR) && defined(__linux__)

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <unistd.h>

#if !defined(__GLIBC__)
#error "glibc floor: a glibc build was asked for, but this C library is not glibc"
#elif defined(__x86_64__)
#define NNE_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define NNE_GLIBC_BASE "GLIBC_2.17"
#else
#error "glibc floor: only x86-64 and aarch64 are built portably"
#endif

extern "C" {

__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;

// NNE_FORWARD(ret, name, (params), (args)): nne_base_name is name@base, __wrap_name calls it.
#define NNE_FORWARD(ret, name, params, args)                                  \
  ret nne_base_##name params;                                                 \
  __asm__(".symver nne_base_" #name ", " #name "@" NNE_GLIBC_BASE);           \
  __attribute__((visibility("hidden"))) ret __wrap_##name params { return nne_base_##name args; }

// The threads functions moved from libpthread into libc in glibc 2.34 and got a new default
// version there; the base versions are the same functions. libstdc++.a (std::thread,
// std::condition_variable) and libgcc_eh.a (the unwinder's once-initialization) call them.
NNE_FORWARD(int, pthread_create, (pthread_t * t, const pthread_attr_t* a, void* (*f)(void*), void* arg), (t, a, f, arg))
NNE_FORWARD(int, pthread_join, (pthread_t t, void** result), (t, result))
NNE_FORWARD(int, pthread_detach, (pthread_t t), (t))
NNE_FORWARD(int, pthread_once, (pthread_once_t * once, void (*f)(void)), (once, f))
NNE_FORWARD(int, pthread_key_create, (pthread_key_t * key, void (*destructor)(void*)), (key, destructor))
NNE_FORWARD(int, __pthread_key_create, (pthread_key_t * key, void (*destructor)(void*)), (key, destructor))
NNE_FORWARD(int, pthread_key_delete, (pthread_key_t key), (key))
NNE_FORWARD(void*, pthread_getspecific, (pthread_key_t key), (key))
NNE_FORWARD(int, pthread_setspecific, (pthread_key_t key, const void* value), (key, value))
NNE_FORWARD(int, pthread_mutex_trylock, (pthread_mutex_t * mutex), (mutex))
NNE_FORWARD(int, pthread_sigmask, (int how, const sigset_t* set, sigset_t* old), (how, set, old))
// pow@GLIBC_2.29 only dropped the SVID error handling (matherr) of the old entry point; the values
// are the same correctly rounded ones.
NNE_FORWARD(double, pow, (double x, double y), (x, y))

// fstat64 became a function in glibc 2.33; before, it was an inline call to __fxstat64. The
// system call itself is what both do (struct stat64 is the kernel's struct stat on x86-64 and
// aarch64), and syscall() is in every glibc.
__attribute__((visibility("hidden"))) int __wrap_fstat64(int fd, struct stat64* st) {
  return static_cast<int>(syscall(SYS_fstat, fd, st));
}
__attribute__((visibility("hidden"))) int __wrap_fstat(int fd, struct stat* st) {
  return static_cast<int>(syscall(SYS_fstat, fd, st));
}

// arc4random (glibc 2.36) backs std::random_device in libstdc++.a's random.o, which the link
// pulls in though this addon never constructs a random_device. getrandom(2) (Linux 3.17) is the
// same source; /dev/urandom-free, never fails for 4 bytes once the pool is initialized.
__attribute__((visibility("hidden"))) uint32_t __wrap_arc4random(void) {
  uint32_t value = 0;
  while (syscall(SYS_getrandom, &value, sizeof value, 0) != static_cast<long>(sizeof value)) {
  }
  return value;
}

// _dl_find_object (glibc 2.35) is how libgcc_eh.a's unwinder finds a frame's unwind tables; the
// unwinder treats "not found" as the end of the stack. This addon is built with -fno-exceptions
// and catches nothing, so an exception thrown inside it (by libstdc++ on a failed allocation or
// thread start) ends in std::terminate whether or not its frames are found: answering "not found"
// changes no outcome. (The unwinders of Node and of other libraries are their own, untouched.)
struct dl_find_object;
__attribute__((visibility("hidden"))) int __wrap__dl_find_object(void* pc, struct dl_find_object* result) {
  return -1;
}

}  // extern "C"

#endif
