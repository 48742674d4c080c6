// Narrow tables (float16, bfloat16, int8, int4): the packed gather and bag forward against the
// float32 reference kernels over reference::dequantize_rows, bit for bit. Packed data is random
// bytes (for the 16-bit floats every pattern is a value: NaNs, infinities, subnormals; the bags
// see the NaNs as infinities), sized
// exactly so that AddressSanitizer catches a read past the table's last row.
#include "test_support.h"

namespace nne_test {
namespace {

constexpr nne::Dtype kNarrow[] = {nne::Dtype::float16, nne::Dtype::bfloat16, nne::Dtype::int8, nne::Dtype::int4};
const char* const kNarrowNames[] = {"float16", "bfloat16", "int8", "int4"};

std::vector<uint8_t> random_packed(nne::Dtype dtype, int64_t rows, int64_t dim) {
  const int64_t row_bytes = nne::dtype_row_bytes(dtype, dim);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> data(static_cast<size_t>(rows * row_bytes));
  for (uint8_t& b : data) b = static_cast<uint8_t>(byte(rng));
  // Quantized rows get finite scales and biases, as quantize() makes them (random ones too, but
  // their NaNs are the 16-bit floats' test).
  for (int64_t r = 0; r < rows && (dtype == nne::Dtype::int8 || dtype == nne::Dtype::int4); ++r) {
    const std::vector<float> scale_bias = random_floats(2);
    uint8_t* tail = data.data() + r * row_bytes + (dtype == nne::Dtype::int8 ? dim : dim / 2);
    if (dtype == nne::Dtype::int8) {
      std::memcpy(tail, scale_bias.data(), 8);
    } else {
      // float16 scale in [2^-7, 2^-6), bias in (-1, -0.5]: random mantissas.
      const uint16_t halves[2] = {static_cast<uint16_t>(0x2000 | (tail[0] & 0x3ff)), static_cast<uint16_t>(0xb800 | (tail[2] & 0x3ff))};
      std::memcpy(tail, halves, 4);
    }
  }
  return data;
}

template <class Index>
void test_packed_of(const nne::Kernels& kernels, const char* type_name) {
  const auto& k = kernels.of<Index>();
  const auto& reference_bag = nne::reference::bag_forward<Index>;
  for (int t = 0; t < 4; ++t) {
    const nne::Dtype dtype = kNarrow[t];
    for (int64_t dim : kDims) {
      if (dtype == nne::Dtype::int4 && dim % 2 != 0) continue;
      const int64_t rows = 7;
      const std::vector<uint8_t> data = random_packed(dtype, rows, dim);
      const nne::PackedTable table{data.data(), dtype, dim};
      const std::vector<float> values = nne::reference::dequantize_rows(table, rows);
      // The bags' table: the same without NaNs (made infinities). When two NaNs meet in a sum, C
      // leaves open whose payload survives (the compiler may swap an add's operands), so sums
      // are compared on tables without them; infinities of both signs still make NaNs.
      std::vector<uint8_t> bag_data = data;
      if (dtype == nne::Dtype::float16 || dtype == nne::Dtype::bfloat16) {
        const uint16_t exponent = dtype == nne::Dtype::float16 ? 0x7c00 : 0x7f80;
        for (size_t k = 0; k + 1 < bag_data.size(); k += 2) {
          uint16_t bits;
          std::memcpy(&bits, &bag_data[k], 2);
          if ((bits & exponent) == exponent) bits = static_cast<uint16_t>(bits & (0x8000 | exponent));
          std::memcpy(&bag_data[k], &bits, 2);
        }
      }
      const nne::PackedTable bag_table{bag_data.data(), dtype, dim};
      const std::vector<float> bag_values = nne::reference::dequantize_rows(bag_table, rows);
      for (int64_t count : kCounts) {
        std::vector<Index> indices = random_indices<Index>(count, rows);
        if (count > 0) indices[static_cast<size_t>(count - 1)] = static_cast<Index>(rows - 1);  // the last row's tail
        // Gather.
        std::vector<float> expected(static_cast<size_t>(count * dim));
        for (int64_t i = 0; i < count; ++i) {
          std::memcpy(expected.data() + i * dim, values.data() + static_cast<int64_t>(indices[static_cast<size_t>(i)]) * dim,
                      static_cast<size_t>(dim) * sizeof(float));
        }
        std::vector<float> out(static_cast<size_t>(count * dim + 2), kGuard);
        k.gather_packed(table, indices.data(), count, out.data() + 1);
        CHECK(same_inside_guards(out, expected), "gather_packed %s %s dim %lld count %lld", kNarrowNames[t], type_name,
              static_cast<long long>(dim), static_cast<long long>(count));
        // Bag forward: sum, mean, max, weighted sum; a skipped row.
        const int64_t num_bags = 4;
        const std::vector<uint32_t> offsets = random_offsets(count, num_bags);
        const nne::Bags bags{offsets.data(), num_bags, num_bags, count};
        const std::vector<float> per_sample = random_floats(count);
        for (int mode_number = 0; mode_number < 4; ++mode_number) {
          const nne::BagMode mode = static_cast<nne::BagMode>(mode_number == 3 ? 0 : mode_number);
          const float* weights = mode_number == 3 ? per_sample.data() : nullptr;
          std::vector<float> bag_expected(static_cast<size_t>(num_bags * dim));
          reference_bag(bag_values.data(), dim, indices.data(), bags, weights, mode, 2, bag_expected.data());
          std::vector<float> bag_out(static_cast<size_t>(num_bags * dim + 2), kGuard);
          k.bag_forward_packed(bag_table, indices.data(), bags, weights, mode, 2, bag_out.data() + 1);
          CHECK(same_inside_guards(bag_out, bag_expected), "bag_forward_packed %s %s dim %lld count %lld mode %d",
                kNarrowNames[t], type_name, static_cast<long long>(dim), static_cast<long long>(count), mode_number);
        }
      }
    }
  }
}

}  // namespace

void test_packed(const nne::Kernels& kernels) {
  for_each_index_type([&](auto index, const char* name) { test_packed_of<decltype(index)>(kernels, name); });
}

}  // namespace nne_test
