// word2vec binary records: "word " then dim little-endian float32 values, whitespace (bytes 9 to
// 13) before a word skipped. The loader's inner loop (src/io/word-vectors/word2vec.ts): find each
// word's end, copy its vector into the table, check that every value is finite. Words are returned
// as offsets into the bytes, for the loader to decode once. Knows nothing of Node; one
// implementation for every tier (a memchr and a memcpy per record: no SIMD tier to choose).
#pragma once

#include <cstdint>

namespace nne {

// How a call of word2vec_binary_records ended. Numbered as src/backend.ts BINARY_RECORD_STATUS.
enum class BinaryRecordStatus : int {
  done = 0,           // max_records records parsed
  need_more = 1,      // the record at `position` (its word's start) does not end inside the bytes
  empty_word = 2,     // the record at `position` starts with a space
  word_too_long = 3,  // no space within max_word_bytes + 1 bytes of `position`
  not_finite = 4,     // the record at `position` (row `records`, copied) has a non-finite value
};

struct BinaryRecordsResult {
  int64_t records = 0;   // complete records parsed: their rows written, their word offsets set
  // done: the byte after the last record (whitespace after it not skipped); otherwise the start of
  // the word of the record that stopped the call (whitespace before it skipped).
  int64_t position = 0;
  BinaryRecordStatus status = BinaryRecordStatus::done;
  int64_t bad_value = -1;  // not_finite: the position in the row of its first non-finite value
  uint32_t high = 0;       // OR of the bytes of every word whose offsets were set (< 128: ASCII)
};

// Parses records from bytes[start, length) until max_records are parsed or one does not parse:
// record i's vector is copied to rows[i * dim ..) (and byte-swapped on a big-endian host), its
// word is bytes[word_starts[i], word_ends[i]) (a space follows it). A not_finite record also gets
// its row and offsets (entry `records`), for the loader to name. Precondition: start <= length <
// 2^31, rows holds max_records rows, word_starts and word_ends max_records entries.
BinaryRecordsResult word2vec_binary_records(const uint8_t* bytes, int64_t length, int64_t start, int64_t max_word_bytes,
                                            int64_t dim, float* rows, int64_t max_records, int32_t* word_starts,
                                            int32_t* word_ends);

}  // namespace nne
