#!/usr/bin/python3
"""Generate PyTorch golden values for nn-embedding's narrow-table conversions.

Writes test/fixtures/dtypes.json with
  - "cases": float32 tables (rows x dim) and what torch 1.13 makes of them:
    .half() and .bfloat16() bits, .half().float() and .bfloat16().float(),
    quantized::embedding_bag_byte_prepack bytes and embedding_bag_byte_unpack
    of them, and (even dims) quantized::embedding_bag_4bit_prepack bytes and
    embedding_bag_4bit_unpack of them;
  - "widening": a sample of 16-bit patterns (every NaN kind among them) and
    torch's float32 for each (the script checks all 65,536 of each type);
  - "craftedRows": packed int8/int4 rows that quantize never writes (NaN,
    signalling-NaN and infinite scales and biases) and torch's unpack of them;
  - "bags": quantized bags (packed int8/int4 tables, indices, offsets, per-sample
    weights): torch.ops.quantized.embedding_bag_byte_rowwise_offsets and
    embedding_bag_4bit_rowwise_offsets' output ("torchQuantizedSum": this build
    ignores mode, see the bag section), beside torch.nn.functional.embedding_bag
    over the dequantized float32 table ("dequantizedBag", in the case's mode), so
    that a kernel's distance from both can be measured.

Run from the repository root with Debian's PyTorch:

    apt-get install python3-torch        # once
    /usr/bin/python3 scripts/generate-dtype-fixtures.py

The output is deterministic: every case draws its data from a numpy generator
seeded from the case name (as scripts/generate-fixtures.py does), so
re-running gives a byte-identical file (for a given torch version).

Encoding: the JSON is one compact line. Unlike the other fixtures, every array
of floats or bytes is a string of hex digits, the array's little-endian bytes
(float32: 8 digits per value, 16-bit values: 4, bytes: 2): the inputs hold NaN
payloads, infinities and -0, which JSON numbers cannot carry, and hex keeps the
file small. Indices and offsets are plain ints.

What torch 1.13 computes (Debian's build has no FBGEMM: the quantized ops run
ATen's own loops in qembeddingbag_prepack.cpp / qembeddingbag_unpack.cpp,
compiled for baseline x86-64, so no fused multiply-add). Every step below is a
float32 operation rounded to nearest even; model_* functions implement it and
the script asserts they equal torch on every case and on random tables:
  .half()        round to nearest even; overflow to +-inf; NaN -> sign | 0x7e00
                 (the payload is dropped).
  .bfloat16()    (bits + 0x7fff + ((bits >> 16) & 1)) >> 16; every NaN -> 0xffff.
  .float()       exact; a float16 NaN is quieted (sign | 0x7fc00000 | m << 13),
                 a bfloat16 is shifted (bits << 16), NaNs unchanged.
  byte_prepack   per row: min = std::min_element, max = std::max_element (a NaN
                 in column 0 becomes both; NaNs elsewhere are skipped);
                 range = max - min; scale = range / 255; bias = min (its bits);
                 inverse = 255 / (range + 1e-8f); code = lrintf((x - min) * inverse)
                 stored in a uint8 (modulo 256; NaN and out-of-range -> 0).
  byte_unpack    code * scale + bias: two roundings.
  4bit_prepack   min, max as above; min = half(min) (rounded to float16 first);
                 range = max - min; scale = half(range == 0 ? 1 : range / 15);
                 inverse = scale == 0 ? 1 : 1 / scale; if scale == 0 or inverse is
                 infinite: scale = 1, inverse = 1; code = clamp(int(lrintf((x - min)
                 * inverse)), 0, 15), even column in the low nibble; then the half
                 scale and half min.
  4bit_unpack    float(scale) * code + float(bias) (the product is exact).
  x86 NaN rule   an operation with a NaN operand returns the first NaN operand,
                 quieted; an invalid one (inf - inf, 0 * inf) returns 0xffc00000.
"""

import json
import os
import zlib

import numpy as np
import torch

OUT_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "dtypes.json"
)

torch.set_num_threads(1)
F32 = np.float32


def rng_for(name):
    return np.random.default_rng([0x44545950, zlib.crc32(name.encode("utf-8"))])


def hexof(array):
    return np.ascontiguousarray(array).tobytes().hex()


def f32_from_bits(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


def bits_of(values):
    return np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)


# ---------------------------------------------------------------- models of torch's arithmetic

def model_half_bits(x_bits):
    """.half() of float32 bits, the model above (numpy's float16 cast rounds to nearest even)."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(x_bits, dtype=np.uint32).view(np.float32).astype(np.float16).view(np.uint16).copy()
    nan = (x_bits & 0x7FFFFFFF) > 0x7F800000
    out[nan] = ((x_bits[nan] >> 16) & 0x8000) | 0x7E00
    return out


def model_bfloat16_bits(x_bits):
    x = np.asarray(x_bits, dtype=np.uint64)
    out = ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype(np.uint16)
    out[(x & 0x7FFFFFFF) > 0x7F800000] = 0xFFFF
    return out


def model_half_widen_bits(h):
    h = np.asarray(h, dtype=np.uint32)
    sign, exponent, mantissa = (h & 0x8000) << 16, (h >> 10) & 0x1F, h & 0x3FF
    value = np.where(exponent == 0, mantissa * 2.0 ** -24, (1024 + mantissa) * 2.0 ** (exponent.astype(np.int64) - 25))
    out = bits_of(value.astype(np.float32)) | sign
    special = exponent == 31
    out[special] = sign[special] | 0x7F800000 | np.where(mantissa[special] != 0, 0x400000, 0) | (mantissa[special] << 13)
    return out


def quiet(bits):
    return int(bits) | 0x400000


DEFAULT_NAN = 0xFFC00000


def f32_op(op, a, b):
    """One float32 operation with x86's NaN rule (numpy's scalar float32 ops follow it too)."""
    with np.errstate(all="ignore"):
        return F32(op(F32(a), F32(b)))


def lrintf_to_uint8(v):
    if not np.isfinite(v) or abs(float(v)) >= 2.0 ** 63:
        return 0
    return int(np.rint(float(v))) & 0xFF


def lrintf_to_int(v):
    if not np.isfinite(v) or abs(float(v)) >= 2.0 ** 63:
        return 0  # lrintf's 0x8000000000000000, truncated to int
    return ((int(np.rint(float(v))) + 2 ** 31) % 2 ** 32) - 2 ** 31


def row_min_max(row):
    lo = hi = row[0]
    for x in row[1:]:
        if x < lo:
            lo = x
        if hi < x:
            hi = x
    return lo, hi


def model_byte_prepack(table):
    rows, dim = table.shape
    out = np.zeros((rows, dim + 8), dtype=np.uint8)
    for r in range(rows):
        lo, hi = row_min_max(table[r])
        span = f32_op(np.subtract, hi, lo)
        scale = f32_op(np.divide, span, F32(255))
        inverse = f32_op(np.divide, F32(255), f32_op(np.add, span, F32(1e-8)))
        for c in range(dim):
            out[r, c] = lrintf_to_uint8(f32_op(np.multiply, f32_op(np.subtract, table[r, c], lo), inverse))
        out[r, dim:dim + 4] = np.array([scale], F32).view(np.uint8)
        out[r, dim + 4:] = np.array([lo], F32).view(np.uint8)
    return out


def model_byte_unpack(packed):
    rows, width = packed.shape
    dim = width - 8
    out = np.zeros((rows, dim), dtype=np.float32)
    for r in range(rows):
        scale = packed[r, dim:dim + 4].copy().view(F32)[0]
        bias = packed[r, dim + 4:].copy().view(F32)[0]
        for c in range(dim):
            out[r, c] = f32_op(np.add, f32_op(np.multiply, F32(packed[r, c]), scale), bias)
    return out


def to_half(x):
    return np.array([model_half_bits(bits_of([x]))[0]], dtype=np.uint16).view(np.float16)[0]


def model_4bit_prepack(table):
    rows, dim = table.shape
    out = np.zeros((rows, dim // 2 + 4), dtype=np.uint8)
    for r in range(rows):
        lo, hi = row_min_max(table[r])
        lo_half = to_half(lo)
        lo = F32(lo_half)
        span = f32_op(np.subtract, hi, lo)
        scale = np.float16(1.0) if span == 0 else to_half(f32_op(np.divide, span, F32(15)))
        inverse = F32(1) if scale == 0 else f32_op(np.divide, F32(1), F32(scale))
        if scale == 0 or np.isinf(inverse):
            scale, inverse = np.float16(1.0), F32(1)
        for c in range(dim):
            code = max(0, min(lrintf_to_int(f32_op(np.multiply, f32_op(np.subtract, table[r, c], lo), inverse)), 15))
            out[r, c // 2] |= code << (4 * (c % 2))
        out[r, dim // 2:dim // 2 + 2] = np.array([scale], np.float16).view(np.uint8)
        out[r, dim // 2 + 2:] = np.array([lo_half], np.float16).view(np.uint8)
    return out


def model_4bit_unpack(packed):
    rows, width = packed.shape
    dim = (width - 4) * 2
    out = np.zeros((rows, dim), dtype=np.float32)
    for r in range(rows):
        scale = f32_from_bits(model_half_widen_bits(packed[r, dim // 2:dim // 2 + 2].copy().view(np.uint16)))[0]
        bias = f32_from_bits(model_half_widen_bits(packed[r, dim // 2 + 2:].copy().view(np.uint16)))[0]
        for c in range(dim):
            code = (packed[r, c // 2] >> (4 * (c % 2))) & 15
            out[r, c] = f32_op(np.add, f32_op(np.multiply, scale, F32(code)), bias)
    return out


def same_bits(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------- what torch does

def torch_conversions(table):
    t = torch.from_numpy(table.copy())
    half = t.half()
    bf16 = t.bfloat16()
    record = {
        "float16": half.view(torch.int16).numpy().view(np.uint16),
        "float16Widened": half.float().numpy(),
        "bfloat16": bf16.view(torch.int16).numpy().view(np.uint16),
        "bfloat16Widened": bf16.float().numpy(),
        "int8": torch.ops.quantized.embedding_bag_byte_prepack(t).numpy(),
    }
    record["int8Dequantized"] = torch.ops.quantized.embedding_bag_byte_unpack(torch.from_numpy(record["int8"])).numpy()
    if table.shape[1] % 2 == 0:
        record["int4"] = torch.ops.quantized.embedding_bag_4bit_prepack(t).numpy()
        record["int4Dequantized"] = torch.ops.quantized.embedding_bag_4bit_unpack(torch.from_numpy(record["int4"])).numpy()
    return record


def check_models(name, table, record):
    x_bits = bits_of(table).ravel()
    assert same_bits(record["float16"].ravel(), model_half_bits(x_bits)), (name, "half")
    assert same_bits(record["bfloat16"].ravel(), model_bfloat16_bits(x_bits)), (name, "bfloat16")
    assert same_bits(bits_of(record["float16Widened"]).ravel(), model_half_widen_bits(record["float16"].ravel())), (name, "half widen")
    assert same_bits(bits_of(record["bfloat16Widened"]).ravel(), record["bfloat16"].ravel().astype(np.uint32) << 16), (name, "bf16 widen")
    assert same_bits(record["int8"], model_byte_prepack(table)), (name, "byte_prepack")
    assert same_bits(record["int8Dequantized"], model_byte_unpack(record["int8"])), (name, "byte_unpack")
    if "int4" in record:
        assert same_bits(record["int4"], model_4bit_prepack(table)), (name, "4bit_prepack")
        assert same_bits(record["int4Dequantized"], model_4bit_unpack(record["int4"])), (name, "4bit_unpack")


# ---------------------------------------------------------------- conversion cases

CASES = []


def add_case(name, table):
    table = np.ascontiguousarray(table, dtype=np.float32)
    assert table.ndim == 2
    record = torch_conversions(table)
    check_models(name, table, record)
    case = {"name": name, "rows": table.shape[0], "dim": table.shape[1], "weights": hexof(table)}
    for key in ("float16", "bfloat16", "int8", "int8Dequantized", "int4", "int4Dequantized"):
        case[key] = hexof(record[key]) if key in record else None
    CASES.append(case)


def normal_cases():
    for dim, scales in ((2, (1e-6, 1e-3, 1.0, 1e3, 1e5)), (8, (1e-6, 1e-3, 1.0, 1e3, 1e5)), (64, (1e-5, 1.0, 1e5)),
                        (130, (1.0,)), (1, (1.0,)), (3, (1e-3, 1.0)), (7, (1.0, 1e5)), (65, (1.0,))):
        for scale in scales:
            rows = 4 if dim <= 8 else 2
            name = "normal-d%d-scale%g" % (dim, scale)
            rng = rng_for(name)
            table = rng.standard_normal((rows, dim)) * scale
            table[-1] += rng.uniform(-4, 4) * scale * 10  # a row away from zero: a nonzero bias
            add_case(name, table.astype(np.float32))


def special_cases():
    nan, inf = float("nan"), float("inf")
    rng = rng_for("special")

    def nan_bits(*bits):
        return f32_from_bits(list(bits))

    add_case("constant-rows", np.array([[0.0] * 8, [-0.0] * 8, [3.5] * 8, [-1e-40] * 8, [65504.0] * 8, [1e30] * 8], np.float32))
    add_case("signed-zeros", np.array([[-0.0, 0.0, -0.0, 0.0], [0.0, -0.0, 1.0, -0.0]], np.float32))
    add_case("huge", np.array([[3e38, -3e38, 0.0, 1.0], [3.4028235e38, 3.4028235e38, -1.0, 1.0],
                               [65519.0, 65520.0, -65519.0, -65520.0], [1e5, 1e5 + 8, 1e5 + 1, 1e5 + 2]], np.float32))
    add_case("tiny", np.array([[1e-45, 0.0, 0.0, 1e-45], [1e-40, 2e-40, 3e-40, 0.0],
                               [5.9604645e-08, 2.9802322e-08, 8.940697e-08, 6.1035156e-05],
                               [1e-8, 0.0, 3e-8, 2e-8]], np.float32))
    add_case("subnormal-random", (rng.standard_normal((4, 8)) * 1e-39).astype(np.float32))
    add_case("half-subnormal-random", (rng.standard_normal((4, 8)) * 1e-6).astype(np.float32))
    # Values exactly halfway between neighbouring float16 / bfloat16 values, and one bit either side.
    halves = np.sort(rng.choice(np.arange(0, 0x7BFF, dtype=np.uint16), 32)).view(np.float16).astype(np.float64)
    mid_half = (halves + np.nextafter(halves.astype(np.float16), np.float16(np.inf)).astype(np.float64)) / 2
    mids = mid_half.astype(np.float32)
    ties = np.concatenate([mids, -mids, np.nextafter(mids, F32(np.inf)), np.nextafter(mids, F32(0))])
    add_case("float16-ties", ties.reshape(-1, 16))
    bf_bits = (rng.integers(0, 0x7F7F, 32, dtype=np.uint32) << 16) | 0x8000
    bf_mids = f32_from_bits(bf_bits)
    add_case("bfloat16-ties", np.concatenate([bf_mids, -bf_mids, np.nextafter(bf_mids, F32(np.inf)),
                                              f32_from_bits(bf_bits - 1)]).reshape(-1, 16))
    add_case("bfloat16-overflow", f32_from_bits([0x7F7F8000, 0x7F7F7FFF, 0x7F7FFFFF, 0xFF7F8000, 0x7F7E8000, 0x7F7EFFFF, 0x00008000, 0x80018000]).reshape(2, 4))
    # NaNs (quiet, signalling, payloads, both signs) and infinities, in column 0 and elsewhere.
    add_case("nan-inf", np.stack([
        nan_bits(0x7FC00000, 0x3F800000, 0x40000000, 0x40400000),
        nan_bits(0x3F800000, 0xFFC00001, 0x40000000, 0x40400000),
        nan_bits(0x7F800001, 0x3F800000, 0xFF812345, 0x40400000),
        nan_bits(0xFFA00000, 0x7FFFFFFF, 0x7F800001, 0xFFFFE000),
        np.array([inf, 1.0, 2.0, 3.0], np.float32),
        np.array([1.0, 2.0, 3.0, inf], np.float32),
        np.array([-inf, 1.0, 2.0, 3.0], np.float32),
        np.array([1.0, -inf, inf, 2.0], np.float32),
        np.array([inf, inf, inf, inf], np.float32),
        np.array([-inf, -inf, -inf, -inf], np.float32),
        np.array([nan, inf, -inf, 0.0], np.float32),
        np.array([70000.0, 1.0, 2.0, 3.0], np.float32),
        np.array([-70000.0, 1.0, 2.0, 3.0], np.float32),
        np.array([1e6, -1e6, 0.0, 0.0], np.float32),
    ]))
    # int8 with odd dims and one column.
    add_case("one-column", np.array([[1.5], [-2.0], [0.0], [nan]], np.float32))


# ---------------------------------------------------------------- widening of every 16-bit pattern

def widening():
    every = np.arange(65536, dtype=np.uint16)
    t = torch.from_numpy(every.view(np.int16).copy())
    half_widened = bits_of(t.view(torch.float16).float().numpy())
    bf16_widened = bits_of(t.view(torch.bfloat16).float().numpy())
    assert same_bits(half_widened, model_half_widen_bits(every)), "half widening"
    assert same_bits(bf16_widened, every.astype(np.uint32) << 16), "bfloat16 widening"
    rng = rng_for("widening")
    sample = np.unique(np.concatenate([
        np.arange(0, 8), np.arange(0x3FF, 0x402), np.arange(0x7BFE, 0x7C08), np.arange(0x7DFE, 0x7E02),
        np.arange(0x7FFC, 0x8004), np.arange(0xFBFF, 0xFC02), np.arange(0xFDFF, 0xFE02), np.arange(0xFFFC, 0x10000),
        rng.integers(0, 65536, 200),
    ]).astype(np.uint16))
    return {
        "bits": hexof(sample),
        "float16Widened": hexof(half_widened[sample]),
        "bfloat16Widened": hexof(bf16_widened[sample]),
    }


def crafted_rows():
    """Packed rows quantize never writes (signalling-NaN, NaN and infinite scales and biases): unpacked by torch."""
    int8_pairs = [(0x7FC00123, 0xFFC00456), (0x7F800123, 0x3F800000), (0x3F800000, 0xFF800456), (0x7F800000, 0x3F800000),
                  (0x7F800000, 0xFF800000), (0x7F800000, 0x7FC00456), (0x7E967699, 0x7F61B1E6), (0x80000000, 0x80000000)]
    int4_pairs = [(0x7E12, 0xFE34), (0x7C12, 0x3C00), (0x3C00, 0xFC34), (0x7C00, 0xFC00), (0x7C00, 0x7E34), (0x8000, 0x8000)]
    codes = np.array([0, 1, 255, 128], np.uint8)
    int8 = np.zeros((len(int8_pairs), 12), np.uint8)
    for r, (scale, bias) in enumerate(int8_pairs):
        int8[r, :4] = codes
        int8[r, 4:] = np.array([scale, bias], np.uint32).view(np.uint8)
    int4 = np.zeros((len(int4_pairs), 6), np.uint8)
    for r, (scale, bias) in enumerate(int4_pairs):
        int4[r, :2] = [0x10, 0xF7]
        int4[r, 2:] = np.array([scale, bias], np.uint16).view(np.uint8)
    int8_out = torch.ops.quantized.embedding_bag_byte_unpack(torch.from_numpy(int8)).numpy()
    int4_out = torch.ops.quantized.embedding_bag_4bit_unpack(torch.from_numpy(int4)).numpy()
    assert same_bits(int8_out, model_byte_unpack(int8)), "crafted int8 rows"
    assert same_bits(int4_out, model_4bit_unpack(int4)), "crafted int4 rows"
    return [{"dtype": "int8", "dim": 4, "packed": hexof(int8), "dequantized": hexof(int8_out)},
            {"dtype": "int4", "dim": 4, "packed": hexof(int4), "dequantized": hexof(int4_out)}]


def random_model_checks():
    """Torch against the models on random bit patterns and tables beyond the recorded cases."""
    rng = rng_for("random-model-checks")
    patterns = rng.integers(0, 2 ** 32, 1 << 20, dtype=np.uint64).astype(np.uint32)
    near_half = (rng.integers(0x30000000, 0x48000000, 1 << 20, dtype=np.uint64).astype(np.uint32)
                 | (rng.integers(0, 2, 1 << 20, dtype=np.uint64).astype(np.uint32) << 31))
    for bits in (patterns, near_half):
        t = torch.from_numpy(bits.view(np.float32).copy())
        assert same_bits(t.half().view(torch.int16).numpy().view(np.uint16), model_half_bits(bits)), "half, random"
        assert same_bits(t.bfloat16().view(torch.int16).numpy().view(np.uint16), model_bfloat16_bits(bits)), "bfloat16, random"
    for k in range(200):
        dim = 2 * int(rng.integers(1, 40))
        table = (rng.standard_normal((3, dim)) * 10.0 ** rng.uniform(-8, 6)).astype(np.float32)
        if k % 5 == 0:
            table += F32(rng.uniform(-1e4, 1e4))
        check_models("random-%d" % k, table, torch_conversions(table))
    print("models agree with torch on %d random bit patterns and 200 random tables" % (2 * (1 << 20)))


# ---------------------------------------------------------------- quantized bags
#
# Debian's torch 1.13 runs the quantized bags in embedding_lookup_fallback_impl (qembeddingbag.cpp):
# it IGNORES mode (mean returns the sum) and computes, per bag, from out = 0 and for each entry,
#     s = w * scale, b = w * bias (w the per-sample weight, else 1; float32 products)
#     out[j] = fmaf(s, code[j], out[j] + b)   (the bias added first, rounded; then one fused rounding)
# model_quantized_bag does that; the script asserts it equals torch. The fixture records torch's
# sums, and torch.nn.functional.embedding_bag over the dequantized float32 table (sum or mean) for
# the same bags: what an exact bag over dequantized rows is compared with.

BAGS = []


def fma_f32(a, b, c):
    """fmaf: a * b + c rounded once to float32 (finite operands)."""
    from fractions import Fraction
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    near = F32(float(exact))
    below, above = np.nextafter(near, F32(-np.inf)), np.nextafter(near, F32(np.inf))
    best = min((near, below, above), key=lambda v: (abs(Fraction(float(v)) - exact), int(bits_of([v])[0]) & 1))
    return F32(best)


def model_quantized_bag(packed, dtype, dim, indices, offsets, weights, include_last_offset):
    ends = list(offsets[1:]) + ([] if include_last_offset else [len(indices)])
    out = np.zeros((len(ends), dim), np.float32)
    for m, (begin, end) in enumerate(zip(offsets, ends)):
        for i in range(begin, end):
            row = packed[indices[i]]
            if dtype == "int8":
                scale, bias = row[dim:dim + 4].copy().view(F32)[0], row[dim + 4:].copy().view(F32)[0]
                codes = row[:dim]
            else:
                scale, bias = row[dim // 2:dim // 2 + 4].copy().view(np.float16).astype(F32)
                codes = np.stack([row[:dim // 2] & 15, row[:dim // 2] >> 4], axis=1).ravel()
            w = F32(1) if weights is None else weights[i]
            s, b = f32_op(np.multiply, w, scale), f32_op(np.multiply, w, bias)
            for j in range(dim):
                out[m, j] = fma_f32(s, F32(codes[j]), f32_op(np.add, out[m, j], b))
    return out


def add_bag(name, dtype, rows, dim, bag_sizes, mode, per_sample_weights=False, include_last_offset=False):
    rng = rng_for(name)
    table = rng.standard_normal((rows, dim)).astype(np.float32)
    table[rng.integers(0, rows)] += F32(3)  # one row with a nonzero bias
    t = torch.from_numpy(table.copy())
    if dtype == "int8":
        packed = torch.ops.quantized.embedding_bag_byte_prepack(t)
        dequantized = torch.ops.quantized.embedding_bag_byte_unpack(packed)
        bag_op = torch.ops.quantized.embedding_bag_byte_rowwise_offsets
    else:
        packed = torch.ops.quantized.embedding_bag_4bit_prepack(t)
        dequantized = torch.ops.quantized.embedding_bag_4bit_unpack(packed)
        bag_op = torch.ops.quantized.embedding_bag_4bit_rowwise_offsets
    indices = rng.integers(0, rows, sum(bag_sizes)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(bag_sizes)]).astype(np.int64)
    if not include_last_offset:
        offsets = offsets[:-1]
    weights = rng.uniform(-2, 2, len(indices)).astype(np.float32) if per_sample_weights else None
    psw = None if weights is None else torch.from_numpy(weights.copy())

    def torch_bag(mode_number):
        return bag_op(packed, torch.from_numpy(indices), torch.from_numpy(offsets), False, mode_number,
                      False, psw, None, include_last_offset).numpy()

    quantized_sum = torch_bag(0)
    assert same_bits(torch_bag(1), quantized_sum), (name, "torch's quantized mean is no longer its sum")
    assert same_bits(quantized_sum, model_quantized_bag(packed.numpy(), dtype, dim, indices, offsets, weights,
                                                        include_last_offset)), (name, "quantized bag model")
    dequantized_bag = torch.nn.functional.embedding_bag(
        torch.from_numpy(indices), dequantized, torch.from_numpy(offsets), mode=mode,
        per_sample_weights=psw, include_last_offset=include_last_offset).numpy()
    assert quantized_sum.shape == dequantized_bag.shape == (len(bag_sizes), dim)
    if mode == "sum":
        print("bag %-24s torch quantized vs float32 bag of dequantized rows: max |diff| %.3g"
              % (name, float(np.max(np.abs(quantized_sum - dequantized_bag), initial=0))))
    BAGS.append({
        "name": name, "dtype": dtype, "rows": rows, "dim": dim, "mode": mode,
        "includeLastOffset": include_last_offset, "packed": hexof(packed.numpy()),
        "indices": [int(i) for i in indices], "offsets": [int(o) for o in offsets],
        "perSampleWeights": None if weights is None else hexof(weights),
        "torchQuantizedSum": hexof(quantized_sum), "dequantizedBag": hexof(dequantized_bag),
    })


def bag_cases():
    for dtype in ("int8", "int4"):
        add_bag("%s-sum" % dtype, dtype, 20, 16, [3, 0, 5, 1, 8], "sum")
        add_bag("%s-mean" % dtype, dtype, 20, 16, [3, 0, 5, 1, 8], "mean")
        add_bag("%s-sum-weighted" % dtype, dtype, 20, 16, [3, 0, 5, 1, 8], "sum", per_sample_weights=True)
        add_bag("%s-sum-last-offset" % dtype, dtype, 12, 8, [2, 4, 0], "sum", include_last_offset=True)
        add_bag("%s-mean-last-offset" % dtype, dtype, 12, 8, [2, 4, 0], "mean", include_last_offset=True)
        add_bag("%s-sum-long-d130" % dtype, dtype, 12, 130, [40, 20], "sum")
        add_bag("%s-mean-d64" % dtype, dtype, 12, 64, [10, 1, 25], "mean")


def main():
    normal_cases()
    special_cases()
    widen = widening()
    crafted = crafted_rows()
    random_model_checks()
    bag_cases()
    names = [c["name"] for c in CASES] + [b["name"] for b in BAGS]
    assert len(names) == len(set(names))
    doc = {"generator": "scripts/generate-dtype-fixtures.py", "torch": torch.__version__,
           "cases": CASES, "widening": widen, "craftedRows": crafted, "bags": BAGS}
    with open(OUT_PATH, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("wrote %s: %d conversion cases, %d bags, %d bytes" % (
        os.path.relpath(OUT_PATH), len(CASES), len(BAGS), os.path.getsize(OUT_PATH)))


if __name__ == "__main__":
    main()
