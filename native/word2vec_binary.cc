#include "word2vec_binary.h"

#include <cstring>

namespace nne {

namespace {

// The position of the first non-finite value of row[0, dim) (exponent bits all ones), else -1.
// Branch-free first: (x & 0x7fffffff) + 2^23 reaches 2^31 exactly for those, so the OR of all of
// them has its top bit set when any is; the loop vectorizes.
int64_t first_non_finite(const float* row, int64_t dim) {
  uint32_t any = 0;
  for (int64_t j = 0; j < dim; ++j) {
    uint32_t bits;
    std::memcpy(&bits, row + j, 4);
    any |= (bits & 0x7fffffffu) + 0x800000u;
  }
  if ((any & 0x80000000u) == 0) return -1;
  for (int64_t j = 0; j < dim; ++j) {
    uint32_t bits;
    std::memcpy(&bits, row + j, 4);
    if ((bits & 0x7f800000u) == 0x7f800000u) return j;
  }
  return -1;
}

void swap_bytes_if_big_endian(float* row, int64_t dim) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (int64_t j = 0; j < dim; ++j) {
    uint32_t bits;
    std::memcpy(&bits, row + j, 4);
    bits = __builtin_bswap32(bits);
    std::memcpy(row + j, &bits, 4);
  }
#else
  (void)row;
  (void)dim;
#endif
}

}  // namespace

BinaryRecordsResult word2vec_binary_records(const uint8_t* bytes, int64_t length, int64_t start, int64_t max_word_bytes,
                                            int64_t dim, float* rows, int64_t max_records, int32_t* word_starts,
                                            int32_t* word_ends) {
  BinaryRecordsResult result;
  const int64_t vector_bytes = 4 * dim;
  int64_t p = start;
  uint32_t high = 0;
  int64_t n = 0;
  auto stop = [&](BinaryRecordStatus status, int64_t position) {
    result.records = n;
    result.position = position;
    result.status = status;
    result.high = high;
    return result;
  };
  while (n < max_records) {
    while (p < length && bytes[p] >= 9 && bytes[p] <= 13) ++p;
    const int64_t word_start = p;
    // The word ends at the first space within max_word_bytes + 1 bytes.
    const int64_t scan = length - p < max_word_bytes + 1 ? length - p : max_word_bytes + 1;
    const void* space = scan > 0 ? std::memchr(bytes + p, ' ', static_cast<size_t>(scan)) : nullptr;
    if (space == nullptr) {
      return stop(scan == max_word_bytes + 1 ? BinaryRecordStatus::word_too_long : BinaryRecordStatus::need_more, word_start);
    }
    const int64_t word_end = static_cast<const uint8_t*>(space) - bytes;
    if (word_end + 1 + vector_bytes > length) return stop(BinaryRecordStatus::need_more, word_start);
    if (word_end == word_start) return stop(BinaryRecordStatus::empty_word, word_start);
    for (int64_t k = word_start; k < word_end; ++k) high |= bytes[k];
    word_starts[n] = static_cast<int32_t>(word_start);
    word_ends[n] = static_cast<int32_t>(word_end);
    float* row = rows + n * dim;
    std::memcpy(row, bytes + word_end + 1, static_cast<size_t>(vector_bytes));
    swap_bytes_if_big_endian(row, dim);
    const int64_t bad = first_non_finite(row, dim);
    if (bad >= 0) {
      result.bad_value = bad;
      return stop(BinaryRecordStatus::not_finite, word_start);
    }
    p = word_end + 1 + vector_bytes;
    ++n;
  }
  return stop(BinaryRecordStatus::done, p);
}

}  // namespace nne
