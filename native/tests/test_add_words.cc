// add_distinct_words (add_words.h) against its reference: batches of random words added to a table
// as the loaders' TableBuilder drives it (bytes grown after each need_space stop, duplicates
// skipped), with many duplicates, words of equal 32-bit hash but different bytes, crowded slot
// tables and byte buffers that fill up mid-batch; then tables corrupted as JavaScript could corrupt
// them (record numbers and word ends out of range, no empty slot). Each call: the same result
// and the same bytes, ends and slots. Buffers are sized exactly, for AddressSanitizer.
#include <string>

#include "add_words.h"
#include "test_support.h"

namespace nne_test {

namespace {

uint32_t fnv1a(const std::string& word) {
  uint32_t hash = 0x811c9dc5u;
  for (const char c : word) hash = (hash ^ static_cast<uint8_t>(c)) * 16777619u;
  return hash;
}

// The builder's arrays.
struct Table {
  std::vector<uint8_t> bytes;
  int64_t used = 0;
  std::vector<int32_t> ends;
  int64_t count = 0;
  std::vector<int32_t> slots;
  uint8_t separator = ' ';

  nne::WordTable view() {
    return nne::WordTable{bytes.data(), static_cast<int64_t>(bytes.size()), used, ends.data(), count,
                          slots.data(), static_cast<int64_t>(slots.size() / 2), separator};
  }
  bool operator==(const Table& other) const {
    return bytes == other.bytes && used == other.used && ends == other.ends && count == other.count && slots == other.slots;
  }
};

bool same_result(const nne::AddWordsResult& a, const nne::AddWordsResult& b) {
  return a.added == b.added && a.status == b.status && a.earlier == b.earlier && a.used == b.used &&
         a.last_slot == b.last_slot && a.high == b.high;
}

// Runs the kernel and the reference on copies of `table` and checks they agree; `table` becomes
// the kernel's. Returns the kernel's result.
nne::AddWordsResult add_both(Table& table, const std::vector<uint8_t>& chunk, const int32_t* starts, const int32_t* ends,
                             int64_t n, const char* what) {
  Table expected = table;
  const nne::AddWordsResult actual = nne::add_distinct_words(chunk.data(), starts, ends, n, table.view());
  const nne::AddWordsResult reference = nne::reference::add_distinct_words(chunk.data(), starts, ends, n, expected.view());
  CHECK(same_result(actual, reference), "%s: added %lld status %d earlier %lld used %lld slot %lld high %u, expected %lld %d %lld %lld %lld %u",
        what, static_cast<long long>(actual.added), static_cast<int>(actual.status), static_cast<long long>(actual.earlier),
        static_cast<long long>(actual.used), static_cast<long long>(actual.last_slot), actual.high,
        static_cast<long long>(reference.added), static_cast<int>(reference.status), static_cast<long long>(reference.earlier),
        static_cast<long long>(reference.used), static_cast<long long>(reference.last_slot), reference.high);
  table.used = actual.used;
  table.count += actual.added;
  expected.used = reference.used;
  expected.count += reference.added;
  CHECK(table == expected, "%s: the table differs from the reference's", what);
  return actual;
}

// The words of a batch laid out in a chunk (with a byte between them), and their offsets.
struct Batch {
  std::vector<uint8_t> chunk;
  std::vector<int32_t> starts, ends;
};

Batch lay_out(const std::vector<std::string>& words) {
  Batch batch;
  for (const std::string& word : words) {
    batch.chunk.push_back('\n');
    batch.starts.push_back(static_cast<int32_t>(batch.chunk.size()));
    batch.chunk.insert(batch.chunk.end(), word.begin(), word.end());
    batch.ends.push_back(static_cast<int32_t>(batch.chunk.size()));
  }
  return batch;
}

// Adds `words` in batches of random sizes as the TableBuilder does: grows the bytes (to twice
// their size, or to what the word needs) after a need_space stop, and, where the loader would
// throw, skips a duplicate and checks it against a plain search. Returns the duplicates met.
int64_t add_all(Table& table, const std::vector<std::string>& words, int64_t max_batch, const char* what) {
  std::uniform_int_distribution<int64_t> pick_batch(0, max_batch);
  int64_t duplicates = 0;
  std::vector<std::string> table_words;
  for (int64_t i = 0; i < table.count; ++i) {
    const int64_t start = i == 0 ? 0 : table.ends[i - 1] + 1;
    table_words.emplace_back(table.bytes.begin() + start, table.bytes.begin() + table.ends[i]);
  }
  size_t next = 0;
  while (next < words.size()) {
    const size_t n = std::min(words.size() - next, static_cast<size_t>(pick_batch(rng)));
    const Batch batch = lay_out(std::vector<std::string>(words.begin() + next, words.begin() + next + n));
    size_t done = 0;
    do {
      // The ends must hold count + the batch's words; exactly that many, for ASan.
      table.ends.resize(static_cast<size_t>(table.count) + n - done);
      const auto result = add_both(table, batch.chunk, batch.starts.data() + done, batch.ends.data() + done,
                                   static_cast<int64_t>(n - done), what);
      for (int64_t k = 0; k < result.added; ++k) table_words.push_back(words[next + done + k]);
      done += result.added;
      if (result.status == nne::AddWordsStatus::need_space) {
        const int64_t length = batch.ends[done] - batch.starts[done];
        table.bytes.resize(std::max<size_t>(2 * table.bytes.size(), table.used + length + 1));
      } else if (result.status == nne::AddWordsStatus::duplicate) {
        const auto earlier = std::find(table_words.begin(), table_words.end(), words[next + done]);
        CHECK(earlier - table_words.begin() == result.earlier, "%s: duplicate of %lld, expected %lld", what,
              static_cast<long long>(result.earlier), static_cast<long long>(earlier - table_words.begin()));
        ++duplicates;
        ++done;
      } else {
        CHECK(result.status == nne::AddWordsStatus::done, "%s: status %d", what, static_cast<int>(result.status));
        if (result.status != nne::AddWordsStatus::done) return duplicates;
      }
    } while (done < n);
    next += n;
  }
  // Every word once, in order, separated; each in the slot its probe leads to.
  CHECK(static_cast<size_t>(table.count) == table_words.size(), "%s: %lld words, expected %zu", what,
        static_cast<long long>(table.count), table_words.size());
  std::string all;
  for (const std::string& word : table_words) all += word + static_cast<char>(table.separator);
  CHECK(all == std::string(table.bytes.begin(), table.bytes.begin() + table.used), "%s: the words' bytes differ", what);
  return duplicates;
}

std::string random_word(std::mt19937_64& generator, int alphabet, int max_length) {
  std::uniform_int_distribution<int> length(1, max_length), letter(0, alphabet - 1), wide(0, 9);
  std::string word(static_cast<size_t>(length(generator)), 'a');
  for (char& c : word) c = static_cast<char>(wide(generator) == 0 ? 0x80 + letter(generator) : 'a' + letter(generator));
  return word;
}

// Slots for `records` words as the builder sizes them: at most 3/4 full, a power of two.
int64_t slot_count_for(int64_t records) {
  int64_t slots = 1;
  while (slots < (records * 4) / 3 + 1) slots *= 2;
  return slots;
}

}  // namespace

void test_add_words() {
  // Pairs of words with the same 32-bit FNV-1a hash: their bytes must be compared.
  const std::vector<std::pair<std::string, std::string>> collisions = {
      {"costarring", "liquid"}, {"declinate", "macallums"}, {"altarage", "zinke"}, {"altarages", "zinkes"}};
  for (const auto& [a, b] : collisions) CHECK(fnv1a(a) == fnv1a(b), "%s and %s should collide", a.c_str(), b.c_str());

  for (int round = 0; round < 60; ++round) {
    // Words from a small alphabet (many duplicates), the colliding pairs among them.
    const int alphabet = 2 + round % 5;
    const int64_t distinct = 1 + static_cast<int64_t>(rng() % 400);
    std::vector<std::string> words;
    for (int64_t i = 0; i < distinct; ++i) words.push_back(random_word(rng, alphabet, 1 + round % 9));
    for (const auto& [a, b] : collisions) {
      words.push_back(a);
      if (round % 3 != 0) words.push_back(b);
    }
    std::shuffle(words.begin(), words.end(), rng);
    Table table;
    table.separator = round % 2 == 0 ? ' ' : '\n';
    table.bytes.resize(static_cast<size_t>(round % 4 == 0 ? 0 : 1 + rng() % 64));
    // Sized for every word as the builder sizes for every record, or crowded: the least power of
    // two with an empty slot left after every word (long runs of full slots to probe).
    int64_t slots = 1;
    while (slots < static_cast<int64_t>(words.size()) + 1) slots *= 2;
    if (round % 3 != 1) slots = slot_count_for(static_cast<int64_t>(words.size()));
    table.slots.assign(static_cast<size_t>(2 * slots), 0);
    const int64_t duplicates = add_all(table, words, 1 + round % 50, "random batches");
    if (round == 0) CHECK(duplicates > 0, "no duplicates in round 0");
  }

  // The colliding words: each added once, a repeat of either found as the duplicate it is.
  {
    Table table;
    table.bytes.resize(8);
    table.slots.assign(2 * 16, 0);
    std::vector<std::string> words;
    for (const auto& [a, b] : collisions) words.insert(words.end(), {a, b, b, a});
    const int64_t duplicates = add_all(table, words, 5, "colliding words");
    CHECK(duplicates == 8, "colliding words: %lld duplicates, expected 8", static_cast<long long>(duplicates));
  }

  // Corrupt tables: a valid one (about half full) with entries overwritten at random.
  for (int round = 0; round < 300; ++round) {
    Table table;
    table.bytes.resize(256);
    table.slots.assign(2 * 16, 0);
    std::vector<std::string> words;
    for (int i = 0; i < 8; ++i) words.push_back(random_word(rng, 3, 3));
    add_all(table, words, 8, "before corruption");
    std::uniform_int_distribution<int> which(0, 4);
    const int32_t wild[] = {-1, 0, 1, 2, static_cast<int32_t>(table.count), static_cast<int32_t>(table.count) + 1,
                            static_cast<int32_t>(table.used), static_cast<int32_t>(table.used) - 1, INT32_MAX, INT32_MIN};
    std::uniform_int_distribution<size_t> pick_wild(0, std::size(wild) - 1);
    for (int k = 0; k < 3; ++k) {
      const int kind = which(rng);
      if (kind == 0) table.slots[2 * (rng() % 16)] = wild[pick_wild(rng)];
      if (kind == 1 && table.count > 0) table.ends[rng() % table.count] = wild[pick_wild(rng)];
      if (kind == 2) {  // a hash every probe matches
        const uint32_t hash = fnv1a(words[rng() % words.size()]);
        for (size_t s = 1; s < table.slots.size(); s += 2) table.slots[s] = static_cast<int32_t>(hash);
      }
      if (kind == 3) {  // no empty slot
        for (size_t s = 0; s < table.slots.size(); s += 2) if (table.slots[s] == 0) table.slots[s] = 1 + static_cast<int32_t>(rng() % table.count);
      }
    }
    std::vector<std::string> more = words;
    for (int i = 0; i < 4; ++i) more.push_back(random_word(rng, 3, 3));
    std::shuffle(more.begin(), more.end(), rng);
    const Batch batch = lay_out(more);
    table.ends.resize(static_cast<size_t>(table.count) + more.size());
    add_both(table, batch.chunk, batch.starts.data(), batch.ends.data(), static_cast<int64_t>(more.size()), "corrupt table");
  }

  // Each stop, exactly: a full table of one slot, a word that does not fit, an empty batch.
  {
    Table table;
    table.bytes.resize(8);
    table.slots.assign(2, 0);
    table.ends.resize(2);
    const Batch batch = lay_out({"ab", "cd"});
    auto result = add_both(table, batch.chunk, batch.starts.data(), batch.ends.data(), 2, "one slot");
    CHECK(result.added == 1 && result.status == nne::AddWordsStatus::corrupt && result.last_slot == 0 && result.used == 3 &&
              table.slots[0] == 1 && table.slots[1] == static_cast<int32_t>(fnv1a("ab")) && table.ends[0] == 2,
          "one slot: added %lld, status %d", static_cast<long long>(result.added), static_cast<int>(result.status));
    Table small;
    small.bytes.resize(3);
    small.slots.assign(8, 0);
    small.ends.resize(2);
    result = add_both(small, batch.chunk, batch.starts.data(), batch.ends.data(), 2, "bytes full");
    CHECK(result.added == 1 && result.status == nne::AddWordsStatus::need_space && result.used == 3 && small.bytes[2] == ' ',
          "bytes full: added %lld, status %d", static_cast<long long>(result.added), static_cast<int>(result.status));
    result = add_both(small, batch.chunk, batch.starts.data(), batch.ends.data(), 0, "empty batch");
    CHECK(result.added == 0 && result.status == nne::AddWordsStatus::done && result.last_slot == -1 && result.used == 3,
          "empty batch: status %d", static_cast<int>(result.status));
  }
}

}  // namespace nne_test
