// The async methods: the same results as the synchronous ones on every backend and tier, errors
// as rejections with nothing written, the guard against racing an unfinished call, buffers kept
// alive, and (native) an event loop that keeps running while a long call works.
import { describe, expect, it } from 'vitest';

import { BAG_MODE_CODES } from '../src/backend.js';
import { Adam, Embedding, EmbeddingBag, RowWiseAdagrad, SGD, SparseAdam, applyOptimizerInBackward, getBackend } from '../src/index.js';
import { currentBackend } from '../src/loader.js';
import { expectSameBits, randomIndices, randomTable } from './helpers.js';

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('async methods give the synchronous results', () => {
  it('Embedding forwardAsync / backwardAsync, with maxNorm and scaleGradByFreq', async () => {
    const table = randomTable(300, 17, 1);
    const a = new Embedding(300, 17, { weight: table.slice(), maxNorm: 1.5, scaleGradByFreq: true, paddingIdx: 3 });
    const b = new Embedding(300, 17, { weight: table.slice(), maxNorm: 1.5, scaleGradByFreq: true, paddingIdx: 3 });
    for (let k = 0; k < 3; k++) {
      const indices = Int32Array.from(randomIndices(200, 300, k));
      const g = randomTable(200, 17, 10 + k);
      expectSameBits(await a.forwardAsync(indices), b.forward(indices), 'output');
      await a.backwardAsync(indices, g);
      b.backward(indices, g);
    }
    expectSameBits(a.weight, b.weight, 'weight');
    expectSameBits(a.grad, b.grad!, 'grad');
  });

  it('EmbeddingBag forwardAsync / backwardAsync in every mode, weighted too', async () => {
    for (const mode of ['sum', 'mean', 'max'] as const) {
      const table = randomTable(100, 9, 2);
      const a = new EmbeddingBag(100, 9, { weight: table.slice(), mode });
      const b = new EmbeddingBag(100, 9, { weight: table.slice(), mode });
      const indices = randomIndices(60, 100, 3);
      const offsets = [0, 10, 10, 40];
      const weights = mode === 'sum' ? randomTable(60, 1, 4) : null;
      const g = randomTable(4, 9, 5);
      expectSameBits(await a.forwardAsync(indices, offsets, weights), b.forward(indices, offsets, weights), `${mode} output`);
      const ga = await a.backwardAsync(indices, offsets, g, weights);
      const gb = b.backward(indices, offsets, g, weights);
      expectSameBits(a.grad, b.grad!, `${mode} grad`);
      if (gb === null) expect(ga).toBeNull();
      else expectSameBits(ga, gb, `${mode} perSampleWeights grad`);
    }
  });

  for (const [name, make, sparse] of [
    ['SGD', (t: Embedding) => new SGD([t], { lr: 0.1, momentum: 0.9 }), false],
    ['Adam', (t: Embedding) => new Adam([t], { lr: 0.01, amsgrad: true }), false],
    ['SparseAdam', (t: Embedding) => new SparseAdam([t], { lr: 0.01 }), true],
    ['RowWiseAdagrad', (t: Embedding) => new RowWiseAdagrad([t], { lr: 0.1 }), true],
  ] as const) {
    it(`${name} stepAsync`, async () => {
      const table = randomTable(80, 6, 6);
      const a = new Embedding(80, 6, { weight: table.slice(), sparse });
      const b = new Embedding(80, 6, { weight: table.slice(), sparse });
      const optimizerA = make(a);
      const optimizerB = make(b);
      for (let k = 0; k < 3; k++) {
        const indices = randomIndices(30, 80, 20 + k);
        const g = randomTable(30, 6, 30 + k);
        optimizerA.zeroGrad();
        await a.backwardAsync(indices, g);
        await optimizerA.stepAsync();
        optimizerB.zeroGrad();
        b.backward(indices, g);
        optimizerB.step();
      }
      expectSameBits(a.weight, b.weight);
      expect(optimizerA.stateDict()).toEqual(optimizerB.stateDict());
    });
  }

  it('an optimizer applied in backward runs in backwardAsync too', async () => {
    const table = randomTable(50, 4, 7);
    const a = new Embedding(50, 4, { weight: table.slice() });
    const b = new Embedding(50, 4, { weight: table.slice() });
    applyOptimizerInBackward(RowWiseAdagrad, [a], { lr: 0.1 });
    applyOptimizerInBackward(RowWiseAdagrad, [b], { lr: 0.1 });
    const indices = randomIndices(20, 50, 8);
    const g = randomTable(20, 4, 9);
    await a.backwardAsync(indices, g);
    b.backward(indices, g);
    expectSameBits(a.weight, b.weight);
  });
});

describe('errors and the in-flight guard', () => {
  it('bad input rejects with the synchronous error, and nothing is written', async () => {
    const layer = new Embedding(10, 3, { weight: randomTable(10, 3, 1), maxNorm: 0.5 });
    const before = layer.weight.slice();
    const error = await rejection(layer.forwardAsync(new Int32Array([1, 10])));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/Embedding.forwardAsync: indices\[1\] = 10 is out of range/);
    expectSameBits(layer.weight, before);
    expect(await rejection(layer.backwardAsync([1], new Float32Array(2)))).toBeInstanceOf(RangeError);
    expect(layer.grad).toBeNull();
  });

  it('while a call that changes a layer is in flight, every other call on it throws', async () => {
    const layer = new Embedding(1000, 8, { seed: 1 });
    const optimizer = new SGD([layer], { lr: 0.1 });
    layer.backward([1], new Float32Array(8).fill(1));
    const pending = layer.backwardAsync([2, 3], new Float32Array(16).fill(1));
    expect(() => layer.forward([1])).toThrow(/Embedding.forward: this layer is in use by an unfinished async call that changes it; await it first/);
    expect(() => layer.backward([1], new Float32Array(8))).toThrow(/in use by an unfinished async call/);
    expect(() => layer.zeroGrad()).toThrow(/Embedding.zeroGrad: this layer is in use/);
    expect(() => optimizer.step()).toThrow(/SGD.step: this layer is in use/);
    expect((await rejection(layer.forwardAsync([1]))).message).toMatch(/forwardAsync: this layer is in use/);
    await pending;
    expect(layer.grad![2 * 8]).toBe(1);
    layer.forward([1]); // free again
  });

  it('reads may overlap reads; a write waits for none and throws instead', async () => {
    const layer = new Embedding(1000, 8, { seed: 1 });
    const first = layer.forwardAsync([1, 2]);
    const second = layer.forwardAsync([3]);
    const now = layer.forward([4]);
    expect(() => layer.backward([1], new Float32Array(8))).toThrow(/in use by an unfinished async call that reads it/);
    expect((await first).length).toBe(16);
    expect((await second).length).toBe(8);
    expect(now.length).toBe(8);
    layer.backward([1], new Float32Array(8));
  });

  it('an optimizer is busy during stepAsync', async () => {
    const layer = new Embedding(100, 4, { seed: 1 });
    const optimizer = new Adam([layer], { lr: 0.1 });
    layer.backward([1], new Float32Array(4).fill(1));
    const pending = optimizer.stepAsync();
    expect(() => optimizer.step()).toThrow(/Adam.step: this optimizer is in use/);
    expect(() => optimizer.loadStateDict(optimizer.stateDict())).toThrow(/in use/);
    expect(() => layer.forward([1])).toThrow(/this layer is in use/);
    await pending;
    expect(optimizer.stateDict().tables[0]!.step).toBe(1);
  });

  // What an async kernel call reads must outlive every JavaScript reference to it: here nothing
  // but the call itself refers to the table it reads (no layer, no plan), and the test collects
  // garbage while the call runs. On the native backend only the binding's references (KernelWork's
  // keep-alive) hold the table; without them it is collected mid-call, which the WeakRef shows.
  it('an async kernel call keeps alive the arrays only it refers to, until it settles', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'vitest.config.mts runs the tests with --expose-gc').toBeTypeOf('function');
    const rows = 100_000;
    const dim = 64;
    const numBags = 1000;
    const indices = Int32Array.from({ length: 4_000_000 }, (_, i) => (i * 2654435761) % rows);
    const offsets = Uint32Array.from({ length: numBags }, (_, b) => b * (indices.length / numBags));
    const expected = new Float32Array(numBags * dim);
    const backend = currentBackend();
    backend.bagForward(randomTable(rows, dim, 5), dim, indices, offsets, numBags, null, BAG_MODE_CODES.sum, -1, expected);
    const out = new Float32Array(numBags * dim);
    // The table exists only inside this function and the call: its one lasting reference is weak.
    const start = (): [WeakRef<Float32Array>, Promise<number>] => {
      const weight = randomTable(rows, dim, 5);
      return [new WeakRef(weight), backend.callAsync(['bagForward', [weight, dim, indices, offsets, numBags, null, BAG_MODE_CODES.sum, -1, out]])];
    };
    const [table, pending] = start();
    let settled = false;
    void pending.then(() => (settled = true));
    let collections = 0;
    let collectedMidCall = false;
    while (!settled) {
      await new Promise((resolve) => setImmediate(resolve)); // a new job: the WeakRef no longer holds it
      gc!();
      collections++;
      if (!settled && table.deref() === undefined) collectedMidCall = true;
    }
    expect(collectedMidCall, 'the table was collected while the call still read it').toBe(false);
    await pending;
    expectSameBits(out, expected);
    // Not a test that cannot fail: once the call has settled, nothing holds the table, and the
    // same collection frees it.
    for (let i = 0; i < 20 && table.deref() !== undefined; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc!();
    }
    expect(table.deref(), 'the table outlived the call').toBeUndefined();
    if (getBackend() === 'native') expect(collections, 'the call ended before a collection ran during it').toBeGreaterThan(1);
  });
});

describe.runIf(getBackend() === 'native')('the event loop while a long native call runs', () => {
  it('keeps firing a timer during a call of hundreds of milliseconds', async () => {
    const rows = 200_000;
    const dim = 64;
    const bag = new EmbeddingBag(rows, dim, { weight: randomTable(rows, dim, 1), mode: 'sum' });
    const indices = Int32Array.from({ length: 4_000_000 }, (_, i) => (i * 2654435761) % rows);
    const offsets = Int32Array.from({ length: 1000 }, (_, b) => b * 4000);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const started = performance.now();
    await bag.forwardAsync(indices, offsets);
    const elapsed = performance.now() - started;
    clearInterval(timer);
    // A blocked event loop would tick at most once, at the end.
    expect(elapsed).toBeGreaterThan(20);
    expect(ticks).toBeGreaterThan(Math.min(5, elapsed / 10));
  });
});

describe('an optimizer applied in backward is busy while an async backward applies it', () => {
  it('step, stateDict and loadStateDict throw meanwhile; other tables may update at once; a failed call releases it', async () => {
    const a = new Embedding(2000, 16, { seed: 1 });
    const b = new Embedding(50, 4, { seed: 2 });
    const optimizer = applyOptimizerInBackward(RowWiseAdagrad, [a, b], { lr: 0.1 });
    const saved = optimizer.stateDict();
    const indices = Int32Array.from(randomIndices(20_000, 2000, 5));
    let done = false;
    const pending = a.backwardAsync(indices, randomTable(20_000, 16, 6)).then(() => {
      done = true;
    });
    const other = b.backwardAsync(Int32Array.of(1, 2), new Float32Array(8).fill(1)); // another table: allowed
    const refusals = new Set<string>();
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      if (done) break;
      for (const [name, call] of [
        ['stateDict', () => optimizer.stateDict()],
        ['loadStateDict', () => optimizer.loadStateDict(saved)],
        ['step', () => optimizer.step()],
      ] as const) {
        try {
          call();
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message).toMatch(/in use by an unfinished async/);
          refusals.add(name);
        }
      }
    }
    await Promise.all([pending, other]);
    // On the TypeScript backend the update may run within one macrotask: nothing to refuse then.
    if (getBackend() === 'native') expect([...refusals].sort()).toEqual(['loadStateDict', 'stateDict', 'step']);
    expect((await rejection(a.backwardAsync(Int32Array.of(5000), new Float32Array(16)))).name).toBe('RangeError');
    expect(optimizer.stateDict().tables).toHaveLength(2); // released after the failure
  });
});

describe('what an async forward allocates stays transferable by the caller', () => {
  it('Embedding and EmbeddingBag forwardAsync without out: correct, and transferable afterwards', async () => {
    const e = new Embedding(100, 8, { seed: 3 });
    const out = await e.forwardAsync(Int32Array.of(1, 2, 99));
    expectSameBits(out, e.forward(Int32Array.of(1, 2, 99)), 'output');
    const moved = structuredClone(out.buffer, { transfer: [out.buffer as ArrayBuffer] });
    expect(out.byteLength).toBe(0); // detached: it was transferred, not copied
    expect(moved.byteLength).toBe(3 * 8 * 4);
    const bag = new EmbeddingBag(100, 8, { mode: 'sum', seed: 4 });
    const bagOut = await bag.forwardAsync([1, 2, 3, 4], [0, 2]);
    expectSameBits(bagOut, bag.forward([1, 2, 3, 4], [0, 2]), 'bag output');
    structuredClone(bagOut.buffer, { transfer: [bagOut.buffer as ArrayBuffer] });
    expect(bagOut.byteLength).toBe(0);
    // An out the caller passed is pinned for good (see README: No crash).
    const given = new Float32Array(2 * 8);
    await e.forwardAsync(Int32Array.of(1, 2), given);
    try {
      structuredClone(given.buffer, { transfer: [given.buffer as ArrayBuffer] });
    } catch (error) {
      expect((error as Error).name).toBe('DataCloneError'); // Node >= 21
    }
    expect(given.byteLength).toBe(2 * 8 * 4);
  });
});
