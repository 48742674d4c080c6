// Maps a whole file into memory, copy-on-write: the pages are the page cache's until written, and
// writes stay private to the process (MAP_PRIVATE). Knows nothing of Node; the binding wraps the
// mapping in an ArrayBuffer that unmaps it when collected.
#pragma once

#include <cstddef>
#include <string>

namespace nne {

struct MappedFile {
  void* data = nullptr;  // nullptr for an empty file
  size_t size = 0;
};

// Maps `path`. On failure returns false and sets *error to the reason (strerror and the step).
bool map_file(const char* path, MappedFile* mapped, std::string* error);

// Unmaps what map_file or map_zeroed mapped (nothing for an empty file).
void unmap_file(const MappedFile& mapped);

// Maps `size` zeroed bytes (anonymous memory) for a large table, asking the kernel for huge pages
// where it offers them on request (Linux THP "madvise"): filling a fresh multi-megabyte table then
// takes a page fault per 2 MiB instead of per 4 KiB. Returns false with *error on failure.
bool map_zeroed(size_t size, MappedFile* mapped, std::string* error);

// Asks the kernel for huge pages (madvise MADV_HUGEPAGE) over the whole 2 MiB blocks inside
// [data, data + size): memory someone else allocated (a table V8 allocated, not yet touched), so
// that its first writes fault in 2 MiB at a time. Advice only: returns whether the kernel took it
// (false for a range holding no whole 2 MiB block, and where madvise is not available).
bool advise_huge_pages(void* data, size_t size);

// Drops this process's mapping of the whole pages inside [data, data + size) of a map_file mapping
// (madvise MADV_DONTNEED): its resident size falls back, and a later read of those bytes maps the
// file's pages again (for a private mapping, bytes written to it are lost). For a reader that is
// done with a part of a mapped file. Returns whether the kernel took it (false where madvise is
// not available, or the range holds no whole page).
bool release_pages(void* data, size_t size);

// Faults in the whole pages inside [data, data + size) for writing (madvise MADV_POPULATE_WRITE:
// a zeroed page where none is mapped yet; a page already there, and every byte, stays as it is),
// from the end back, 2 MiB at a time, until *stop is nonzero (read between steps). For a fresh
// table that a loader fills from its start on another thread: the kernel's zeroing of the pages
// the loader has not reached yet runs here, beside the loader, instead of in its page faults.
// Returns the bytes gone over, or -1 where the system has no MADV_POPULATE_WRITE (Linux before
// 5.14, other systems) or refuses the range.
int64_t populate_backward(void* data, size_t size, const int32_t* stop);

// True where map_file is implemented (POSIX); elsewhere it fails with a message saying so.
bool can_map_files();

}  // namespace nne
