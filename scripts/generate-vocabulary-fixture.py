#!/usr/bin/env python3
"""Writes test/fixtures/vocabulary-corpus.json: a corpus and the vocabularies word2vec's rules give
for it, for test/vocabulary-corpus.test.ts.

The rules, as gensim's Word2Vec applies them (scan_vocab, then prepare_vocab / sort_by_descending_frequency):
count every token in a dict (insertion order = first occurrence), keep those seen at least min_count
times, sort by count descending with Python's stable sort (ties keep first-occurrence order), and cut
the list to the first max_size entries (nn-embedding's maxSize; gensim's max_final_vocab raises
min_count instead, which we do not copy). Specials go first, uncounted. Plain Python, no gensim
needed: run with /usr/bin/python3 scripts/generate-vocabulary-fixture.py.
"""
import json
import os

def corpus(sentences, seed):
    """Sentences of Zipf-like tokens from a linear congruential generator (reproducible anywhere)."""
    state = seed
    out = []
    words = ["the", "of", "and", "a", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
             "<unk>", "with", "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by",
             "word", "but", "what", "some", "we", "can", "out", "other", "were", "all", "there", "when", "up", "use",
             "\u00e9t\u00e9", "na\u00efve", "\U0001F600", "a b", ""]
    for _ in range(sentences):
        state = (state * 1103515245 + 12345) % 2**31
        length = 1 + state % 12
        sentence = []
        for _ in range(length):
            state = (state * 1103515245 + 12345) % 2**31
            u = (state >> 8) / 2**23  # [0, 1)
            rank = int(len(words) ** u) - 1  # heavy on the first words
            sentence.append(words[min(rank, len(words) - 1)])
        out.append(sentence)
    return out

def vocabulary(sentences, min_count, max_size, specials):
    counts = {}
    for sentence in sentences:
        for token in sentence:
            if token in specials:
                continue
            counts[token] = counts.get(token, 0) + 1
    kept = [(t, c) for t, c in counts.items() if c >= min_count]
    kept.sort(key=lambda tc: tc[1], reverse=True)  # stable: ties stay in first-occurrence order
    tokens = list(specials) + [t for t, _ in kept]
    if max_size is not None:
        tokens = tokens[:max_size]
    return {"tokens": tokens, "counts": {t: counts[t] for t in tokens if t in counts}}

def main():
    sentences = corpus(400, 2024)
    cases = []
    for min_count, max_size, specials in [(1, None, []), (19, None, []), (5, 20, []), (2, 10, ["<pad>", "<unk>"]), (100000, None, ["<s>"])]:
        cases.append({"minCount": min_count, "maxSize": max_size, "specials": specials,
                      **vocabulary(sentences, min_count, max_size, specials)})
    path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "vocabulary-corpus.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"sentences": sentences, "cases": cases}, f, ensure_ascii=False)
        f.write("\n")

if __name__ == "__main__":
    main()
