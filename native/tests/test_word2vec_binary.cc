// word2vec_binary_records (word2vec_binary.h) against its reference: random files of records
// (words of 0 to 9 bytes, some not ASCII, some empty; whitespace runs before them; values with a
// few NaN and infinities; C-tool and gensim layouts), every truncation of them and several starts
// and record budgets, so that every status is reached, at every byte. Buffers are sized exactly:
// AddressSanitizer catches a read past the bytes or a write past a row.
#include <cmath>
#include <limits>

#include "test_support.h"
#include "word2vec_binary.h"

namespace nne_test {

namespace {

const char* status_name(nne::BinaryRecordStatus status) {
  switch (status) {
    case nne::BinaryRecordStatus::done: return "done";
    case nne::BinaryRecordStatus::need_more: return "need_more";
    case nne::BinaryRecordStatus::empty_word: return "empty_word";
    case nne::BinaryRecordStatus::word_too_long: return "word_too_long";
    default: return "not_finite";
  }
}

// One random file of `records` records of dim values.
std::vector<uint8_t> random_records(int64_t records, int64_t dim, bool c_layout, bool hostile) {
  std::vector<uint8_t> file;
  std::uniform_int_distribution<int> pick(0, 99);
  for (int64_t r = 0; r < records; ++r) {
    if (c_layout && r > 0) file.push_back('\n');
    if (pick(rng) < 10) file.insert(file.end(), static_cast<size_t>(pick(rng) % 4), static_cast<uint8_t>(9 + pick(rng) % 5));
    const int word = hostile && pick(rng) < 5 ? 0 : 1 + pick(rng) % 9;
    for (int k = 0; k < word; ++k) {
      const int c = pick(rng);
      file.push_back(static_cast<uint8_t>(c < 10 ? 0xc0 + c : c < 15 ? 9 + c % 5 : 'a' + c % 26));
    }
    file.push_back(' ');
    for (int64_t j = 0; j < dim; ++j) {
      float value = static_cast<float>(pick(rng) - 50) / 7.0f;
      if (hostile && pick(rng) < 2) value = pick(rng) < 50 ? NAN : -INFINITY;
      uint8_t bytes[4];
      std::memcpy(bytes, &value, 4);  // the tests run on little-endian hosts
      file.insert(file.end(), bytes, bytes + 4);
    }
  }
  if (c_layout) file.push_back('\n');
  return file;
}

// The kernel and the reference on bytes[0, length) from `start`: the same result, rows and offsets.
void compare(const std::vector<uint8_t>& file, int64_t length, int64_t start, int64_t max_word_bytes, int64_t dim,
             int64_t max_records, const char* what) {
  std::vector<uint8_t> bytes(file.begin(), file.begin() + length);  // exactly `length` bytes
  std::vector<float> rows(static_cast<size_t>(max_records * dim), -7.0f), expected_rows = rows;
  std::vector<int32_t> starts(static_cast<size_t>(max_records), -1), ends = starts, expected_starts = starts, expected_ends = starts;
  const auto actual = nne::word2vec_binary_records(bytes.data(), length, start, max_word_bytes, dim, rows.data(), max_records,
                                                   starts.data(), ends.data());
  const auto expected = nne::reference::word2vec_binary_records(bytes.data(), length, start, max_word_bytes, dim, expected_rows.data(),
                                                                max_records, expected_starts.data(), expected_ends.data());
  const bool same = actual.records == expected.records && actual.position == expected.position && actual.status == expected.status &&
                    actual.bad_value == expected.bad_value && actual.high == expected.high;
  CHECK(same, "%s length %lld start %lld: %lld records to %lld %s (value %lld, high %u), expected %lld to %lld %s (value %lld, high %u)", what,
        static_cast<long long>(length), static_cast<long long>(start), static_cast<long long>(actual.records),
        static_cast<long long>(actual.position), status_name(actual.status), static_cast<long long>(actual.bad_value), actual.high,
        static_cast<long long>(expected.records), static_cast<long long>(expected.position), status_name(expected.status),
        static_cast<long long>(expected.bad_value), expected.high);
  // Rows and offsets: those of the records parsed, and of a not_finite record.
  const int64_t filled = expected.records + (expected.status == nne::BinaryRecordStatus::not_finite ? 1 : 0);
  bool rows_same = true;
  for (int64_t i = 0; i < filled * dim; ++i) rows_same &= std::memcmp(&rows[i], &expected_rows[i], 4) == 0;
  for (int64_t i = 0; i < filled; ++i) rows_same &= starts[i] == expected_starts[i] && ends[i] == expected_ends[i];
  CHECK(rows_same, "%s length %lld start %lld: rows or word offsets differ", what, static_cast<long long>(length), static_cast<long long>(start));
}

}  // namespace

void test_word2vec_binary() {
  for (int64_t dim : {1, 3, 8, 17}) {
    for (int layout = 0; layout < 4; ++layout) {
      const bool c_layout = (layout & 1) != 0;
      const bool hostile = (layout & 2) != 0;
      const std::vector<uint8_t> file = random_records(12, dim, c_layout, hostile);
      const int64_t size = static_cast<int64_t>(file.size());
      for (int64_t length = 0; length <= size; ++length) {
        for (int64_t start : {int64_t{0}, int64_t{1}, length / 2, length}) {
          if (start > length) continue;
          compare(file, length, start, 16, dim, 12, "all records");
          compare(file, length, start, 4, dim, 12, "words of at most 4 bytes");
          compare(file, length, start, 0, dim, 3, "words of 0 bytes, 3 records");
          compare(file, length, start, 16, dim, 0, "no records");
        }
      }
    }
  }
  // A word of exactly max_word_bytes is kept; one more byte makes it too long, even when the
  // bytes end there (the reference decides too long before incomplete).
  std::vector<uint8_t> file = {'a', 'b', 'c', 'd', ' ', 0, 0, 0x80, 0x3f};
  compare(file, 9, 0, 4, 1, 1, "4-byte word, max 4");
  compare(file, 9, 0, 3, 1, 1, "4-byte word, max 3");
  compare(file, 4, 0, 3, 1, 1, "4 bytes, no space, max 3");
  compare(file, 4, 0, 4, 1, 1, "4 bytes, no space, max 4");
  nne::BinaryRecordsResult result;
  std::vector<float> row(1);
  int32_t start = -1, end = -1;
  result = nne::word2vec_binary_records(file.data(), 9, 0, 4, 1, row.data(), 1, &start, &end);
  CHECK(result.status == nne::BinaryRecordStatus::done && result.records == 1 && result.position == 9 && start == 0 && end == 4 &&
            row[0] == 1.0f && result.high == ('a' | 'b' | 'c' | 'd'),
        "one record \"abcd 1.0\"");
  file[8] = 0x7f;
  file[7] = 0x80;  // +infinity
  result = nne::word2vec_binary_records(file.data(), 9, 0, 4, 1, row.data(), 1, &start, &end);
  CHECK(result.status == nne::BinaryRecordStatus::not_finite && result.records == 0 && result.bad_value == 0 && std::isinf(row[0]),
        "an infinite value is reported, its row copied");
}

}  // namespace nne_test
