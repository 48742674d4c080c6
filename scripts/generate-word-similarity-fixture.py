#!/usr/bin/env python3
"""Writes test/fixtures/word-similarity.json for test/word-similarity.test.ts: a small table of
word vectors and what gensim's KeyedVectors.most_similar / similarity return for it, computed by a
numpy brute force in float64 that follows gensim 4's steps (gensim itself is not needed):

  most_similar(positive, negative, topn, restrict_vocab):
    mean = sum(weight_i * v_i / |v_i|) / sum(|weight_i|), weight +1 for positives, -1 for negatives
    mean = mean / |mean|
    dists = vectors[:limit] @ mean / norms[:limit]
    best first (ties: lower index), the input words left out, the first topn
  similarity(a, b) = dot(v_a / |v_a|, v_b / |v_b|)

Run with /usr/bin/python3 (Debian's python3-numpy).
"""
import json
import os

import numpy as np

def main():
    rng = np.random.default_rng(15)
    words = [f"w{i}" for i in range(300)] + ["king", "queen", "man", "woman", "zero"]
    vectors = rng.standard_normal((len(words), 24)).astype(np.float32)
    index = {w: i for i, w in enumerate(words)}
    # A planted analogy: queen ~ king - man + woman, and an all-zero row.
    vectors[index["queen"]] = (vectors[index["king"]] - vectors[index["man"]] + vectors[index["woman"]] + 0.1 * rng.standard_normal(24)).astype(np.float32)
    vectors[index["zero"]] = 0
    v64 = vectors.astype(np.float64)
    norms = np.linalg.norm(v64, axis=1)

    def unit(v):
        n = np.linalg.norm(v)
        return v / n if n > 0 else v

    def most_similar(positive, negative, topn, limit=None):
        keys = positive + negative
        weights = [1.0] * len(positive) + [-1.0] * len(negative)
        mean = sum(w * unit(v64[index[k]]) for k, w in zip(keys, weights)) / sum(abs(w) for w in weights)
        mean = unit(mean)
        end = limit or len(words)
        with np.errstate(divide="ignore", invalid="ignore"):
            dists = np.where(norms[:end] > 0, v64[:end] @ mean / norms[:end], 0.0)
        order = sorted(range(end), key=lambda i: (-dists[i], i))
        result = [(words[i], float(dists[i])) for i in order if words[i] not in keys]
        return result[:topn]

    queries = [
        {"positive": ["king", "woman"], "negative": ["man"], "k": 5},
        {"positive": ["w3"], "negative": [], "k": 10},
        {"positive": ["w7", "w8", "w9"], "negative": ["w10"], "k": 10},
        {"positive": [], "negative": ["w1"], "k": 4},
        {"positive": ["w5"], "negative": [], "k": 6, "limit": 50},
    ]
    for q in queries:
        q["expected"] = most_similar(q["positive"], q["negative"], q["k"], q.get("limit"))
    pairs = [["king", "queen"], ["w1", "w2"], ["w4", "w4"], ["zero", "w3"]]
    similarities = [[a, b, float(unit(v64[index[a]]) @ unit(v64[index[b]]))] for a, b in pairs]
    path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "word-similarity.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"words": words, "dim": 24, "vectors": [float(x) for x in vectors.ravel()],
                   "queries": queries, "similarities": similarities}, f)
        f.write("\n")

if __name__ == "__main__":
    main()
