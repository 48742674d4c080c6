// The word loaders' vocabulary insertion (src/io/word-vectors/table-builder.ts, TableBuilder): a
// batch of words, each a byte range of a chunk, added in order to the table of the words read so
// far, until one is a duplicate of an earlier word or does not fit. The table is the builder's own
// arrays, handed over as they are:
// - bytes: every word's bytes, each followed by the separator (a byte no word contains);
// - ends: where word i's bytes end in `bytes` (its separator is there);
// - slots: an open-addressing table, two int32 per slot: the record number + 1 of the word hashed
//   there (0: empty), then that word's full hash; a word goes to slot hash & (slots - 1), or the
//   next empty one after it (linear probing, wrapping around).
// The hash is FNV-1a over the word's bytes (32 bits: seed 0x811c9dc5, prime 16777619). Knows
// nothing of Node; one implementation for every tier (a hash and a probe per word, no SIMD).
#pragma once

#include <cstdint>

namespace nne {

// How a call of add_distinct_words ended. Numbered as src/backend.ts ADD_WORDS_STATUS.
enum class AddWordsStatus : int {
  done = 0,        // every word added
  duplicate = 1,   // word `added` is the word of record `earlier` (nothing of it added)
  need_space = 2,  // word `added` and its separator do not fit in the bytes (nothing of it added)
  corrupt = 3,     // the table holds an impossible entry (a record number or word end out of
                   // range), or no empty slot is left: nothing of word `added` added
};

// The table, as add_distinct_words reads and extends it.
struct WordTable {
  uint8_t* bytes;       // capacity bytes, the first `used` of them holding the words
  int64_t capacity;     // at most 2^31 - 1 (word ends are int32)
  int64_t used;
  int32_t* ends;        // ends[0, count) set; room for count + n entries
  int64_t count;        // words in the table (record numbers 0 .. count - 1); count + n < 2^31
  int32_t* slots;       // 2 * slot_count entries
  int64_t slot_count;   // a power of two, at most 2^31
  uint8_t separator;
};

struct AddWordsResult {
  int64_t added = 0;  // words added, from the first
  AddWordsStatus status = AddWordsStatus::done;
  int64_t earlier = -1;    // duplicate: the record number (from 0) that has the word
  int64_t used = 0;        // the table's bytes used after the call
  int64_t last_slot = -1;  // the slot of the last word added, -1 when none was
  uint32_t high = 0;       // OR of the bytes of the words added (< 128: ASCII)
};

// Adds words chunk[starts[i], ends[i]) for i = 0, 1, ... n - 1 to the table in order: each is
// copied after the words (then its separator), its end appended to table.ends, and its record
// number (table.count, then counting up) + 1 and its hash put in its slot. Stops before the first
// word that an earlier word (of the table or of this batch) equals, that does not fit in the
// bytes, or that meets a corrupt table. Every value read back from the table's slots and ends is
// checked before it addresses anything (JavaScript owns those arrays, and may write them during
// an asynchronous call): a corrupt table is reported, never read out of bounds or probed forever.
// Bytes past the words used may be written (a word is copied there before its duplicate check).
// Preconditions: 0 <= starts[i] <= ends[i] <= the chunk's length, and the WordTable's comments.
AddWordsResult add_distinct_words(const uint8_t* chunk, const int32_t* starts, const int32_t* ends, int64_t n,
                                  const WordTable& table);

}  // namespace nne
