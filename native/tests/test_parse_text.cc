// parse_text_lines: every number it decides is strtof's float32, bit for bit (random decimals of
// 1 to 20 digits over wide exponents, ties, the 2^24 boundary, the subnormal and float32-max
// boundaries), typical numbers are decided, and lines are parsed up to exactly the first unclean
// one (split over the pool in test_main's later passes: the same results).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "parse_text.h"
#include "test_support.h"

namespace nne_test {
namespace {

constexpr int64_t kMaxWord = 1 << 16;

nne::TextLines lines_of(const std::string& text, std::vector<float>* weight, std::vector<int32_t>* line_ends,
                        std::vector<int32_t>* word_ends, int64_t dim, int64_t max_lines) {
  weight->assign(static_cast<size_t>(max_lines * dim), kGuard);
  line_ends->assign(static_cast<size_t>(max_lines), -1);
  word_ends->assign(static_cast<size_t>(max_lines), -1);
  return nne::TextLines{reinterpret_cast<const uint8_t*>(text.data()), 0, static_cast<int64_t>(text.size()),
                        weight->data(), 0, dim, max_lines, kMaxWord, (1 << 20) + 256 * dim,
                        line_ends->data(), word_ends->data()};
}

// Parses "w <number>\n": whether the kernel decided it, and its value.
bool parse_one(const std::string& number, float* value) {
  const std::string text = "w " + number + "\n";
  std::vector<float> weight;
  std::vector<int32_t> line_ends, word_ends;
  const int64_t n = nne::parse_text_lines(lines_of(text, &weight, &line_ends, &word_ends, 1, 1));
  *value = weight[0];
  return n == 1;
}

// strtof's float32 for a number of the kernel's syntax (C locale: '.' is the point).
float strtof_of(const std::string& number) { return std::strtof(number.c_str(), nullptr); }

// A number of `digits` digits (the first nonzero), the point after `point` of them (or none), an
// exponent (or none), a sign (or none).
std::string random_number(int digits, std::mt19937_64& gen) {
  std::string s;
  const int sign = static_cast<int>(gen() % 3);
  if (sign == 1) s += '-';
  if (sign == 2) s += '+';
  std::string body;
  for (int k = 0; k < digits; ++k) body += static_cast<char>('0' + (k == 0 ? 1 + gen() % 9 : gen() % 10));
  const int point = static_cast<int>(gen() % (digits + 2));
  if (point <= digits) body.insert(static_cast<size_t>(point), ".");
  if (point == 0 && gen() % 2 == 0) body = "0" + body;
  s += body;
  if (gen() % 2 == 0) {
    s += gen() % 2 == 0 ? 'e' : 'E';
    const int64_t exponent = static_cast<int64_t>(gen() % 101) - 55;
    if (exponent >= 0 && gen() % 2 == 0) s += '+';
    s += std::to_string(exponent);
  }
  return s;
}

void check_number(const std::string& number, int64_t* decided) {
  float value = 0;
  if (parse_one(number, &value)) {
    ++*decided;
    const float expected = strtof_of(number);
    CHECK(same_bits(value, expected), "parse_text %s: %.9g, strtof %.9g", number.c_str(), value, expected);
  }
}

void test_numbers() {
  std::mt19937_64 gen(7);
  // Random decimals: every decided one is strtof's.
  int64_t decided = 0, total = 0;
  for (int digits = 1; digits <= 20; ++digits) {
    for (int k = 0; k < 40000; ++k, ++total) check_number(random_number(digits, gen), &decided);
  }
  CHECK(decided > total / 2, "parse_text decided only %lld of %lld random numbers", static_cast<long long>(decided),
        static_cast<long long>(total));
  // Numbers as files have them (up to 9 significant digits, exponents near 0): all decided.
  decided = 0;
  total = 0;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  char buffer[64];
  for (int k = 0; k < 100000; ++k, ++total) {
    const float x = normal(gen) * (k % 2 == 0 ? 1.0f : 1e-3f);
    std::snprintf(buffer, sizeof buffer, k % 3 == 0 ? "%.6f" : k % 3 == 1 ? "%.9g" : "%.4e", static_cast<double>(x));
    check_number(buffer, &decided);
  }
  CHECK(decided == total, "parse_text decided %lld of %lld typical numbers", static_cast<long long>(decided),
        static_cast<long long>(total));
  // Ties between float32s and their neighbours: 2^24 + 1 (odd: a tie), and ties of random floats
  // written in full (too many digits for the kernel: refused, never wrong).
  for (const char* n :
       {"16777216", "16777217", "16777218", "16777219", "16777217.000001", "16777216.999999", "33554433", "33554435",
        "1.00000005960464477539062500", "1.0000000596046448", "1.0000000596046447", "0.1", "3.4028235e38",
        "3.40282346e38", "3.4028234663852886e38", "3.40282356e38", "3.4028236e38", "1e39", "1.17549435e-38",
        "1.1754942e-38", "1.17549421e-38", "1e-45", "1e-46", "1.4e-45", "7e-46", "0", "-0", "0.0e5", "00012.5000",
        "9999999999999999999", "99999999999999999999", "1e-80", "1e-81", "1e60", "1e61", "123456789e-30",
        "0.000000000000000000000000000000000001"}) {
    check_number(n, &decided);
  }
  // Each float32 tie written exactly (%.60g is exact for these doubles) and just either side.
  std::uniform_int_distribution<uint32_t> bits_of(0x00800000u, 0x7f7ffffeu);
  for (int k = 0; k < 20000; ++k) {
    uint32_t bits = bits_of(gen);
    float lo;
    std::memcpy(&lo, &bits, 4);
    const float hi = std::nextafter(lo, INFINITY);
    const double tie = (static_cast<double>(lo) + static_cast<double>(hi)) / 2;
    for (double x : {tie, std::nextafter(tie, 0.0), std::nextafter(tie, INFINITY)}) {
      for (const char* format : {"%.60g", "%.17g", "%.9g", "%.16e"}) {
        std::snprintf(buffer, sizeof buffer, format, x);
        check_number(buffer, &decided);
      }
    }
  }
  // decide_float32 directly over the fast paths' edges.
  for (uint64_t m : {uint64_t{1}, uint64_t{16777215}, uint64_t{16777216}, uint64_t{16777217}, uint64_t{1} << 53,
                     (uint64_t{1} << 53) + 1, uint64_t{9999999999999999999u}}) {
    for (int64_t e = -90; e <= 70; ++e) {
      float value = 0;
      if (nne::decide_float32(m, e, &value)) {
        const std::string text = std::to_string(m) + "e" + std::to_string(e);
        CHECK(same_bits(value, strtof_of(text)), "decide_float32 %s: %.9g", text.c_str(), value);
      }
    }
  }
}

// A file of `count` lines of dim values from a fixed set, with tabs, '\r\n' and '+' here and there.
std::string clean_lines(int64_t count, int64_t dim, std::vector<float>* values) {
  static const char* const kNumbers[] = {"0.5", "-1.25e-3", "+3", "7.", ".25", "-0", "123456.789", "1e10", "0.000001",
                                         "-98765.4321E-2"};
  std::string text;
  values->clear();
  for (int64_t i = 0; i < count; ++i) {
    text += "word" + std::to_string(i);
    for (int64_t j = 0; j < dim; ++j) {
      const char* number = kNumbers[(i * 7 + j * 3) % 10];
      text += (i + j) % 5 == 0 ? "\t" : (i + j) % 7 == 0 ? "  " : " ";
      text += number;
      values->push_back(strtof_of(number));
    }
    text += i % 4 == 3 ? " \r\n" : i % 4 == 2 ? "\r\n" : "\n";
  }
  return text;
}

void test_lines() {
  for (int64_t dim : {1, 3, 8}) {
    for (int64_t count : {0, 1, 5, 40}) {
      std::vector<float> expected;
      const std::string text = clean_lines(count, dim, &expected);
      std::vector<float> weight;
      std::vector<int32_t> line_ends, word_ends;
      const int64_t max_lines = count + 2;
      const int64_t n = nne::parse_text_lines(lines_of(text, &weight, &line_ends, &word_ends, dim, max_lines));
      CHECK(n == count, "parse_text dim %lld: %lld of %lld clean lines", static_cast<long long>(dim),
            static_cast<long long>(n), static_cast<long long>(count));
      weight.resize(static_cast<size_t>(count * dim));
      CHECK(all_same(weight, expected), "parse_text dim %lld count %lld: values", static_cast<long long>(dim),
            static_cast<long long>(count));
      int64_t start = 0;
      bool positions = true;
      for (int64_t i = 0; i < n; ++i) {
        const size_t newline = text.find('\n', static_cast<size_t>(start));
        const size_t word_end = text.find_first_of(" \t", static_cast<size_t>(start));
        positions &= line_ends[static_cast<size_t>(i)] == static_cast<int32_t>(newline + 1) &&
                     word_ends[static_cast<size_t>(i)] == static_cast<int32_t>(word_end);
        start = static_cast<int64_t>(newline + 1);
      }
      CHECK(positions, "parse_text dim %lld count %lld: line and word ends", static_cast<long long>(dim),
            static_cast<long long>(count));
      // max_lines stops it; a last line without '\n' is not read.
      if (count >= 5) {
        CHECK(nne::parse_text_lines(lines_of(text, &weight, &line_ends, &word_ends, dim, 3)) == 3, "max_lines");
        const std::string cut = text.substr(0, text.size() - 1);
        CHECK(nne::parse_text_lines(lines_of(cut, &weight, &line_ends, &word_ends, dim, max_lines)) == count - 1,
              "a last line without '\\n'");
      }
    }
  }
  // Each unclean line stops the parse exactly there, wherever it is (the pool's pieces in later passes).
  const int64_t dim = 4;
  const char* const kUnclean[] = {
      "\n",                        // blank
      " w 1 2 3 4\n",              // starts with a space
      "\r\n",                      // blank, '\r\n'
      "w 1 2 3\n",                 // too few values
      "w 1 2 3 4 5\n",             // too many
      "w 1 2 x 4\n",               // not a number
      "w 1 2 3e 4\n",              // no exponent digits
      "w 1 2 . 4\n",               // no digits
      "w 1 2 3 4\r5\n",            // '\r' inside
      "w 1 2\r 3 4\n",             // '\r' inside
      "w 1 2 3 4\r\r\n",           // two '\r'
      "w 1 2 3 1e99\n",            // out of range
      "w 1 2 3 1e-50\n",           // below the normal range
      "w 1 2 3 16777217\n",        // a tie: the exact path decides
      "w 1 2 3 0.12345678901234567890123\n",  // more than 19 significant digits
      "w 1 2 3 nan\n",             // not finite
      "w 1 2 3 4x\n",              // junk after a number
      "w\n",                       // no values
      "w\t\n",                     // no values
  };
  for (const char* bad : kUnclean) {
    for (int64_t at : {0, 1, 17, 59}) {
      std::vector<float> expected;
      std::string text = clean_lines(60, dim, &expected);
      size_t position = 0;
      for (int64_t i = 0; i < at; ++i) position = text.find('\n', position) + 1;
      text.insert(position, bad);
      std::vector<float> weight;
      std::vector<int32_t> line_ends, word_ends;
      const int64_t n = nne::parse_text_lines(lines_of(text, &weight, &line_ends, &word_ends, dim, 70));
      CHECK(n == at, "parse_text: unclean line %s at %lld: parsed %lld", bad, static_cast<long long>(at),
            static_cast<long long>(n));
      weight.resize(static_cast<size_t>(n * dim));
      expected.resize(static_cast<size_t>(n * dim));
      CHECK(all_same(weight, expected), "parse_text: values before the unclean line %s", bad);
    }
  }
  // Separators, '\r', '\n' and numbers on every side of the 64-byte blocks the kernel classifies
  // (each line's word, 1 to 70 bytes, shifts them), with bytes after the line (the vector path)
  // and without (the byte-at-a-time path).
  struct Edge {
    const char* rest;
    bool clean;
  };
  const Edge kEdges[] = {
      {" 0.16398 -0.5405 1 +2.5\n", true},
      {" 0.16398 -0.5405 1 +2.5\r\n", true},
      {"\t0.16398  -0.5405 \t1 +2.5 \t \r\n", true},
      {" 12345678.125 -1234567.5 0.000000001 1e-3\n", true},
      {" 0.16398 -0.5405 1\r +2.5\n", false},
      {" 0.16398 -0.5405 1 +2.5\r\r\n", false},
      {" 0.16398 -0.5405 1 +2.5\r \n", false},
      {" 0.16398 -0.5405 1 +2.5 7\n", false},
      {" 0.16398 -0.5405 1\n", false},
      {" 0.16398 -0.5405 1 +2.5x\n", false},
      {" 0.16398 - 1 5\n", false},
      {" 0.1.6 2 1 5\n", false},
  };
  for (const Edge& edge : kEdges) {
    for (int word_bytes = 1; word_bytes <= 70; ++word_bytes) {
      for (bool tail : {false, true}) {
        const std::string line = std::string(static_cast<size_t>(word_bytes), 'w') + edge.rest;
        const std::string text = line + (tail ? std::string(100, '\n') : std::string());
        std::vector<float> weight;
        std::vector<int32_t> line_ends, word_ends;
        const int64_t n = nne::parse_text_lines(lines_of(text, &weight, &line_ends, &word_ends, dim, 1));
        bool ok = n == (edge.clean ? 1 : 0);
        if (ok && edge.clean) {
          std::vector<float> expected;
          size_t at = static_cast<size_t>(word_bytes);
          for (int64_t j = 0; j < dim; ++j) {
            at = line.find_first_not_of(" \t", at);
            const size_t stop = line.find_first_of(" \t\r\n", at);
            expected.push_back(strtof_of(line.substr(at, stop - at)));
            at = stop;
          }
          weight.resize(static_cast<size_t>(dim));
          ok = all_same(weight, expected) && line_ends[0] == static_cast<int32_t>(line.size()) && word_ends[0] == word_bytes;
        }
        CHECK(ok, "parse_text: a word of %d bytes, then %s (%s)", word_bytes, edge.rest, tail ? "bytes after" : "at the end");
      }
    }
  }
  // count_records against its definition, on random texts of words, blanks and line ends (split
  // at every byte in the pool passes: pieces start mid-line and right after '\n').
  {
    std::mt19937_64 gen(91);
    const char kAlphabet[] = {'a', 'a', ' ', '\t', '\r', '\n', '\n'};
    for (int round = 0; round < 200; ++round) {
      std::string text(static_cast<size_t>(gen() % 200), 'a');
      for (char& c : text) c = kAlphabet[gen() % sizeof kAlphabet];
      const int64_t size = static_cast<int64_t>(text.size());
      const int64_t start = static_cast<int64_t>(gen() % static_cast<uint64_t>(size + 1));
      const int64_t end = start + static_cast<int64_t>(gen() % static_cast<uint64_t>(size - start + 1));
      const bool at_line_start = gen() % 2 == 0;
      const int64_t limit = gen() % 4 == 0 ? static_cast<int64_t>(gen() % 10) : INT64_MAX;
      int64_t expected = 0;
      for (int64_t i = start; i < end; ++i) {
        const bool line_start = i == start ? at_line_start : text[static_cast<size_t>(i - 1)] == '\n';
        const char c = text[static_cast<size_t>(i)];
        if (line_start && !(c == ' ' || c == '\t' || c == '\r' || c == '\n')) ++expected;
      }
      expected = std::min(expected, limit);
      const int64_t n = nne::count_records(reinterpret_cast<const uint8_t*>(text.data()), start, end, at_line_start, limit);
      CHECK(n == expected, "count_records round %d: %lld, expected %lld", round, static_cast<long long>(n),
            static_cast<long long>(expected));
    }
  }
  // A word longer than max_word_bytes, a line longer than max_line_bytes.
  std::vector<float> weight;
  std::vector<int32_t> line_ends, word_ends;
  const std::string long_word = std::string(kMaxWord + 1, 'a') + " 1\nb 2\n";
  CHECK(nne::parse_text_lines(lines_of(long_word, &weight, &line_ends, &word_ends, 1, 2)) == 0, "a long word");
  const std::string word_at_limit = std::string(kMaxWord, 'a') + " 1\nb 2\n";
  CHECK(nne::parse_text_lines(lines_of(word_at_limit, &weight, &line_ends, &word_ends, 1, 2)) == 2, "a word at the limit");
  const std::string two_lines = "ab 1\nb 2\n";
  nne::TextLines short_lines = lines_of(two_lines, &weight, &line_ends, &word_ends, 1, 2);
  short_lines.max_line_bytes = 4;
  CHECK(nne::parse_text_lines(short_lines) == 0, "a line longer than max_line_bytes");
  short_lines.max_line_bytes = 5;
  CHECK(nne::parse_text_lines(short_lines) == 2, "lines at max_line_bytes");
}

// Random texts in exact-size heap allocations (AddressSanitizer sees any read outside them: the
// number paths load up to 17 bytes, and the one before the field reaches 8 bytes back), random
// start, end and limits; parse_text_lines and count_records only have to stay inside and in range.
// From the adversarial review of the separator-mask parser (NNE_FUZZ_ROUNDS sets the rounds).
void fuzz_memory() {
  std::mt19937_64 gen(12345);
  const char kAlpha[] = "0123456789012345678901234567890123456789......--++eE  \t\t\r\n\n\nabzX";
  const int64_t rounds = std::getenv("NNE_FUZZ_ROUNDS") ? std::atoll(std::getenv("NNE_FUZZ_ROUNDS")) : 20000;
  for (int64_t round = 0; round < rounds; ++round) {
    std::string s;
    const int lines = static_cast<int>(gen() % 8);
    const int64_t dim = 1 + static_cast<int64_t>(gen() % 4);
    for (int l = 0; l < lines; ++l) {
      s += std::string(1 + gen() % 5, 'w');
      for (int64_t j = 0; j < dim; ++j) {
        s += gen() % 4 ? " " : "\t";
        const int len = 1 + static_cast<int>(gen() % 20);
        if (gen() % 2) {
          if (gen() % 2) s += '-';
          s += static_cast<char>('0' + gen() % 10);
          s += '.';
          for (int k = 2; k < len; ++k) s += static_cast<char>('0' + gen() % 10);
        } else {
          for (int k = 0; k < len; ++k) s += kAlpha[gen() % (sizeof kAlpha - 1)];
        }
      }
      if (gen() % 5 == 0) s += '\r';
      if (gen() % 10) s += '\n';
    }
    const size_t n = s.size();
    uint8_t* text = new uint8_t[n == 0 ? 1 : n];
    std::memcpy(text, s.data(), n);
    const int64_t size = static_cast<int64_t>(n);
    const int64_t start = gen() % 3 == 0 ? static_cast<int64_t>(gen() % (n + 1)) : 0;
    const int64_t end = gen() % 3 == 0 ? start + static_cast<int64_t>(gen() % static_cast<uint64_t>(size - start + 1)) : size;
    const int64_t max_lines = 1 + static_cast<int64_t>(gen() % 10);
    std::vector<float> weight(static_cast<size_t>(max_lines * dim));
    std::vector<int32_t> line_ends(static_cast<size_t>(max_lines)), word_ends(static_cast<size_t>(max_lines));
    const nne::TextLines in{text, start, end, weight.data(), 0, dim, max_lines,
                            gen() % 4 == 0 ? static_cast<int64_t>(gen() % 8) : 100,
                            gen() % 4 == 0 ? static_cast<int64_t>(gen() % 100) : 100000,
                            line_ends.data(), word_ends.data()};
    const int64_t parsed = nne::parse_text_lines(in);
    CHECK(parsed >= 0 && parsed <= max_lines, "fuzz parsed %lld", static_cast<long long>(parsed));
    nne::count_records(text, start, end, gen() % 2 == 0, gen() % 2 ? 3 : INT64_MAX);
    delete[] text;
  }
}

}  // namespace

void test_parse_text_lines(const nne::Kernels&) {
  test_lines();
  fuzz_memory();
}

void test_parse_text_numbers() { test_numbers(); }

}  // namespace nne_test
