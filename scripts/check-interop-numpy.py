#!/usr/bin/python3
"""Check that a table written by nn-embedding loads in Python and matches, bit for bit.

    /usr/bin/python3 scripts/check-interop-numpy.py \\
        [--npy FILE] [--safetensors FILE [--tensor NAME]] --expected JSON

JSON: {"shape": [rows, dim], "bits": [uint32, ...]}: the float32 bit patterns
of the table, row-major (test/fixtures/interop/numpy-expected.json has this
form). Other keys are ignored.

--npy: loaded with numpy.load (allow_pickle=False) after checking the file
against the .npy format: magic and version 1.0/2.0/3.0, header a dict literal
ending in '\\n' and padded with spaces so the data starts at a multiple of 64
(as the format specification says and numpy writes), descr '<f4',
fortran_order False, 2-D, no bytes after the data.

--safetensors: parsed by hand (no safetensors package needed) and validated as
the reference implementation does: u64 little-endian header length N (at most
100 MB, within the file), UTF-8 JSON header starting with '{' (trailing spaces
allowed), no duplicate keys, "__metadata__" a str -> str map, each tensor with
a known dtype, a shape of non-negative ints and data_offsets [begin, end];
sorted by offset the tensors must tile the byte buffer from 0 to its end with
end - begin = elements * dtype size. The tensor compared is --tensor, else the
only tensor, else "weight". F32 is compared as stored; F16 and BF16 are widened
to float32 (exact) first. A header length that is not a multiple of 8 (the
reference writer pads to 8) is reported on stderr but not an error.

Prints OK lines and exits 0, or prints the first problem or difference and
exits 1. Needs only numpy.
"""

import argparse
import ast
import json
import os
import struct
import sys

import numpy as np

ST_DTYPE_SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
                 "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
MAX_HEADER = 100_000_000


class CheckError(Exception):
    pass


def fail(path, msg):
    raise CheckError(f"{path}: {msg}")


def load_expected(path):
    with open(path, encoding="utf-8") as f:
        obj = json.load(f)
    if not isinstance(obj, dict) or "shape" not in obj or "bits" not in obj:
        fail(path, 'expected a JSON object with "shape" and "bits"')
    shape = tuple(int(x) for x in obj["shape"])
    bits = np.array(obj["bits"], dtype=np.uint64)
    if bits.ndim != 1 or bits.size != int(np.prod(shape)) or np.any(bits > 0xFFFFFFFF):
        fail(path, f'"bits" must be a flat list of {int(np.prod(shape))} uint32 values')
    return shape, bits.astype(np.uint32)


def compare(path, shape, got_bits, want_shape, want_bits):
    if tuple(shape) != tuple(want_shape):
        fail(path, f"shape {list(shape)}, expected {list(want_shape)}")
    got = np.ascontiguousarray(got_bits, dtype=np.uint32).reshape(-1)
    diff = np.nonzero(got != want_bits)[0]
    if diff.size:
        i = int(diff[0])
        pos = np.unravel_index(i, want_shape) if len(want_shape) else ()
        g, w = int(got[i]), int(want_bits[i])
        gf = float(np.array([g], dtype=np.uint32).view(np.float32)[0])
        wf = float(np.array([w], dtype=np.uint32).view(np.float32)[0])
        fail(path, f"{diff.size} value(s) differ; first at flat index {i} (position {list(map(int, pos))}): "
                   f"got bits 0x{g:08x} ({gf!r}), expected 0x{w:08x} ({wf!r})")


def check_npy(path, want_shape, want_bits):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 10 or head[:6] != b"\x93NUMPY":
            fail(path, "not a .npy file (magic \\x93NUMPY missing)")
        major, minor = head[6], head[7]
        if (major, minor) == (1, 0):
            hlen = struct.unpack("<H", head[8:10])[0]
            start = 10
            encoding = "latin1"
        elif (major, minor) in ((2, 0), (3, 0)):
            if len(head) < 12:
                fail(path, "truncated header")
            hlen = struct.unpack("<I", head[8:12])[0]
            start = 12
            encoding = "latin1" if major == 2 else "utf8"
        else:
            fail(path, f"unknown .npy format version {major}.{minor}")
        data_offset = start + hlen
        if data_offset > size:
            fail(path, f"header length {hlen} runs past the end of the file ({size} bytes)")
        f.seek(start)
        header = f.read(hlen).decode(encoding)
    if not header.endswith("\n"):
        fail(path, "header does not end with '\\n'")
    if data_offset % 64:
        fail(path, f"data starts at byte {data_offset}, not a multiple of 64: the .npy format pads "
                   "the header with spaces so that magic + version + length + header is divisible by 64")
    try:
        d = ast.literal_eval(header.strip())
    except (ValueError, SyntaxError) as e:
        fail(path, f"header is not a Python literal: {e}")
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        fail(path, f"header must be a dict with keys descr, fortran_order, shape; got {d!r}")
    if d["descr"] != "<f4":
        fail(path, f"descr {d['descr']!r}, expected '<f4'")
    if d["fortran_order"] is not False:
        fail(path, f"fortran_order {d['fortran_order']!r}, expected False")
    shape = d["shape"]
    if not isinstance(shape, tuple) or len(shape) != 2 or not all(isinstance(x, int) and x >= 0 for x in shape):
        fail(path, f"shape {shape!r}, expected a 2-D tuple of non-negative ints")
    nbytes = shape[0] * shape[1] * 4
    if size != data_offset + nbytes:
        fail(path, f"file is {size} bytes; header ({data_offset}) + data ({nbytes}) is {data_offset + nbytes}")
    # numpy itself must load it.
    arr = np.load(path, allow_pickle=False)
    if arr.dtype != np.dtype("<f4") or arr.shape != tuple(shape) or not arr.flags.c_contiguous:
        fail(path, f"numpy.load gave dtype {arr.dtype.str} shape {arr.shape}")
    compare(path, arr.shape, arr.view(np.uint32), want_shape, want_bits)
    print(f"OK {path}: .npy {major}.{minor}, <f4, shape {list(arr.shape)}, bit-identical")


def no_duplicates(path):
    def hook(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            dup = next(k for k in keys if keys.count(k) > 1)
            fail(path, f"duplicate key {dup!r} in the header")
        return dict(pairs)
    return hook


def read_safetensors(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        data = f.read()
    if size < 8:
        fail(path, "shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER:
        fail(path, f"header length {n} is over the reference implementation's limit ({MAX_HEADER})")
    if 8 + n > size:
        fail(path, f"header length {n} runs past the end of the file ({size} bytes)")
    if n % 8:
        print(f"note {path}: header length {n} is not a multiple of 8 (the reference writer pads to 8)",
              file=sys.stderr)
    try:
        text = data[8:8 + n].decode("utf-8")
    except UnicodeDecodeError as e:
        fail(path, f"header is not UTF-8: {e}")
    if not text.startswith("{"):
        fail(path, "header does not start with '{'")
    try:
        header = json.loads(text, object_pairs_hook=no_duplicates(path))
    except json.JSONDecodeError as e:
        fail(path, f"header is not JSON: {e}")
    if not isinstance(header, dict):
        fail(path, "header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        fail(path, "__metadata__ must map strings to strings")
    tensors = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            fail(path, f"tensor {name!r}: expected exactly dtype, shape, data_offsets; got {info!r}")
        dtype, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in ST_DTYPE_SIZE:
            fail(path, f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(type(x) is int and x >= 0 for x in shape):
            fail(path, f"tensor {name!r}: bad shape {shape!r}")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(type(x) is int and x >= 0 for x in offs)
                or offs[1] < offs[0]):
            fail(path, f"tensor {name!r}: bad data_offsets {offs!r}")
        if offs[1] - offs[0] != int(np.prod(shape, dtype=object)) * ST_DTYPE_SIZE[dtype]:
            fail(path, f"tensor {name!r}: data_offsets {offs} hold {offs[1] - offs[0]} bytes, "
                       f"shape {shape} of {dtype} needs {int(np.prod(shape, dtype=object)) * ST_DTYPE_SIZE[dtype]}")
        tensors.append((offs[0], offs[1], name, dtype, shape))
    tensors.sort()
    pos = 0
    for begin, end, name, _, _ in tensors:
        if begin != pos:
            fail(path, f"tensor {name!r} starts at {begin}, expected {pos} (tensors must tile the buffer "
                       "without gaps or overlap)")
        pos = end
    if 8 + n + pos != size:
        fail(path, f"tensors end at buffer offset {pos}, but the buffer is {size - 8 - n} bytes")
    base = 8 + n
    return {name: (dtype, shape, data[base + b:base + e]) for b, e, name, dtype, shape in tensors}, meta, n


def check_safetensors(path, tensor, want_shape, want_bits):
    tensors, meta, n = read_safetensors(path)
    if tensor is None:
        tensor = next(iter(tensors)) if len(tensors) == 1 else "weight"
    if tensor not in tensors:
        fail(path, f"no tensor {tensor!r} (has {sorted(tensors)})")
    dtype, shape, raw = tensors[tensor]
    if dtype == "F32":
        bits = np.frombuffer(raw, dtype="<u4")
    elif dtype == "F16":
        bits = np.frombuffer(raw, dtype="<f2").astype(np.float32).view(np.uint32)
    elif dtype == "BF16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    else:
        fail(path, f"tensor {tensor!r} has dtype {dtype}, expected F32 (or F16/BF16)")
    compare(f"{path} [{tensor}]", shape, bits, want_shape, want_bits)
    print(f"OK {path}: tensor {tensor!r} {dtype} shape {shape}, header {n} bytes, "
          f"metadata {json.dumps(meta, ensure_ascii=False)}, bit-identical")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--npy")
    p.add_argument("--safetensors")
    p.add_argument("--tensor", help="safetensors tensor name (default: the only one, else 'weight')")
    p.add_argument("--expected", required=True)
    a = p.parse_args()
    if not a.npy and not a.safetensors:
        p.error("give --npy and/or --safetensors")
    try:
        want_shape, want_bits = load_expected(a.expected)
        if a.npy:
            check_npy(a.npy, want_shape, want_bits)
        if a.safetensors:
            check_safetensors(a.safetensors, a.tensor, want_shape, want_bits)
    except CheckError as e:
        print(f"FAIL {e}")
        sys.exit(1)
    except OSError as e:
        print(f"FAIL {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
