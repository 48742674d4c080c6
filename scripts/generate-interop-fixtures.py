#!/usr/bin/python3
"""Interop fixtures for nn-embedding's file-format readers and writers (issue 6).

Called by scripts/generate-interop-fixtures.sh, which builds the original
word2vec C tool and runs the steps in this order:

    corpus FILE        write the deterministic training corpus for word2vec
    w2v OUTDIR         check the C tool's two outputs against each other and
                       write w2v-c-expected.json (needs WORD2VEC_C_SHA256 etc.
                       in the environment, set by the .sh)
    numpy OUTDIR       numpy-*.npy written by numpy itself + numpy-expected.json
    safetensors OUTDIR st-*.safetensors written here, following the published
                       format + safetensors-expected.json
    torch OUTDIR       torch-bf16-ref.json: torch's float32 -> bfloat16/float16
                       rounding of chosen values (needs Debian's python3-torch)
    narrow OUTDIR      narrow tables as numpy and torch write them (needs torch):
                       numpy-f2.npy, numpy-u1-int8.npy, numpy-u1-int4.npy,
                       numpy-v2-bf16.npy, st-narrow.safetensors + narrow-expected.json

Run with Debian's /usr/bin/python3 and python3-numpy. Everything is
deterministic: all data comes from a self-contained SplitMix64 generator (not
Python's or numpy's random, whose streams are not promised to stay the same
across versions), and every JSON file is written with a fixed layout.

Bit patterns: every float in the *-expected.json files is given as the uint32
bit pattern of the float32 value (uint16 for the raw F16/BF16 halves), so a
test compares bit for bit, -0.0 and subnormals included.
"""

import hashlib
import json
import os
import re
import struct
import sys

import numpy as np

M64 = (1 << 64) - 1


class SplitMix64:
    """Tiny deterministic PRNG (Steele, Lea & Flood's SplitMix64)."""

    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n

    def unit(self):
        """Uniform double in [0, 1)."""
        return (self.next() >> 11) * (2.0 ** -53)


def dump_json(path, obj):
    """json.dumps with indent 2, but arrays of plain integers on one line."""
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    text = re.sub(
        r"\[(?:\s*-?\d+,)*\s*-?\d+\s*\]",
        lambda m: "[" + ", ".join(x.strip() for x in m.group(0)[1:-1].split(",")) + "]",
        text,
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def f32_bits(values):
    return [int(x) for x in np.ascontiguousarray(values, dtype=np.float32).reshape(-1).view(np.uint32)]


def bits_to_f32(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


# ---------------------------------------------------------------------------
# word2vec corpus
# ---------------------------------------------------------------------------

ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
          "br", "st", "tr", "kl", "sh", "ch"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ee"]
CODAS = ["", "", "n", "r", "s", "l", "t", "m"]
# Tokens real vocabularies have: non-ASCII UTF-8 (2-, 3- and 4-byte
# sequences), punctuation inside a word, a number.
EXTRA_WORDS = ["café", "naïve", "über", "日本語", "ελληνικά", "emoji😀", "don't",
               "e-mail", "U.S.", "42", "3.14"]
N_GENERATED_WORDS = 280
N_SENTENCES = 3000


def corpus_vocabulary(rng):
    words = []
    seen = set()
    while len(words) < N_GENERATED_WORDS:
        n = 1 + rng.below(3)
        w = "".join(ONSETS[rng.below(len(ONSETS))] + VOWELS[rng.below(len(VOWELS))]
                    + CODAS[rng.below(len(CODAS))] for _ in range(n))
        if w not in seen:
            seen.add(w)
            words.append(w)
    for w in EXTRA_WORDS:
        # Put the extra tokens at deterministic ranks spread over the
        # frequency range, so some are frequent and some rare.
        words.insert(rng.below(len(words) + 1), w)
    return words


def make_corpus(path):
    rng = SplitMix64(0x77327643)  # "w2vC"
    vocab = corpus_vocabulary(rng)
    # Zipf-like weights over the vocabulary in its generated order.
    cum = []
    total = 0.0
    for rank in range(len(vocab)):
        total += 1.0 / (rank + 1)
        cum.append(total)
    lines = []
    # Every word appears at least once: the first sentences list the whole
    # vocabulary in a shuffled order, ten words each.
    order = list(range(len(vocab)))
    for i in range(len(order) - 1, 0, -1):
        j = rng.below(i + 1)
        order[i], order[j] = order[j], order[i]
    for k in range(0, len(order), 10):
        lines.append(" ".join(vocab[i] for i in order[k:k + 10]))
    import bisect
    while len(lines) < N_SENTENCES:
        n = 4 + rng.below(11)
        sentence = []
        for _ in range(n):
            idx = bisect.bisect_right(cum, rng.unit() * total)
            sentence.append(vocab[min(idx, len(vocab) - 1)])
        lines.append(" ".join(sentence))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)
    tokens = sum(len(l.split(" ")) for l in lines)
    print(f"corpus: {len(lines)} sentences, {tokens} tokens, {len(vocab)} distinct words, "
          f"sha256 {hashlib.sha256(data).hexdigest()}")


# ---------------------------------------------------------------------------
# word2vec: check the C tool's output and write w2v-c-expected.json
# ---------------------------------------------------------------------------

def parse_w2v_text(path):
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    assert lines[-1] == b"", "text file does not end with a newline"
    lines = lines[:-1]
    header = lines[0].split(b" ")
    rows, dim = int(header[0]), int(header[1])
    assert lines[0] == b"%d %d" % (rows, dim), "unexpected header line"
    assert len(lines) == rows + 1, "row count does not match the header"
    words, values = [], []
    for line in lines[1:]:
        # The C tool prints each value with "%lf " so every line ends with a space.
        assert line.endswith(b" "), "text line does not end with a space"
        parts = line[:-1].split(b" ")
        assert len(parts) == dim + 1, "wrong number of fields"
        words.append(parts[0].decode("utf-8"))
        values.append([p.decode("ascii") for p in parts[1:]])
    return rows, dim, words, values


def parse_w2v_binary(path):
    with open(path, "rb") as f:
        data = f.read()
    nl = data.index(b"\n")
    rows, dim = (int(x) for x in data[:nl].split(b" "))
    pos = nl + 1
    words, vecs = [], []
    for _ in range(rows):
        sp = data.index(b" ", pos)
        words.append(data[pos:sp].decode("utf-8"))
        pos = sp + 1
        vecs.append(np.frombuffer(data, dtype="<f4", count=dim, offset=pos).copy())
        pos += 4 * dim
        assert data[pos:pos + 1] == b"\n", "binary vector not followed by a newline"
        pos += 1
    assert pos == len(data), "trailing bytes after the last binary vector"
    return rows, dim, words, np.array(vecs, dtype=np.float32)


def w2v_expected(outdir):
    text_path = os.path.join(outdir, "w2v-c-text.txt")
    bin_path = os.path.join(outdir, "w2v-c-binary.bin")
    rows, dim, twords, tvals = parse_w2v_text(text_path)
    brows, bdim, bwords, bvecs = parse_w2v_binary(bin_path)
    assert (rows, dim) == (brows, bdim), "text and binary headers differ"
    assert twords == bwords, "text and binary vocabularies differ"
    assert twords[0] == "</s>", "first word is not </s>"
    assert len(set(twords)) == len(twords), "duplicate words"
    # Same seed, one thread: the two runs trained the same vectors, so every
    # text field is exactly C's "%lf" (= Python's "%f") of the binary float.
    for r in range(rows):
        for c in range(dim):
            want = "%f" % float(bvecs[r, c])
            if tvals[r][c] != want:
                raise SystemExit(f"w2v: text row {r} col {c} is {tvals[r][c]}, binary gives {want}")
    text_f32 = np.array([[np.float32(float(v)) for v in row] for row in tvals], dtype=np.float32)
    env = os.environ
    obj = {
        "about": "Expected content of w2v-c-text.txt and w2v-c-binary.bin, written by the original "
                 "word2vec C tool (npm package word2vec@1.1.5, src/word2vec.c) in one training run "
                 "each with the same seed and -threads 1. binary_bits: the float32 bit patterns stored "
                 "in the binary file. text_bits: the float32 nearest to each decimal field of the text "
                 "file (each field is printf(\"%lf \") of the binary value, checked by the script).",
        "tool": {
            "package": "word2vec@1.1.5",
            "source": "package/src/word2vec.c",
            "source_sha256": env.get("WORD2VEC_C_SHA256", ""),
            "build": env.get("WORD2VEC_BUILD", ""),
            "train_args": env.get("WORD2VEC_ARGS", ""),
        },
        "corpus_sha256": env.get("WORD2VEC_CORPUS_SHA256", ""),
        "rows": rows,
        "dim": dim,
        "words": twords,
        "binary_bits": [f32_bits(v) for v in bvecs],
        "text_bits": [f32_bits(v) for v in text_f32],
    }
    dump_json(os.path.join(outdir, "w2v-c-expected.json"), obj)
    diff = int(np.count_nonzero(bvecs.view(np.uint32) != text_f32.view(np.uint32)))
    print(f"w2v: {rows} words x {dim}; text == %f of binary for every value; "
          f"{diff} of {rows * dim} text values differ from the binary bits (6-decimal rounding)")


# ---------------------------------------------------------------------------
# numpy .npy
# ---------------------------------------------------------------------------

NPY_SHAPE = (37, 13)
# (row, col, float32 bits, what): special values placed in the main array.
NPY_SPECIALS = [
    (0, 0, 0x80000000, "-0.0"),
    (0, 1, 0x00000000, "+0.0"),
    (1, 2, 0x00000001, "smallest positive subnormal (1.4e-45)"),
    (2, 3, 0x80000001, "smallest negative subnormal"),
    (3, 4, 0x007FFFFF, "largest subnormal"),
    (4, 5, 0x00400000, "subnormal 2^-127"),
    (5, 6, 0x00800000, "smallest normal (1.1754944e-38)"),
    (6, 7, 0x7F7FFFFF, "largest finite (3.4028235e38)"),
    (7, 8, 0xFF7FFFFF, "most negative finite"),
    (8, 9, 0x7149F2CA, "1e30"),
    (9, 10, 0x0DA24260, "1e-30"),
    (10, 11, 0x3F800000, "1.0"),
    (11, 12, 0xBF800000, "-1.0"),
    (12, 0, 0x3DCCCCCD, "0.1 (float32 nearest)"),
    (13, 1, 0x3EAAAAAB, "1/3 (float32 nearest)"),
    (36, 12, 0x40490FDB, "pi (float32 nearest)"),
]


def main_array():
    rng = SplitMix64(0x6E6E2D6E7079)  # "nn-npy"
    n = NPY_SHAPE[0] * NPY_SHAPE[1]
    a = np.empty(n, dtype=np.float32)
    for i in range(n):
        u = rng.unit() * 2.0 - 1.0
        e = int(rng.below(9)) - 4  # magnitudes 1e-4 .. 1e4
        a[i] = np.float32(u * 10.0 ** e)
    a = a.reshape(NPY_SHAPE)
    bits = a.view(np.uint32)
    for r, c, b, _ in NPY_SPECIALS:
        bits[r, c] = b
    assert np.all(np.isfinite(a))
    return a


def npy_header_info(path):
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        data_offset = f.tell()
    size = os.path.getsize(path)
    assert data_offset % 64 == 0, f"{path}: header not padded to 64"
    assert size == data_offset + int(np.prod(shape)) * dtype.itemsize
    return {
        "version": list(version),
        "descr": dtype.str,
        "fortran_order": bool(fortran),
        "shape": list(shape),
        "data_offset": data_offset,
        "file_size": size,
    }


def numpy_fixtures(outdir):
    a = main_array()
    files = {}

    def out(name):
        return os.path.join(outdir, name)

    np.save(out("numpy-f4.npy"), a)
    files["numpy-f4.npy"] = {"role": "main: <f4, C order, 2-D, written by np.save (format 1.0)"}
    with open(out("numpy-f4-v2.npy"), "wb") as f:
        np.lib.format.write_array(f, a, version=(2, 0))
    files["numpy-f4-v2.npy"] = {"role": "the main array written with numpy.lib.format.write_array(version=(2, 0)): "
                                        "4-byte header length"}
    np.save(out("numpy-f4-fortran.npy"), np.asfortranarray(a))
    files["numpy-f4-fortran.npy"] = {"role": "the main array in Fortran (column-major) order: reject with a clear "
                                             "error, or transpose to the same values"}
    np.save(out("numpy-f8.npy"), a.astype(np.float64))
    files["numpy-f8.npy"] = {"role": "the main array as <f8 (exact widening): reject, or narrow to the same float32 bits"}
    np.save(out("numpy-f4-1d.npy"), a[0].copy())
    files["numpy-f4-1d.npy"] = {"role": "row 0 of the main array, shape (13,): 1-D, not a table"}
    np.save(out("numpy-be-f4.npy"), a.astype(">f4"))
    files["numpy-be-f4.npy"] = {"role": "the main array as big-endian >f4: reject, or byte-swap to the same bits"}

    for name, info in files.items():
        info.update(npy_header_info(out(name)))
        # numpy reads every file back to the same values
        back = np.load(out(name), allow_pickle=False)
        want = a[0] if name == "numpy-f4-1d.npy" else a
        assert np.array_equal(back.astype(np.float32).view(np.uint32), want.view(np.uint32)), name

    obj = {
        "about": "The main float32 array of the numpy-*.npy fixtures, written by Debian's python3-numpy. "
                 "bits: its float32 bit patterns (uint32), row-major. Every other file holds the same "
                 "values (numpy-f4-1d.npy: row 0 only) in another layout or dtype.",
        "numpy_version": np.__version__,
        "shape": list(NPY_SHAPE),
        "dtype": "float32",
        "bits": [int(x) for x in a.reshape(-1).view(np.uint32)],
        "specials": [{"row": r, "col": c, "bits": b, "what": w} for r, c, b, w in NPY_SPECIALS],
        "files": files,
    }
    dump_json(out("numpy-expected.json"), obj)
    print("numpy: " + ", ".join(files))
    return a


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

# The Dtype enum of the reference implementation (safetensors/src/tensor.rs)
# is declared "in increasing alignment order" and derives Ord; prepare()
# sorts tensors by dtype descending, then by name ascending.
ST_DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
                  "I32", "U32", "F32", "F64", "I64", "U64"]


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: (dtype, shape, little-endian bytes)}.

    Mirrors the reference implementation's prepare()/serialize():
    - tensors sorted by dtype (descending, in the enum order above), then name;
    - laid out contiguously from offset 0 in that order;
    - header = serde_json::to_string of {"__metadata__": {...}, name: {"dtype",
      "shape", "data_offsets"}, ...} in that order (compact, no spaces,
      non-ASCII unescaped), "__metadata__" omitted when there is none;
    - header padded with spaces (0x20) to a multiple of 8 bytes;
    - 8-byte little-endian u64 header length, header, byte buffer.
    """
    order = sorted(tensors, key=lambda n: (-ST_DTYPE_ORDER.index(tensors[n][0]), n.encode("utf-8")))
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    layout = []
    for name in order:
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        layout.append((name, offset, offset + len(data)))
        offset += len(data)
    hbytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for name in order:
            f.write(tensors[name][2])
    return order, len(hbytes), layout


F16_SPECIALS = [0x0000, 0x8000, 0x0001, 0x8001, 0x0002, 0x0200, 0x03FF, 0x83FF, 0x0400, 0x8400,
                0x3C00, 0xBC00, 0x3C01, 0x7BFF, 0xFBFF, 0x3555, 0x4248, 0x2E66, 0x1400, 0x0155]
BF16_SPECIALS = [0x0000, 0x8000, 0x0001, 0x8001, 0x0002, 0x0040, 0x007F, 0x807F, 0x0080, 0x8080,
                 0x3F80, 0xBF80, 0x3F81, 0x7F7F, 0xFF7F, 0x3EAB, 0x4049, 0x3DCD, 0x0D00, 0x7100]


def half_patterns(rng, specials, exp_bits, mant_bits, n):
    """specials, then random finite patterns (sign, exponent below all-ones, mantissa)."""
    out = list(specials)
    while len(out) < n:
        sign = rng.below(2)
        exp = rng.below((1 << exp_bits) - 1)
        mant = rng.below(1 << mant_bits)
        out.append((sign << (exp_bits + mant_bits)) | (exp << mant_bits) | mant)
    return np.array(out, dtype=np.uint16)


def safetensors_fixtures(outdir, main):
    rng = SplitMix64(0x6E6E2D7374)  # "nn-st"

    def rand_f32(shape, scale):
        n = int(np.prod(shape))
        return np.array([np.float32((rng.unit() * 2.0 - 1.0) * scale) for _ in range(n)],
                        dtype=np.float32).reshape(shape)

    expected = {
        "about": "Expected content of the st-*.safetensors fixtures, written by "
                 "scripts/generate-interop-fixtures.py following the reference implementation's "
                 "serializer (huggingface/safetensors, safetensors/src/tensor.rs prepare()). "
                 "header_length: N, the u64 at the start (header padded with spaces to a multiple of 8). "
                 "order: the tensors in buffer order. data_offsets: relative to the start of the byte "
                 "buffer, which begins at 8 + N. f32_bits: the float32 bit patterns (uint32) of the values "
                 "after conversion to float32 (F16 and BF16 convert exactly). raw_bits: the stored uint16 "
                 "halves. values: int64 values as decimal strings.",
        "files": {},
    }

    def record(name, tensors, metadata, extra):
        path = os.path.join(outdir, name)
        order, hlen, layout = write_safetensors(path, tensors, metadata)
        info = {
            "header_length": hlen,
            "data_start": 8 + hlen,
            "file_size": os.path.getsize(path),
            "metadata": metadata,
            "order": order,
            "tensors": {},
        }
        for tname, begin, end in layout:
            dtype, shape, _ = tensors[tname]
            t = {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}
            t.update(extra[tname])
            info["tensors"][tname] = t
        expected["files"][name] = info

    # st-f32: the same table as numpy-f4.npy
    record("st-f32.safetensors",
           {"weight": ("F32", main.shape, main.astype("<f4").tobytes())},
           {"format": "pt"},
           {"weight": {"f32_bits": f32_bits(main)}})

    emb = rand_f32((20, 8), 1.0)
    bias = rand_f32((8,), 0.5)
    idx = np.array([0, 1, -1, 2 ** 40 + 3, -(2 ** 63)], dtype="<i8")
    record("st-multi.safetensors",
           {"embedding.weight": ("F32", emb.shape, emb.astype("<f4").tobytes()),
            "other.bias": ("F32", bias.shape, bias.astype("<f4").tobytes()),
            "idx": ("I64", idx.shape, idx.tobytes())},
           None,
           {"embedding.weight": {"f32_bits": f32_bits(emb)},
            "other.bias": {"f32_bits": f32_bits(bias)},
            "idx": {"values": [str(int(v)) for v in idx]}})

    f16 = half_patterns(rng, F16_SPECIALS, 5, 10, 60)
    f16_as_f32 = f16.view(np.float16).astype(np.float32)  # exact
    assert np.all(np.isfinite(f16_as_f32))
    record("st-f16.safetensors",
           {"weight": ("F16", (10, 6), f16.astype("<u2").tobytes())},
           {"format": "pt"},
           {"weight": {"raw_bits": [int(x) for x in f16], "f32_bits": f32_bits(f16_as_f32)}})

    bf16 = half_patterns(rng, BF16_SPECIALS, 8, 7, 60)
    bf16_as_f32 = (bf16.astype(np.uint32) << 16).view(np.float32)  # exact: bf16 is the top half
    assert np.all(np.isfinite(bf16_as_f32))
    record("st-bf16.safetensors",
           {"weight": ("BF16", (10, 6), bf16.astype("<u2").tobytes())},
           {"format": "pt"},
           {"weight": {"raw_bits": [int(x) for x in bf16], "f32_bits": f32_bits(bf16_as_f32)}})

    dump_json(os.path.join(outdir, "safetensors-expected.json"), expected)
    print("safetensors: " + ", ".join(expected["files"]))


# ---------------------------------------------------------------------------
# torch: float32 -> bfloat16 / float16 rounding reference
# ---------------------------------------------------------------------------

def torch_reference(outdir):
    import torch

    cases = [
        (0x00000000, "+0"), (0x80000000, "-0"), (0x3F800000, "1"), (0xBF800000, "-1"),
        (0x3DCCCCCD, "0.1"), (0x3EAAAAAB, "1/3"), (0x40490FDB, "pi"),
        # bfloat16 ties (low 16 bits exactly 0x8000) and neighbours
        (0x3F808000, "bf16 tie, even below: 1 + 2^-8"), (0x3F818000, "bf16 tie, odd below: rounds up"),
        (0x3F807FFF, "just below a bf16 tie"), (0x3F808001, "just above a bf16 tie"),
        (0xBF808000, "negative bf16 tie"), (0xBF818000, "negative bf16 tie, odd below"),
        (0x3F80FFFF, "bf16 rounds up, not a tie"), (0x3FFFFFFF, "bf16 rounding carries into the exponent"),
        (0x3FFF8000, "bf16 tie carrying into the exponent"),
        (0x7F7F7FFF, "below the bf16 overflow tie"), (0x7F7F8000, "bf16 tie at the largest finite: to inf"),
        (0x7F7FFFFF, "float32 max: bf16 inf"),
        (0x00008000, "subnormal bf16 tie to 0"), (0x00018000, "subnormal bf16 tie, odd below"),
        (0x00000001, "smallest float32 subnormal"), (0x007FFFFF, "largest float32 subnormal"),
        (0x00800000, "smallest float32 normal"), (0x80008000, "negative subnormal bf16 tie"),
        # float16 ties and limits
        (0x3F801000, "f16 tie, even below: 1 + 2^-11"), (0x3F803000, "f16 tie, odd below"),
        (0x3F800FFF, "just below an f16 tie"), (0x3F801001, "just above an f16 tie"),
        (0x477FE000, "65504, f16 max"), (0x477FEFFF, "just below 65520"), (0x477FF000, "65520: f16 tie to inf"),
        (0x47800000, "65536: f16 overflow"), (0x501502F9, "1e10"),
        (0x387FC000, "f16 largest subnormal, exact"),
        (0x387FE000, "f16 tie between largest subnormal (odd) and smallest normal"),
        (0x38800000, "2^-14, f16 smallest normal"), (0x33800000, "2^-24, f16 smallest subnormal"),
        (0x33000000, "2^-25: f16 tie to 0"), (0x33000001, "just above 2^-25"), (0x33C00000, "3*2^-25: f16 tie, odd below"),
        (0x32FFFFFF, "just below 2^-25"), (0xB3000000, "-2^-25: f16 tie to -0"),
        (0x7F800000, "+inf"), (0xFF800000, "-inf"), (0x7FC00000, "NaN (check isNaN only)"),
    ]
    rng = SplitMix64(0x6E6E2D6266)  # "nn-bf"
    for i in range(24):
        sign = rng.below(2) << 31
        exp = (100 + rng.below(60)) << 23
        mant = rng.below(1 << 23)
        if i % 3 == 1:
            mant = (mant & ~0xFFFF) | 0x8000  # exact bf16 tie
        elif i % 3 == 2:
            exp = (113 + rng.below(30)) << 23  # 2^-14 .. 2^15: normal float16
            mant = (mant & ~0x1FFF) | 0x1000  # exact f16 tie (normal f16 range)
        cases.append((sign | exp | mant, "random" + (" bf16 tie" if i % 3 == 1 else " f16 tie" if i % 3 == 2 else "")))

    bits = np.array([b for b, _ in cases], dtype=np.uint32)
    x = torch.from_numpy(bits.view(np.float32).copy())
    bf = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    hf = x.to(torch.float16).view(torch.int16).numpy().view(np.uint16)
    # Also element by element (torch's scalar path): must agree.
    for i in range(len(cases)):
        xi = x[i:i + 1].clone()
        assert int(xi.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)[0]) == int(bf[i])
        assert int(xi.to(torch.float16).view(torch.int16).numpy().view(np.uint16)[0]) == int(hf[i])

    # Independent check: round to nearest, ties to even.
    f32 = bits.view(np.float32)
    with np.errstate(over="ignore"):  # overflow to inf is one of the cases
        np_f16 = f32.astype(np.float16).view(np.uint16)
    out = []
    for i, (b, what) in enumerate(cases):
        isnan = bool(np.isnan(f32[i]))
        if isnan:
            rne_bf = None
        else:
            rne_bf = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF
            assert rne_bf == int(bf[i]), f"torch bf16 of {b:#010x} is {int(bf[i]):#06x}, RNE gives {rne_bf:#06x}"
            assert int(np_f16[i]) == int(hf[i]), f"torch f16 of {b:#010x} is {int(hf[i]):#06x}, numpy gives {int(np_f16[i]):#06x}"
        out.append({"f32_bits": int(b), "bf16_bits": int(bf[i]), "f16_bits": int(hf[i]),
                    "nan": isnan, "what": what})

    obj = {
        "about": "torch's rounding of float32 values to bfloat16 and float16 (tensor.to(dtype)), as "
                 "uint16 bit patterns; f32_bits is the input's float32 bit pattern. Both are round to "
                 "nearest, ties to even, overflow to inf (checked by the script against an "
                 "independent rounding and numpy's float16). For the NaN input (nan: true) only "
                 "check that the result is a NaN.",
        "torch_version": torch.__version__,
        "cases": out,
    }
    dump_json(os.path.join(outdir, "torch-bf16-ref.json"), obj)
    print(f"torch {torch.__version__}: {len(out)} cases")


# ---------------------------------------------------------------------------
# narrow tables: float16 / bfloat16 / int8 / int4 as numpy and torch write them
# ---------------------------------------------------------------------------

NARROW_SHAPE = (7, 10)  # dim even, for int4


def narrow_source():
    """A float32 table with rows of different ranges, -0, a float16 subnormal and a constant row."""
    rng = SplitMix64(0x6E6E2D6E6172)  # "nn-nar"
    rows, dim = NARROW_SHAPE
    a = np.empty((rows, dim), dtype=np.float32)
    for r in range(rows):
        scale = 10.0 ** (int(rng.below(7)) - 3)
        for c in range(dim):
            a[r, c] = np.float32((rng.unit() * 2.0 - 1.0) * scale)
    a[0, 0] = np.float32(-0.0)
    a[0, 1] = np.float32(3e-6)  # a float16 subnormal
    a[1, :] = np.float32(0.25)  # max == min: torch's corner case
    return a


def hex_of(array):
    return np.ascontiguousarray(array).tobytes().hex()


def narrow_fixtures(outdir):
    import torch

    def out(name):
        return os.path.join(outdir, name)

    src = narrow_source()
    t = torch.from_numpy(src.copy())
    f16 = t.half().numpy()                                           # float16, shape (7, 10)
    bf16 = t.bfloat16().view(torch.int16).numpy().view(np.uint16)    # bfloat16 bits
    int8 = torch.ops.quantized.embedding_bag_byte_prepack(t).numpy()  # uint8 (7, 18)
    int4 = torch.ops.quantized.embedding_bag_4bit_prepack(t).numpy()  # uint8 (7, 9)
    assert int8.dtype == np.uint8 and int8.shape == (NARROW_SHAPE[0], NARROW_SHAPE[1] + 8)
    assert int4.dtype == np.uint8 and int4.shape == (NARROW_SHAPE[0], NARROW_SHAPE[1] // 2 + 4)
    widened = {
        "float16": torch.from_numpy(f16).float().numpy(),
        "bfloat16": torch.from_numpy(bf16.view(np.int16)).view(torch.bfloat16).float().numpy(),
        "int8": torch.ops.quantized.embedding_bag_byte_unpack(torch.from_numpy(int8)).numpy(),
        "int4": torch.ops.quantized.embedding_bag_4bit_unpack(torch.from_numpy(int4)).numpy(),
    }
    packed = {"float16": f16, "bfloat16": bf16, "int8": int8, "int4": int4}

    # .npy by numpy itself: float16 as '<f2', the prepacked rows as '|u1', and bfloat16 bits as
    # 2-byte void data, which is how np.save writes an ml_dtypes.bfloat16 array.
    np.save(out("numpy-f2.npy"), f16)
    np.save(out("numpy-u1-int8.npy"), int8)
    np.save(out("numpy-u1-int4.npy"), int4)
    np.save(out("numpy-v2-bf16.npy"), bf16.view(np.dtype("V2")))
    files = {
        "numpy-f2.npy": {"dtype": "float16", "role": "torch's .half() of the source, np.save'd: '<f2'"},
        "numpy-u1-int8.npy": {"dtype": "int8", "role": "embedding_bag_byte_prepack of the source, np.save'd: '|u1' (rows, dim + 8)"},
        "numpy-u1-int4.npy": {"dtype": "int4", "role": "embedding_bag_4bit_prepack of the source, np.save'd: '|u1' (rows, dim / 2 + 4)"},
        "numpy-v2-bf16.npy": {"dtype": "bfloat16", "role": "torch's .bfloat16() bits np.save'd as dtype V2 ('|V2'), as ml_dtypes' bfloat16 is"},
    }
    for name, info in files.items():
        info.update(npy_header_info(out(name)))
        back = np.load(out(name), allow_pickle=False)
        assert back.tobytes() == packed[info["dtype"]].tobytes(), name

    # safetensors: the four tables in one file, int8/int4 as U8 with their dtype and dim in the
    # metadata (nn-embedding's keys), as a Python user would save torch's prepacked tensors.
    rows, dim = NARROW_SHAPE
    metadata = {"format": "pt",
                "nn_embedding.dtype.int8.weight": "int8", "nn_embedding.dim.int8.weight": str(dim),
                "nn_embedding.dtype.int4.weight": "int4", "nn_embedding.dim.int4.weight": str(dim)}
    tensors = {
        "f16.weight": ("F16", f16.shape, f16.view(np.uint16).astype("<u2").tobytes()),
        "bf16.weight": ("BF16", bf16.shape, bf16.astype("<u2").tobytes()),
        "int8.weight": ("U8", int8.shape, int8.tobytes()),
        "int4.weight": ("U8", int4.shape, int4.tobytes()),
    }
    order, hlen, layout = write_safetensors(out("st-narrow.safetensors"), tensors, metadata)

    obj = {
        "about": "Narrow tables written by numpy (the numpy-*.npy files) and by the script's safetensors "
                 "serializer (st-narrow.safetensors), from one float32 source table. Hex strings are "
                 "little-endian bytes: source and dequantized are float32 values, packed the table as "
                 "stored (float16/bfloat16 bits, int8/int4 rows). packed: torch 1.13's .half(), "
                 ".bfloat16(), quantized::embedding_bag_byte_prepack and embedding_bag_4bit_prepack of "
                 "the source; dequantized: torch's .float() and embedding_bag_byte_unpack / "
                 "embedding_bag_4bit_unpack of packed.",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "rows": rows,
        "dim": dim,
        "source": hex_of(src),
        "tables": {d: {"packed": hex_of(packed[d]), "dequantized": hex_of(widened[d])} for d in packed},
        "files": files,
        "safetensors": {
            "file": "st-narrow.safetensors",
            "header_length": hlen,
            "metadata": metadata,
            "order": order,
            "tensors": {n: {"dtype": tensors[n][0], "shape": list(tensors[n][1]), "data_offsets": [b, e],
                            "table": {"f16.weight": "float16", "bf16.weight": "bfloat16",
                                      "int8.weight": "int8", "int4.weight": "int4"}[n]}
                        for n, b, e in layout},
        },
    }
    dump_json(out("narrow-expected.json"), obj)
    print(f"narrow (torch {torch.__version__}): " + ", ".join(list(files) + ["st-narrow.safetensors"]))


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__)
    step, target = argv[1], argv[2]
    if step == "corpus":
        make_corpus(target)
    elif step == "w2v":
        w2v_expected(target)
    elif step == "numpy":
        numpy_fixtures(target)
    elif step == "safetensors":
        safetensors_fixtures(target, main_array())
    elif step == "torch":
        torch_reference(target)
    elif step == "narrow":
        narrow_fixtures(target)
    else:
        raise SystemExit(f"unknown step {step!r}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv)
