// The text word-vector loaders' inner loop: lines "word v1 ... vD\n" parsed into table rows,
// as long as they are clean (src/io/word-vectors/text.ts hands every other line to its own
// parser, which gives the errors, wordsWithSpaces and the exact rounding of hard numbers).
//
// A clean line: a word (bytes other than ' ', '\t', '\r', '\n', at most max_word_bytes of them)
// at the line's start, then dim numbers each after spaces or tabs, then optional spaces or tabs,
// an optional '\r' and '\n'; at most max_line_bytes bytes with its '\n'; each number of the
// syntax [+-] digits [. digits] [(e|E) [+-] digits] (a digit before or after the point) that
// decide_float32 rounds: the float32 nearest to it, ties to even, as strtof gives.
//
// Tier-independent (SSE2 on x86-64, NEON on arm64, both baseline): a line's bytes are classified
// 64 at a time into separator, '\n' and '\r' masks, its fields taken from those masks (so numbers
// are parsed independently of each other), the usual number (a digit, a point, up to 6 more) from
// the eight bytes that end at it, others with digits eight bytes at a time. A region of at least
// two parallel grains (1 MiB) is split at line boundaries over the thread pool: the '\n's of every
// piece are counted first (memchr; a clean line is one row, so a piece's first row is the count
// before it), then the pieces are parsed, and the lines counted are those up to the first piece
// that stopped early. The result does not depend on the thread count.
#pragma once

#include <cstdint>

namespace nne {

struct TextLines {
  const uint8_t* text;
  int64_t start;      // the first line starts here
  int64_t end;        // lines end before here (a line whose '\n' is not before `end` is not read)
  float* weight;      // row first_row + i receives line i's values
  int64_t first_row;
  int64_t dim;        // >= 1
  int64_t max_lines;  // lines read at most (weight holds rows up to first_row + max_lines)
  int64_t max_word_bytes;
  int64_t max_line_bytes;
  int32_t* line_ends;  // line i: the position after its '\n'
  int32_t* word_ends;  // line i: where its word ends (it starts the line)
};

// Parses clean lines from `start` in order, stops at the first line that is not clean (or after
// max_lines) and returns how many it parsed: rows first_row .. first_row + n - 1 hold their values
// and line_ends / word_ends their positions. Rows after those (up to first_row + max_lines) may
// have been written too, and hold nothing meaningful.
int64_t parse_text_lines(const TextLines& lines);

// GloVe's first pass: how many lines of text[start, end) start with a byte other than ' ', '\t',
// '\r' and '\n' (a record), at most `limit` (the count stops there). A line starts at `start` when
// at_line_start, and after every '\n' before end - 1. Split over the thread pool when the range is
// large (pieces need not start at lines: each counts the line starts after its own '\n's).
int64_t count_records(const uint8_t* text, int64_t start, int64_t end, bool at_line_start, int64_t limit);

// The float32 nearest to mantissa * 10^exp10 (mantissa >= 1, from at most 19 significant digits)
// when that is quick to decide exactly (a normal float32), into *out; false when not (subnormal,
// out of range, or too close to a tie between two float32s for the arithmetic used to tell).
bool decide_float32(uint64_t mantissa, int64_t exp10, float* out);

}  // namespace nne
