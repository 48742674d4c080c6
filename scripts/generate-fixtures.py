#!/usr/bin/python3
"""Generate PyTorch golden reference values for nn-embedding's tests.

Writes test/fixtures/embedding.json: a list of cases, each an initial float32
weight table, a sequence of (indices, gradOutput) steps and what
torch.nn.Embedding produces for them (forward output of every step, the table
after all steps -- changed only by max_norm renormalisation -- and the dense
or, for sparse=True, the uncoalesced sparse gradient accumulated over all
steps).

Run from the repository root with Debian's PyTorch:

    apt-get install python3-torch        # once
    /usr/bin/python3 scripts/generate-fixtures.py

The output is deterministic: every case draws its data from a numpy
generator seeded from the case name, so re-running gives a byte-identical
file (for a given torch version).

Float encoding: every float is a float32 value converted to a Python float
(exact), written by json with repr, so JavaScript parses it back to the same
double and Math.fround is a no-op. A normType of infinity is written as the
string "inf". Indices are plain ints.

Sparse grads: torch 1.13 (CPU) does NOT simply concatenate the per-step
sparse grads. Each step's grad is (non-padding indices in input order, their
gradOutput rows), but AccumulateGrad's `grad += step` runs a two-pointer merge
(torch_sparse_add below) that reorders entries and sums pairs of equal heads.
The fixture records what torch actually produces; the script asserts it equals
that model.
"""

import json
import math
import os
import zlib

import numpy as np
import torch

OUT_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "embedding.json"
)

torch.set_num_threads(1)

CASES = []


def rng_for(name):
    return np.random.default_rng([0x454D4244, zlib.crc32(name.encode("utf-8"))])


def f32_normal(rng, size):
    return rng.standard_normal(size).astype(np.float32)


def norm_padding(padding_idx, n):
    if padding_idx is None:
        return None
    return padding_idx + n if padding_idx < 0 else padding_idx


def encode_norm_type(p):
    return "inf" if math.isinf(p) else float(p)


def row_norm(row, p):
    return torch.from_numpy(row).norm(p).item()


def run_case(name, n, d, steps_indices, padding_idx=None, max_norm=None, norm_type=2.0,
             scale_grad_by_freq=False, sparse=False, weight=None, check_renorm=False):
    """steps_indices: list of lists of ints. Weight / gradOutputs are drawn from rng(name)."""
    rng = rng_for(name)
    if weight is None:
        weight = f32_normal(rng, (n, d))
    weight = np.ascontiguousarray(weight, dtype=np.float32).reshape(n, d)
    grad_outputs = [f32_normal(rng, (len(ix), d)) for ix in steps_indices]
    pad = norm_padding(padding_idx, n)

    if check_renorm:
        # Make sure the first step looks up rows on both sides of max_norm.
        looked = sorted(set(steps_indices[0]))
        norms = [row_norm(weight[i], norm_type) for i in looked]
        assert any(v > max_norm for v in norms), (name, "no row exceeds max_norm")
        assert any(v <= max_norm for v in norms), (name, "every row exceeds max_norm")

    emb = torch.nn.Embedding(
        n, d, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
        scale_grad_by_freq=scale_grad_by_freq, sparse=sparse,
        _weight=torch.from_numpy(weight.copy()),
    )
    assert emb.padding_idx == pad
    # _weight given: torch must not have zeroed the padding row.
    assert torch.equal(emb.weight.detach(), torch.from_numpy(weight))

    outputs = []
    steps = []
    for ix, go in zip(steps_indices, grad_outputs):
        idx = torch.tensor(ix, dtype=torch.int64)
        out = emb(idx)
        assert out.dtype == torch.float32 and tuple(out.shape) == (len(ix), d)
        # Forward is a plain gather from the (possibly just renormed) table.
        assert torch.equal(out.detach(), emb.weight.detach()[idx])
        outputs.append(out.detach().flatten().tolist())
        out.backward(torch.from_numpy(go.copy()))
        steps.append({"indices": list(ix), "gradOutput": go.flatten().tolist()})

    weight_after = emb.weight.detach()
    if max_norm is None:
        assert torch.equal(weight_after, torch.from_numpy(weight))

    g = emb.weight.grad
    assert g is not None, name
    if sparse:
        assert g.is_sparse and (g._nnz() == 0 or not g.is_coalesced()), name
        rows = g._indices()[0].tolist()
        vals = g._values()
        assert tuple(vals.shape) == (len(rows), d), name
        # Reference model of what torch 1.13 (CPU) does: each step's sparse
        # grad is (non-padding indices in input order, their gradOutput rows);
        # AccumulateGrad then does `grad += step_grad`, whose CPU kernel is a
        # two-pointer merge that is only a true sorted merge for coalesced
        # inputs (see torch_sparse_add below).
        acc = None
        for ix, go in zip(steps_indices, grad_outputs):
            keep = [k for k, i in enumerate(ix) if i != pad]
            step = ([ix[k] for k in keep], [go[k] for k in keep])
            acc = step if acc is None else torch_sparse_add(acc, step)
        assert rows == acc[0], (name, rows, acc[0])
        exp_vals = np.array(acc[1], dtype=np.float32).reshape(-1, d)
        assert np.array_equal(vals.numpy(), exp_vals), name
        concat = [i for ix in steps_indices for i in ix if i != pad]
        if rows != concat:
            print("note: %s: torch sparse grad rows %s != concatenation %s" % (name, rows, concat))
        dense_grad = None
        sparse_grad = {"indices": rows, "values": vals.flatten().tolist()}
    else:
        assert not g.is_sparse and g.dtype == torch.float32 and tuple(g.shape) == (n, d)
        if pad is not None:
            assert torch.all(g[pad] == 0), name
        dense_grad = g.flatten().tolist()
        sparse_grad = None

    CASES.append({
        "name": name,
        "numEmbeddings": n,
        "embeddingDim": d,
        "options": {
            "paddingIdx": padding_idx,
            "maxNorm": None if max_norm is None else float(max_norm),
            "normType": encode_norm_type(norm_type),
            "scaleGradByFreq": bool(scale_grad_by_freq),
            "sparse": bool(sparse),
        },
        "weight": weight.flatten().tolist(),
        "steps": steps,
        "expected": {
            "outputs": outputs,
            "weightAfter": weight_after.flatten().tolist(),
            "grad": dense_grad,
            "sparseGrad": sparse_grad,
        },
    })


def torch_sparse_add(t, s):
    """Model of torch 1.13 add_out_sparse_contiguous (CPU) for t + s, both
    uncoalesced 1-D-indexed COO tensors given as (rows, value_rows).

    Two pointers walk t and s; at each step the smaller head index is emitted
    and when both heads are equal ONE output
    entry t_val + s_val (float32) is emitted and both pointers advance. When one
    side is exhausted the rest of the other is appended. An empty side returns
    the other unchanged.
    """
    ti, tv = t
    si, sv = s
    if not si:
        return t
    if not ti:
        return s
    ri, rv = [], []
    a = b = 0
    while a < len(ti) or b < len(si):
        if a >= len(ti):
            cmp = -1
        elif b >= len(si):
            cmp = 1
        else:
            cmp = 1 if ti[a] < si[b] else (-1 if ti[a] > si[b] else 0)
        if cmp > 0:
            ri.append(ti[a]); rv.append(tv[a]); a += 1
        elif cmp < 0:
            ri.append(si[b]); rv.append(sv[b]); b += 1
        else:
            ri.append(ti[a]); rv.append((tv[a] + sv[b]).astype(np.float32)); a += 1; b += 1
    return ri, rv


def rand_indices(rng, n, count, must=()):
    """count indices in [0, n) with duplicates, containing every value in `must`."""
    ix = rng.integers(0, n, size=count).tolist()
    pos = rng.choice(count, size=len(must), replace=False).tolist()
    for p, v in zip(pos, must):
        ix[p] = int(v)
    return [int(i) for i in ix]


def dup_steps(name, n, counts, must=()):
    rng = np.random.default_rng([0x49445853, zlib.crc32(name.encode("utf-8"))])
    return [rand_indices(rng, n, c, must) for c in counts]


def main():
    # --- basic ---
    run_case("basic", 10, 3, [[1, 2, 4, 5, 4, 3, 2, 9], [0, 0, 7, 1, 1, 1]])

    # --- embedding dims ---
    for d, counts in [(1, [12, 20]), (7, [16, 24, 12]), (8, [20, 13]), (9, [16, 14, 12]),
                      (16, [20, 12]), (17, [12, 15]), (64, [12, 12]), (65, [13, 12])]:
        name = "dim-%d" % d
        steps = dup_steps(name, 20, counts)
        assert all(len(set(ix)) < len(ix) for ix in steps), name
        run_case(name, 20, d, steps)

    # --- padding_idx (user-facing value kept; torch normalises negatives) ---
    for name, n, d, pidx in [("padding-idx-0", 12, 5, 0), ("padding-idx-last", 12, 5, 11),
                             ("padding-idx-neg-1", 12, 6, -1), ("padding-idx-neg-n", 12, 6, -12),
                             ("padding-idx-neg-mid", 15, 4, -5)]:
        p = norm_padding(pidx, n)
        run_case(name, n, d, dup_steps(name, n, [18, 14], must=[p, p, p]), padding_idx=pidx)

    # --- max_norm ---
    # weights ~N(0,1), d=8: typical norms L2~2.8, L1~6.4, L3~2.3, L0.5~43, Linf~1.6.
    for name, max_norm, p in [("max-norm-l2", 2.75, 2.0), ("max-norm-l1", 6.0, 1.0),
                              ("max-norm-l3", 2.25, 3.0), ("max-norm-l0.5", 40.0, 0.5),
                              ("max-norm-linf", 1.5, float("inf"))]:
        n = 16
        first = dup_steps(name, n, [14])[0]
        second = first[::2] + dup_steps(name + "/2", n, [8])[0]
        run_case(name, n, 8, [first, second], max_norm=max_norm, norm_type=p, check_renorm=True)
    # default norm type, one step, single dim > many duplicates
    run_case("max-norm-duplicates", 10, 8, [[3, 3, 3, 1, 3, 5, 1, 9, 9, 0, 3]], max_norm=2.5,
             check_renorm=True)
    # max_norm + padding_idx: the padding row is enlarged so it exceeds max_norm
    # (torch renorms it too when looked up; its grad stays zero).
    name = "max-norm-padding-idx"
    w = f32_normal(np.random.default_rng([0x57, zlib.crc32(name.encode())]), (14, 8))
    w[2] *= np.float32(3.0)
    run_case(name, 14, 8, [[2, 5, 2, 7, 1, 2, 13, 5, 9], [2, 5, 7, 0, 2, 11]], padding_idx=2,
             max_norm=2.75, weight=w, check_renorm=True)
    # max_norm + scale_grad_by_freq + negative padding_idx
    name = "max-norm-scale-grad-padding"
    run_case(name, 12, 10, dup_steps(name, 12, [25, 25], must=[11, 11]), padding_idx=-1,
             max_norm=3.0, scale_grad_by_freq=True, check_renorm=True)

    # --- scale_grad_by_freq (dense only; torch rejects it with sparse) ---
    run_case("scale-grad-by-freq", 8, 5,
             [[1, 1, 1, 2, 3, 3, 1, 4, 4, 4, 4, 4, 4, 0, 5, 1, 7], [3, 3, 3, 3, 3, 3, 2, 6, 6, 1]],
             scale_grad_by_freq=True)
    run_case("scale-grad-by-freq-padding-idx", 8, 6,
             [[2, 2, 0, 2, 5, 5, 5, 0, 0, 1, 2, 7, 7, 7, 7, 7, 7, 3], [0, 3, 3, 3, 0, 6, 6, 6, 6, 6]],
             padding_idx=0, scale_grad_by_freq=True)

    # --- sparse ---
    run_case("sparse", 10, 4, [[1, 2, 4, 5, 4, 3, 2, 9, 2], [0, 9, 9, 4, 1, 1, 8]], sparse=True)
    run_case("sparse-padding-idx", 10, 5, [[3, 1, 3, 0, 3, 7, 1, 3], [3, 3, 2, 9, 0, 3]],
             padding_idx=3, sparse=True)
    run_case("sparse-max-norm", 12, 8, [[4, 1, 4, 9, 11, 0, 6, 4, 2], [4, 9, 9, 3, 5, 0]],
             max_norm=2.75, sparse=True, check_renorm=True)
    # a step that is all padding, an empty step, then a normal one
    run_case("sparse-padding-only-and-empty-steps", 6, 3, [[5, 5, 5], [], [2, 5, 0, 2]],
             padding_idx=-1, sparse=True)

    # every index is padding: the sparse grad has no entries at all
    run_case("sparse-all-padding", 5, 3, [[3, 3, 3], []], padding_idx=3, sparse=True)

    # --- accumulation over 3 dense steps ---
    name = "accumulate-3-steps"
    run_case(name, 15, 6, dup_steps(name, 15, [20, 17, 23]))

    # --- empty index lists ---
    run_case("empty-step-only", 5, 4, [[]])
    run_case("empty-step-between", 7, 3, [[1, 4, 4, 6], [], [4, 0, 1]])

    # --- larger randomized, skewed, padding + scale_grad_by_freq ---
    name = "random-skewed-large"
    n = 50
    rng = np.random.default_rng([0x534B4557, zlib.crc32(name.encode())])
    perm = rng.permutation(n)
    k7 = int(np.where(perm == 7)[0][0])
    perm[[1, k7]] = perm[[k7, 1]]  # padding row 7 is the 2nd most frequent
    p = 1.0 / np.arange(1, n + 1) ** 1.3
    p /= p.sum()
    steps = [[int(perm[k]) for k in rng.choice(n, size=200, p=p)] for _ in range(3)]
    assert all(7 in s for s in steps)
    run_case(name, n, 33, steps, padding_idx=7, scale_grad_by_freq=True)

    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))

    doc = {"generator": "scripts/generate-fixtures.py", "torch": torch.__version__, "cases": CASES}
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("wrote %s: %d cases" % (os.path.relpath(OUT_PATH), len(CASES)))


if __name__ == "__main__":
    main()
