# The PyTorch column of `npm run bench` (bench/torch.mjs runs this script as a child process; it is
# never a dependency: without `import torch` the benchmark says "not installed").
#
#   python3 bench/torch/bench.py SPEC.json        prints one JSON object on stdout
#
# SPEC (written by bench/torch.mjs): { "threads": [1, 2], "sampleTargetMs": 5, "minSamples": 7,
# "maxSamples": 41, "budgetMs": 600, "cases": [ { "id", "kind", "rows", "dim", "batch",
# "indices": FILE, "grad": FILE, "optimizer"?, "lr"? } ] }. FILE holds the case's 8 index batches
# (int32, little-endian, batch after batch) or its gradOutput (float32): the same numbers the Node
# side uses. Each case runs at every thread count (torch.set_num_threads) and reports the median µs
# per call over samples of k calls, k chosen so a sample lasts about sampleTargetMs, the 8 batches
# rotated as the Node side rotates them.
#
# Kinds, as a PyTorch user writes each call (the table, torch.nn.Embedding(rows, dim), float32):
#   fwd      with torch.no_grad(): y = emb(idx)                        (a new output per call)
#   fwdOut   with torch.no_grad(): torch.index_select(w, 0, idx, out=y) (the out= form)
#   fwdBwd   emb(idx).backward(g)                  dense grad, accumulated in emb.weight.grad
#   step     opt.zero_grad(); emb(idx).backward(g); opt.step()   emb sparse=True; SGD, Adagrad or
#            SparseAdam (torch.optim's defaults but lr)
import json, statistics, sys, time

import numpy as np
import torch

BATCHES = 8


def load(case):
    batch = case['batch']
    flat = np.fromfile(case['indices'], dtype='<i4')
    idx = [torch.from_numpy(flat[b * batch:(b + 1) * batch].astype(np.int64)) for b in range(BATCHES)]
    g = torch.from_numpy(np.fromfile(case['grad'], dtype='<f4').reshape(batch, case['dim']).copy())
    return idx, g


def make_call(case):
    rows, dim, kind = case['rows'], case['dim'], case['kind']
    idx, g = load(case)
    if kind in ('fwd', 'fwdOut'):
        emb = torch.nn.Embedding(rows, dim)
        emb.weight.requires_grad_(False)
        if kind == 'fwd':
            def call(i):
                emb(idx[i])
        else:
            out = torch.empty(case['batch'], dim)
            w = emb.weight

            def call(i):
                torch.index_select(w, 0, idx[i], out=out)
        return call
    if kind == 'fwdBwd':
        emb = torch.nn.Embedding(rows, dim)

        def call(i):
            emb(idx[i]).backward(g)
        return call
    if kind == 'step':
        emb = torch.nn.Embedding(rows, dim, sparse=True)
        cls = {'SGD': torch.optim.SGD, 'Adagrad': torch.optim.Adagrad, 'SparseAdam': torch.optim.SparseAdam}[case['optimizer']]
        opt = cls(emb.parameters(), lr=case['lr'])

        def call(i):
            opt.zero_grad(set_to_none=True)
            emb(idx[i]).backward(g)
            opt.step()
        return call
    raise ValueError(f"unknown kind {kind}")


def measure(call, spec, batches=BATCHES):
    target = spec['sampleTargetMs'] / 1e3
    budget = spec['budgetMs'] / 1e3
    # warm-up: one rotation of (at most BATCHES of) the batches (state pages, allocator caches), then size k
    warm = min(batches, BATCHES)
    t0 = time.perf_counter()
    for i in range(warm):
        call(i)
    one = (time.perf_counter() - t0) / warm
    k = max(1, int(target / max(one, 1e-9)))
    samples = []
    nxt = 0
    started = time.perf_counter()
    while len(samples) < spec['maxSamples']:
        t0 = time.perf_counter()
        for _ in range(k):
            call(nxt)
            nxt = (nxt + 1) % batches
        samples.append((time.perf_counter() - t0) / k * 1e6)
        if len(samples) >= spec['minSamples'] and time.perf_counter() - started > budget:
            break
    return statistics.median(samples)


def main():
    spec = json.load(open(sys.argv[1]))
    results = {}
    for case in spec['cases']:
        call = make_call(case)
        results[case['id']] = {}
        for n in spec['threads']:
            torch.set_num_threads(n)
            results[case['id']][str(n)] = measure(call, spec)
        del call
    json.dump({'torch': torch.__version__, 'results': results}, sys.stdout)


if __name__ == '__main__':  # bench/torch/dtype.py imports measure() from here
    main()
