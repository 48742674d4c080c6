#!/usr/bin/python3
"""Check that a narrow table written by nn-embedding loads in Python, numpy and torch, bit for bit.

    /usr/bin/python3 scripts/check-interop-narrow.py \\
        [--npy FILE] [--safetensors FILE [--tensor NAME]] --expected JSON [--require-torch]

JSON: {"dtype": "float16" | "bfloat16" | "int8" | "int4", "rows": R, "dim": D,
       "packed": HEX, "dequantized": HEX}: the table as stored (little-endian float16/bfloat16
bits, or int8/int4 rows in the layouts of torch's embedding_bag_byte_prepack and
embedding_bag_4bit_prepack) and its float32 values (what torch's .float(),
embedding_bag_byte_unpack and embedding_bag_4bit_unpack must give).

--npy: numpy.load (allow_pickle=False) must give a C-order array holding exactly the packed
bytes: float16 as dtype float16, shape (R, D); int8/int4 as uint8, shape (R, rowBytes). The
header is checked as scripts/check-interop-numpy.py checks it (the data 64-byte aligned).
--safetensors: parsed and validated by hand, as check-interop-numpy.py does; the tensor (--tensor,
else the only one, else "weight") must be F16 / BF16 [R, D], or U8 [R, rowBytes] with the
metadata nn_embedding.dtype.<name> = dtype and nn_embedding.dim.<name> = D; its bytes the packed
bytes.

With torch importable (Debian's python3-torch), each file is also read by torch and widened or
unpacked by torch's own ops, which must give the dequantized float32 bits. --require-torch makes a
missing torch an error instead of a skipped check.

Prints OK lines and exits 0, or prints the first problem and exits 1.
"""

import argparse
import importlib.util
import json
import os
import sys

import numpy as np

_spec = importlib.util.spec_from_file_location(
    "check_interop_numpy", os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-interop-numpy.py"))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)
CheckError, fail, read_safetensors = base.CheckError, base.fail, base.read_safetensors

DTYPES = ("float16", "bfloat16", "int8", "int4")


def row_bytes(dtype, dim):
    return {"float16": 2 * dim, "bfloat16": 2 * dim, "int8": dim + 8, "int4": dim // 2 + 4}[dtype]


def load_expected(path):
    with open(path, encoding="utf-8") as f:
        obj = json.load(f)
    if not isinstance(obj, dict) or obj.get("dtype") not in DTYPES:
        fail(path, f'expected a JSON object whose "dtype" is one of {DTYPES}')
    dtype, rows, dim = obj["dtype"], int(obj["rows"]), int(obj["dim"])
    packed = bytes.fromhex(obj["packed"])
    dequantized = np.frombuffer(bytes.fromhex(obj["dequantized"]), dtype="<u4")
    if len(packed) != rows * row_bytes(dtype, dim) or dequantized.size != rows * dim:
        fail(path, f"packed or dequantized has the wrong size for {rows} {dtype} rows of dim {dim}")
    return dtype, rows, dim, packed, dequantized


def compare_bits(path, got, want):
    got = np.ascontiguousarray(got, dtype=np.float32).reshape(-1).view(np.uint32)
    if got.size != want.size:
        fail(path, f"{got.size} values, expected {want.size}")
    diff = np.nonzero(got != want)[0]
    if diff.size:
        i = int(diff[0])
        fail(path, f"{diff.size} value(s) differ; first at flat index {i}: got bits 0x{int(got[i]):08x}, "
                   f"expected 0x{int(want[i]):08x}")


def torch_values(torch, dtype, tensor):
    """torch's float32 of a stored table: .float() for 16-bit floats, the unpack ops for rows."""
    if dtype in ("float16", "bfloat16"):
        return tensor.float().numpy()
    unpack = (torch.ops.quantized.embedding_bag_byte_unpack if dtype == "int8"
              else torch.ops.quantized.embedding_bag_4bit_unpack)
    return unpack(tensor).numpy()


def check_npy(path, dtype, rows, dim, packed, dequantized, torch):
    if dtype == "bfloat16":
        fail(path, "numpy has no bfloat16: nn-embedding does not write bfloat16 .npy files")
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, descr = read_header(f)
        offset = f.tell()
    if offset % 64:
        fail(path, f"data starts at byte {offset}, not a multiple of 64 (as numpy pads the header)")
    want_descr, want_shape = ("<f2", (rows, dim)) if dtype == "float16" else ("|u1", (rows, row_bytes(dtype, dim)))
    if descr.str != want_descr or fortran or tuple(shape) != want_shape:
        fail(path, f"header {descr.str} fortran_order={fortran} shape {shape}, expected {want_descr} C order {want_shape}")
    arr = np.load(path, allow_pickle=False)
    if arr.dtype.str != want_descr or arr.shape != want_shape or not arr.flags.c_contiguous:
        fail(path, f"numpy.load gave dtype {arr.dtype.str} shape {arr.shape}")
    if arr.tobytes() != packed:
        fail(path, "numpy.load's bytes differ from the packed table")
    print(f"OK {path}: numpy {arr.dtype.str} {list(arr.shape)}, the packed bytes")
    if torch is not None:
        compare_bits(f"{path} (torch)", torch_values(torch, dtype, torch.from_numpy(arr)), dequantized)
        print(f"OK {path}: torch {'.float()' if dtype == 'float16' else dtype + ' unpack'} gives the dequantized values")


def check_safetensors(path, name, dtype, rows, dim, packed, dequantized, torch):
    tensors, meta, _ = read_safetensors(path)
    meta = meta or {}
    if name is None:
        name = next(iter(tensors)) if len(tensors) == 1 else "weight"
    if name not in tensors:
        fail(path, f"no tensor {name!r} (has {sorted(tensors)})")
    st_dtype, shape, raw = tensors[name]
    want = {"float16": ("F16", [rows, dim]), "bfloat16": ("BF16", [rows, dim])}.get(dtype, ("U8", [rows, row_bytes(dtype, dim)]))
    if (st_dtype, shape) != want:
        fail(path, f"tensor {name!r} is {st_dtype} {shape}, expected {want[0]} {want[1]}")
    if st_dtype == "U8":
        keys = {f"nn_embedding.dtype.{name}": dtype, f"nn_embedding.dim.{name}": str(dim)}
        for key, value in keys.items():
            if meta.get(key) != value:
                fail(path, f"metadata {key!r} is {meta.get(key)!r}, expected {value!r}")
    if raw != packed:
        fail(path, f"tensor {name!r}'s bytes differ from the packed table")
    record = json.loads(meta.get("nn_embedding", "null") or "null")
    if record is not None and record["args"]["embedding_dim"] != dim:
        fail(path, f"the layer record's embedding_dim is {record['args']['embedding_dim']}, expected {dim}")
    print(f"OK {path}: tensor {name!r} {st_dtype} {shape}, the packed bytes")
    if torch is not None:
        element = {"F16": torch.float16, "BF16": torch.bfloat16, "U8": torch.uint8}[st_dtype]
        tensor = torch.frombuffer(bytearray(raw), dtype=element).reshape(shape)
        compare_bits(f"{path} (torch)", torch_values(torch, dtype, tensor), dequantized)
        print(f"OK {path}: torch {'.float()' if st_dtype != 'U8' else dtype + ' unpack'} gives the dequantized values")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--npy")
    p.add_argument("--safetensors")
    p.add_argument("--tensor")
    p.add_argument("--expected", required=True)
    p.add_argument("--require-torch", action="store_true")
    a = p.parse_args()
    if not a.npy and not a.safetensors:
        p.error("give --npy and/or --safetensors")
    try:
        import torch
    except ImportError as e:
        if a.require_torch:
            print(f"FAIL torch: {e}")
            sys.exit(1)
        print(f"skip torch: {e}")
        torch = None
    try:
        expected = load_expected(a.expected)
        if a.npy:
            check_npy(a.npy, *expected, torch)
        if a.safetensors:
            check_safetensors(a.safetensors, a.tensor, *expected, torch)
    except (CheckError, OSError, ValueError) as e:
        print(f"FAIL {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
