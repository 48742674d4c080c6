#include "add_words.h"

#include <cstring>

#include "simd.h"

namespace nne {

namespace {

// Words hashed ahead of the one being added, their slots prefetched: a table of a few hundred
// thousand words is megabytes, and each word's slot is a random line of it, a miss to memory or
// the last cache level. Asking for the next words' lines while adding this one keeps several
// misses in flight instead of one.
constexpr int64_t kAhead = 8;

struct Hashed {
  uint32_t hash;
  uint32_t high;  // OR of the word's bytes
};

inline Hashed hash_word(const uint8_t* chunk, int32_t start, int32_t end) {
  uint32_t hash = 0x811c9dc5u;
  uint32_t high = 0;
  for (int32_t k = start; k < end; ++k) {
    const uint32_t c = chunk[k];
    hash = (hash ^ c) * 16777619u;
    high |= c;
  }
  return Hashed{hash, high};
}

}  // namespace

AddWordsResult add_distinct_words(const uint8_t* chunk, const int32_t* starts, const int32_t* ends, int64_t n,
                                  const WordTable& table) {
  AddWordsResult result;
  uint8_t* const bytes = table.bytes;
  int32_t* const word_ends = table.ends;
  int32_t* const slots = table.slots;
  const uint32_t mask = static_cast<uint32_t>(table.slot_count - 1);
  int64_t used = table.used;
  int64_t count = table.count;
  uint32_t high = 0;
  auto stop = [&](AddWordsStatus status, int64_t i) {
    result.added = i;
    result.status = status;
    result.used = used;
    result.high = high;
    return result;
  };
  Hashed ahead[kAhead];
  auto hash_ahead = [&](int64_t i) {
    const Hashed hashed = hash_word(chunk, starts[i], ends[i]);
    ahead[i % kAhead] = hashed;
    NNE_PREFETCH_WRITE(slots + 2 * static_cast<int64_t>(hashed.hash & mask));
  };
  for (int64_t i = 0; i < n && i < kAhead; ++i) hash_ahead(i);
  for (int64_t i = 0; i < n; ++i) {
    const Hashed hashed = ahead[i % kAhead];
    if (i + kAhead < n) hash_ahead(i + kAhead);
    const int64_t start = starts[i];
    const int64_t length = ends[i] - start;
    if (used + length + 1 > table.capacity) return stop(AddWordsStatus::need_space, i);
    if (length > 0) std::memcpy(bytes + used, chunk + start, static_cast<size_t>(length));
    const uint32_t hash = hashed.hash;
    int64_t slot = hash & mask;
    for (int64_t probes = 0;; ++probes) {
      if (probes == table.slot_count) return stop(AddWordsStatus::corrupt, i);  // no empty slot
      const int64_t other = slots[2 * slot];
      if (other == 0) break;
      if (other < 0 || other > count) return stop(AddWordsStatus::corrupt, i);
      if (static_cast<uint32_t>(slots[2 * slot + 1]) == hash) {
        const int64_t other_end = word_ends[other - 1];
        const int64_t other_start = other == 1 ? 0 : int64_t{word_ends[other - 2]} + 1;
        if (!(other_start >= 0 && other_start <= other_end && other_end < used)) return stop(AddWordsStatus::corrupt, i);
        if (other_end - other_start == length &&
            (length == 0 || std::memcmp(bytes + other_start, bytes + used, static_cast<size_t>(length)) == 0)) {
          result.earlier = other - 1;
          return stop(AddWordsStatus::duplicate, i);
        }
      }
      slot = (slot + 1) & mask;
    }
    slots[2 * slot] = static_cast<int32_t>(count + 1);
    slots[2 * slot + 1] = static_cast<int32_t>(hash);
    result.last_slot = slot;
    bytes[used + length] = table.separator;
    word_ends[count++] = static_cast<int32_t>(used + length);
    used += length + 1;
    high |= hashed.high;
  }
  return stop(AddWordsStatus::done, n);
}

}  // namespace nne
