// parse_text.h: clean text lines into table rows, numbers rounded to float32 as strtof rounds.
#include "parse_text.h"

#include <algorithm>
#include <cfloat>
#include <cstring>

#include "simd.h"
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
// What ends a word or a number: a blank, '\r' or '\n'.
inline bool is_separator(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

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

// Eight bytes as digits (load8(p) ^ 0x30...: a digit becomes 0..9): a byte's top bit marks a
// non-digit (above 9). A carry out of a non-digit byte can only mark the next one, after it: the
// first mark is right, and no mark means eight digits.
inline uint64_t digit_marks(uint64_t x) { return ((x + 0x7676767676767676) | x) & 0x8080808080808080; }

// How many digits x (bytes as above) starts with, 8 when all of them are.
inline int64_t digit_run(uint64_t x) {
  const uint64_t marks = digit_marks(x);
  return marks == 0 ? 8 : __builtin_ctzll(marks) >> 3;
}

// The value of the first k (0..8) digit bytes of x (bytes as above, the first in the lowest byte).
inline uint64_t leading_digits(uint64_t x, int64_t k) {
  if (k == 0) return 0;
  return digits_value(k == 8 ? x : (x & ((uint64_t{1} << (8 * k)) - 1)) << (8 * (8 - k)));
}

// Reads the run of digits at p (ending before `limit` at the latest) into *mantissa (times 10 per
// digit, wrapping past 19 digits: the caller counts them) and returns where the run ends. Eight
// bytes at a time while eight can be loaded before `buffer_end`.
inline const uint8_t* read_digits(const uint8_t* p, const uint8_t* limit, const uint8_t* buffer_end, uint64_t* mantissa) {
  uint64_t m = *mantissa;
  if (kLittleEndian) {
    while (buffer_end - p >= 8) {
      const uint64_t x = load8(p) ^ 0x3030303030303030;  // digits become 0..9
      int64_t k = digit_run(x);
      if (k > limit - p) k = limit - p;
      if (k == 0) break;
      m = m * kPowersOfTenInt[k] + leading_digits(x, k);
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

// The float32 nearest to mantissa * 10^exp10 (mantissa from at most 19 significant digits) into
// *out, when this kernel decides it; false when it leaves the number to the exact conversion.
inline bool decide_digits(uint64_t mantissa, int64_t exp10, float* out) {
  if (mantissa == 0) {
    *out = 0.0f;
    return true;
  }
  // Most numbers: a multiplication by 10^-k (within two double ulps of the decimal, so rounding it
  // to float32 gives the decimal's float32 unless it is that near a tie), instead of a division.
  if (mantissa <= (uint64_t{1} << 53) && exp10 <= 0 && exp10 >= -22) {
    const double x = static_cast<double>(mantissa) * kInversePowersOfTen[-exp10];  // in [1e-22, 2^53]
    uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const uint64_t dropped = bits & kDroppedMask;
    if (dropped + kProductSlack < kTie || dropped > kTie + kProductSlack) {
      *out = static_cast<float>(x);
      return true;
    }
  }
  return decide_float32(mantissa, exp10, out);
}

// Parses the number that is exactly bytes [p, end) (a field of the line): its value into *out when
// it is a number this kernel decides. Returns false otherwise (not a number, junk after it, or a
// number left to the exact conversion).
//
// Every scan here and in parse_line stops at a position, not at a byte's value: the bytes may
// change under the kernel (a SharedArrayBuffer, or JavaScript writing the text during an async
// call), which may give nonsense but must never read outside the text.
inline bool parse_number(const uint8_t* p, const uint8_t* end, const uint8_t* buffer_end, float* out) {
  const bool negative = *p == '-';
  p += static_cast<int>(negative) | static_cast<int>(*p == '+');
  const uint8_t* first = p;
  uint64_t mantissa = 0;
  if (end - p >= 2 && is_digit(p[0]) && p[1] == '.') {
    mantissa = static_cast<uint8_t>(p[0] - '0');  // one digit before the point: the usual case
    ++p;
  } else {
    p = read_digits(p, end, buffer_end, &mantissa);
  }
  int64_t digits = p - first;
  int64_t exp10 = 0;
  if (p < end && *p == '.') {
    const uint8_t* fraction = p + 1;
    p = read_digits(fraction, end, buffer_end, &mantissa);
    exp10 = -(p - fraction);
    digits += p - fraction;
  }
  if (digits == 0) return false;
  const uint8_t* digits_end = p;
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    bool exponent_negative = false;
    if (p < end && (*p == '-' || *p == '+')) {
      exponent_negative = *p == '-';
      ++p;
    }
    int64_t exponent = 0;
    const uint8_t* exponent_first = p;
    for (; p < end && is_digit(*p); ++p) {
      if (exponent < kExponentCap) exponent = exponent * 10 + (*p - '0');
    }
    if (p == exponent_first) return false;
    exp10 += exponent_negative ? -exponent : exponent;
  }
  if (p != end) return false;
  // The mantissa wrapped past 19 digits: read the significant ones again (leading zeros do not
  // count; more than 19 are left to the exact conversion).
  if (digits > kMaxSignificantDigits && !significant_digits(first, digits_end, &mantissa)) return false;
  float value = 0.0f;
  if (!decide_digits(mantissa, exp10, &value)) return false;
  *out = negative ? -value : value;
  return true;
}

// Which of 64 bytes are separators (' ', '\t', '\r', '\n'), '\n's and '\r's: bit i for byte i.
struct ByteClasses {
  uint64_t separators;
  uint64_t newlines;
  uint64_t returns;
};

// The classes of the n (< 64, or 64 without vectors) bytes from p; the bits from n up are 0.
inline ByteClasses classify(const uint8_t* p, int64_t n) {
  ByteClasses c{0, 0, 0};
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t b = p[i];
    c.newlines |= static_cast<uint64_t>(b == '\n') << i;
    c.returns |= static_cast<uint64_t>(b == '\r') << i;
    c.separators |= static_cast<uint64_t>(is_separator(b)) << i;
  }
  return c;
}

// The classes of the 64 bytes from p (all readable).
inline ByteClasses classify64(const uint8_t* p) {
#if defined(__SSE2__) && defined(NNE_X86_64)
  ByteClasses c{0, 0, 0};
  for (int k = 0; k < 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const __m128i newline = _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'));
    const __m128i cr = _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'));
    const __m128i blank = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\t')));
    const int shift = 16 * k;
    c.newlines |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(newline))) << shift;
    c.returns |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(cr))) << shift;
    c.separators |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(blank))) << shift;
  }
  c.separators |= c.newlines | c.returns;
  return c;
#elif defined(NNE_ARM64)
  // Each byte's hit as its bit's weight, then pairwise sums down to 8 bytes (simdjson's to_bitmask).
  static const uint8_t kWeights[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t weights = vld1q_u8(kWeights);
  uint8x16_t newline[4], cr[4], blank[4];
  for (int k = 0; k < 4; ++k) {
    const uint8x16_t v = vld1q_u8(p + 16 * k);
    newline[k] = vandq_u8(vceqq_u8(v, vdupq_n_u8('\n')), weights);
    cr[k] = vandq_u8(vceqq_u8(v, vdupq_n_u8('\r')), weights);
    blank[k] = vandq_u8(vorrq_u8(vceqq_u8(v, vdupq_n_u8(' ')), vceqq_u8(v, vdupq_n_u8('\t'))), weights);
  }
  const auto bits = [](const uint8x16_t* m) {
    uint8x16_t sum = vpaddq_u8(vpaddq_u8(m[0], m[1]), vpaddq_u8(m[2], m[3]));
    sum = vpaddq_u8(sum, sum);
    return vgetq_lane_u64(vreinterpretq_u64_u8(sum), 0);
  };
  ByteClasses c{bits(blank), bits(newline), bits(cr)};
  c.separators |= c.newlines | c.returns;
  return c;
#else
  return classify(p, 64);
#endif
}


// decide_digits for mantissa * 10^-fraction_digits (fraction_digits <= 8): below 2^24, as one
// float division (both operands exact: IEEE's one rounding is the answer), which needs no check.
inline bool decide_fraction(uint64_t mantissa, int64_t fraction_digits, float* out) {
  if (mantissa <= (uint64_t{1} << 24)) {
    *out = static_cast<float>(mantissa) / kPowersOfTenFloat[fraction_digits];
    return true;
  }
  return decide_digits(mantissa, -fraction_digits, out);
}

// Parses the number that is exactly bytes [p, end) (a run of bytes other than separators) into
// *out, as parse_number would: false when parse_number would not decide it. Its length is known
// (from the line's separator masks), so the usual numbers need no scan for their end: a sign, a
// digit, a point and up to 6 digits from one load; up to 7 digits, a point and up to 8 from two;
// others go to parse_number. (In 32 MB of GloVe-style numbers, "-0.04643", the first path took
// the parse from 42 to 37 ms; measuring the digit run before the point, as parse_number does,
// had cost 13 ms of 55.)
inline bool parse_field(const uint8_t* p, const uint8_t* end, const uint8_t* buffer_begin, const uint8_t* buffer_end,
                        float* out) {
  if (kLittleEndian && buffer_end - p >= 17 && end - p <= 17) {
    const bool negative = *p == '-';
    const uint8_t* first = p + (static_cast<int>(negative) | static_cast<int>(*p == '+'));
    const int64_t length = end - first;
    if (length >= 2 && length <= 8 && end - buffer_begin >= 8 && first[1] == '.') {
      // One digit, the point and at most 6 more (GloVe's, word2vec's, fastText's numbers): the 8
      // bytes that end at `end` hold them. The digit before the point moves into the point's
      // byte, and the bytes before it become leading zeros.
      const uint64_t z = load8(end - 8) ^ 0x3030303030303030;
      const int fraction_shift = static_cast<int>(8 * (10 - length));  // the fraction's bytes: from byte 10 - length
      const int digit_shift = static_cast<int>(8 * (8 - length));      // the digit before the point: byte 8 - length
      const uint64_t fraction = length == 2 ? 0 : z & (~uint64_t{0} << fraction_shift);
      const uint64_t digits = fraction | ((z & (uint64_t{0xFF} << digit_shift)) << 8);
      if (digit_marks(digits) == 0) {
        const int64_t fraction_digits = length - 2;
        float value = static_cast<float>(digits_value(digits)) / kPowersOfTenFloat[fraction_digits];  // below 10^7
        *out = negative ? -value : value;
        return true;
      }
    }
    if (length >= 2 && length <= 10 && first[1] == '.' && is_digit(first[0])) {
      // One digit before the point: the usual case, without measuring the run.
      const int64_t fraction_digits = end - first - 2;
      const uint64_t y = load8(first + 2) ^ 0x3030303030303030;
      if (digit_run(y) >= fraction_digits) {
        const uint64_t mantissa = static_cast<uint64_t>(first[0] - '0') * kPowersOfTenInt[fraction_digits] + leading_digits(y, fraction_digits);
        float value = 0.0f;
        if (!decide_fraction(mantissa, fraction_digits, &value)) return false;
        *out = negative ? -value : value;
        return true;
      }
    }
    const uint64_t x = load8(first) ^ 0x3030303030303030;
    const int64_t whole = digit_run(x);
    const uint8_t* point = first + whole;
    if (whole < 8 && (point == end || (point < end && *point == '.' && end - point <= 9))) {
      const uint8_t* fraction = point == end ? end : point + 1;
      const int64_t fraction_digits = end - fraction;
      const uint64_t y = load8(fraction) ^ 0x3030303030303030;
      if (whole + fraction_digits > 0 && digit_run(y) >= fraction_digits) {
        const uint64_t mantissa = leading_digits(x, whole) * kPowersOfTenInt[fraction_digits] + leading_digits(y, fraction_digits);
        float value = 0.0f;
        if (!decide_fraction(mantissa, fraction_digits, &value)) return false;
        *out = negative ? -value : value;
        return true;
      }
    }
  }
  return parse_number(p, end, buffer_end, out);
}

// Parses one clean line from p (before end) into row; false when it is not clean.
//
// The line's fields (runs of bytes other than separators) are found 64 bytes at a time from the
// bytes' classes: a block's field starts and ends are bit masks, and each field is the lowest bit
// left of each. So where a number starts does not depend on where the number before it ended (as
// it did when each number was scanned to its end): the processor parses several at once. Then a
// clean line is: dim + 1 fields (the first at p: the word), no '\r' but one just before the '\n',
// which comes before `limit`.
inline bool parse_line(const TextLines& in, const uint8_t* p, const uint8_t* end, float* row, const uint8_t** next,
                       int32_t* word_end) {
  if (is_separator(*p)) return false;
  // The line's '\n' must come before limit (a line of at most max_line_bytes with its '\n').
  const uint8_t* const limit = end - p > in.max_line_bytes ? p + in.max_line_bytes : end;
  const uint8_t* const buffer_end = in.text + in.end;
  const int64_t fields = in.dim + 1;
  int64_t field = 0;               // fields ended so far
  const uint8_t* start = nullptr;  // the field in progress, if any
  uint64_t before = 1;             // whether the byte before the block is a separator (p's is)
  bool return_last = false;        // whether the block before ended with '\r'
  for (const uint8_t* base = p; base < limit; base += 64) {
    const int64_t size = std::min<int64_t>(64, limit - base);
    ByteClasses c = buffer_end - base >= 64 ? classify64(base) : classify(base, size);
    if (size < 64) c.newlines &= (uint64_t{1} << size) - 1;
    // The bytes of the line in this block: up to its '\n' (the '\n' included), or all of them.
    uint64_t line_bits = ~uint64_t{0};
    int64_t newline = -1;
    if (c.newlines != 0) {
      newline = __builtin_ctzll(c.newlines);
      line_bits = newline == 63 ? ~uint64_t{0} : (uint64_t{2} << newline) - 1;
    } else if (size < 64) {
      return false;  // no '\n' before limit
    }
    // A '\r' only just before the '\n'.
    const uint64_t returns = c.returns & line_bits;
    if (return_last && newline != 0) return false;
    if (newline < 0) {
      if ((returns & ~(uint64_t{1} << 63)) != 0) return false;
      return_last = returns != 0;
    } else if (returns != 0 && (newline == 0 || returns != uint64_t{1} << (newline - 1))) {
      return false;
    }
    const uint64_t separators = c.separators | ~line_bits;  // after the '\n': nothing starts
    const uint64_t after_separator = (separators << 1) | before;
    uint64_t starts = ~separators & after_separator;
    uint64_t ends = separators & ~after_separator;
    before = separators >> 63;
    for (;;) {
      if (start == nullptr) {
        if (starts == 0) break;
        start = base + __builtin_ctzll(starts);
        starts &= starts - 1;
      }
      if (ends == 0) break;  // the field goes on in the next block
      const uint8_t* const stop = base + __builtin_ctzll(ends);
      ends &= ends - 1;
      if (field == 0) {
        if (stop - start > in.max_word_bytes) return false;
        *word_end = static_cast<int32_t>(stop - in.text);
      } else if (field == fields || !parse_field(start, stop, in.text, buffer_end, &row[field - 1])) {
        return false;  // too many fields, or one not a number this kernel decides
      }
      ++field;
      start = nullptr;
    }
    if (newline >= 0) {
      if (field != fields) return false;
      *next = base + newline + 1;
      return true;
    }
  }
  return false;
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

// The records of text[from, to) (a piece of count_records' range, which ends at end): a line
// starting at `from` when at_from, and after each '\n' in the piece that is not at end - 1.
int64_t count_piece(const uint8_t* text, int64_t from, int64_t to, int64_t end, bool at_from) {
  int64_t count = at_from && from < end && !is_separator(text[from]) ? 1 : 0;
  const uint8_t* p = text + from;
  const uint8_t* const stop = text + to;
  while (p < stop) {
    const void* found = std::memchr(p, '\n', static_cast<size_t>(stop - p));
    if (found == nullptr) break;
    p = static_cast<const uint8_t*>(found) + 1;
    if (p < text + end && !is_separator(*p)) ++count;
  }
  return count;
}

}  // namespace

int64_t count_records(const uint8_t* text, int64_t start, int64_t end, bool at_line_start, int64_t limit) {
  const int64_t bytes = end - start;
  const int64_t tasks = plan_tasks(bytes, kMaxThreads, 2);
  if (tasks <= 1) return std::min(limit, count_piece(text, start, end, end, at_line_start));
  int64_t counts[kMaxThreads];
  parallel_for(tasks, [&](int64_t k) {
    const int64_t from = start + bytes / tasks * k;
    const int64_t to = k + 1 == tasks ? end : start + bytes / tasks * (k + 1);
    counts[k] = count_piece(text, from, to, end, k == 0 && at_line_start);
  });
  int64_t total = 0;
  for (int64_t k = 0; k < tasks; ++k) total += counts[k];
  return std::min(limit, total);
}

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
    // memchr from line to line: the C library's vector search (a byte loop here took 9% of a load).
    int64_t count = 0;
    const uint8_t* p = in.text + bounds[k];
    const uint8_t* end = in.text + bounds[k + 1];
    while (p < end) {
      const void* found = std::memchr(p, '\n', static_cast<size_t>(end - p));
      if (found == nullptr) break;
      ++count;
      p = static_cast<const uint8_t*>(found) + 1;
    }
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
