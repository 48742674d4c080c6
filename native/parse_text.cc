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

// 10^-k rounded to double (relative error at most 2^-53), and how far from a float32 tie (in
// double ulps) a product with one of them must be to decide: the product is within 2 ulps.
constexpr double kInversePowersOfTen[] = {1e-0,  1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
                                          1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15,
                                          1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22};
constexpr uint64_t kProductSlack = 4;

constexpr int kMaxSignificantDigits = 19;  // below 10^19 < 2^64

// Exponent digits stop accumulating here: far beyond any float32 whatever the digits before it,
// since a line holds fewer than 2^31 digits. (A cap of 10^6, as before, let a fraction of 10^7
// digits bring the exponent back into range: 0.<10^7 - 1 zeros>1e99999999999 read as 0.1.)
constexpr int64_t kExponentCap = 1000000000000000;  // 10^15

inline bool is_digit(uint8_t c) { return static_cast<uint8_t>(c - '0') < 10; }
inline bool is_blank(uint8_t c) { return c == ' ' || c == '\t'; }

inline uint64_t load8(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

constexpr bool kLittleEndian = [] {
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
  return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
  return false;
#endif
}();

constexpr uint64_t kPowersOfTenInt[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

// The value of up to 8 decimal digits held one per byte (0..9, the first in the lowest byte), the
// leading ones zero.
inline uint64_t digits_value(uint64_t v) {
  v = (v * 10) + (v >> 8);  // pairs
  return (((v & 0x000000FF000000FF) * (100 + (uint64_t{1000000} << 32))) +
          (((v >> 16) & 0x000000FF000000FF) * (1 + (uint64_t{10000} << 32)))) >> 32;
}

// Reads the run of digits at p (ending before `limit` at the latest) into *mantissa (times 10 per
// digit, wrapping past 19 digits: the caller counts them) and returns where the run ends. Eight
// bytes at a time while eight can be loaded before `buffer_end`.
inline const uint8_t* read_digits(const uint8_t* p, const uint8_t* limit, const uint8_t* buffer_end, uint64_t* mantissa) {
  uint64_t m = *mantissa;
  if (kLittleEndian) {
    while (buffer_end - p >= 8) {
      const uint64_t x = load8(p) ^ 0x3030303030303030;  // digits become 0..9
      // A byte's top bit marks a non-digit (above 9). A carry out of a non-digit byte can only
      // mark the next one, after it: the first mark is right.
      const uint64_t marks = ((x + 0x7676767676767676) | x) & 0x8080808080808080;
      int64_t k = marks == 0 ? 8 : __builtin_ctzll(marks) >> 3;
      if (k > limit - p) k = limit - p;
      if (k == 0) break;
      const uint64_t digits = k == 8 ? x : (x & ((uint64_t{1} << (8 * k)) - 1)) << (8 * (8 - k));
      m = m * kPowersOfTenInt[k] + digits_value(digits);
      p += k;
      if (k < 8) {
        *mantissa = m;
        return p;
      }
    }
  }
  for (; p < limit && is_digit(*p); ++p) m = m * 10 + static_cast<uint8_t>(*p - '0');
  *mantissa = m;
  return p;
}

// For a number of more than 19 digits: its significant digits (from the first nonzero one) into
// *mantissa, false when there are more than 19 of them.
bool significant_digits(const uint8_t* p, const uint8_t* end, uint64_t* mantissa) {
  uint64_t m = 0;
  int count = 0;
  for (; p < end; ++p) {
    if (*p == '.') continue;
    if (m == 0 && *p == '0') continue;
    if (++count > kMaxSignificantDigits) return false;
    m = m * 10 + static_cast<uint8_t>(*p - '0');
  }
  *mantissa = m;
  return true;
}

// Parses the number at p (before the line's '\n' at `newline`): its value into *out and the
// position after it into *after, when it is a number this kernel decides and ends at a space,
// tab, '\r' or the line's end. Returns false otherwise.
//
// Every scan here and in parse_line stops at the line's '\n' by position, not by its value: the
// bytes may change under the kernel (a SharedArrayBuffer, or JavaScript writing the text during
// an async call), which may give nonsense but must never read outside the text.
inline bool parse_number(const uint8_t* p, const uint8_t* newline, const uint8_t* buffer_end, float* out,
                         const uint8_t** after) {
  // Without branches: signs come in no predictable order.
  const bool negative = *p == '-';
  p += static_cast<int>(negative) | static_cast<int>(*p == '+');
  const uint8_t* first = p;
  uint64_t mantissa = 0;
  if (newline - p >= 2 && is_digit(p[0]) && p[1] == '.') {
    mantissa = static_cast<uint8_t>(p[0] - '0');  // one digit before the point: the usual case
    ++p;
  } else {
    p = read_digits(p, newline, buffer_end, &mantissa);
  }
  int64_t digits = p - first;
  int64_t exp10 = 0;
  if (p < newline && *p == '.') {
    const uint8_t* fraction = p + 1;
    p = read_digits(fraction, newline, buffer_end, &mantissa);
    exp10 = -(p - fraction);
    digits += p - fraction;
  }
  if (digits == 0) return false;
  const uint8_t* digits_end = p;
  if (p < newline && (*p == 'e' || *p == 'E')) {
    ++p;
    bool exponent_negative = false;
    if (p < newline && (*p == '-' || *p == '+')) {
      exponent_negative = *p == '-';
      ++p;
    }
    int64_t exponent = 0;
    const uint8_t* exponent_first = p;
    for (; p < newline && is_digit(*p); ++p) {
      if (exponent < kExponentCap) exponent = exponent * 10 + (*p - '0');
    }
    if (p == exponent_first) return false;
    exp10 += exponent_negative ? -exponent : exponent;
  }
  if (p < newline && !(*p == ' ' || *p == '\t' || *p == '\r')) return false;
  // The mantissa wrapped past 19 digits: read the significant ones again (leading zeros do not
  // count; more than 19 are left to the exact conversion).
  if (digits > kMaxSignificantDigits && !significant_digits(first, digits_end, &mantissa)) return false;
  float value = 0.0f;
  if (mantissa != 0) {
    // Most numbers: a multiplication by 10^-k (within two double ulps of the decimal, so rounding it
    // to float32 gives the decimal's float32 unless it is that near a tie), instead of a division.
    bool decided = false;
    if (mantissa <= (uint64_t{1} << 53) && exp10 <= 0 && exp10 >= -22) {
      const double x = static_cast<double>(mantissa) * kInversePowersOfTen[-exp10];  // in [1e-22, 2^53]
      uint64_t bits;
      std::memcpy(&bits, &x, sizeof bits);
      const uint64_t dropped = bits & kDroppedMask;
      if (dropped + kProductSlack < kTie || dropped > kTie + kProductSlack) {
        value = static_cast<float>(x);
        decided = true;
      }
    }
    if (!decided && !decide_float32(mantissa, exp10, &value)) return false;
  }
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
  while (q < newline && !(*q == ' ' || *q == '\t' || *q == '\r')) ++q;
  if (q - p > in.max_word_bytes) return false;
  *word_end = static_cast<int32_t>(q - in.text);
  for (int64_t j = 0; j < in.dim; ++j) {
    while (q < newline && is_blank(*q)) ++q;
    if (q == newline || *q == '\r') return false;
    if (!parse_number(q, newline, in.text + in.end, &row[j], &q)) return false;
  }
  while (q < newline && is_blank(*q)) ++q;
  if (q < newline && *q == '\r') ++q;
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
  // Four pieces a thread: a thread that starts late (or shares its core) leaves its pieces to the others.
  const int64_t tasks = plan_tasks(bytes, kMaxThreads, 4);
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
  // A piece parses more lines than were counted only when the text changed between the passes
  // (JavaScript writing it during an async call): the count stays at most max_lines all the same.
  int64_t total = 0;
  for (int64_t k = 0; k < tasks; ++k) {
    const int64_t wanted = std::min(newlines[k], std::max<int64_t>(0, in.max_lines - first_lines[k]));
    total += std::min(parsed[k], wanted);
    if (parsed[k] != wanted) break;
  }
  return total;
}

}  // namespace nne
