// parse_text.h: clean text lines into table rows, numbers rounded to float32 as strtof rounds.
#include "parse_text.h"

#include <cfloat>
#include <cstring>

#include "thread_pool.h"

namespace nne {
namespace {

// 10^0 .. 10^10 exactly as floats (5^10 < 2^24), 10^0 .. 10^22 exactly as doubles (5^22 < 2^53).
constexpr float kPowersOfTenFloat[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};
constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// A double's low 29 mantissa bits are those a float32 drops; a tie between two float32s is 1
// followed by 28 zeros.
constexpr uint64_t kDroppedMask = (uint64_t{1} << 29) - 1;
constexpr uint64_t kTie = uint64_t{1} << 28;
// How far (in double ulps) an approximation from several roundings may be from the decimal's
// value: a few; closer than this to a tie, the exact conversion decides.
constexpr uint64_t kSlack = 64;

constexpr int kMaxSignificantDigits = 19;  // below 10^19 < 2^64

inline bool is_digit(uint8_t c) { return static_cast<uint8_t>(c - '0') < 10; }
inline bool is_blank(uint8_t c) { return c == ' ' || c == '\t'; }

inline uint64_t load8(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Whether the 8 bytes of v (little-endian) are all ASCII digits.
inline bool eight_digits(uint64_t v) {
  return (((v & 0xF0F0F0F0F0F0F0F0) | (((v + 0x0606060606060606) & 0xF0F0F0F0F0F0F0F0) >> 4)) == 0x3333333333333333);
}

// The 8 digits of v (the first in the lowest byte) as a number.
inline uint32_t eight_digits_value(uint64_t v) {
  v -= 0x3030303030303030;
  v = (v * 10) + (v >> 8);  // pairs
  v = (((v & 0x000000FF000000FF) * (100 + (uint64_t{1000000} << 32))) +
       (((v >> 16) & 0x000000FF000000FF) * (1 + (uint64_t{10000} << 32)))) >> 32;
  return static_cast<uint32_t>(v);
}

constexpr bool kLittleEndian = [] {
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
  return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
  return false;
#endif
}();

// Reads a run of digits from p (before limit, which is not a digit) into the significand.
// Returns false when the significant digits exceed kMaxSignificantDigits.
struct Significand {
  uint64_t mantissa = 0;
  int significant = 0;  // digits counted into mantissa from its first nonzero one
  int64_t digits = 0;   // every digit read
};

inline const uint8_t* read_digits(const uint8_t* p, const uint8_t* limit, Significand* s, int64_t* exp10, bool fraction,
                                  bool* ok) {
  // Eight at a time where eight fit before the line's end and in the significand.
  if (kLittleEndian) {
    while (limit - p >= 8 && s->significant + 8 <= kMaxSignificantDigits) {
      const uint64_t v = load8(p);
      if (!eight_digits(v)) break;
      const uint32_t value = eight_digits_value(v);
      if (s->mantissa != 0) {
        s->significant += 8;
      } else {
        for (uint32_t rest = value; rest != 0; rest /= 10) ++s->significant;  // after the leading zeros
      }
      s->mantissa = s->mantissa * 100000000 + value;
      s->digits += 8;
      if (fraction) *exp10 -= 8;
      p += 8;
    }
  }
  for (; is_digit(*p); ++p) {
    const uint8_t d = static_cast<uint8_t>(*p - '0');
    s->digits++;
    if (fraction) --*exp10;
    if (s->mantissa == 0 && d == 0) continue;
    if (++s->significant > kMaxSignificantDigits) *ok = false;
    s->mantissa = s->mantissa * 10 + d;
  }
  return p;
}

enum class NumberResult { kValue, kUnclean };

// Parses the number at p (a non-blank byte before the line's '\n' at `newline`): its value into
// *out and the position after it into *after, when it is a number this kernel decides and ends at
// a space, tab, '\r' or '\n'.
inline bool parse_number(const uint8_t* p, const uint8_t* newline, float* out, const uint8_t** after) {
  bool negative = false;
  if (*p == '-') {
    negative = true;
    ++p;
  } else if (*p == '+') {
    ++p;
  }
  Significand s;
  int64_t exp10 = 0;
  bool ok = true;
  p = read_digits(p, newline, &s, &exp10, false, &ok);
  if (*p == '.') p = read_digits(p + 1, newline, &s, &exp10, true, &ok);
  if (s.digits == 0) return false;
  if (*p == 'e' || *p == 'E') {
    ++p;
    bool exponent_negative = false;
    if (*p == '-' || *p == '+') {
      exponent_negative = *p == '-';
      ++p;
    }
    int64_t exponent = 0;
    const uint8_t* first = p;
    for (; is_digit(*p); ++p) {
      if (exponent < 1000000) exponent = exponent * 10 + (*p - '0');
    }
    if (p == first) return false;
    exp10 += exponent_negative ? -exponent : exponent;
  }
  const uint8_t c = *p;
  if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r') || !ok) return false;
  float value = 0.0f;
  if (s.mantissa != 0 && !decide_float32(s.mantissa, exp10, &value)) return false;
  *out = negative ? -value : value;
  *after = p;
  return true;
}

// Parses one clean line from p (before end) into row; false when it is not clean.
inline bool parse_line(const TextLines& in, const uint8_t* p, const uint8_t* end, float* row, const uint8_t** next,
                       int32_t* word_end) {
  const uint8_t c0 = *p;
  if (c0 == ' ' || c0 == '\t' || c0 == '\r' || c0 == '\n') return false;
  const uint8_t* newline = static_cast<const uint8_t*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
  if (newline == nullptr || newline + 1 - p > in.max_line_bytes) return false;
  const uint8_t* q = p;
  for (uint8_t c = *q; !(c == ' ' || c == '\t' || c == '\r' || c == '\n'); c = *++q) {
  }
  if (q - p > in.max_word_bytes) return false;
  *word_end = static_cast<int32_t>(q - in.text);
  for (int64_t j = 0; j < in.dim; ++j) {
    while (is_blank(*q)) ++q;
    if (*q == '\n' || *q == '\r') return false;
    if (!parse_number(q, newline, &row[j], &q)) return false;
  }
  while (is_blank(*q)) ++q;
  if (*q == '\r') ++q;
  if (q != newline) return false;
  *next = newline + 1;
  return true;
}

// Lines from `from` (before `to`) as lines first_line, first_line + 1, ... of `in`, at most
// max_lines - first_line of them; returns how many were clean.
int64_t parse_piece(const TextLines& in, int64_t from, int64_t to, int64_t first_line) {
  const uint8_t* p = in.text + from;
  const uint8_t* end = in.text + to;
  int64_t line = first_line;
  while (p < end && line < in.max_lines) {
    float* row = in.weight + (in.first_row + line) * in.dim;
    const uint8_t* next = nullptr;
    if (!parse_line(in, p, end, row, &next, &in.word_ends[line])) break;
    in.line_ends[line] = static_cast<int32_t>(next - in.text);
    p = next;
    ++line;
  }
  return line - first_line;
}

// The position after the first '\n' at or after `at` (before end), else end.
int64_t after_newline(const uint8_t* text, int64_t at, int64_t end) {
  const void* found = std::memchr(text + at, '\n', static_cast<size_t>(end - at));
  return found == nullptr ? end : static_cast<const uint8_t*>(found) - text + 1;
}

}  // namespace

bool decide_float32(uint64_t mantissa, int64_t exp10, float* out) {
  // Both operands exact as floats: one rounding, IEEE's, is the answer.
  if (mantissa <= (uint64_t{1} << 24) && exp10 >= -10 && exp10 <= 10) {
    const float m = static_cast<float>(mantissa);
    *out = exp10 < 0 ? m / kPowersOfTenFloat[-exp10] : m * kPowersOfTenFloat[exp10];
    return true;
  }
  double x;
  uint64_t slack;
  if (mantissa <= (uint64_t{1} << 53) && exp10 >= -22 && exp10 <= 22) {
    // Both exact as doubles: x is the double nearest the decimal. A float32 tie is a double, so
    // the decimal is on the same side of every tie as x, unless x is the tie itself.
    const double m = static_cast<double>(mantissa);
    x = exp10 < 0 ? m / kPowersOfTen[-exp10] : m * kPowersOfTen[exp10];
    slack = 0;
  } else {
    if (exp10 > 60 || exp10 < -80) return false;  // outside or near the edges of the float32 range
    x = static_cast<double>(mantissa);
    while (exp10 > 22) {
      x *= 1e22;
      exp10 -= 22;
    }
    while (exp10 < -22) {
      x /= 1e22;
      exp10 += 22;
    }
    x = exp10 < 0 ? x / kPowersOfTen[-exp10] : x * kPowersOfTen[exp10];
    slack = kSlack;
  }
  if (!(x >= FLT_MIN && x < FLT_MAX)) return false;
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const uint64_t dropped = bits & kDroppedMask;
  if (dropped + slack >= kTie && dropped <= kTie + slack) return false;
  *out = static_cast<float>(x);
  return true;
}

int64_t parse_text_lines(const TextLines& in) {
  const int64_t bytes = in.end - in.start;
  const int64_t tasks = plan_tasks(bytes, kMaxThreads);
  if (tasks <= 1 || in.max_lines <= 1) return parse_piece(in, in.start, in.end, 0);
  // Pieces that start at line starts; a piece's first line is the count of '\n' before it (each
  // clean line is one row). Counting first costs a pass over memory; parsing costs far more.
  int64_t bounds[kMaxThreads + 1];
  int64_t newlines[kMaxThreads];
  int64_t parsed[kMaxThreads];
  bounds[0] = in.start;
  for (int64_t k = 1; k < tasks; ++k) {
    const int64_t at = in.start + bytes / tasks * k;
    bounds[k] = std::max(bounds[k - 1], after_newline(in.text, at, in.end));
  }
  bounds[tasks] = in.end;
  parallel_for(tasks, [&](int64_t k) {
    int64_t count = 0;
    const uint8_t* p = in.text + bounds[k];
    const uint8_t* end = in.text + bounds[k + 1];
    for (; p < end; ++p) count += *p == '\n';
    newlines[k] = count;
  });
  int64_t first_lines[kMaxThreads];
  int64_t line = 0;
  for (int64_t k = 0; k < tasks; ++k) {
    first_lines[k] = line;
    line += newlines[k];
  }
  parallel_for(tasks, [&](int64_t k) {
    parsed[k] = first_lines[k] < in.max_lines ? parse_piece(in, bounds[k], bounds[k + 1], first_lines[k]) : 0;
  });
  // The lines before the first piece that stopped early, and that piece's own: a later piece's
  // lines follow an unclean line (or the limit), and count for nothing.
  int64_t total = 0;
  for (int64_t k = 0; k < tasks; ++k) {
    total += parsed[k];
    const int64_t wanted = std::min(newlines[k], std::max<int64_t>(0, in.max_lines - first_lines[k]));
    if (parsed[k] < wanted) break;
  }
  return total;
}

}  // namespace nne
