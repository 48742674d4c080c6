// Row readers: how a kernel body reads features [j0, ..) of a table row as float vectors, one
// reader per table dtype, so that a body written over `Rows` (gather_body.h, embedding_bag_body.h)
// serves float32 and every narrow table alike. Included inside each tier's namespace and target
// region by the bodies (instantiate_tiers.h), where `Vec` is the tier's traits. No include guard.
//
// A reader gives row(r, j0), whose load(j) / load_partial(j, n) return features j0 + j .. of row r
// (j a multiple of Vec::kWidth; load_partial the first n < kWidth of them, zeros after), and
// prefetch(r, j0, width), and prefetch_rows: how many entries ahead a kernel prefetches rows.
// Narrow values widen exactly (float16, bfloat16) or dequantize as
// torch's embedding_bag_byte_unpack / embedding_bag_4bit_unpack do: code * scale + bias, two
// float roundings (torch's own loops; Debian's torch 1.13 has no FBGEMM, whose AVX2 unpack would
// fuse them), the same bits in every tier.


// How many entries ahead to prefetch rows of `row_bytes` bytes: about kPrefetchBytes of rows in
// flight, and never fewer rows than float32 kernels ask for. A narrow row is a cache line or two,
// so kPrefetchRows of them leave most of the memory system idle on a table out of cache: measured
// on 4e6 x 128 lookups (1 thread, avx512), 2048 bytes ahead instead of 4 rows took float16 from
// 1085 to 1024 us, int8 663 -> 569, int4 654 -> 467 (768..3072 bytes all within 5% of that). With
// the rows prefetched into L2 (Access::read_l2) more can be in flight: 2048..8192 bytes were
// within noise of each other, 16384 worse for int4 (bench A/B of two builds, same process).
constexpr int64_t kPrefetchBytes = 4096;
inline int64_t prefetch_rows_for(int64_t row_bytes) {
  return row_bytes * kPrefetchRows >= kPrefetchBytes ? kPrefetchRows : kPrefetchBytes / row_bytes;
}

// float32: the table itself (prefetched kPrefetchRows ahead, as the float32 gather: tuned there;
// bags prefetch only within the bag being summed, see embedding_bag_body.h).
struct Float32Rows {
  static constexpr bool kPrefetchAcrossBags = false;
  static constexpr int kSumBlockVectors = 4;  // vectors per block of a bag sum (embedding_bag_body.h)
  const float* weight;
  int64_t dim;
  int64_t prefetch_rows = kPrefetchRows;

  struct Row {
    const float* p;
    typename Vec::V load(int64_t j) const { return Vec::load(p + j); }
    typename Vec::V load_partial(int64_t j, int n) const { return Vec::load_partial(p + j, n); }
  };
  Row row(int64_t r, int64_t j0) const { return Row{weight + r * dim + j0}; }
  void prefetch(int64_t r, int64_t j0, int64_t width) const { prefetch_floats(weight + r * dim + j0, width); }
};

// Partial vectors of narrow rows: the n elements (of `size` bytes each) copied into a zeroed
// buffer, then loaded whole; only a row's last vector is partial, and no read passes its end.
template <class Element>
struct PartialBuffer {
  Element lanes[Vec::kWidth];
  PartialBuffer(const Element* p, int n) {
    for (int k = 0; k < Vec::kWidth; ++k) lanes[k] = 0;
    std::memcpy(lanes, p, static_cast<size_t>(n) * sizeof(Element));
  }
};

// float16 / bfloat16: rows of dim 16-bit floats.
template <bool kBfloat16>
struct HalfRows {
  static constexpr bool kPrefetchAcrossBags = true;
  // 8 measured 1.18x slower out of cache for float16 bag sums (more lines in flight per row ahead).
  static constexpr int kSumBlockVectors = 4;
  const uint16_t* data;
  int64_t dim;
  int64_t prefetch_rows = prefetch_rows_for(2 * dim);

  struct Row {
    const uint16_t* p;
    static typename Vec::V widen(const uint16_t* q) { return kBfloat16 ? Vec::widen_bf16(q) : Vec::widen_f16(q); }
    typename Vec::V load(int64_t j) const { return widen(p + j); }
    typename Vec::V load_partial(int64_t j, int n) const { return widen(PartialBuffer<uint16_t>(p + j, n).lanes); }
  };
  Row row(int64_t r, int64_t j0) const { return Row{data + r * dim + j0}; }
  void prefetch(int64_t r, int64_t j0, int64_t width) const { prefetch_bytes<Access::read_l2>(data + r * dim + j0, width * 2); }
};

// A quantized value: code * scale + bias, rounded after each operation.
inline typename Vec::V dequantize(typename Vec::V code, typename Vec::V scale, typename Vec::V bias) {
  return Vec::add(Vec::mul(code, scale), bias);
}

// int8: rows of dim uint8 codes, then the float32 scale and bias (embedding_bag_byte_prepack).
struct Int8Rows {
  static constexpr bool kPrefetchAcrossBags = true;
  static constexpr int kSumBlockVectors = 8;  // bag sums 0.96x the time of 4 (4e6 x 128, 1 thread)
  const uint8_t* data;
  int64_t dim;
  int64_t row_bytes;  // dim + 8
  int64_t prefetch_rows = prefetch_rows_for(row_bytes);

  struct Row {
    const uint8_t* codes;  // from feature j0
    typename Vec::V scale, bias;
    typename Vec::V load(int64_t j) const { return dequantize(Vec::load_u8(codes + j), scale, bias); }
    typename Vec::V load_partial(int64_t j, int n) const {
      return dequantize(Vec::load_u8(PartialBuffer<uint8_t>(codes + j, n).lanes), scale, bias);
    }
  };
  Row row(int64_t r, int64_t j0) const {
    const uint8_t* base = data + r * row_bytes;
    float scale_bias[2];
    std::memcpy(scale_bias, base + dim, sizeof scale_bias);
    return Row{base + j0, Vec::broadcast(scale_bias[0]), Vec::broadcast(scale_bias[1])};
  }
  void prefetch(int64_t r, int64_t j0, int64_t width) const {
    // The scale and bias are read first, at the row's end: ask for them with the codes.
    const uint8_t* base = data + r * row_bytes;
    prefetch_bytes<Access::read_l2>(base + j0, width);
    NNE_PREFETCH_L2(base + dim);
  }
};

// How a row of int4 codes dequantizes: by the tier's table lookup where it has one (AVX-512:
// Vec::U4Table, the row's 16 values in a register), else code by code as dequantize does. Both
// give each code the bits of code * scale + bias.
template <class Traits, class = void>
struct U4Dequantizer {
  typename Traits::V scale, bias;
  U4Dequantizer(float s, float b) : scale(Traits::broadcast(s)), bias(Traits::broadcast(b)) {}
  typename Traits::V load(const uint8_t* codes, int64_t j) const { return dequantize(Traits::load_u4(codes, j), scale, bias); }
};
template <class Traits>
struct U4Dequantizer<Traits, std::void_t<typename Traits::U4Table>> {
  typename Traits::U4Table table;
  U4Dequantizer(float s, float b) : table(Traits::u4_table(s, b)) {}
  typename Traits::V load(const uint8_t* codes, int64_t j) const { return Traits::load_u4_lookup(codes, j, table); }
};

// int4: rows of dim / 2 bytes of codes (two per byte, the even feature in the low nibble), then
// the float16 scale and bias (embedding_bag_4bit_prepack). dim is even; so are j0, j and n.
struct Int4Rows {
  static constexpr bool kPrefetchAcrossBags = true;
  // Bag sums with blocks of 8 vectors (the whole row at D = 128 on AVX-512): the row's lookup table
  // is built once per row, not once per 4 vectors: 0.67x the time of 4 (4e6 x 128, 1 thread), 0.55x
  // in cache.
  static constexpr int kSumBlockVectors = 8;
  const uint8_t* data;
  int64_t dim;
  int64_t row_bytes;  // dim / 2 + 4
  // Half the distance of the other readers (about 2 KB of rows): 30 rows at D = 128 measured
  // 0.98x the time of 60 in four A/Bs of lookups and bag sums (bench/ab-narrow.mjs), 15 worse.
  int64_t prefetch_rows = std::max<int64_t>(kPrefetchRows, prefetch_rows_for(row_bytes) / 2);

  struct Row {
    const uint8_t* codes;  // from feature j0
    U4Dequantizer<Vec> values;
    typename Vec::V load(int64_t j) const { return values.load(codes, j); }
    typename Vec::V load_partial(int64_t j, int n) const {
      // Vec::kWidth / 2 bytes hold a whole vector's codes; n / 2 of them are this row's.
      uint8_t bytes[Vec::kWidth / 2 > 0 ? Vec::kWidth / 2 : 1] = {};
      std::memcpy(bytes, codes + j / 2, static_cast<size_t>(n / 2));
      return values.load(bytes, 0);
    }
  };
  Row row(int64_t r, int64_t j0) const {
    const uint8_t* base = data + r * row_bytes;
    uint16_t scale_bias[2];
    std::memcpy(scale_bias, base + dim / 2, sizeof scale_bias);
    return Row{base + j0 / 2, U4Dequantizer<Vec>(Vec::half(scale_bias[0]), Vec::half(scale_bias[1]))};
  }
  void prefetch(int64_t r, int64_t j0, int64_t width) const {
    const uint8_t* base = data + r * row_bytes;
    prefetch_bytes<Access::read_l2>(base + j0 / 2, (width + 1) / 2);
    NNE_PREFETCH_L2(base + dim / 2);
  }
};

// Calls fn(rows) with the reader for the table's dtype.
template <class Fn>
void with_rows(const PackedTable& table, Fn&& fn) {
  switch (table.dtype) {
    case Dtype::float16: return fn(HalfRows<false>{static_cast<const uint16_t*>(table.data), table.dim});
    case Dtype::bfloat16: return fn(HalfRows<true>{static_cast<const uint16_t*>(table.data), table.dim});
    case Dtype::int8: return fn(Int8Rows{static_cast<const uint8_t*>(table.data), table.dim, table.dim + 8});
    case Dtype::int4: return fn(Int4Rows{static_cast<const uint8_t*>(table.data), table.dim, table.dim / 2 + 4});
    default: return fn(Float32Rows{static_cast<const float*>(table.data), table.dim});
  }
}
