// Optimizers on the backend this process was started for: update rules against plain references,
// sparse steps touching only their rows, every rejected combination, stateDict round trips, and
// the optimizer applied in backward giving exactly the numbers of backward + step().
import { describe, expect, it } from 'vitest';

import {
  Adagrad,
  Adam,
  AdamW,
  Embedding,
  EmbeddingBag,
  type Optimizer,
  type OptimizerStateDict,
  RowWiseAdagrad,
  SGD,
  SparseAdam,
  type Trainable,
  applyOptimizerInBackward,
} from '../src/index.js';
import { keptGradients } from '../src/table.js';
import { type Thrown, expectSameBits, expectThrow, randomIndices, randomTable } from './helpers.js';

const f = Math.fround;

function layer(rows: number, dim: number, options: { sparse?: boolean; paddingIdx?: number; freeze?: boolean } = {}) {
  return new Embedding(rows, dim, { weight: randomTable(rows, dim, rows * 31 + dim), ...options });
}

/** One training step: zeroGrad, forward (unused), backward with gradOutput, step. */
function trainStep(optimizer: Optimizer, target: Embedding, indices: number[], gradOutput: Float32Array): void {
  optimizer.zeroGrad();
  target.forward(indices);
  target.backward(indices, gradOutput);
  optimizer.step();
}

describe('update rules', () => {
  it('SGD: w - lr * g; dense sums duplicate rows first, sparse adds them one by one (as torch)', () => {
    const dense = layer(6, 3);
    const w0 = dense.weight.slice();
    const g = randomTable(3, 3, 1);
    trainStep(new SGD([dense], { lr: 0.5 }), dense, [1, 4, 1], g);
    const sparse = layer(6, 3, { sparse: true });
    trainStep(new SGD([sparse], { lr: 0.5 }), sparse, [1, 4, 1], g);
    for (let j = 0; j < 3; j++) {
      const summed = f(g[j]! + g[6 + j]!);
      expect(sparse.weight[3 + j]).toBe(f(f(w0[3 + j]! + f(-0.5 * g[j]!)) + f(-0.5 * g[6 + j]!)));
      expect(dense.weight[3 + j]).toBe(f(w0[3 + j]! + f(-0.5 * summed)));
      expect(sparse.weight[12 + j]).toBe(f(w0[12 + j]! + f(-0.5 * g[3 + j]!)));
    }
    expectSameBits(sparse.weight.subarray(0, 3), w0.subarray(0, 3), 'untouched row 0');
  });

  it('SGD momentum: the buffer starts as a copy of the first gradient', () => {
    const target = layer(2, 2);
    const w0 = target.weight.slice();
    const optimizer = new SGD([target], { lr: 0.1, momentum: 0.9, dampening: 0.5 });
    const g1 = new Float32Array([1, 2, 3, 4]);
    const g2 = new Float32Array([-1, 0.5, 2, 8]);
    trainStep(optimizer, target, [0, 1], g1);
    trainStep(optimizer, target, [0, 1], g2);
    for (let j = 0; j < 4; j++) {
      const buf = f(f(g1[j]! * f(0.9)) + f(0.5 * g2[j]!));
      const after1 = f(w0[j]! + f(f(-0.1) * g1[j]!));
      expect(target.weight[j]).toBe(f(after1 + f(f(-0.1) * buf)));
    }
    expect(Array.from(optimizer.stateDict().tables[0]!.buffers.momentumBuffer!)).toEqual(
      Array.from({ length: 4 }, (_, j) => f(f(g1[j]! * f(0.9)) + f(0.5 * g2[j]!))),
    );
  });

  it('Adam: bias-corrected moments over three steps', () => {
    const target = layer(3, 4);
    const w = Array.from(target.weight);
    const optimizer = new Adam([target], { lr: 0.01 });
    const m = new Array<number>(12).fill(0);
    const v = new Array<number>(12).fill(0);
    for (let step = 1; step <= 3; step++) {
      const g = randomTable(3, 4, step);
      trainStep(optimizer, target, [0, 1, 2], g);
      const stepSize = f(-(0.01 / (1 - 0.9 ** step)));
      const c = f(Math.sqrt(1 - 0.999 ** step));
      for (let k = 0; k < 12; k++) {
        m[k] = f(f(m[k]! * f(0.9)) + f(f(1 - 0.9) * g[k]!));
        v[k] = f(f(v[k]! * f(0.999)) + f(f(f(1 - 0.999) * g[k]!) * g[k]!));
        const denom = f(f(f(Math.sqrt(v[k]!)) / c) + f(1e-8));
        w[k] = f(w[k]! + f(f(stepSize * m[k]!) / denom));
      }
    }
    expectSameBits(target.weight, Float32Array.from(w));
    expect(optimizer.stateDict().tables[0]!.step).toBe(3);
  });

  it('RowWiseAdagrad: one accumulator per row, mean of g² over the row', () => {
    const target = layer(4, 8, { sparse: true });
    const w0 = target.weight.slice();
    const optimizer = new RowWiseAdagrad([target], { lr: 0.1 });
    const g = randomTable(1, 8, 3);
    trainStep(optimizer, target, [2], g);
    const meanSquare = Array.from(g).reduce((s, x) => s + x * x, 0) / 8;
    const h = f(meanSquare);
    expect(optimizer.stateDict().tables[0]!.buffers.sum![2]).toBe(h);
    const multiplier = f(0.1 / (Math.sqrt(h) + 1e-10));
    for (let j = 0; j < 8; j++) expect(target.weight[16 + j]).toBe(f(w0[16 + j]! - f(multiplier * g[j]!)));
    expectSameBits(target.weight.subarray(0, 16), w0.subarray(0, 16), 'untouched rows');
  });

  for (const [name, make] of [
    ['SGD', (p: Trainable[]) => new SGD(p, { lr: 0.1 })],
    ['Adagrad', (p: Trainable[]) => new Adagrad(p, { lr: 0.1 })],
    ['SparseAdam', (p: Trainable[]) => new SparseAdam(p, { lr: 0.1 })],
    ['RowWiseAdagrad', (p: Trainable[]) => new RowWiseAdagrad(p, { lr: 0.1 })],
  ] as const) {
    it(`${name}: a sparse step changes only the rows it touches, and their state`, () => {
      const target = layer(50, 5, { sparse: true, paddingIdx: 7 });
      const optimizer = make([target]);
      const before = target.weight.slice();
      const touched = [3, 9, 3, 7, 40];
      trainStep(optimizer, target, touched, randomTable(5, 5, 9));
      const state = optimizer instanceof SGD ? null : Object.values((optimizer as SparseAdam).stateDict().tables[0]!.buffers);
      for (let row = 0; row < 50; row++) {
        const changed = target.weight.subarray(row * 5, row * 5 + 5).some((x, j) => x !== before[row * 5 + j]);
        expect(changed, `row ${row}`).toBe([3, 9, 40].includes(row));
        for (const buffer of state ?? []) {
          const perRow = buffer.length === 50;
          const values = perRow ? [buffer[row]!] : Array.from(buffer.subarray(row * 5, row * 5 + 5));
          if (![3, 9, 40].includes(row)) expect(values.every((x) => x === 0), `state of row ${row}`).toBe(true);
        }
      }
    });
  }
});

describe('tables, frozen tables and zeroGrad', () => {
  it('skips frozen tables and tables without a gradient; zeroGrad clears every gradient', () => {
    const a = layer(4, 2);
    const frozen = layer(4, 2, { freeze: true });
    const idle = layer(4, 2);
    const optimizer = new Adam([a, frozen, idle], { lr: 0.1 });
    const frozenBefore = frozen.weight.slice();
    const idleBefore = idle.weight.slice();
    a.backward([1], new Float32Array([1, 1]));
    frozen.backward([1], new Float32Array([1, 1]));
    optimizer.step();
    expectSameBits(frozen.weight, frozenBefore);
    expectSameBits(idle.weight, idleBefore);
    expect(optimizer.stateDict().tables.map((t) => t.step)).toEqual([1, 0, 0]);
    optimizer.zeroGrad();
    expect(a.grad).toBeNull();
  });

  it('updates EmbeddingBag tables too', () => {
    const bag = new EmbeddingBag(5, 2, { weight: randomTable(5, 2, 1), mode: 'sum', sparse: true });
    const before = bag.weight.slice();
    const optimizer = new SGD([bag], { lr: 1 });
    bag.backward([1, 3], [0], new Float32Array([1, 2]));
    optimizer.step();
    expect(bag.weight[2]).toBe(f(before[2]! - 1));
    expect(bag.weight[7]).toBe(f(before[7]! - 2));
  });
});

describe('rejected combinations, as in torch', () => {
  const sparse = () => layer(4, 2, { sparse: true });
  const dense = () => layer(4, 2);
  const cases: [string, () => unknown, Thrown, RegExp][] = [
    ['Adam with a sparse layer', () => new Adam([sparse()]), RangeError, /Adam: params\[0\] has sparse gradients, which Adam does not support; use SparseAdam/],
    ['AdamW with a sparse layer', () => new AdamW([dense(), sparse()]), RangeError, /AdamW: params\[1\] has sparse gradients.*SparseAdam/],
    ['SGD sparse with momentum', () => new SGD([sparse()], { lr: 0.1, momentum: 0.9 }), RangeError, /SGD takes only without momentum and weightDecay/],
    ['SGD sparse with weight decay', () => new SGD([sparse()], { lr: 0.1, weightDecay: 0.1 }), RangeError, /without momentum and weightDecay/],
    ['Adagrad sparse with weight decay', () => new Adagrad([sparse()], { weightDecay: 0.1 }), RangeError, /Adagrad takes only without weightDecay/],
    ['SGD without lr', () => new SGD([dense()], {} as never), TypeError, /options.lr is required/],
    ['SGD without options', () => new SGD([dense()], undefined as never), TypeError, /options.lr is required/],
    ['a negative lr', () => new Adam([dense()], { lr: -1 }), RangeError, /options.lr must be a non-negative number, got -1/],
    ['a NaN eps', () => new Adagrad([dense()], { eps: NaN }), RangeError, /options.eps must be a non-negative number, got NaN/],
    ['betas out of range', () => new Adam([dense()], { betas: [0.9, 1] }), RangeError, /options.betas\[1\] must be in \[0, 1\), got 1/],
    ['betas not a pair', () => new SparseAdam([sparse()], { betas: [0.9] as never }), TypeError, /options.betas must be a pair of numbers/],
    ['nesterov without momentum', () => new SGD([dense()], { lr: 0.1, nesterov: true }), RangeError, /nesterov needs a positive momentum and zero dampening/],
    ['an unknown option', () => new Adam([dense()], { weight_decay: 0.1 } as never), TypeError, /unknown option 'weight_decay'/],
    ['no params', () => new Adam([]), TypeError, /params must be a non-empty array/],
    ['a param that is not a layer', () => new Adam([{ weight: new Float32Array(4) }] as never), TypeError, /params\[0\] must be an Embedding or EmbeddingBag, got an object/],
    ['a param given twice', () => { const a = dense(); return new Adam([a, a]); }, RangeError, /params\[1\] appears more than once/],
  ];
  for (const [name, fn, type, message] of cases) it(name, () => expectThrow(fn, type, message));

  it('SparseAdam with a dense gradient throws at step() and changes nothing', () => {
    const a = sparse();
    const b = dense();
    const optimizer = new SparseAdam([a, b]);
    a.backward([1], new Float32Array([1, 1]));
    b.backward([1], new Float32Array([1, 1]));
    const before = [a.weight.slice(), b.weight.slice()];
    expectThrow(() => optimizer.step(), TypeError, /SparseAdam: params\[1\] has a dense gradient/);
    expectSameBits(a.weight, before[0]!);
    expectSameBits(b.weight, before[1]!);
  });
});

describe('stateDict and loadStateDict', () => {
  const makers: [string, (p: Trainable[]) => Optimizer & { stateDict(): OptimizerStateDict; loadStateDict(d: OptimizerStateDict): void }, boolean][] = [
    ['SGD momentum', (p) => new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true }), false],
    ['Adagrad', (p) => new Adagrad(p, { lr: 0.1, lrDecay: 0.01 }), false],
    ['Adam amsgrad', (p) => new Adam(p, { lr: 0.01, amsgrad: true }), false],
    ['AdamW', (p) => new AdamW(p, { lr: 0.01 }), false],
    ['SparseAdam', (p) => new SparseAdam(p, { lr: 0.01 }), true],
    ['RowWiseAdagrad', (p) => new RowWiseAdagrad(p, { lr: 0.1 }), true],
  ];
  for (const [name, make, sparse] of makers) {
    it(`${name}: training resumed from a state dict continues bit-identically`, () => {
      const steps = Array.from({ length: 5 }, (_, k) => ({ indices: randomIndices(6, 20, k), grad: randomTable(6, 3, 100 + k) }));
      const original = layer(20, 3, { sparse });
      const optimizer = make([original]);
      steps.slice(0, 3).forEach((s) => trainStep(optimizer, original, s.indices, s.grad));
      const saved = optimizer.stateDict();
      const resumed = new Embedding(20, 3, { weight: original.weight.slice(), sparse });
      const resumedOptimizer = make([resumed]);
      resumedOptimizer.loadStateDict(saved);
      steps.slice(3).forEach((s) => {
        trainStep(optimizer, original, s.indices, s.grad);
        trainStep(resumedOptimizer, resumed, s.indices, s.grad);
      });
      expectSameBits(resumed.weight, original.weight);
      expect(resumedOptimizer.stateDict()).toEqual(optimizer.stateDict());
      // The dict holds copies: training on does not change what was saved.
      expect(saved.tables[0]!.step === 3 || name.startsWith('SGD')).toBe(true);
    });
  }

  it('rejects a state dict of another optimizer, table count or buffer size, changing nothing', () => {
    const target = layer(4, 2);
    const optimizer = new Adam([target]);
    target.backward([1], new Float32Array([1, 1]));
    optimizer.step();
    const good = optimizer.stateDict();
    expectThrow(() => optimizer.loadStateDict({ ...good, optimizer: 'SGD' }), TypeError, /expected a state dict of Adam/);
    expectThrow(() => optimizer.loadStateDict({ ...good, tables: [] }), RangeError, /has 0 tables, this optimizer 1/);
    const short = { ...good, tables: [{ step: 1, buffers: { expAvg: new Float32Array(3) } }] };
    expectThrow(() => optimizer.loadStateDict(short), RangeError, /buffers.expAvg must be a Float32Array of 8 values/);
    const badStep = { ...good, tables: [{ step: -1, buffers: {} }] };
    expectThrow(() => optimizer.loadStateDict(badStep), RangeError, /step must be a non-negative integer, got -1/);
    expect(optimizer.stateDict()).toEqual(good);
  });
});

describe('applyOptimizerInBackward', () => {
  const makers: [string, (p: Trainable[]) => Optimizer, (p: Trainable[]) => Optimizer][] = [
    ['SGD', (p) => new SGD(p, { lr: 0.1 }), (p) => applyOptimizerInBackward(SGD, p, { lr: 0.1 })],
    ['Adagrad', (p) => new Adagrad(p, { lr: 0.1 }), (p) => applyOptimizerInBackward(Adagrad, p, { lr: 0.1 })],
    ['SparseAdam', (p) => new SparseAdam(p, { lr: 0.01 }), (p) => applyOptimizerInBackward(SparseAdam, p, { lr: 0.01 })],
    ['RowWiseAdagrad', (p) => new RowWiseAdagrad(p, { lr: 0.1 }), (p) => applyOptimizerInBackward(RowWiseAdagrad, p, { lr: 0.1 })],
  ];
  for (const [name, plain, fused] of makers) {
    it(`${name}: each backward is exactly a sparse backward + step(), with no gradient kept`, () => {
      const table = randomTable(30, 7, 5);
      const reference = new Embedding(30, 7, { weight: table.slice(), sparse: true, paddingIdx: 2 });
      const inBackward = new Embedding(30, 7, { weight: table.slice(), paddingIdx: 2 });
      const referenceOptimizer = plain([reference]);
      fused([inBackward]);
      for (let k = 0; k < 4; k++) {
        const indices = randomIndices(12, 30, k);
        indices[0] = 2;
        indices[1] = indices[2]!;
        const g = randomTable(12, 7, 50 + k);
        trainStep(referenceOptimizer, reference, indices, g);
        inBackward.backward(indices, g);
      }
      expectSameBits(inBackward.weight, reference.weight);
      expect(inBackward.grad).toBeNull();
      expect(inBackward.sparseGrad).toBeNull();
    });

    it(`${name}: the same for an EmbeddingBag (mean, and weighted sum)`, () => {
      for (const mode of ['mean', 'sum'] as const) {
        const table = randomTable(25, 5, 8);
        const reference = new EmbeddingBag(25, 5, { weight: table.slice(), mode, sparse: true, paddingIdx: 4 });
        const inBackward = new EmbeddingBag(25, 5, { weight: table.slice(), mode, paddingIdx: 4 });
        const referenceOptimizer = plain([reference]);
        fused([inBackward]);
        for (let k = 0; k < 3; k++) {
          const indices = randomIndices(15, 25, 20 + k);
          const offsets = [0, 4, 4, 9];
          const weights = mode === 'sum' ? randomTable(15, 1, 30 + k) : null;
          const g = randomTable(4, 5, 40 + k);
          referenceOptimizer.zeroGrad();
          reference.backward(indices, offsets, g, weights);
          referenceOptimizer.step();
          inBackward.backward(indices, offsets, g, weights);
        }
        expectSameBits(inBackward.weight, reference.weight);
      }
    });
  }

  it('rejects optimizers and layers that have no per-row sparse update', () => {
    expectThrow(() => applyOptimizerInBackward(Adam as never, [layer(3, 2)], {}), TypeError, /must be SGD, Adagrad, SparseAdam or RowWiseAdagrad, got a string "Adam"/);
    expectThrow(() => applyOptimizerInBackward(SGD, [layer(3, 2)], { lr: 0.1, momentum: 0.5 }), RangeError, /without momentum and weightDecay/);
    const maxBag = new EmbeddingBag(3, 2, { mode: 'max' });
    expectThrow(() => applyOptimizerInBackward(RowWiseAdagrad, [maxBag], {}), RangeError, /mode 'max'/);
  });
});

describe('gradient storage reused between steps, never when handed out', () => {
  // zeroGrad() keeps storage the user was never handed, and the next backward reuses it: a
  // training step then allocates nothing. What the grad and sparseGrad getters handed out keeps
  // its values for good.
  it('a sparse layer: the sparseGrad handed out keeps its rows; unseen storage is reused', () => {
    const target = layer(10, 4, { sparse: true });
    const optimizer = new SGD([target], { lr: 0.1 });
    const g1 = randomTable(3, 4, 1);
    target.backward([1, 2, 1], g1);
    const seen = target.sparseGrad!;
    const seenValues = seen.values.slice();
    optimizer.zeroGrad();
    target.backward([5, 6, 7], randomTable(3, 4, 2));
    expectSameBits(seen.values, seenValues, 'handed-out sparseGrad after the next backward');
    expect(Array.from(seen.indices)).toEqual([1, 2, 1]);

    // Not handed out: the same storage serves the next step, with the new rows only.
    const before = keptGradients(target).sparse!.values.buffer;
    optimizer.zeroGrad();
    target.backward([3], randomTable(1, 4, 3));
    expect(keptGradients(target).sparse!.values.buffer).toBe(before);
    expect(Array.from(target.sparseGrad!.indices)).toEqual([3]);
    expectSameBits(target.sparseGrad!.values, randomTable(1, 4, 3), 'the reused storage holds only the new row');
  });

  it('a dense layer: the grad handed out keeps its values; unseen storage is reused, zeroed', () => {
    const target = layer(6, 3);
    const optimizer = new SGD([target], { lr: 0.1 });
    target.backward([0, 1], randomTable(2, 3, 4));
    const seen = target.grad!;
    const seenValues = seen.slice();
    optimizer.zeroGrad();
    target.backward([2], randomTable(1, 3, 5));
    expectSameBits(seen, seenValues, 'handed-out grad after the next backward');

    const before = keptGradients(target).dense; // the grad of [2], never handed out: reused
    optimizer.zeroGrad();
    target.backward([4], randomTable(1, 3, 6));
    expect(keptGradients(target).dense).toBe(before);
    const expected = new Float32Array(18);
    expected.set(randomTable(1, 3, 6), 12);
    expectSameBits(target.grad!, expected, 'the reused grad holds only the new backward');
  });

  it('steps with reused storage give the bits of steps with fresh storage', () => {
    const reused = layer(20, 5, { sparse: true });
    const fresh = layer(20, 5, { sparse: true });
    const a = new Adagrad([reused], { lr: 0.1 });
    const b = new Adagrad([fresh], { lr: 0.1 });
    for (let k = 0; k < 4; k++) {
      const indices = randomIndices(9, 20, k);
      const g = randomTable(9, 5, 10 + k);
      trainStep(a, reused, indices, g);
      trainStep(b, fresh, indices, g);
      void fresh.sparseGrad; // handed out: fresh's storage is never reused
    }
    expectSameBits(reused.weight, fresh.weight);
  });
});
