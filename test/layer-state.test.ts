// Layer state in memory (torch's state_dict / load_state_dict): a copy out, a checked copy in,
// float32 and narrow tables, and every refused state changing nothing.
import { describe, expect, it } from 'vitest';

import { Embedding, EmbeddingBag, SGD, quantize } from '../src/index.js';
import { expectSameBits, expectThrow, randomTable } from './helpers.js';

describe('layer.stateDict() / loadStateDict()', () => {
  it('a trained layer moves into another through its state, bit for bit; the state is a copy', () => {
    const a = new Embedding(20, 6, { seed: 1, sparse: true });
    const optimizer = new SGD([a], { lr: 0.5 });
    a.backward([1, 4, 4], randomTable(3, 6, 2));
    optimizer.step();
    const state = a.stateDict();
    expect(Object.keys(state)).toEqual(['weight']);
    expectSameBits(state.weight as Float32Array, a.weight);
    expect(state.weight).not.toBe(a.weight);
    const b = new Embedding(20, 6, { seed: 9 });
    b.loadStateDict(state);
    expectSameBits(b.forward([1, 4, 19]), a.forward([1, 4, 19]));
    (state.weight as Float32Array).fill(0); // the copy is the caller's
    expect(b.weight[6]).toBe(a.weight[6]);
  });

  it('EmbeddingBag, and narrow tables as their packed rows', () => {
    const bag = new EmbeddingBag(5, 4, { mode: 'mean', seed: 3 });
    const other = new EmbeddingBag(5, 4, { mode: 'mean', seed: 4 });
    other.loadStateDict(bag.stateDict());
    expectSameBits(other.forward([0, 3, 4], [0, 1]), bag.forward([0, 3, 4], [0, 1]));
    for (const dtype of ['float16', 'bfloat16', 'int8', 'int4'] as const) {
      const weights = randomTable(6, 8, 5);
      const source = Embedding.fromPretrained(quantize(weights, 8, dtype), 8, { dtype });
      const target = new Embedding(6, 8, { dtype, seed: 6 });
      const state = source.stateDict();
      expect(state.weight.constructor).toBe(source.data.constructor);
      target.loadStateDict(state);
      expect(Array.from(target.data)).toEqual(Array.from(source.data));
      expectThrow(() => new Embedding(6, 8).loadStateDict(state), TypeError, new RegExp(`state.weight must be a Float32Array \\(this layer's table is float32\\), got a ${state.weight.constructor.name}`));
    }
  });

  it('a bad state is refused with an error naming it, and changes nothing', () => {
    const layer = new Embedding(3, 2, { seed: 7 });
    const before = layer.weight.slice();
    const cases: [unknown, ErrorConstructor, RegExp][] = [
      [null, TypeError, /Embedding.loadStateDict: state must be an object \{ weight \}, got null/],
      [[new Float32Array(6)], TypeError, /state must be an object/],
      [{}, RangeError, /missing key 'weight' in state/],
      [{ weight: new Float32Array(6), bias: new Float32Array(2) }, RangeError, /unexpected key\(s\) in state: 'bias'/],
      [{ weight: new Float64Array(6) }, TypeError, /state.weight must be a Float32Array \(this layer's table is float32\), got a Float64Array\(6\)/],
      [{ weight: new Float32Array(5) }, RangeError, /state.weight must have 6 elements \(3 rows of 2\), got 5/],
    ];
    for (const [state, type, message] of cases) expectThrow(() => layer.loadStateDict(state as never), type, message);
    expectSameBits(layer.weight, before);
  });

  it('not while an async call uses the table', async () => {
    const layer = new Embedding(1000, 32, { seed: 8 });
    const pending = layer.forwardAsync([1, 2, 3]);
    let threw = false;
    try {
      layer.loadStateDict({ weight: new Float32Array(32000) });
    } catch (error) {
      threw = true;
      expect(String(error)).toMatch(/Embedding.loadStateDict: this layer is in use by an unfinished async call/);
    }
    await pending;
    if (threw) expect(layer.weight[0]).not.toBe(0);
    layer.loadStateDict({ weight: new Float32Array(32000) });
    expect(layer.weight[0]).toBe(0);
  });
});

describe('loadStateDict and what is cached about the table', () => {
  it("drops mostSimilar's cached row norms", () => {
    const layer = new Embedding(4, 2, { weight: Float32Array.of(1, 0, 0, 1, 1, 1, -1, 0) });
    expect(Array.from(layer.mostSimilar(0, 1).indices)).toEqual([2]); // cosine to (1, 0): row 2 (1, 1)
    layer.loadStateDict({ weight: Float32Array.of(1, 0, 0, 1, 10, 10, 1, 0.01) });
    // With the old norms (sqrt 2 for row 2, 1 for row 3), row 2 would score 10 / sqrt 2 and win.
    const { indices, scores } = layer.mostSimilar(0, 1);
    expect(Array.from(indices)).toEqual([3]);
    expect(scores[0]).toBeCloseTo(1 / Math.hypot(1, 0.01), 6);
  });
});

describe('the file writers take state dicts', () => {
  it('saveEmbedding(file, layer.stateDict(), { embeddingDim, dtype }) writes the table as the layer would', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { loadEmbedding, saveEmbedding } = await import('../src/index.js');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nn-embedding-state-'));
    try {
      const layer = new Embedding(7, 4, { seed: 11 });
      await saveEmbedding(path.join(dir, 'f32.safetensors'), layer.stateDict(), { embeddingDim: 4 });
      expectSameBits((await loadEmbedding(path.join(dir, 'f32.safetensors'))).weight, layer.weight);
      const int8 = Embedding.fromPretrained(quantize(layer.weight, 4, 'int8'), 4, { dtype: 'int8' });
      await saveEmbedding(path.join(dir, 'int8.safetensors'), int8.stateDict(), { embeddingDim: 4, dtype: 'int8' });
      const loaded = await loadEmbedding(path.join(dir, 'int8.safetensors'), { dtype: 'file' });
      expect(loaded.dtype).toBe('int8');
      expect(Array.from(loaded.data)).toEqual(Array.from(int8.data));
      const file = path.join(dir, 'x.safetensors');
      const { rejection } = await import('./helpers.js');
      const errors: [Promise<unknown>, ErrorConstructor, RegExp][] = [
        [saveEmbedding(file, layer.stateDict()), TypeError, /options.embeddingDim is required with a state dict/],
        [saveEmbedding(file, int8.stateDict(), { embeddingDim: 4 }), TypeError, /options.dtype must say what a state dict's Uint8Array holds/],
        [saveEmbedding(file, layer.stateDict(), { embeddingDim: 4, dtype: 'float16' }), TypeError, /a float16 state dict's weight must be a Uint16Array, got a Float32Array\(28\)/],
        [saveEmbedding(file, layer.stateDict(), { embeddingDim: 5 }), RangeError, /whole rows of 5 values \(embeddingDim 5, float32\), got 28/],
        [saveEmbedding(file, { weight: layer.weight, bias: layer.weight } as never, { embeddingDim: 4 }), TypeError, /a state dict must be \{ weight \}/],
        [saveEmbedding(file, layer, { embeddingDim: 4 }), TypeError, /options.embeddingDim is for a state dict; a layer has its own \(4\)/],
      ];
      for (const [call, type, message] of errors) {
        const error = await rejection(call);
        expect(error).toBeInstanceOf(type);
        expect(String(error)).toMatch(message);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
