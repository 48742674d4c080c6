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

It also writes test/fixtures/embedding-bag.json, the same kind of record for
torch.nn.EmbeddingBag (modes sum/mean/max, offsets or 2-D input,
include_last_offset, per_sample_weights and their grads). Each bag case is
also checked bit for bit against bag_model, an exact numpy model of torch
1.13's CPU arithmetic; see the EmbeddingBag section below for what it does.

And test/fixtures/optimizers.json: a few training steps of an Embedding with
each torch.optim optimizer the library implements (SGD, Adagrad, Adam, AdamW,
SparseAdam) and with the library's RowWiseAdagrad (no torch class; computed
here from its documented formula): the table after every step, the step count
and the final optimizer state, each checked bit for bit against optim_model;
see the Optimizers section below.
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


def write_fixture(path, cases):
    """Writes one fixture file: the cases (their names unique) as compact JSON on one line."""
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names))
    doc = {"generator": "scripts/generate-fixtures.py", "torch": torch.__version__, "cases": cases}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("wrote %s: %d cases" % (os.path.relpath(path), len(cases)))


def report_quirks(quirks, hits, width):
    """Prints the cases that pin each modelled quirk; fails if a quirk is pinned by none."""
    for q in quirks:
        print("quirk %-*s pinned by %d case(s): %s" % (width, q, len(hits[q]), ", ".join(hits[q][:6])))
        assert hits[q], ("fixture does not catch quirk", q)


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
    the other unchanged. Output values are accumulated into a zeroed buffer
    (+0 + t_val [+ s_val]), so a -0.0 value becomes +0.0 in a real merge.
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
            ri.append(ti[a]); rv.append((np.float32(0) + tv[a]).astype(np.float32)); a += 1
        elif cmp < 0:
            ri.append(si[b]); rv.append((np.float32(0) + sv[b]).astype(np.float32)); b += 1
        else:
            ri.append(ti[a]); rv.append(((np.float32(0) + tv[a]) + sv[b]).astype(np.float32)); a += 1; b += 1
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


# ---------------------------------------------------------------------------
# EmbeddingBag: test/fixtures/embedding-bag.json
# ---------------------------------------------------------------------------
#
# Every case is run through torch.nn.EmbeddingBag and ALSO through bag_model
# below, an exact numpy model of torch 1.13's CPU kernels; the script asserts
# the two agree bit for bit, so the model documents what an implementation has
# to do. bag_model(..., quirk=Q) models a plausible-but-wrong alternative Q;
# the script checks that every quirk in PINNED_QUIRKS changes at least one
# recorded value (i.e. the fixture catches it).
#
# What torch 1.13 (CPU, float32, this build: no FBGEMM, AVX2+FMA) does:
# * forward sum/mean: out[bag] starts at +0 and adds the bag's non-padding rows
#   in entry order in float32 (so a lone -0.0 row sums to +0.0). mean then
#   DIVIDES by max(count, 1) in float32, count = bag length minus padding
#   entries. Empty and all-padding bags give +0.
# * per_sample_weights (sum only): without padding_idx (caffe2 perfkernel fast
#   path) each entry is acc = fma(w, row, acc) (one rounding); WITH padding_idx
#   (slow path) it is acc + fl(row * w) (two roundings).
# * max: per feature, the first non-padding entry initialises, later entries
#   replace only if strictly greater (ties and NaN keep the earlier value; a
#   leading NaN sticks). The feature's argmax is the ROW of that entry; the
#   backward adds gradOutput[bag][k] to grad[row][k] bag by bag (float32).
#   Empty / all-padding bags output +0 and get no gradient.
# * dense backward sum/mean: entries are visited grouped by row in the order of
#   libstdc++ std::sort (introsort, NOT stable) applied to the indices; per
#   entry scale is computed in double -- 1.0 or psw[k], / count (if
#   scale_grad_by_freq), / bagSize (if mean, bagSize != 0) -- rounded to
#   float32, and grad[row] = fma(scale, gradOutput[bag], grad[row]).
#   scale_grad_by_freq BUG: the count used for the g-th distinct row (in sorted
#   order) is counts[sortedIndices[g]], not the row's own count; counts
#   include padding entries.
# * per_sample_weights grad: dot(gradOutput[bag], weight[row]) as a sequential
#   float32 sum of float32 products (no fma), 0 for padding entries.
# * sparse backward: per step (non-padding entries in input order,
#   gradOutput[bag] * fl(1 / bagSize) for mean (float32 reciprocal, then
#   multiply), gradOutput[bag] * psw[k] for weighted sum); steps merge with
#   torch_sparse_add as for Embedding.
# * max_norm: before the forward, the rows of ALL looked-up indices (padding
#   rows included) are renormalised exactly as nn.Embedding does.

BAG_OUT_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "embedding-bag.json"
)
BAG_CASES = []
F32 = np.float32

# Alternatives a reimplementation might plausibly pick; each must change at
# least one value in the fixture.
PINNED_QUIRKS = [
    "bwd-input-order",      # dense sum/mean backward accumulating in input order (stable sort)
    "freq-own-count",       # scale_grad_by_freq dividing by the row's own count
    "freq-no-padding",      # scale_grad_by_freq counts excluding padding entries
    "psw-fwd-mul-add",      # weighted sum without padding as acc + fl(w*row)
    "psw-fwd-fma-padded",   # weighted sum with padding as fma
    "bwd-mul-add",          # dense backward as grad + fl(scale*g)
    "bwd-float-scale",      # dense backward scale computed in float32 steps
    "mean-fwd-reciprocal",  # mean forward as sum * fl(1/count)
    "mean-counts-padding",  # mean dividing by the bag length including padding
    "sparse-mean-divide",   # sparse mean backward as g / count
    "max-tie-last",         # max keeping the later of equal values
    "psw-grad-fma",         # per-sample-weight grad dot with fma accumulation
]


def std_sort_perm(keys):
    """Permutation libstdc++ std::sort (GCC 12) leaves on (key, position) pairs
    compared by key only -- what torch.sort(stable=False) gives on CPU."""
    a = [(k, i) for i, k in enumerate(keys)]

    def lt(x, y):
        return x[0] < y[0]

    def adjust_heap(first, hole, length, value):
        top = second = hole
        while second < (length - 1) // 2:
            second = 2 * (second + 1)
            if lt(a[first + second], a[first + second - 1]):
                second -= 1
            a[first + hole] = a[first + second]
            hole = second
        if (length & 1) == 0 and second == (length - 2) // 2:
            second = 2 * (second + 1)
            a[first + hole] = a[first + second - 1]
            hole = second - 1
        parent = (hole - 1) // 2
        while hole > top and lt(a[first + parent], value):
            a[first + hole] = a[first + parent]
            hole = parent
            parent = (hole - 1) // 2
        a[first + hole] = value

    def heap_sort(first, last):  # std::__partial_sort(first, last, last)
        length = last - first
        if length >= 2:
            parent = (length - 2) // 2
            while True:
                adjust_heap(first, parent, length, a[first + parent])
                if parent == 0:
                    break
                parent -= 1
        while last - first > 1:
            last -= 1
            value = a[last]
            a[last] = a[first]
            adjust_heap(first, 0, last - first, value)

    def swap(i, j):
        a[i], a[j] = a[j], a[i]

    def move_median_to_first(result, x, y, z):  # the same comparisons, in the same order
        if lt(a[x], a[y]):
            median = y if lt(a[y], a[z]) else z if lt(a[x], a[z]) else x
        else:
            median = x if lt(a[x], a[z]) else z if lt(a[y], a[z]) else y
        swap(result, median)

    def unguarded_partition(first, last, pivot):
        while True:
            while lt(a[first], a[pivot]):
                first += 1
            last -= 1
            while lt(a[pivot], a[last]):
                last -= 1
            if not first < last:
                return first
            swap(first, last)
            first += 1

    def introsort_loop(first, last, depth):
        while last - first > 16:
            if depth == 0:
                heap_sort(first, last)
                return
            depth -= 1
            move_median_to_first(first, first + 1, first + (last - first) // 2, last - 1)
            cut = unguarded_partition(first + 1, last, first)
            introsort_loop(cut, last, depth)
            last = cut

    def unguarded_linear_insert(i):
        value = a[i]
        while lt(value, a[i - 1]):
            a[i] = a[i - 1]
            i -= 1
        a[i] = value

    def insertion_sort(first, last):
        for i in range(first + 1, last):
            if lt(a[i], a[first]):
                value = a[i]
                a[first + 1:i + 1] = a[first:i]
                a[first] = value
            else:
                unguarded_linear_insert(i)

    n = len(a)
    if n:
        introsort_loop(0, n, 2 * (n.bit_length() - 1))
        insertion_sort(0, min(n, 16))
        for i in range(16, n):
            unguarded_linear_insert(i)
    return [i for _, i in a]


def fma32(a, b, c):
    """float32 a*b + c with a single rounding, elementwise."""
    a64, b64, c64 = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    p = a64 * b64  # exact
    s = p + c64
    bb = s - p
    e = (p - (s - bb)) + (c64 - bb)  # p + c == s + e exactly (TwoSum)
    r = s.astype(F32)
    r64 = r.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        o = np.nextafter(r, np.where(s > r64, F32(np.inf), F32(-np.inf))).astype(F32)
        o64 = o.astype(np.float64)
        # s is exactly halfway between two float32s: the sign of e decides
        tie = (r64 != s) & (s == (r64 + o64) / 2) & (e != 0)
        fix = tie & ((e > 0) == (o64 > r64))
    return np.where(fix, o, r).astype(F32)


def bag_bounds(n_indices, offsets, bag_size, include_last_offset):
    if offsets is None:
        return list(range(0, n_indices + 1, bag_size))
    b = list(offsets)
    if not include_last_offset:
        b.append(n_indices)
    return b


def bag_model_step(W, ix, bounds, mode, pad, psw, go, scale_grad_by_freq, quirk):
    """One forward + backward of torch 1.13 CPU EmbeddingBag, W = the table the
    forward sees (after max_norm). Returns (out, dense grad or None,
    (sparse rows, sparse values), psw grad or None)."""
    n, d = W.shape
    B = len(bounds) - 1
    L = len(ix)
    fast = pad is None  # torch's caffe2 fast path: no padding_idx
    bag_of = np.zeros(L, dtype=np.int64)
    for b in range(B):
        bag_of[bounds[b]:bounds[b + 1]] = b
    bag_size = [bounds[b + 1] - bounds[b] for b in range(B)]
    out = np.zeros((B, d), dtype=F32)
    argrow = np.zeros((B, d), dtype=np.int64)
    for b in range(B):
        first = True
        for k in range(bounds[b], bounds[b + 1]):
            r = ix[k]
            if r == pad:
                if quirk != "mean-counts-padding":
                    bag_size[b] -= 1
                continue
            x = W[r]
            if mode == "max":
                upd = np.ones(d, bool) if first else (
                    x >= out[b] if quirk == "max-tie-last" else x > out[b])
                out[b] = np.where(upd, x, out[b])
                argrow[b] = np.where(upd, r, argrow[b])
                first = False
            elif psw is None:
                out[b] = out[b] + x
            elif (quirk == "psw-fwd-fma-padded") if not fast else (quirk != "psw-fwd-mul-add"):
                out[b] = fma32(np.full(d, psw[k], F32), x, out[b])
            else:
                out[b] = out[b] + x * F32(psw[k])
        if mode == "mean":
            c = F32(max(bag_size[b], 1))
            out[b] = out[b] * (F32(1) / c) if quirk == "mean-fwd-reciprocal" else out[b] / c

    # dense backward
    grad = np.zeros((n, d), dtype=F32)
    if mode == "max":
        for b in range(B):
            if bag_size[b] != 0:
                for j in range(d):
                    grad[argrow[b, j], j] = grad[argrow[b, j], j] + go[b, j]
    else:
        perm = sorted(range(L), key=lambda k: ix[k]) if quirk == "bwd-input-order" else std_sort_perm(ix)
        srt = [ix[p] for p in perm]
        counts = {}
        for r in ix:
            if not (quirk == "freq-no-padding" and r == pad):
                counts[r] = counts.get(r, 0) + 1
        i = g = 0
        while i < L:
            end = i
            while end < L and srt[end] == srt[i]:
                end += 1
            r = srt[i]
            if r != pad:
                for j in range(i, end):
                    k = perm[j]
                    src = bag_of[k]
                    cnt = counts[r] if quirk == "freq-own-count" else counts.get(srt[g], 1)
                    if quirk == "bwd-float-scale":
                        s = F32(1) if psw is None else F32(psw[k])
                        if scale_grad_by_freq:
                            s = s / F32(cnt)
                        if mode == "mean" and bag_size[src] != 0:
                            s = s / F32(bag_size[src])
                    else:
                        s = 1.0 if psw is None else float(psw[k])
                        if scale_grad_by_freq:
                            s /= cnt
                        if mode == "mean" and bag_size[src] != 0:
                            s /= bag_size[src]
                    s = F32(s)
                    if quirk == "bwd-mul-add":
                        grad[r] = grad[r] + s * go[src]
                    else:
                        grad[r] = fma32(np.full(d, s, F32), go[src], grad[r])
            i = end
            g += 1

    # per-sample-weights grad
    psw_grad = None
    if psw is not None:
        psw_grad = np.zeros(L, dtype=F32)
        for k, r in enumerate(ix):
            if r != pad:
                acc = np.zeros(1, F32)
                for j in range(d):
                    if quirk == "psw-grad-fma":
                        acc = fma32(go[bag_of[k], j:j + 1], W[r, j:j + 1], acc)
                    else:
                        acc = acc + go[bag_of[k], j] * W[r, j]
                psw_grad[k] = acc[0]

    # sparse backward of this step
    rows, vals = [], []
    for k, r in enumerate(ix):
        if r == pad:
            continue
        v = go[bag_of[k]]
        if mode == "mean":
            if quirk == "sparse-mean-divide":
                v = v / F32(bag_size[bag_of[k]])
            else:
                v = v * (F32(1) / F32(bag_size[bag_of[k]]))
        if psw is not None:
            v = v * F32(psw[k])
        rows.append(r)
        vals.append(np.asarray(v, dtype=F32))
    return out, grad, (rows, vals), psw_grad


def bag_model(tables, steps, mode, pad, scale_grad_by_freq, sparse, quirk=None):
    """All steps; returns (outputs, dense grad, sparse (rows, vals), psw grads)."""
    outputs, psw_grads = [], []
    dense = acc = None
    for W, st in zip(tables, steps):
        out, grad, sp, pg = bag_model_step(W, st["ix"], st["bounds"], mode, pad, st["psw"], st["go"],
                                           scale_grad_by_freq, quirk)
        outputs.append(out)
        psw_grads.append(pg)
        dense = grad if dense is None else dense + grad
        acc = sp if acc is None else torch_sparse_add(acc, sp)
    return outputs, dense, acc, psw_grads


def bits_equal(a, b):
    a = np.asarray(a, dtype=F32)
    b = np.asarray(b, dtype=F32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def bag_results_equal(x, y, sparse):
    if len(x[0]) != len(y[0]) or not all(bits_equal(a, b) for a, b in zip(x[0], y[0])):
        return False
    if sparse:
        if x[2][0] != y[2][0] or not bits_equal(np.reshape(x[2][1], -1), np.reshape(y[2][1], -1)):
            return False
    elif not bits_equal(x[1], y[1]):
        return False
    return all((a is None) == (b is None) and (a is None or bits_equal(a, b)) for a, b in zip(x[3], y[3]))


QUIRK_HITS = {q: [] for q in PINNED_QUIRKS}


def bag_rng(name):
    return np.random.default_rng([0x42414753, zlib.crc32(name.encode("utf-8"))])


def run_bag_case(name, n, d, mode, steps, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, include_last_offset=False, weight=None,
                 check_renorm=False):
    """steps: list of dicts with "indices" and either "offsets" (1-D form) or
    "bagSize" (2-D form), and optionally "psw" (list of floats). The table
    (unless given) and the gradOutputs are drawn from bag_rng(name)."""
    rng = bag_rng(name)
    if weight is None:
        weight = f32_normal(rng, (n, d))
    weight = np.ascontiguousarray(weight, dtype=np.float32).reshape(n, d)
    pad = norm_padding(padding_idx, n)

    bag = torch.nn.EmbeddingBag(
        n, d, mode=mode, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
        scale_grad_by_freq=scale_grad_by_freq, sparse=sparse,
        include_last_offset=include_last_offset, _weight=torch.from_numpy(weight.copy()),
    )
    assert bag.padding_idx == pad
    assert torch.equal(bag.weight.detach(), torch.from_numpy(weight))

    json_steps, outputs, psw_grads, model_steps, tables = [], [], [], [], []
    for st in steps:
        ix = [int(i) for i in st["indices"]]
        offsets = st.get("offsets")
        bag_size = st.get("bagSize")
        assert (offsets is None) != (bag_size is None), name
        bounds = bag_bounds(len(ix), offsets, bag_size, include_last_offset)
        num_bags = len(bounds) - 1
        # well-formed input only (torch's checks for the rest are reported, not fixtured)
        assert all(bounds[b] <= bounds[b + 1] for b in range(num_bags)) and bounds[-1] == len(ix), name
        assert not bounds or bounds[0] == 0, name
        psw = None if st.get("psw") is None else np.array(st["psw"], dtype=np.float32)
        assert psw is None or (mode == "sum" and len(psw) == len(ix)), name
        go = f32_normal(rng, (num_bags, d))

        idx_t = torch.tensor(ix, dtype=torch.int64)
        off_t = None
        if bag_size is None:
            off_t = torch.tensor(offsets, dtype=torch.int64)
        else:
            idx_t = idx_t.view(-1, bag_size)
        psw_t = None
        if psw is not None:
            psw_t = torch.from_numpy(psw.copy()).view(idx_t.shape).requires_grad_()

        before = bag.weight.detach().clone()
        if max_norm is not None:
            # EmbeddingBag renorms exactly like embedding_renorm_ over every
            # looked-up index, padding included.
            if ix:
                with torch.no_grad():
                    torch.embedding_renorm_(before, torch.tensor(ix, dtype=torch.int64), max_norm, norm_type)
            if check_renorm and not tables:
                norms = [row_norm(weight[i], norm_type) for i in sorted(set(ix))]
                assert any(v > max_norm for v in norms), (name, "no row exceeds max_norm")
                assert any(v <= max_norm for v in norms), (name, "every row exceeds max_norm")
        out = bag(idx_t, off_t, per_sample_weights=psw_t)
        assert torch.equal(bag.weight.detach(), before), name
        tables.append(bag.weight.detach().numpy().copy())
        assert out.dtype == torch.float32 and tuple(out.shape) == (num_bags, d), name
        outputs.append(out.detach().numpy().copy())
        out.backward(torch.from_numpy(go.copy()))
        psw_grads.append(None if psw_t is None else psw_t.grad.detach().numpy().reshape(-1).copy())
        model_steps.append({"ix": ix, "bounds": bounds, "psw": psw, "go": go})
        json_steps.append({
            "indices": ix,
            "offsets": None if offsets is None else [int(o) for o in offsets],
            "bagSize": None if bag_size is None else int(bag_size),
            "perSampleWeights": None if psw is None else psw.tolist(),
            "gradOutput": go.flatten().tolist(),
        })

    weight_after = bag.weight.detach()
    if max_norm is None:
        assert torch.equal(weight_after, torch.from_numpy(weight)), name

    g = bag.weight.grad
    assert g is not None, name
    if sparse:
        assert g.is_sparse and (g._nnz() == 0 or not g.is_coalesced()), name
        rows = g._indices()[0].tolist()
        vals = g._values().numpy().copy()
        assert vals.shape == (len(rows), d), name
        torch_res = (outputs, None, (rows, list(vals)), psw_grads)
        dense_grad = None
        sparse_grad = {"indices": rows, "values": vals.flatten().tolist()}
    else:
        assert not g.is_sparse and g.dtype == torch.float32 and tuple(g.shape) == (n, d), name
        if pad is not None:
            assert torch.all(g[pad] == 0), name
        torch_res = (outputs, g.numpy().copy(), None, psw_grads)
        dense_grad = g.flatten().tolist()
        sparse_grad = None

    # torch's bag backward divides by the count of the wrong row under scale_grad_by_freq (see
    # above); nn-embedding divides by the row's own count, as torch's nn.Embedding does. This is
    # that gradient, computed by torch: nn.Embedding with scale_grad_by_freq, fed each entry's
    # gradOutput row times its bag scale (1, float32(1 / bag count) for mean, or its per-sample weight).
    grad_own_count = None
    if scale_grad_by_freq and not sparse:
        emb = torch.nn.Embedding(n, d, padding_idx=padding_idx, scale_grad_by_freq=True,
                                 _weight=torch.from_numpy(weight.copy()))
        for st in model_steps:
            ix, bounds, go, psw = st["ix"], st["bounds"], st["go"], st["psw"]
            rows = np.zeros((len(ix), d), dtype=np.float32)
            for b in range(len(bounds) - 1):
                members = [i for i in range(bounds[b], bounds[b + 1]) if ix[i] != pad]
                scale = np.float32(1.0 / len(members)) if (mode == "mean" and members) else np.float32(1.0)
                for i in range(bounds[b], bounds[b + 1]):
                    rows[i] = go[b] * (scale if psw is None else psw[i])
            if ix:
                emb(torch.tensor(ix, dtype=torch.int64)).backward(torch.from_numpy(rows))
        grad_own_count = emb.weight.grad.flatten().tolist()

    model = bag_model(tables, model_steps, mode, pad, scale_grad_by_freq, sparse)
    assert bag_results_equal(torch_res, model, sparse), (name, "torch differs from bag_model")
    for q in PINNED_QUIRKS:
        if not bag_results_equal(torch_res, bag_model(tables, model_steps, mode, pad, scale_grad_by_freq,
                                                      sparse, quirk=q), sparse):
            QUIRK_HITS[q].append(name)

    BAG_CASES.append({
        "name": name,
        "numEmbeddings": n,
        "embeddingDim": d,
        "options": {
            "mode": mode,
            "paddingIdx": padding_idx,
            "maxNorm": None if max_norm is None else float(max_norm),
            "normType": encode_norm_type(norm_type),
            "scaleGradByFreq": bool(scale_grad_by_freq),
            "sparse": bool(sparse),
            "includeLastOffset": bool(include_last_offset),
        },
        "weight": weight.flatten().tolist(),
        "steps": json_steps,
        "expected": {
            "outputs": [o.flatten().tolist() for o in outputs],
            "weightAfter": weight_after.flatten().tolist(),
            "grad": dense_grad,
            "sparseGrad": sparse_grad,
            "perSampleWeightsGrads": [None if p is None else p.tolist() for p in psw_grads],
            "gradOwnCount": grad_own_count,
        },
    })
    return BAG_CASES[-1]


def bags(rng, n, lengths, pad=None, pad_bags=(), only_pad_bags=(), hot=None, include_last_offset=False):
    """Indices and offsets for bags of the given lengths. Indices come from a
    small pool of rows (duplicates inside and across bags); bags listed in
    pad_bags get padding entries mixed in, bags in only_pad_bags consist of
    padding only. Returns (indices, offsets)."""
    pool = hot if hot is not None else rng.choice([r for r in range(n) if r != pad],
                                                  size=max(3, n // 3), replace=False)
    ix, offsets = [], []
    for b, length in enumerate(lengths):
        offsets.append(len(ix))
        if b in only_pad_bags:
            bag = [pad] * length
        else:
            bag = [int(v) for v in rng.choice(pool, size=length)]
            if length >= 3:
                bag[int(rng.integers(1, length))] = bag[0]  # a duplicate inside the bag
            if b in pad_bags and length:
                for p in rng.choice(length, size=max(1, length // 3), replace=False):
                    bag[int(p)] = pad
        ix.extend(int(v) for v in bag)
    if include_last_offset:
        offsets.append(len(ix))
    return ix, offsets


def bag_step(rng, n, lengths, psw=None, **kw):
    ix, offsets = bags(rng, n, lengths, **kw)
    st = {"indices": ix, "offsets": offsets}
    if psw is not None:
        st["psw"] = psw(ix)
    return st


def signed_weights(rng, ix):
    """per-sample weights with negatives, exact zeros and a few large values."""
    w = (rng.standard_normal(len(ix)) * 1.5).astype(np.float32)
    for k in range(0, len(ix), 5):
        w[k] = 0.0
    for k in range(2, len(ix), 7):
        w[k] = -abs(w[k]) * 8
    return w.tolist()


def main_bag():
    # --- each mode x each dim: empty bags (also consecutive and at the end),
    # duplicates inside and across bags, 2 steps ---
    lens_a = [3, 0, 5, 1, 0, 0, 4, 2, 6, 0]
    lens_b = [0, 7, 2, 2, 0, 3, 1, 0]
    for mode in ("sum", "mean", "max"):
        for d in (1, 3, 8, 17, 64):
            name = "%s-dim-%d" % (mode, d)
            n = 24 if d < 64 else 20
            rng = bag_rng(name + "/ix")
            w = None
            if d == 3:
                # a row of -0.0 looked up alone: sum/mean give +0.0, max keeps -0.0
                w = f32_normal(bag_rng(name + "/w"), (n, d))
                w[5] = -0.0
            steps = [bag_step(rng, n, lens_a), bag_step(rng, n, lens_b)]
            if d == 3:
                steps[0]["indices"][3:8] = [5, 5, 11, 5, 5]
                steps[0]["indices"][8] = 5
            run_bag_case(name, n, d, mode, steps, weight=w)

    # --- include_last_offset: numBags + 1 offsets, last == len(indices) ---
    for mode, d in (("sum", 5), ("mean", 4), ("max", 6)):
        name = "include-last-offset-%s" % mode
        rng = bag_rng(name + "/ix")
        steps = [bag_step(rng, 22, [2, 0, 4, 3, 0], include_last_offset=True),
                 {"indices": [], "offsets": [0]},          # zero bags
                 {"indices": [], "offsets": [0, 0]},       # one empty bag
                 bag_step(rng, 22, [1, 5, 0, 0, 2, 0], include_last_offset=True)]
        run_bag_case(name, 22, d, mode, steps, include_last_offset=True)

    # --- 2-D input (fixed bag length, offsets None) ---
    rng = bag_rng("2d-sum/ix")
    ix1 = [int(v) for v in rng.integers(0, 10, 15)]
    ix2 = [int(v) for v in rng.integers(0, 10, 12)]
    run_bag_case("2d-sum", 21, 4, "sum", [
        {"indices": ix1, "bagSize": 3},
        {"indices": ix2, "bagSize": 3, "psw": signed_weights(rng, ix2)},
    ])
    rng = bag_rng("2d-max/ix")
    run_bag_case("2d-max", 23, 7, "max", [
        {"indices": [int(v) for v in rng.integers(0, 12, 20)], "bagSize": 4},
        {"indices": [int(v) for v in rng.integers(0, 12, 12)], "bagSize": 4},
    ], padding_idx=3)
    run_bag_case("2d-mean-padding", 20, 3, "mean", [
        {"indices": [1, 2, 2, 0, 0, 0, 4, 0, 4, 9, 9, 9], "bagSize": 3},
    ], padding_idx=0)

    # --- per_sample_weights (sum): fast path (fma) and padding path (mul+add) ---
    for name, pidx, d in (("psw-sum", None, 6), ("psw-sum-dim-64", None, 64),
                          ("psw-sum-padding", 4, 6), ("psw-sum-padding-neg", -2, 17)):
        n = 26
        rng = bag_rng(name + "/ix")
        p = norm_padding(pidx, n)
        kw = {} if p is None else {"pad": p, "pad_bags": (0, 4), "only_pad_bags": (2,)}
        steps = [bag_step(rng, n, [4, 3, 2, 0, 6, 1, 5, 0], psw=lambda ix: signed_weights(rng, ix), **kw),
                 bag_step(rng, n, [0, 8, 3, 3, 0], psw=lambda ix: signed_weights(rng, ix), **kw)]
        run_bag_case(name, n, d, "sum", steps, padding_idx=pidx)

    # --- padding_idx for every mode: all-padding bags (zeros), padding that
    # lowers the mean count, padding next to empty bags ---
    for mode, pidx, d in (("sum", 3, 5), ("sum", -1, 8), ("mean", 7, 5), ("mean", -30, 8),
                          ("max", 0, 5), ("max", -4, 8)):
        n = 30
        name = "padding-%s-%s" % (mode, ("neg-%d" % -pidx) if pidx < 0 else str(pidx))
        p = norm_padding(pidx, n)
        rng = bag_rng(name + "/ix")
        kw = {"pad": p, "pad_bags": (0, 3, 5), "only_pad_bags": (1, 6)}
        steps = [bag_step(rng, n, [5, 2, 0, 4, 1, 6, 1, 0], **kw),
                 bag_step(rng, n, [3, 3, 0, 7, 2, 4, 3], **kw)]
        run_bag_case(name, n, d, mode, steps, padding_idx=pidx)

    # --- max: ties between different rows, very negative values, signed zeros ---
    name = "max-ties"
    n, d = 20, 6
    w = f32_normal(bag_rng(name + "/w"), (n, d))
    w[3, [0, 2, 5]] = w[7, [0, 2, 5]] = np.float32(2.5)   # rows 7 and 3 tie on features 0, 2, 5
    w[3, 1] = w[7, 1] = np.float32(-1.25)
    w[12] = np.float32(-3.4e38)                            # very negative row
    w[13] = np.float32(-3.3e38)
    w[14] = np.float32(-0.0)
    w[15] = np.float32(0.0)
    w[15, 3] = np.float32(-0.0)
    steps = [
        {"indices": [7, 3, 7, 3, 1, 12, 13, 12, 13, 12, 14, 15, 15, 14, 3, 7, 12],
         "offsets": [0, 2, 4, 5, 7, 9, 10, 12, 14]},
        {"indices": [3, 9, 7, 12, 7, 3, 14, 15, 15, 3, 3],
         "offsets": [0, 3, 3, 4, 6, 8, 9]},
    ]
    run_bag_case(name, n, d, "max", steps, weight=w)
    run_bag_case("max-ties-padding", n, d, "max", steps, weight=w, padding_idx=12)

    # --- max_norm with sum / mean (duplicates, 2 steps) ---
    for name, mode, max_norm, p in (("max-norm-l2-sum", "sum", 2.75, 2.0), ("max-norm-l1-mean", "mean", 6.0, 1.0),
                                    ("max-norm-l2-mean", "mean", 2.5, 2.0), ("max-norm-l1-sum", "sum", 6.5, 1.0)):
        n = 22
        rng = bag_rng(name + "/ix")
        steps = [bag_step(rng, n, [3, 4, 0, 2, 5]), bag_step(rng, n, [6, 0, 3, 3])]
        run_bag_case(name, n, 8, mode, steps, max_norm=max_norm, norm_type=p, check_renorm=True)
    # the padding row exceeds max_norm: torch renorms it too (it is looked up)
    name = "max-norm-padding-mean"
    w = f32_normal(bag_rng(name + "/w"), (20, 8))
    w[2] *= np.float32(3.0)
    case = run_bag_case(name, 20, 8, "mean", [
        {"indices": [2, 5, 2, 7, 1, 2, 13, 5, 9], "offsets": [0, 3, 3, 6, 8]},
        {"indices": [2, 5, 7, 0, 2, 11], "offsets": [0, 2, 2, 5]},
    ], padding_idx=2, max_norm=2.75, weight=w, check_renorm=True)
    assert case["expected"]["weightAfter"][16:24] != w[2].tolist(), "padding row not renormed"

    # --- scale_grad_by_freq (dense), heavy duplicates, padding_idx ---
    for name, mode, pidx, use_psw in (("scale-grad-by-freq-sum", "sum", 0, False),
                                      ("scale-grad-by-freq-mean", "mean", -1, False),
                                      ("scale-grad-by-freq-mean-no-padding", "mean", None, False),
                                      ("scale-grad-by-freq-sum-psw", "sum", 6, True)):
        n = 24
        p = norm_padding(pidx, n)
        rng = bag_rng(name + "/ix")
        hot = [1, 1, 1, 2, 4, 4, 9, 17, 17, 17, 17, 20]
        hot = [h for h in hot if h != p] + ([] if p is None else [p, p])
        kw = {"hot": hot, "pad": p}
        if p is not None:
            kw.update(pad_bags=(1,), only_pad_bags=(4,))
        psw = (lambda ix: signed_weights(rng, ix)) if use_psw else None
        steps = [bag_step(rng, n, [6, 5, 0, 9, 2, 4], psw=psw, **kw),
                 bag_step(rng, n, [3, 8, 1, 0, 4, 7], psw=psw, **kw)]
        if pidx is None:
            # row 1 seven times, bags of 5: scale 1/7/5 in double != (1/7)/5 in float32
            steps[0] = {"indices": [1, 1, 4, 9, 1, 4, 1, 17, 17, 2, 1, 1, 1, 20, 4, 17, 9, 2, 17, 4],
                        "offsets": [0, 5, 10, 17, 17]}
        run_bag_case(name, n, 5, mode, steps, padding_idx=pidx, scale_grad_by_freq=True)

    # --- sparse ---
    for name, mode, pidx, use_psw, d in (("sparse-sum", "sum", None, False, 4), ("sparse-mean", "mean", None, False, 5),
                                         ("sparse-sum-psw", "sum", None, True, 6),
                                         ("sparse-sum-psw-padding", "sum", 5, True, 4),
                                         ("sparse-sum-padding", "sum", 0, False, 3),
                                         ("sparse-mean-padding", "mean", -3, False, 7)):
        n = 21
        p = norm_padding(pidx, n)
        rng = bag_rng(name + "/ix")
        kw = {} if p is None else {"pad": p, "pad_bags": (0, 2), "only_pad_bags": (3,)}
        psw = (lambda ix: signed_weights(rng, ix)) if use_psw else None
        steps = [bag_step(rng, n, [3, 0, 4, 2, 5, 1], psw=psw, **kw),
                 bag_step(rng, n, [2, 6, 3, 2, 0], psw=psw, **kw)]
        run_bag_case(name, n, d, mode, steps, padding_idx=pidx, sparse=True)

    # --- empty inputs: no bags at all, and one empty bag ---
    for mode, sparse, pidx in (("sum", False, None), ("mean", True, None), ("max", False, 1), ("mean", False, 1)):
        name = "empty-steps-%s%s%s" % (mode, "-sparse" if sparse else "", "" if pidx is None else "-padding")
        rng = bag_rng(name + "/ix")
        steps = [{"indices": [], "offsets": []},
                 {"indices": [], "offsets": [0]},
                 bag_step(rng, 16, [2, 0, 3]),
                 {"indices": [], "offsets": [0, 0, 0]}]
        run_bag_case(name, 16, 3, mode, steps, padding_idx=pidx, sparse=sparse)

    # --- larger randomized: mean, 3 steps of ~40 bags of 0..12 entries, padding 5 ---
    name = "random-large-mean"
    n, d = 60, 33
    rng = bag_rng(name + "/ix")
    p = 1.0 / np.arange(1, n + 1) ** 1.1
    p /= p.sum()
    perm = rng.permutation(n)
    steps = []
    for _ in range(3):
        lens = [int(v) for v in rng.integers(0, 13, 40)]
        ix = [int(perm[k]) for k in rng.choice(n, size=sum(lens), p=p)]
        for k in rng.choice(len(ix), size=len(ix) // 10, replace=False):
            ix[int(k)] = 5
        steps.append({"indices": ix, "offsets": [int(v) for v in np.cumsum([0] + lens[:-1])]})
    run_bag_case(name, n, d, "mean", steps, padding_idx=5)

    # --- larger randomized: weighted sum without padding (fma path), dense ---
    name = "random-large-psw-sum"
    n, d = 40, 16
    rng = bag_rng(name + "/ix")
    steps = []
    for _ in range(2):
        lens = [int(v) for v in rng.integers(0, 9, 24)]
        ix = [int(v) for v in rng.integers(0, n, sum(lens))]
        steps.append({"indices": ix, "offsets": [int(v) for v in np.cumsum([0] + lens[:-1])],
                      "psw": signed_weights(rng, ix)})
    run_bag_case(name, n, d, "sum", steps)

    report_quirks(PINNED_QUIRKS, QUIRK_HITS, 20)
    write_fixture(BAG_OUT_PATH, BAG_CASES)



# ---------------------------------------------------------------------------
# Optimizers: test/fixtures/optimizers.json
# ---------------------------------------------------------------------------
#
# Each case trains one torch.nn.Embedding for a few steps with a torch.optim
# optimizer (per step: opt.zero_grad(set_to_none=True); out = emb(idx);
# out.backward(gradOutput); opt.step()) and records the table after every
# step, the final step count and the final optimizer state. RowWiseAdagrad has
# no torch class: RowWiseAdagradRef implements the library's documented
# formula with torch float32 tensor ops.
#
# Every case is also replayed by optim_model, an exact numpy model of torch
# 1.13's CPU arithmetic (CPU capability AVX2 -- what this build dispatches to
# on an AVX2 or AVX-512 machine; for RowWiseAdagrad a second implementation
# of the formula, in numpy float32 scalars), and the script asserts the two
# agree bit for bit. optim_model(..., quirk=Q) models a plausible-but-wrong
# alternative Q; every quirk in OPTIM_PINNED_QUIRKS must change at least one
# recorded value. What torch 1.13 does (scalars are Python floats, i.e.
# doubles, cast to float32 ONCE where they meet a tensor: f(x) below):
# * `t.add_(u, alpha=a)`, `t.add(u, alpha=a)` and dense += sparse with alpha
#   are fma(f(a), u, t) -- one rounding -- in the vector body AND the scalar
#   tail. `t.addcmul_(u, v, value=c)` is fma(f(c) * u, v, t) (f(c) * u rounded
#   first). `t.addcdiv_(u, v, value=c)` is t + (f(c) * u) / v (three
#   roundings, no fma). `t / c`, `t * c`, `t.mul_(c)`: one float32 op with f(c).
# * SGD: d = fma(f(wd), w, g); momentum buffer = d at its first step, then
#   fma(f(1 - dampening), d, buf * f(momentum)); nesterov d = fma(f(momentum),
#   buf, d) else d = buf; w = fma(f(-lr), d, w). With a sparse grad torch does
#   NOT coalesce: param.add_(grad, alpha=-lr) walks the entries in order, one
#   fma per entry, so a row looked up twice gets two fmas. No state 'step'.
# * Adagrad: state 'step' is a float32 tensor (torch.tensor(0.)) created, with
#   'sum' = full(initial_accumulator_value), at construction; step() reads
#   step = step_t.item() (a Python float) and clr = lr / (1 + (step - 1) *
#   lr_decay) in double. Dense: g = fma(f(wd), w, g); sum = fma(g, g, sum);
#   std = sqrt(sum) + f(eps); w = w + (f(-clr) * g) / std. Sparse: grad
#   coalesced (below), then sum[r] = sum[r] + g*g (g*g rounded: no fma);
#   std = sqrt(sum[r]) + f(eps); w[r] = fma(f(-clr), g / std, w[r]).
# * Adam: state 'step' float32 tensor, created at the first step; step =
#   step_t.item(); bias_correction_k = 1 - beta_k ** step (Python float pow,
#   i.e. glibc pow()); step_size = lr / bc1; bc2_sqrt = math.sqrt(bc2).
#   g = fma(f(wd), w, g); m = fma(f(1 - beta1), g, m * f(beta1));
#   v = fma(f(1 - beta2) * g, g, v * f(beta2)); amsgrad: vmax = max(vmax, v)
#   and denom uses vmax; denom = sqrt(v) / f(bc2_sqrt) + f(eps);
#   w = w + (f(-step_size) * m) / denom.
# * AdamW: w = w * f(1 - lr * wd) first (1 - lr * wd in double), then Adam
#   without weight decay.
# * SparseAdam: state 'step' is a Python int. Grad coalesced; per touched row:
#   d1 = (g - m) * f(1 - beta1); m = m + d1; d2 = (g*g - v) * f(1 - beta2);
#   v = v + d2; step_size = lr * math.sqrt(bc2) / bc1 (double, left to right);
#   w = w + f(-step_size) * ((d1 + m_old) / (sqrt(d2 + v_old) + f(eps))).
#   (d1 + m_old is the new m, recomputed the same way.)
# * coalesce(): rows ascending; duplicates summed into the first value in the
#   order libstdc++ std::sort (unstable) leaves them -- entry order when a
#   step has at most 16 entries (insertion sort), NOT in general beyond. Every
#   step here has at most 16 entries; the script asserts coalesce() equals
#   the entry-order sum.

OPTIM_OUT_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "optimizers.json"
)
OPTIM_CASES = []

OPTIM_DEFAULTS = {
    "SGD": {"lr": None, "momentum": 0.0, "dampening": 0.0, "weightDecay": 0.0, "nesterov": False},
    "Adagrad": {"lr": 0.01, "lrDecay": 0.0, "weightDecay": 0.0, "initialAccumulatorValue": 0.0, "eps": 1e-10},
    "Adam": {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0.0, "amsgrad": False},
    "AdamW": {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0.01, "amsgrad": False},
    "SparseAdam": {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8},
    "RowWiseAdagrad": {"lr": 0.01, "eps": 1e-10, "weightDecay": 0.0},
}
TORCH_OPTION_NAMES = {"lr": "lr", "momentum": "momentum", "dampening": "dampening", "weightDecay": "weight_decay",
                      "nesterov": "nesterov", "lrDecay": "lr_decay", "initialAccumulatorValue": "initial_accumulator_value",
                      "eps": "eps", "betas": "betas", "amsgrad": "amsgrad"}
# torch state key -> fixture buffer name
BUFFER_NAMES = {"momentum_buffer": "momentumBuffer", "sum": "sum", "exp_avg": "expAvg", "exp_avg_sq": "expAvgSq",
                "max_exp_avg_sq": "maxExpAvgSq"}

OPTIM_PINNED_QUIRKS = [
    "no-fma",                  # every add-with-alpha / addcmul as multiply, then add
    "double-scalars",          # scalars applied in double (one rounding at the end) instead of cast to float32
    "sgd-sparse-coalesce",     # sparse SGD summing duplicate rows first, one update per row
    "adagrad-sparse-as-dense", # sparse Adagrad with the dense path's arithmetic
    "adagrad-lr-times-ratio",  # dense Adagrad as w + f(-clr) * (g / std)
    "adam-lr-times-ratio",     # Adam as w + f(-step_size) * (m / denom)
    "sparse-adam-ema",         # SparseAdam as m = m * beta1 + (1 - beta1) * g
]
OPTIM_QUIRK_HITS = {q: [] for q in OPTIM_PINNED_QUIRKS}


def optim_rng(name):
    return np.random.default_rng([0x4F505449, zlib.crc32(name.encode("utf-8"))])


def coalesce_entry_order(rows, vals):
    """Duplicate rows summed in entry order (float32), rows ascending."""
    acc = {}
    for r, v in zip(rows, vals):
        acc[r] = v.astype(F32) if r not in acc else (acc[r] + v).astype(F32)
    out_rows = sorted(acc)
    return out_rows, np.array([acc[r] for r in out_rows], dtype=F32).reshape(len(out_rows), -1)


def rowwise_row_sum(g):
    """sum of double(g[j])^2 in 8 lanes (lane j % 8), combined pairwise."""
    lanes = [0.0] * 8
    for j, x in enumerate(g.tolist()):
        lanes[j & 7] += x * x  # x is a float32 value: x * x is exact in double
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))


class RowWiseAdagradRef:
    """The library's RowWiseAdagrad (FBGEMM/TorchRec row-wise Adagrad), with
    torch float32 tensor ops for the elementwise parts and Python doubles for
    the per-row scalars:
      g' = g + f(wd) * w            (multiply, then add: two roundings; only if wd != 0)
      h[r] = h[r] + f(rowwise_row_sum(g') / d)
      m = f(lr / (sqrt(double(h[r])) + eps))
      w[r] = w[r] - m * g'          (multiply, then subtract)
    for every row of a dense grad, for the coalesced rows of a sparse one."""

    def __init__(self, params, lr=0.01, eps=1e-10, weight_decay=0.0):
        (self.param,) = params
        self.lr, self.eps, self.weight_decay = lr, eps, weight_decay
        self.state = {"step": 0, "sum": torch.zeros(self.param.shape[0], dtype=torch.float32)}

    def zero_grad(self, set_to_none=True):
        assert set_to_none
        self.param.grad = None

    @torch.no_grad()
    def step(self):
        grad = self.param.grad
        if grad is None:
            return
        n, d = self.param.shape
        if grad.is_sparse:
            grad = grad.coalesce()
            rows = grad._indices()[0].tolist()
            vals = grad._values()
        else:
            rows = list(range(n))
            vals = grad
        self.state["step"] += 1
        w = self.param.data
        h = self.state["sum"]
        for k, r in enumerate(rows):
            g = vals[k]
            if self.weight_decay != 0:
                g = g + torch.mul(w[r], self.weight_decay)  # mul rounds to float32, then add
            s = rowwise_row_sum(g)
            h[r] = h[r] + torch.tensor(s / d, dtype=torch.float32)
            m = torch.tensor(self.lr / (math.sqrt(float(h[r])) + self.eps), dtype=torch.float32)
            w[r] = w[r] - m * g


def f64_fma(a, b, c):
    """a*b + c for float64 scalar a, one final rounding to float32 (the
    'double-scalars' quirk)."""
    return (np.float64(a) * np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(F32)


def optim_model(optimizer, o, weight, grads, quirk=None):
    """Replays a case: grads is a list of ("dense", G) or ("sparse", rows,
    values) as torch's backward produced them. Returns (weights after each
    step, final step count, final buffers)."""
    w = weight.copy()
    n, d = w.shape
    f = F32

    def axpy(alpha, x, y):  # torch's y.add(x, alpha=alpha)
        if quirk == "no-fma":
            return (y + f(alpha) * x).astype(f)
        if quirk == "double-scalars":
            return f64_fma(alpha, x, y)
        return fma32(np.full(np.shape(x), f(alpha), f), x, y)

    def scale(x, c):  # torch's x * c, x.mul_(c)
        return (x.astype(np.float64) * c).astype(f) if quirk == "double-scalars" else (x * f(c)).astype(f)

    weights, buffers, step = [], {}, 0
    if optimizer == "Adagrad":
        buffers["sum"] = np.full((n, d), f(o["initialAccumulatorValue"]), f)
    for g in grads:
        kind = g[0]
        step += 1
        if optimizer == "SGD":
            if kind == "sparse":
                rows, vals = g[1], g[2]
                if quirk == "sgd-sparse-coalesce":
                    rows, vals = coalesce_entry_order(rows, vals)
                for r, v in zip(rows, vals):
                    w[r] = axpy(-o["lr"], v, w[r])
            else:
                dp = g[1]
                if o["weightDecay"] != 0:
                    dp = axpy(o["weightDecay"], w, dp)
                if o["momentum"] != 0:
                    if "momentumBuffer" not in buffers:
                        buf = dp.copy()
                    else:
                        buf = axpy(1 - o["dampening"], dp, scale(buffers["momentumBuffer"], o["momentum"]))
                    buffers["momentumBuffer"] = buf
                    dp = axpy(o["momentum"], buf, dp) if o["nesterov"] else buf
                w = axpy(-o["lr"], dp, w)
        elif optimizer == "Adagrad":
            clr = o["lr"] / (1 + (float(step) - 1) * o["lrDecay"])
            s = buffers["sum"]
            if kind == "sparse" and quirk != "adagrad-sparse-as-dense":
                rows, vals = coalesce_entry_order(g[1], g[2])
                for r, v in zip(rows, vals):
                    s[r] = s[r] + v * v
                    std = np.sqrt(s[r]) + f(o["eps"])
                    w[r] = axpy(-clr, v / std, w[r])
            else:
                if kind == "sparse":
                    rows, vals = coalesce_entry_order(g[1], g[2])
                    G = np.zeros((n, d), f)
                    G[rows] = vals
                    touched = rows
                else:
                    G, touched = g[1], range(n)
                if o["weightDecay"] != 0:
                    G = axpy(o["weightDecay"], w, G)
                if quirk == "no-fma":
                    s2 = (s + G * G).astype(f)
                elif quirk == "double-scalars":
                    s2 = f64_fma(1.0, G * G, s)
                else:
                    s2 = fma32(G, G, s)
                std = np.sqrt(s2) + f(o["eps"])
                if quirk == "adagrad-lr-times-ratio":
                    w2 = w + f(-clr) * (G / std)
                elif quirk == "double-scalars":
                    w2 = (w + (-clr * G.astype(np.float64)) / std).astype(f)
                else:
                    w2 = w + (f(-clr) * G) / std
                for r in touched:
                    s[r], w[r] = s2[r], w2[r]
        elif optimizer in ("Adam", "AdamW"):
            b1, b2 = o["betas"]
            if step == 1:
                buffers["expAvg"] = np.zeros((n, d), f)
                buffers["expAvgSq"] = np.zeros((n, d), f)
                if o["amsgrad"]:
                    buffers["maxExpAvgSq"] = np.zeros((n, d), f)
            G = g[1]
            if optimizer == "AdamW":
                w = scale(w, 1 - o["lr"] * o["weightDecay"])
            elif o["weightDecay"] != 0:
                G = axpy(o["weightDecay"], w, G)
            m = axpy(1 - b1, G, scale(buffers["expAvg"], b1))
            vs = scale(buffers["expAvgSq"], b2)
            if quirk == "no-fma":
                v = (vs + (f(1 - b2) * G) * G).astype(f)
            elif quirk == "double-scalars":
                v = f64_fma(1 - b2, G * G, vs)
            else:
                v = fma32((f(1 - b2) * G).astype(f), G, vs)
            buffers["expAvg"], buffers["expAvgSq"] = m, v
            if o["amsgrad"]:
                v = buffers["maxExpAvgSq"] = np.maximum(buffers["maxExpAvgSq"], v)
            bc1 = 1 - b1 ** float(step)
            bc2 = 1 - b2 ** float(step)
            step_size = o["lr"] / bc1
            denom = np.sqrt(v) / f(math.sqrt(bc2)) + f(o["eps"])
            if quirk == "adam-lr-times-ratio":
                w = (w + f(-step_size) * (m / denom)).astype(f)
            elif quirk == "double-scalars":
                w = (w + (-step_size * m.astype(np.float64)) / denom).astype(f)
            else:
                w = (w + (f(-step_size) * m) / denom).astype(f)
        elif optimizer == "SparseAdam":
            b1, b2 = o["betas"]
            if step == 1:
                buffers["expAvg"] = np.zeros((n, d), f)
                buffers["expAvgSq"] = np.zeros((n, d), f)
            m, v = buffers["expAvg"], buffers["expAvgSq"]
            rows, vals = coalesce_entry_order(g[1], g[2])
            bc1 = 1 - b1 ** step
            bc2 = 1 - b2 ** step
            step_size = o["lr"] * math.sqrt(bc2) / bc1
            for r, gv in zip(rows, vals):
                if quirk == "sparse-adam-ema":
                    m[r] = m[r] * f(b1) + f(1 - b1) * gv
                    v[r] = v[r] * f(b2) + (f(1 - b2) * gv) * gv
                    numer, den = m[r], np.sqrt(v[r]) + f(o["eps"])
                else:
                    d1 = scale(gv - m[r], 1 - b1)
                    d2 = scale(gv * gv - v[r], 1 - b2)
                    numer = d1 + m[r]
                    den = np.sqrt(d2 + v[r]) + f(o["eps"])
                    m[r] = m[r] + d1
                    v[r] = v[r] + d2
                w[r] = w[r] + scale(numer / den, -step_size)
        elif optimizer == "RowWiseAdagrad":
            # independent of RowWiseAdagradRef: numpy float32 scalars and arrays
            if step == 1:
                buffers["sum"] = np.zeros(n, f)
            h = buffers["sum"]
            rows, vals = coalesce_entry_order(g[1], g[2]) if kind == "sparse" else (range(n), g[1])
            for r, gv in zip(rows, vals):
                if o["weightDecay"] != 0:
                    gv = gv + f(o["weightDecay"]) * w[r]
                h[r] = h[r] + f(rowwise_row_sum(gv) / d)
                mult = f(o["lr"] / (math.sqrt(float(h[r])) + o["eps"]))
                w[r] = w[r] - mult * gv
        else:
            raise AssertionError(optimizer)
        weights.append(w.copy())
    if optimizer == "SGD":
        step = 0
    return weights, step, buffers


def optim_results_equal(x, y):
    return (len(x[0]) == len(y[0]) and all(bits_equal(a, b) for a, b in zip(x[0], y[0])) and x[1] == y[1]
            and sorted(x[2]) == sorted(y[2]) and all(bits_equal(x[2][k], y[2][k]) for k in x[2]))


def run_optim_case(name, optimizer, options, n, d, steps_indices, sparse=False, padding_idx=None):
    """steps_indices: list of index lists. The table and the gradOutputs are
    drawn from optim_rng(name)."""
    o = dict(OPTIM_DEFAULTS[optimizer])
    assert set(options) <= set(o), (name, options)
    o.update(options)
    assert o.get("lr") is not None, name
    rng = optim_rng(name)
    weight = f32_normal(rng, (n, d))
    grad_outputs = [f32_normal(rng, (len(ix), d)) for ix in steps_indices]
    pad = norm_padding(padding_idx, n)
    assert all(len(ix) <= 16 for ix in steps_indices), (name, "coalesce is entry-order only up to 16 entries")

    emb = torch.nn.Embedding(n, d, padding_idx=padding_idx, sparse=sparse, _weight=torch.from_numpy(weight.copy()))
    assert torch.equal(emb.weight.detach(), torch.from_numpy(weight))
    kwargs = {TORCH_OPTION_NAMES[k]: (tuple(v) if k == "betas" else v) for k, v in o.items()}
    if optimizer == "RowWiseAdagrad":
        opt = RowWiseAdagradRef([emb.weight], **kwargs)
    else:
        opt = getattr(torch.optim, optimizer)([emb.weight], **kwargs)

    steps, weights, model_grads = [], [], []
    for ix, go in zip(steps_indices, grad_outputs):
        opt.zero_grad(set_to_none=True)
        assert emb.weight.grad is None
        idx = torch.tensor(ix, dtype=torch.int64)
        out = emb(idx)
        out.backward(torch.from_numpy(go.copy()))
        g = emb.weight.grad
        if sparse:
            assert g.is_sparse, name
            rows = g._indices()[0].tolist()
            vals = g._values().numpy().copy()
            assert rows == [i for i in ix if i != pad], name
            model_grads.append(("sparse", rows, vals))
            c = g.coalesce()
            crows, cvals = coalesce_entry_order(rows, vals)
            assert c._indices()[0].tolist() == crows and bits_equal(c._values().numpy().reshape(-1, d), cvals), name
        else:
            assert not g.is_sparse, name
            model_grads.append(("dense", g.numpy().copy()))
        opt.step()
        weights.append(emb.weight.detach().numpy().copy())
        steps.append({"indices": list(ix), "gradOutput": go.flatten().tolist()})

    state = opt.state if optimizer == "RowWiseAdagrad" else opt.state[emb.weight]
    if optimizer == "SGD":
        step_count = 0
        assert "step" not in state
    else:
        s = state["step"]
        if optimizer in ("Adagrad", "Adam", "AdamW"):
            assert isinstance(s, torch.Tensor) and s.dtype == torch.float32 and s.dim() == 0, (name, s)
            s = s.item()
            assert s == int(s)
        else:
            assert isinstance(s, int), (name, s)
        step_count = int(s)
    assert step_count == (0 if optimizer == "SGD" else len(steps_indices)), name
    buffers = {}
    for key, value in state.items():
        if key == "step" or value is None:
            continue
        assert isinstance(value, torch.Tensor) and value.dtype == torch.float32, (name, key)
        buffers[BUFFER_NAMES[key]] = value.numpy().copy()
    expected_names = {"SGD": ["momentumBuffer"] if o.get("momentum") else [], "Adagrad": ["sum"],
                      "Adam": ["expAvg", "expAvgSq"], "AdamW": ["expAvg", "expAvgSq"],
                      "SparseAdam": ["expAvg", "expAvgSq"], "RowWiseAdagrad": ["sum"]}[optimizer]
    if o.get("amsgrad"):
        expected_names = expected_names + ["maxExpAvgSq"]
        assert not bits_equal(buffers["maxExpAvgSq"], buffers["expAvgSq"]), (name, "amsgrad has no effect")
    assert sorted(buffers) == sorted(expected_names), (name, sorted(buffers))
    if optimizer == "RowWiseAdagrad":
        assert buffers["sum"].shape == (n,), name
    if pad is not None:
        assert all(bits_equal(wt[pad], weight[pad]) for wt in weights), (name, "padding row changed")

    result = (weights, step_count, buffers)
    model = optim_model(optimizer, o, weight, model_grads)
    assert optim_results_equal(model, result), (name, "optim_model disagrees with torch")
    for q in OPTIM_PINNED_QUIRKS:
        if not optim_results_equal(optim_model(optimizer, o, weight, model_grads, quirk=q), result):
            OPTIM_QUIRK_HITS[q].append(name)

    OPTIM_CASES.append({
        "name": name,
        "optimizer": optimizer,
        "options": o,
        "numEmbeddings": n,
        "embeddingDim": d,
        "sparse": bool(sparse),
        "paddingIdx": padding_idx,
        "weight": weight.flatten().tolist(),
        "steps": steps,
        "expected": {
            "weights": [wt.flatten().tolist() for wt in weights],
            "stepCounts": step_count,
            "buffers": {k: buffers[k].flatten().tolist() for k in sorted(buffers)},
        },
    })


def optim_steps(name, n, counts, pad=None, triple=False):
    """Index lists of the given lengths over [0, n): each with a duplicated row
    (a row three times in the first step if triple), padding entries mixed in
    when pad is given. Redrawn (deterministically) until every step leaves
    some row untouched and some row skips step 2 and comes back later."""
    rng = np.random.default_rng([0x4F505453, zlib.crc32(name.encode("utf-8"))])
    for _ in range(1000):
        steps = []
        for k, c in enumerate(counts):
            ix = [int(v) for v in rng.integers(0, n, size=c)]
            pos = [int(p) for p in rng.choice(c, size=5 if pad is not None else 3, replace=False)]
            if ix[pos[0]] == pad:
                ix[pos[0]] = (pad + 1) % n
            ix[pos[1]] = ix[pos[0]]
            if triple and k == 0:
                ix[pos[2]] = ix[pos[0]]
            if pad is not None:
                ix[pos[3]] = ix[pos[4]] = pad
            steps.append(ix)
        real = [[i for i in ix if i != pad] for ix in steps]
        if (all(len(set(r)) < len(r) for r in real)
                and all(len(set(r)) < n - (pad is not None) for r in real)
                and any(r in real[0] and r not in real[1] and any(r in s for s in real[2:]) for r in range(n))
                and (not triple or max(real[0].count(r) for r in real[0]) >= 3)):
            return steps
    raise AssertionError((name, "no suitable indices"))


def main_optim():
    cases = [
        # name, optimizer, options, n, d, counts, sparse, padding_idx, triple
        ("sgd-dense", "SGD", {"lr": 0.1}, 16, 8, [8, 10, 7, 9], False, None, False),
        ("sgd-sparse", "SGD", {"lr": 0.1}, 14, 3, [10, 8, 9], True, None, True),
        ("sgd-momentum", "SGD", {"lr": 0.1, "momentum": 0.9}, 12, 17, [6, 7, 5, 6], False, None, False),
        ("sgd-momentum-dampening-weight-decay", "SGD",
         {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weightDecay": 0.01}, 16, 8, [8, 6, 9, 7], False, None, False),
        ("sgd-nesterov", "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, 15, 3, [7, 9, 8, 6], False, None, False),
        ("adagrad-dense", "Adagrad", {}, 16, 8, [8, 9, 7, 10], False, None, False),
        ("adagrad-lr-decay-weight-decay-initial-accumulator", "Adagrad",
         {"lrDecay": 0.1, "weightDecay": 0.05, "initialAccumulatorValue": 0.1}, 13, 17, [6, 7, 6, 5], False, None, False),
        ("adagrad-sparse", "Adagrad", {"lr": 0.1}, 16, 8, [9, 8, 10, 7], True, None, True),
        ("adagrad-sparse-padding", "Adagrad", {"lr": 0.1}, 12, 3, [9, 8, 10], True, -1, True),
        ("adam-dense", "Adam", {"lr": 0.01}, 16, 8, [8, 7, 9, 8], False, None, False),
        ("adam-weight-decay", "Adam", {"lr": 0.01, "weightDecay": 0.01}, 12, 17, [6, 5, 7, 6], False, None, False),
        ("adam-amsgrad", "Adam", {"lr": 0.01, "amsgrad": True}, 14, 3, [7, 8, 6, 9], False, None, False),
        ("adamw-dense", "AdamW", {"lr": 0.01}, 16, 8, [9, 8, 7, 8], False, None, False),
        ("adamw-amsgrad-weight-decay", "AdamW", {"lr": 0.01, "weightDecay": 0.1, "amsgrad": True},
         13, 17, [6, 7, 5, 7], False, None, False),
        ("sparse-adam", "SparseAdam", {"lr": 0.01}, 16, 8, [8, 9, 7, 8], True, None, False),
        ("sparse-adam-padding", "SparseAdam", {"lr": 0.01}, 14, 17, [10, 9, 11, 8], True, 3, True),
        ("rowwise-adagrad-dense", "RowWiseAdagrad", {"lr": 0.1}, 16, 8, [8, 9, 7, 8], False, None, False),
        ("rowwise-adagrad-sparse", "RowWiseAdagrad", {"lr": 0.1}, 14, 17, [9, 8, 10, 7], True, None, True),
        ("rowwise-adagrad-sparse-weight-decay-padding", "RowWiseAdagrad", {"lr": 0.1, "weightDecay": 0.01},
         12, 3, [10, 9, 11], True, 5, True),
    ]
    for name, optimizer, options, n, d, counts, sparse, pidx, triple in cases:
        steps = optim_steps(name, n, counts, pad=norm_padding(pidx, n), triple=triple)
        run_optim_case(name, optimizer, options, n, d, steps, sparse=sparse, padding_idx=pidx)

    report_quirks(OPTIM_PINNED_QUIRKS, OPTIM_QUIRK_HITS, 24)
    write_fixture(OPTIM_OUT_PATH, OPTIM_CASES)


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

    write_fixture(OUT_PATH, CASES)

    main_bag()
    main_optim()


if __name__ == "__main__":
    main()
