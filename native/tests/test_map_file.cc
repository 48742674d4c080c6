// map_file and map_zeroed (map_file.h), which the tensor-file readers use.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "map_file.h"
#include "test_support.h"

namespace nne_test {

// map_file: a file's bytes, copy-on-write (writes never reach the file); map_zeroed: zeroed
// memory; both unmapped by unmap_file; failures reported with the step, never a crash.
void test_map_file() {
  char path[] = "/tmp/nne-map-test-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  if (fd < 0) return;
  const char text[] = "0123456789abcdef";
  CHECK(write(fd, text, 16) == 16, "write");
  close(fd);
  nne::MappedFile mapped;
  std::string error;
  CHECK(nne::map_file(path, &mapped, &error), "map_file: %s", error.c_str());
  CHECK(mapped.size == 16 && std::memcmp(mapped.data, text, 16) == 0, "mapped bytes");
  static_cast<char*>(mapped.data)[0] = 'X';  // private: the file keeps its '0'
  // release_pages: a range with no whole page is refused; after a release the bytes read as the
  // file's again (the private write is dropped with its page).
  CHECK(!nne::release_pages(static_cast<char*>(mapped.data) + 1, 8), "release_pages of less than a page");
  CHECK(nne::release_pages(mapped.data, 4096), "release_pages of the first page");
  CHECK(std::memcmp(mapped.data, text, 16) == 0, "bytes after release_pages");
  nne::unmap_file(mapped);
  CHECK(nne::map_file(path, &mapped, &error), "map_file again: %s", error.c_str());
  CHECK(static_cast<char*>(mapped.data)[0] == '0', "a write to a private mapping reached the file");
  nne::unmap_file(mapped);
  unlink(path);
  CHECK(!nne::map_file(path, &mapped, &error) && error.rfind("open:", 0) == 0, "missing file: %s", error.c_str());
  CHECK(!nne::map_file("/tmp", &mapped, &error) && error == "it is a directory, not a regular file", "directory: %s", error.c_str());
  // A FIFO is refused without waiting for a writer (opened O_NONBLOCK), named as what it is.
  char fifo[] = "/tmp/nne-fifo-test-XXXXXX";
  CHECK(mkdtemp(fifo) != nullptr, "mkdtemp");
  const std::string fifo_path = std::string(fifo) + "/fifo";
  CHECK(mkfifo(fifo_path.c_str(), 0600) == 0, "mkfifo");
  CHECK(!nne::map_file(fifo_path.c_str(), &mapped, &error) && error == "it is a FIFO (named pipe), not a regular file", "FIFO: %s", error.c_str());
  unlink(fifo_path.c_str());
  rmdir(fifo);
  const size_t size = 5u << 20;
  CHECK(nne::map_zeroed(size, &mapped, &error), "map_zeroed: %s", error.c_str());
  bool zero = true;
  for (size_t i = 0; i < size; i += 4093) zero = zero && static_cast<unsigned char*>(mapped.data)[i] == 0;
  CHECK(zero, "map_zeroed memory is not zero");
  static_cast<char*>(mapped.data)[size - 1] = 1;
  nne::unmap_file(mapped);
  CHECK(nne::map_zeroed(0, &mapped, &error) && mapped.data == nullptr, "empty map_zeroed");
}

}  // namespace nne_test
