// The native thread pool: setNumThreads/getNumThreads and NN_EMBEDDING_THREADS; every kernel gives
// the same bits with 1, 2 and 3 threads on inputs large enough to be split (1 MiB of row traffic
// or more, native/thread_pool.h); the pool starts lazily; worker_threads and async calls share it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import { afterAll, describe, expect, it } from 'vitest';

import {
  Adagrad,
  Adam,
  AdamW,
  type BagMode,
  Embedding,
  EmbeddingBag,
  type Optimizer,
  RowWiseAdagrad,
  SGD,
  SparseAdam,
  getBackend,
  getNumThreads,
  setNumThreads,
} from '../src/index.js';
import { expectSameBits, expectThrow, randomTable, rng } from './helpers.js';

const root = path.resolve(__dirname, '..');
const native = getBackend() === 'native';
const nativeOnly = 'native backend only: the TypeScript backend runs on one thread';
const initialThreads = getNumThreads();
afterAll(() => setNumThreads(initialThreads));

/** A fresh Node process running code against the built package, with this test's backend. */
function node(code: string, env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['-e', code], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}

describe('setNumThreads / getNumThreads', () => {
  it('accepts integers from 1 to 256 and reports the count in effect (1 on the TypeScript backend)', () => {
    for (const n of [1, 3, 256, 2]) {
      setNumThreads(n);
      expect(getNumThreads()).toBe(native ? n : 1);
    }
  });

  it('rejects other numbers with a RangeError and other kinds with a TypeError, changing nothing', () => {
    setNumThreads(2);
    for (const bad of [0, -1, 1.5, 257, NaN, Infinity]) {
      expectThrow(() => setNumThreads(bad), RangeError, /setNumThreads: n must be an integer from 1 to 256, got /);
    }
    for (const bad of ['2', null, undefined, 2n, true, { valueOf: () => 2 }]) {
      expectThrow(() => setNumThreads(bad as number), TypeError, /setNumThreads: n must be a number, got /);
    }
    expectThrow(() => setNumThreads('2' as unknown as number), TypeError, /got a string "2"$/);
    expectThrow(() => setNumThreads(null as unknown as number), TypeError, /got null$/);
    expectThrow(() => setNumThreads(2n as unknown as number), TypeError, /got 2n$/);
    expect(getNumThreads()).toBe(native ? 2 : 1);
  });

  it('NN_EMBEDDING_THREADS sets the default; setNumThreads overrides it; a bad value is a RangeError', () => {
    const probe = `const m = require('nn-embedding'); const before = m.getNumThreads(); m.setNumThreads(2); console.log(before, m.getNumThreads());`;
    const set = node(probe, { NN_EMBEDDING_THREADS: ' 5 ' });
    expect(set.stderr).toBe('');
    expect(set.stdout).toBe(native ? '5 2' : '1 1');
    for (const bad of ['0', '257', 'four', '2.5', '-3']) {
      const result = node(probe, { NN_EMBEDDING_THREADS: bad });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(new RegExp(`RangeError: NN_EMBEDDING_THREADS must be an integer from 1 to 256, got '${bad}'`));
    }
  });

  it.runIf(native && existsSync('/proc/self/task'))('the pool starts with the first call worth splitting, never at load (native, Linux)', () => {
    const code = `
      const m = require('nn-embedding');
      const threads = () => require('node:fs').readdirSync('/proc/self/task').length;
      const counts = [threads()];
      m.setNumThreads(3);
      const table = new m.Embedding(20000, 64, { init: { kind: 'zeros' } }); // a random init this large splits too
      table.forward(new Int32Array(8));  // a handful of rows: never wakes the pool
      counts.push(threads());
      const big = new Int32Array(16384).map((_, i) => (i * 7919) % 20000);
      table.forward(big);                // 4 MiB of rows: the pool starts with 2 workers
      counts.push(threads());
      table.forward(big);
      counts.push(threads());
      m.setNumThreads(2);                // resized at the next split call
      table.forward(big);
      counts.push(threads());
      console.log(JSON.stringify(counts));`;
    const result = node(code);
    expect(result.stderr).toBe('');
    const [loaded, afterSmall, afterBig, again, resized] = JSON.parse(result.stdout) as number[];
    expect(afterSmall).toBe(loaded);
    expect(afterBig).toBe(loaded! + 2);
    expect(again).toBe(loaded! + 2);
    expect(resized).toBe(loaded! + 1);
  });
});

// ---------------------------------------------------------------------------------------------
// The same bits whatever the thread count. Indices are skewed (a quarter on a few hot rows) so
// that rows collect many updates, whose order a careless split would change.

const ROWS = 20_000;
const DIM = 64;
const COUNT = 16_384;

function skewedIndices(count: number, rows: number, seed: number): Int32Array {
  const next = rng(seed);
  return Int32Array.from({ length: count }, (_, i) => (i % 4 === 0 ? (i >> 2) % 7 : Math.floor(next() * rows)));
}

/** Runs compute with 1, 2 and 3 threads and expects every output to have the bits of 1 thread. */
function expectSameWithThreads(compute: () => (Float32Array | null)[]): void {
  const results = [1, 2, 3].map((threads) => {
    setNumThreads(threads);
    return compute();
  });
  for (const [t, result] of results.entries()) {
    if (t === 0) continue;
    result.forEach((output, k) => {
      if (results[0]![k] === null) expect(output).toBeNull();
      else expectSameBits(output, results[0]![k]!, `output ${k} with ${t + 1} threads`);
    });
  }
}

const weight = randomTable(ROWS, DIM, 11);
const indices = skewedIndices(COUNT, ROWS, 12);
const gradOutput = randomTable(COUNT, DIM, 13);

describe.skipIf(!native)(`the same bits with 1, 2 and 3 threads (${nativeOnly})`, () => {
  it('Embedding forward and dense backward, with paddingIdx and scaleGradByFreq', () => {
    for (const options of [{}, { paddingIdx: 3, scaleGradByFreq: true }]) {
      expectSameWithThreads(() => {
        const layer = new Embedding(ROWS, DIM, { weight: weight.slice(), ...options });
        const out = layer.forward(indices);
        layer.backward(indices, gradOutput);
        layer.backward(indices.subarray(0, COUNT / 2), gradOutput.subarray(0, (COUNT / 2) * DIM));
        return [out, layer.grad];
      });
    }
  });

  it('maxNorm renorm (p = 2 and p = 3)', () => {
    for (const normType of [2, 3]) {
      expectSameWithThreads(() => {
        const layer = new Embedding(ROWS, DIM, { weight: weight.slice(), maxNorm: 1.5, normType });
        return [layer.forward(indices), layer.weight];
      });
    }
  });

  it('EmbeddingBag forward and backward: sum, mean, max, weighted sum', () => {
    const offsets = Uint32Array.from({ length: COUNT / 16 }, (_, b) => b * 16 - (b % 3 === 1 ? 5 : 0));
    const bagGrad = randomTable(offsets.length, DIM, 14);
    const perSampleWeights = randomTable(COUNT, 1, 15);
    const cases: [BagMode, Float32Array | null][] = [['sum', null], ['mean', null], ['max', null], ['sum', perSampleWeights]];
    for (const [mode, weights] of cases) {
      expectSameWithThreads(() => {
        const bag = new EmbeddingBag(ROWS, DIM, { weight: weight.slice(), mode, paddingIdx: 5 });
        const out = bag.forward(indices, offsets, weights);
        const weightGrad = bag.backward(indices, offsets, bagGrad, weights);
        return [out, bag.grad, weightGrad];
      });
    }
  });

  const denseOptimizers: [string, (layer: Embedding) => Optimizer][] = [
    ['SGD (momentum, weight decay)', (l) => new SGD([l], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 })],
    ['Adagrad', (l) => new Adagrad([l], { lr: 0.1, weightDecay: 0.01 })],
    ['Adam (amsgrad)', (l) => new Adam([l], { lr: 0.01, amsgrad: true })],
    ['AdamW', (l) => new AdamW([l], { lr: 0.01 })],
    ['RowWiseAdagrad', (l) => new RowWiseAdagrad([l], { lr: 0.1, weightDecay: 0.01 })],
  ];
  const sparseOptimizers: [string, (layer: Embedding) => Optimizer][] = [
    ['SGD', (l) => new SGD([l], { lr: 0.1 })],
    ['Adagrad', (l) => new Adagrad([l], { lr: 0.1 })],
    ['SparseAdam', (l) => new SparseAdam([l], { lr: 0.01 })],
    ['RowWiseAdagrad', (l) => new RowWiseAdagrad([l], { lr: 0.1 })],
  ];
  for (const [sparse, optimizers] of [[false, denseOptimizers], [true, sparseOptimizers]] as const) {
    it.each(optimizers.map(([name, make]) => [name, make] as const))(`%s: two ${sparse ? 'sparse' : 'dense'} steps`, (_name, make) => {
      expectSameWithThreads(() => {
        const layer = new Embedding(ROWS, DIM, { weight: weight.slice(), sparse });
        const optimizer = make(layer);
        for (let step = 0; step < 2; step++) {
          optimizer.zeroGrad();
          layer.backward(indices, gradOutput);
          optimizer.step();
        }
        return [layer.weight];
      });
    });
  }

  it('async calls (on libuv threads) racing synchronous ones: each gets the pool or runs alone, with the same bits', async () => {
    setNumThreads(3);
    const expected = new Embedding(ROWS, DIM, { weight: weight.slice() });
    const expectedOut = expected.forward(indices);
    expected.backward(indices, gradOutput);
    const reader = new Embedding(ROWS, DIM, { weight: weight.slice() });
    const writer = new Embedding(ROWS, DIM, { weight: weight.slice() });
    for (let round = 0; round < 4; round++) {
      const pending = [reader.forwardAsync(indices), reader.forwardAsync(indices)];
      writer.zeroGrad();
      writer.backward(indices, gradOutput); // on this thread, while the async forwards run
      for (const out of await Promise.all(pending)) expectSameBits(out, expectedOut, 'async forward');
      expectSameBits(writer.grad, expected.grad!, 'sync backward');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// worker_threads: each loads the addon and calls big kernels through the one process-wide pool
// while the main thread does too; results match, and every worker exits cleanly.

/** Runs in the main thread and in workers: a forward, backward, Adam step and bag forward. */
const WORKLOAD = `(m, seed) => {
  const rows = 20000, dim = 64, count = 16384;
  let state = seed >>> 0;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
  const weight = new Float32Array(rows * dim).map(() => next() - 0.5);
  const indices = new Int32Array(count).map((_, i) => (i % 4 === 0 ? i % 7 : Math.floor(next() * rows)));
  const gradOutput = new Float32Array(count * dim).map(() => next() - 0.5);
  const layer = new m.Embedding(rows, dim, { weight });
  const out = layer.forward(indices);
  layer.backward(indices, gradOutput);
  const grad = layer.grad.slice();
  new m.Adam([layer], { lr: 0.01 }).step();
  const bag = new m.EmbeddingBag(rows, dim, { mode: 'sum', weight: weight.slice() });
  return [out, grad, layer.weight, bag.forward(indices, 16)];
}`;

function workerSource(rounds: number): string {
  return `
    const { parentPort, workerData } = require('node:worker_threads');
    const m = require(${JSON.stringify(root)});
    const workload = ${WORKLOAD};
    for (let round = 0; round < ${rounds}; round++) {
      const outputs = workload(m, workerData.seed);
      parentPort.postMessage({ threads: m.getNumThreads(), backend: m.getBackend(), outputs }, outputs.map((o) => o.buffer));
    }`;
}

function exitOf(worker: Worker, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not exit within ${timeoutMs} ms`)), timeoutMs);
    worker.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe.skipIf(!native)(`worker_threads (${nativeOnly})`, () => {
  // The test imports the package from src/; the workers load the built dist/ (npm test builds it
  // first). Both load the same addon file, so they share one pool.
  const workload = new Function(`return ${WORKLOAD}`)() as (m: unknown, seed: number) => Float32Array[];
  const api = { Embedding, EmbeddingBag, Adam };

  it('several workers and the main thread run big kernels at once: same results, clean exits', async () => {
    setNumThreads(3);
    const seeds = [101, 202, 303];
    const expected = new Map(seeds.map((seed) => [seed, workload(api, seed)]));
    const rounds = 3;
    const workers = seeds.map((seed) => new Worker(workerSource(rounds), { eval: true, workerData: { seed } }));
    const exits = workers.map((worker) => exitOf(worker, 60_000));
    const received = workers.map((worker, w) => {
      let count = 0;
      worker.on('message', ({ threads, backend, outputs }: { threads: number; backend: string; outputs: Float32Array[] }) => {
        expect(backend).toBe('native');
        expect(threads).toBe(3); // the pool is process-wide: the main thread's setting holds
        outputs.forEach((output, k) => expectSameBits(output, expected.get(seeds[w]!)![k]!, `worker ${w} output ${k}`));
        count++;
      });
      return () => count;
    });
    // Meanwhile the main thread keeps calling kernels, checking its own results.
    for (let round = 0; round < 3; round++) {
      const outputs = workload(api, seeds[round]!);
      outputs.forEach((output, k) => expectSameBits(output, expected.get(seeds[round]!)![k]!, `main output ${k}`));
    }
    expect(await Promise.all(exits)).toEqual([0, 0, 0]);
    expect(received.map((count) => count())).toEqual([rounds, rounds, rounds]);
  });

  it('a worker terminated in the middle of its work exits, and the pool keeps working', async () => {
    setNumThreads(2);
    const worker = new Worker(workerSource(1_000_000), { eval: true, workerData: { seed: 7 } });
    const exit = exitOf(worker, 60_000);
    await new Promise((resolve) => worker.once('message', resolve));
    await worker.terminate();
    expect(await exit).toBe(1);
    const expected = workload(api, 7);
    setNumThreads(1);
    workload(api, 7).forEach((output, k) => expectSameBits(output, expected[k]!, `after terminate, output ${k}`));
  });
});
