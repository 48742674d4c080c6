#include "map_file.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define NNE_HAVE_MMAP 1
#endif

namespace nne {

#if NNE_HAVE_MMAP

namespace {
bool fail(std::string* error, const char* step) {
  *error = std::string(step) + ": " + std::strerror(errno);
  return false;
}

// What a file that is not a regular file is, for the error that refuses it (nullptr: unknown).
const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return nullptr;
}
}  // namespace

bool can_map_files() { return true; }

bool map_file(const char* path, MappedFile* mapped, std::string* error) {
  // O_NONBLOCK: opening a FIFO without it waits for a writer, forever, on the JavaScript thread.
  // It changes nothing for a regular file, and anything else is refused below before any read.
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fail(error, "open");
  struct stat st;
  if (fstat(fd, &st) != 0) {
    bool r = fail(error, "fstat");
    close(fd);
    return r;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    const char* kind = file_kind(st.st_mode);
    *error = kind != nullptr ? std::string("it is ") + kind + ", not a regular file" : "not a regular file";
    return false;
  }
  if (static_cast<uint64_t>(st.st_size) > static_cast<uint64_t>(SIZE_MAX / 2)) {
    close(fd);
    *error = "file too large to map";
    return false;
  }
  mapped->size = static_cast<size_t>(st.st_size);
  mapped->data = nullptr;
  if (mapped->size > 0) {
    // PROT_WRITE with MAP_PRIVATE: the table may be trained in place; the file never changes.
    void* p = mmap(nullptr, mapped->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      bool r = fail(error, "mmap");
      close(fd);
      return r;
    }
    mapped->data = p;
  }
  close(fd);  // the mapping keeps its own reference to the file
  return true;
}

void unmap_file(const MappedFile& mapped) {
  if (mapped.data != nullptr) munmap(mapped.data, mapped.size);
}

bool map_zeroed(size_t size, MappedFile* mapped, std::string* error) {
  mapped->size = size;
  mapped->data = nullptr;
  if (size == 0) return true;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return fail(error, "mmap");
#ifdef MADV_HUGEPAGE
  madvise(p, size, MADV_HUGEPAGE);  // advice only: without huge pages the memory works the same
#endif
  mapped->data = p;
  return true;
}

bool advise_huge_pages(void* data, size_t size) {
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + size) & ~(kHuge - 1);
  if (data == nullptr || end <= begin) return false;
  return madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) == 0;
#else
  (void)data;
  (void)size;
  return false;
#endif
}

bool release_pages(void* data, size_t size) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + size) & ~(page - 1);
  if (data == nullptr || end <= begin) return false;
  return madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) == 0;
}

int64_t populate_backward(void* data, size_t size, const int32_t* stop) {
#if defined(__linux__)
  constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE (Linux 5.14; older headers lack the name)
  constexpr uintptr_t kStep = uintptr_t{2} << 20;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + size) & ~(page - 1);
  if (data == nullptr || end <= begin) return 0;
  uintptr_t high = end;
  while (high > begin && __atomic_load_n(stop, __ATOMIC_RELAXED) == 0) {
    // Steps end on 2 MiB boundaries, so that each can be one huge page.
    const uintptr_t low = std::max(begin, (high - 1) & ~(kStep - 1));
    if (madvise(reinterpret_cast<void*>(low), high - low, kPopulateWrite) != 0) return -1;
    high = low;
  }
  return static_cast<int64_t>(end - high);
#else
  (void)data;
  (void)size;
  (void)stop;
  return -1;
#endif
}

#else

int64_t populate_backward(void*, size_t, const int32_t*) { return -1; }

bool can_map_files() { return false; }

bool advise_huge_pages(void*, size_t) { return false; }

bool release_pages(void*, size_t) { return false; }

bool map_file(const char*, MappedFile*, std::string* error) {
  *error = "mapping files is not implemented on this platform";
  return false;
}

void unmap_file(const MappedFile&) {}

bool map_zeroed(size_t, MappedFile*, std::string* error) {
  *error = "anonymous mappings are not implemented on this platform";
  return false;
}

#endif

}  // namespace nne
