#!/usr/bin/env python3
"""The Python references of the similarity suite (bench/similarity.mjs): top-k cosine over the same
table and queries, timed per call, by a numpy brute force and by faiss's exact IndexFlatIP (when
installed: Debian's python3-faiss). Both get the rows unit-normalized beforehand, untimed, as
nn-embedding's cached row norms are computed once, untimed; the queries are normalized inside the
timed call. Reads a JSON spec on stdin, prints one JSON line.

spec: {"table": path of rows*dim float32, "rows", "dim", "queries": path of q*dim float32,
       "batches": [sizes], "k", "threads": [counts], "budget_s", "min_samples", "neighbours_batch": size}
"""
import json
import sys
import time

import numpy as np


def timed(fn, budget_s, min_samples, max_samples=15):
    """Median seconds per call of fn(), after one warm-up call."""
    fn()
    samples = []
    started = time.perf_counter()
    while len(samples) < max_samples and (len(samples) < min_samples or time.perf_counter() - started < budget_s):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return samples[len(samples) // 2], len(samples)


def main():
    spec = json.load(sys.stdin)
    rows, dim, k = spec["rows"], spec["dim"], spec["k"]
    table = np.fromfile(spec["table"], dtype=np.float32).reshape(rows, dim)
    queries = np.fromfile(spec["queries"], dtype=np.float32).reshape(-1, dim)
    norms = np.linalg.norm(table, axis=1)
    unit = (table / np.where(norms > 0, norms, 1)[:, None]).astype(np.float32)
    out = {"numpy": np.__version__, "results": []}

    def numpy_search(q):
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        scores = qn @ unit.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
        return np.take_along_axis(top, order, axis=1)

    try:
        import faiss
        out["faiss"] = faiss.__version__
        index = faiss.IndexFlatIP(dim)
        index.add(unit)
    except ImportError as error:
        faiss = None
        out["faiss_error"] = str(error)

    def faiss_search(q):
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        return index.search(qn, k)[1]

    for threads in spec["threads"]:
        if faiss is not None:
            faiss.omp_set_num_threads(threads)
        for batch in spec["batches"]:
            q = queries[:batch]
            entry = {"batch": batch, "threads": threads}
            if threads == 1:  # numpy's BLAS threads are set by the parent's environment
                entry["numpy_s"], _ = timed(lambda: numpy_search(q), spec["budget_s"], spec["min_samples"])
            if faiss is not None:
                entry["faiss_s"], _ = timed(lambda: faiss_search(q), spec["budget_s"], spec["min_samples"])
            out["results"].append(entry)
    if faiss is not None:
        faiss.omp_set_num_threads(1)
        q = queries[: spec["neighbours_batch"]]
        distances, labels = index.search(q / np.linalg.norm(q, axis=1, keepdims=True), k)
        out["faiss_neighbours"] = labels.ravel().tolist()
        out["faiss_scores"] = distances.ravel().tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
