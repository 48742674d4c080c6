#include "word2vec_binary.h"

#include <cstring>

#if defined(__SSE2__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <emmintrin.h>
#define NNE_STREAM_ROWS 1
#endif

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

[[maybe_unused]] void swap_bytes_if_big_endian(float* row, int64_t dim) {
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

#if NNE_STREAM_ROWS
// Copies a row of dim values from src (any alignment) to row and returns whether every value is
// finite, in one pass: the aligned middle of the row is written with non-temporal stores, which
// skip the cache. A table is written once and read later: caching its lines would only evict what
// the loader reads next (the file, and the words' hash table), and reading each line before
// writing it (what an ordinary store does) would cost a third more memory traffic. The caller
// orders the stores (sfence) before returning.
bool copy_row_finite(float* row, const uint8_t* src, int64_t dim) {
  uint32_t any = 0;
  int64_t j = 0;
  auto scalar = [&](int64_t end) {
    for (; j < end; ++j) {
      uint32_t bits;
      std::memcpy(&bits, src + 4 * j, 4);
      std::memcpy(row + j, &bits, 4);
      any |= (bits & 0x7fffffffu) + 0x800000u;
    }
  };
  // Up to the first 16-byte boundary of the row (rows are 4-byte aligned: float arrays).
  const int64_t head = static_cast<int64_t>(((16 - (reinterpret_cast<uintptr_t>(row) & 15)) & 15) / 4);
  scalar(head < dim ? head : dim);
  const __m128i magnitude = _mm_set1_epi32(0x7fffffff);
  const __m128i step = _mm_set1_epi32(0x800000);
  __m128i lanes = _mm_setzero_si128();
  for (; j + 4 <= dim; j += 4) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 4 * j));
    lanes = _mm_or_si128(lanes, _mm_add_epi32(_mm_and_si128(v, magnitude), step));
    _mm_stream_si128(reinterpret_cast<__m128i*>(row + j), v);
  }
  scalar(dim);
  return ((any & 0x80000000u) | static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(lanes)))) == 0;
}
#endif

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
#if NNE_STREAM_ROWS
    _mm_sfence();  // the rows' non-temporal stores, ordered before anything that reads them
#endif
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
#if NNE_STREAM_ROWS
    if (!copy_row_finite(row, bytes + word_end + 1, dim)) {
      _mm_sfence();
      result.bad_value = first_non_finite(row, dim);
      return stop(BinaryRecordStatus::not_finite, word_start);
    }
#else
    std::memcpy(row, bytes + word_end + 1, static_cast<size_t>(vector_bytes));
    swap_bytes_if_big_endian(row, dim);
    const int64_t bad = first_non_finite(row, dim);
    if (bad >= 0) {
      result.bad_value = bad;
      return stop(BinaryRecordStatus::not_finite, word_start);
    }
#endif
    p = word_end + 1 + vector_bytes;
    ++n;
  }
  return stop(BinaryRecordStatus::done, p);
}

}  // namespace nne
