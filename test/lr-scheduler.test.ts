// Learning-rate schedulers against torch 1.13 (test/fixtures/lr-schedulers.json, made by
// scripts/generate-scheduler-fixtures.py): the rate (and the cycled momentum) after construction and
// after each of 25 steps; a run resumed from state dicts in the middle of a schedule, bit-identical to
// one uninterrupted; schedules driving optimizers applied in backward; the settable hyperparameters;
// and every rejected option, with nothing changed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Adagrad, Adam, Embedding, RowWiseAdagrad, SGD, SparseAdam, applyOptimizerInBackward, lrScheduler } from '../src/index.js';
import type { ScheduledOptimizer, SchedulerStateDict } from '../src/index.js';
import { expectSameBits, expectThrow, randomIndices } from './helpers.js';

interface SubScheduler {
  scheduler: string;
  options: Record<string, unknown>;
}

interface Case {
  name: string;
  scheduler: string;
  optimizer: { kind: 'SGD' | 'Adam' | 'Adagrad'; options: Record<string, number> };
  options?: Record<string, unknown>;
  schedulers?: SubScheduler[];
  milestones?: number[];
  metrics?: number[];
  lrs: number[];
  lastLr: (number | null)[];
  momentums: (number | null)[];
}

const fixture = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'lr-schedulers.json'), 'utf8')) as { steps: number; cases: Case[] };

/** The fixture's named functions, written as the generator writes them. */
const LAMBDAS: Record<string, (x: number) => number> = {
  pow095: (e) => 0.95 ** e,
  warmup5: (e) => Math.min(1, (e + 1) / 5),
  const09: () => 0.9,
  pow097: (x) => 0.97 ** x,
};

type AnyScheduler = { step(metric?: number): void; getLastLr(): number[]; stateDict(): SchedulerStateDict; loadStateDict(d: SchedulerStateDict): void };

function withFunctions(options: Record<string, unknown> = {}): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [k, k === 'lrLambda' || k === 'scaleFn' ? LAMBDAS[v as string] : v]));
}

function buildScheduler(optimizer: ScheduledOptimizer, name: string, options: Record<string, unknown>): AnyScheduler {
  const Scheduler = (lrScheduler as unknown as Record<string, new (o: ScheduledOptimizer, options: unknown) => AnyScheduler>)[name]!;
  return new Scheduler(optimizer, withFunctions(options));
}

function build(c: Case, layer: Embedding): { optimizer: ScheduledOptimizer; scheduler: AnyScheduler } {
  const optimizer: ScheduledOptimizer =
    c.optimizer.kind === 'SGD' ? new SGD([layer], { lr: c.optimizer.options.lr!, momentum: c.optimizer.options.momentum ?? 0 })
      : c.optimizer.kind === 'Adam' ? new Adam([layer], { lr: c.optimizer.options.lr! })
        : new Adagrad([layer], { lr: c.optimizer.options.lr! });
  let scheduler: AnyScheduler;
  if (c.scheduler === 'SequentialLR' || c.scheduler === 'ChainedScheduler') {
    const subs = c.schedulers!.map((s) => buildScheduler(optimizer, s.scheduler, s.options));
    scheduler = c.scheduler === 'SequentialLR'
      ? new lrScheduler.SequentialLR(optimizer, { schedulers: subs as never, milestones: c.milestones! })
      : new lrScheduler.ChainedScheduler(subs as never);
  } else {
    scheduler = buildScheduler(optimizer, c.scheduler, c.options ?? {});
  }
  return { optimizer, scheduler };
}

function momentumOf(optimizer: ScheduledOptimizer): number | null {
  if (optimizer instanceof SGD) return optimizer.momentum;
  if (optimizer instanceof Adam) return optimizer.betas[0];
  return null;
}

function expectRelative(actual: number, expected: number, what: string): void {
  // The same double formulas as torch; only cos and pow may differ from C's libm in the last bit.
  expect(Math.abs(actual - expected), `${what}: ${actual} vs torch ${expected}`).toBeLessThanOrEqual(1e-12 * Math.abs(expected));
}

/** One step of training: a gradient on a few rows, the optimizer's step, then the scheduler's. */
function trainStep(layer: Embedding, optimizer: ScheduledOptimizer, scheduler: AnyScheduler, step: number, metric?: number): void {
  optimizer.zeroGrad();
  const indices = randomIndices(6, layer.numEmbeddings, 100 + step);
  layer.backward(indices, Float32Array.from({ length: 6 * layer.embeddingDim }, (_, i) => Math.sin(step * 7 + i)));
  optimizer.step();
  scheduler.step(metric);
}

describe('every scheduler as torch 1.13', () => {
  it('the fixture covers every scheduler', () => {
    const covered = new Set(fixture.cases.flatMap((c) => [c.scheduler, ...(c.schedulers ?? []).map((s) => s.scheduler)]));
    expect([...covered].sort()).toEqual(Object.keys(lrScheduler).sort());
  });

  for (const c of fixture.cases) {
    it(`${c.name}: lr${c.momentums[0] !== null ? ' and momentum' : ''} at construction and after each of ${fixture.steps} steps`, () => {
      const layer = new Embedding(10, 4, { seed: 1 });
      const { optimizer, scheduler } = build(c, layer);
      const check = (step: number) => {
        expectRelative(optimizer.lr, c.lrs[step]!, `lr after ${step} steps`);
        if (c.lastLr[step] !== null) expect(scheduler.getLastLr()).toEqual([optimizer.lr]);
        if (c.momentums[step] !== null) expectRelative(momentumOf(optimizer)!, c.momentums[step]!, `momentum after ${step} steps`);
      };
      check(0);
      for (let step = 0; step < fixture.steps; step++) {
        trainStep(layer, optimizer, scheduler, step, c.metrics?.[step]);
        check(step + 1);
      }
    });
  }
});

describe('resuming from state dicts', () => {
  for (const c of fixture.cases) {
    it(`${c.name}: stopped after 11 steps and resumed, bit-identical to an uninterrupted run`, () => {
      const straight = new Embedding(10, 4, { seed: 2 });
      const a = build(c, straight);
      const lrs: number[] = [];
      for (let step = 0; step < fixture.steps; step++) {
        trainStep(straight, a.optimizer, a.scheduler, step, c.metrics?.[step]);
        lrs.push(a.optimizer.lr);
      }

      const first = new Embedding(10, 4, { seed: 2 });
      const b = build(c, first);
      for (let step = 0; step < 11; step++) trainStep(first, b.optimizer, b.scheduler, step, c.metrics?.[step]);
      const saved = { weight: first.weight.slice(), optimizer: b.optimizer.stateDict(), scheduler: JSON.parse(JSON.stringify(b.scheduler.stateDict())) as SchedulerStateDict };

      const resumed = new Embedding(10, 4, { weight: saved.weight });
      const r = build(c, resumed); // its construction moves the rate: the state dicts put it back
      r.optimizer.loadStateDict(saved.optimizer);
      r.scheduler.loadStateDict(saved.scheduler);
      expect(r.optimizer.lr).toBe(b.optimizer.lr);
      for (let step = 11; step < fixture.steps; step++) {
        trainStep(resumed, r.optimizer, r.scheduler, step, c.metrics?.[step]);
        expect(r.optimizer.lr, `lr after ${step + 1} steps`).toBe(lrs[step]);
      }
      expectSameBits(resumed.weight, straight.weight, 'weights');
    });
  }
});

describe('optimizers applied in backward', () => {
  it('each backward uses the rate the scheduler set (SGD: w - lr * g)', () => {
    const layer = new Embedding(5, 2, { seed: 3 });
    const optimizer = applyOptimizerInBackward(SGD, [layer], { lr: 0.5 });
    const scheduler = new lrScheduler.StepLR(optimizer, { stepSize: 1, gamma: 0.5 });
    for (const lr of [0.5, 0.25, 0.125]) {
      const before = layer.weight.slice();
      layer.backward([2], Float32Array.of(1, 3));
      expect(layer.weight[4]).toBe(Math.fround(before[4]! - lr));
      expect(layer.weight[5]).toBe(Math.fround(before[5]! - Math.fround(lr * 3)));
      scheduler.step();
    }
  });

  it('RowWiseAdagrad and SparseAdam in backward follow a OneCycleLR (beta1 cycled for SparseAdam)', () => {
    for (const Optimizer of [RowWiseAdagrad, SparseAdam] as const) {
      const layer = new Embedding(8, 3, { seed: 4 });
      const optimizer = applyOptimizerInBackward(Optimizer as typeof RowWiseAdagrad, [layer], { lr: 0.01 });
      const scheduler = new lrScheduler.OneCycleLR(optimizer, { maxLr: 0.1, totalSteps: 10, cycleMomentum: Optimizer === SparseAdam });
      if (optimizer instanceof SparseAdam) expect(optimizer.betas).toEqual([0.95, 0.999]);
      const rates = [optimizer.lr];
      for (let step = 0; step < 10; step++) {
        layer.backward([step % 8], Float32Array.of(1, -1, 0.5));
        scheduler.step();
        rates.push(optimizer.lr);
      }
      expect(Math.max(...rates)).toBeCloseTo(0.1, 12);
      expect(rates[0]).toBeCloseTo(0.004, 15);
      if (optimizer instanceof SparseAdam) expect(optimizer.betas[0]).toBeLessThan(0.95);
    }
  });
});

describe('settable hyperparameters', () => {
  it('lr: the next step uses it; a bad value is refused and changes nothing', () => {
    const a = new Embedding(4, 2, { seed: 5 });
    const b = new Embedding(4, 2, { seed: 5 });
    const changed = new SGD([a], { lr: 1 });
    changed.lr = 0.25;
    const direct = new SGD([b], { lr: 0.25 });
    for (const [layer, optimizer] of [[a, changed], [b, direct]] as const) {
      layer.backward([1, 3], Float32Array.of(1, 2, 3, 4));
      optimizer.step();
    }
    expectSameBits(a.weight, b.weight);
    expectThrow(() => (changed.lr = -1), RangeError, /SGD\.lr: lr must be a non-negative number, got -1/);
    expectThrow(() => (changed.lr = NaN), RangeError, /got NaN/);
    expectThrow(() => (changed.lr = '0.1' as unknown as number), TypeError, /lr must be a number, got a string "0.1"/);
    expect(changed.lr).toBe(0.25);
  });

  it('momentum and betas: validated; betas is a frozen pair; SGD on sparse layers takes no momentum', () => {
    const sgd = new SGD([new Embedding(4, 2, { seed: 6 })], { lr: 0.1 });
    sgd.momentum = 0.9;
    expect(sgd.momentum).toBe(0.9);
    expectThrow(() => (sgd.momentum = -0.1), RangeError, /SGD\.momentum: momentum must be a non-negative number/);
    const sparse = new SGD([new Embedding(4, 2, { seed: 6, sparse: true })], { lr: 0.1 });
    expectThrow(() => (sparse.momentum = 0.9), RangeError, /params\[0\] has sparse gradients/);
    expect(sparse.momentum).toBe(0);
    const adam = new Adam([new Embedding(4, 2, { seed: 6 })]);
    expect(Object.isFrozen(adam.betas)).toBe(true);
    adam.betas = [0.8, 0.99];
    expect(adam.betas).toEqual([0.8, 0.99]);
    expectThrow(() => (adam.betas = [1, 0.99]), RangeError, /Adam\.betas: betas\[0\] must be in \[0, 1\), got 1/);
    expectThrow(() => (adam.betas = 0.9 as never), TypeError, /betas must be a pair of numbers/);
    expect(adam.betas).toEqual([0.8, 0.99]);
  });

  it("an optimizer's loadStateDict restores lr, momentum and betas (torch restores param_groups)", () => {
    const sgd = new SGD([new Embedding(4, 2, { seed: 7 })], { lr: 0.1 });
    sgd.lr = 0.03;
    sgd.momentum = 0.5;
    const other = new SGD([new Embedding(4, 2, { seed: 7 })], { lr: 0.1 });
    other.loadStateDict(sgd.stateDict());
    expect([other.lr, other.momentum]).toEqual([0.03, 0.5]);
    const dict = sgd.stateDict();
    expectThrow(() => other.loadStateDict({ ...dict, options: { ...dict.options, lr: NaN } }), RangeError, /options\.lr must be a finite number, got NaN/);
    expect(other.lr).toBe(0.03);
  });

  it('cannot change during a stepAsync', async () => {
    const layer = new Embedding(1000, 64, { seed: 8 });
    const optimizer = new SGD([layer], { lr: 0.1 });
    layer.backward([1, 2], new Float32Array(128).fill(1));
    const pending = optimizer.stepAsync();
    let threw = false;
    try {
      optimizer.lr = 0.2;
    } catch {
      threw = true;
    }
    await pending;
    // The JavaScript backend runs the step before stepAsync returns; the native one holds it.
    if (threw) expect(optimizer.lr).toBe(0.1);
    optimizer.lr = 0.2;
    expect(optimizer.lr).toBe(0.2);
  });
});

describe('errors', () => {
  const sgd = () => new SGD([new Embedding(4, 2, { seed: 9 })], { lr: 0.1 });
  it('options are checked, naming the option and the value', () => {
    expectThrow(() => new lrScheduler.StepLR({} as never, { stepSize: 1 }), TypeError, /StepLR: optimizer must be one of this package's optimizers/);
    expectThrow(() => new lrScheduler.StepLR(sgd(), {} as never), TypeError, /StepLR: options\.stepSize is required/);
    expectThrow(() => new lrScheduler.StepLR(sgd(), { stepSize: 0 }), RangeError, /options\.stepSize must be a positive integer, got 0/);
    expectThrow(() => new lrScheduler.StepLR(sgd(), { stepSize: 2, extra: 1 } as never), TypeError, /extra/);
    expectThrow(() => new lrScheduler.CyclicLR(sgd(), { baseLr: 0.1, maxLr: 1, mode: 'sine' as never }), RangeError, /options\.mode must be 'triangular' or 'triangular2' or 'exp_range', got a string "sine"/);
    expectThrow(() => new lrScheduler.CyclicLR(new Adagrad([new Embedding(4, 2)]), { baseLr: 0.1, maxLr: 1 }), RangeError, /cycleMomentum needs an optimizer with momentum \(SGD\), got Adagrad/);
    expectThrow(() => new lrScheduler.OneCycleLR(sgd(), { maxLr: 1 }), TypeError, /totalSteps, or epochs and stepsPerEpoch/);
    expectThrow(() => new lrScheduler.LambdaLR(sgd(), { lrLambda: 2 as never }), TypeError, /options\.lrLambda must be a function, got 2/);
    expectThrow(() => new lrScheduler.ConstantLR(sgd(), { factor: 0 }), RangeError, /options\.factor must be in \(0, 1\], got 0/);
    expectThrow(() => new lrScheduler.ReduceLROnPlateau(sgd(), { factor: 1 }), RangeError, /options\.factor must be in \[0, 1\), got 1/);
    expectThrow(() => new lrScheduler.SequentialLR(sgd(), { schedulers: [new lrScheduler.StepLR(sgd(), { stepSize: 1 })], milestones: [] }), RangeError, /belongs to another optimizer/);
    const optimizer = sgd();
    expectThrow(() => new lrScheduler.SequentialLR(optimizer, { schedulers: [new lrScheduler.StepLR(optimizer, { stepSize: 1 })], milestones: [3] }), RangeError, /one entry fewer/);
    expectThrow(() => new lrScheduler.ReduceLROnPlateau(sgd()).step('0.5' as never), TypeError, /metric must be a number/);
  });

  it('a step past OneCycleLR totalSteps throws and changes nothing', () => {
    const optimizer = sgd();
    const scheduler = new lrScheduler.OneCycleLR(optimizer, { maxLr: 1, totalSteps: 3 });
    for (let i = 0; i < 3; i++) scheduler.step();
    const [lr, momentum, dict] = [optimizer.lr, optimizer.momentum, JSON.stringify(scheduler.stateDict())];
    expectThrow(() => scheduler.step(), RangeError, /OneCycleLR\.step: stepped 5 times, past totalSteps = 3/);
    expect([optimizer.lr, optimizer.momentum, JSON.stringify(scheduler.stateDict())]).toEqual([lr, momentum, dict]);
  });

  it('loadStateDict refuses another scheduler, other options or a malformed state, and changes nothing', () => {
    const scheduler = new lrScheduler.StepLR(sgd(), { stepSize: 3 });
    scheduler.step();
    const before = JSON.stringify(scheduler.stateDict());
    const other = new lrScheduler.StepLR(sgd(), { stepSize: 4 }).stateDict();
    expectThrow(() => scheduler.loadStateDict(other), RangeError, /options\.stepSize is 4, this StepLR's is 3/);
    expectThrow(() => scheduler.loadStateDict(new lrScheduler.ExponentialLR(sgd(), { gamma: 0.5 }).stateDict()), TypeError, /expected a state dict of StepLR, got one of a string "ExponentialLR"/);
    const dict = scheduler.stateDict();
    expectThrow(() => scheduler.loadStateDict({ ...dict, state: { ...dict.state, lastEpoch: 'x' } }), TypeError, /state\.lastEpoch must be a number/);
    const optimizer = sgd();
    const sequential = new lrScheduler.SequentialLR(optimizer, { schedulers: [new lrScheduler.ConstantLR(optimizer), new lrScheduler.ExponentialLR(optimizer, { gamma: 0.5 })], milestones: [2] });
    const sequentialDict = sequential.stateDict();
    (sequentialDict.state.schedulers as SchedulerStateDict[])[1]!.options.gamma = 0.7;
    const sequentialBefore = JSON.stringify(sequential.stateDict());
    expectThrow(() => sequential.loadStateDict(sequentialDict), RangeError, /state\.schedulers\[1\]: the state dict's options\.gamma is 0\.7/);
    expect(JSON.stringify(sequential.stateDict())).toBe(sequentialBefore);
    expect(JSON.stringify(scheduler.stateDict())).toBe(before);
  });
});

describe('found in review', () => {
  it('an optimizer state dict holding a scheduled negative rate (OneCycleLR linear, last step) loads back', () => {
    const optimizer = new SGD([new Embedding(4, 2, { seed: 1 })], { lr: 0.1 });
    const scheduler = new lrScheduler.OneCycleLR(optimizer, { maxLr: 0.1, totalSteps: 4, annealStrategy: 'linear', cycleMomentum: false });
    for (let i = 0; i < 4; i++) scheduler.step();
    expect(optimizer.lr).toBeLessThan(0); // as torch
    const other = new SGD([new Embedding(4, 2, { seed: 1 })], { lr: 0.1 });
    other.loadStateDict(optimizer.stateDict());
    expect(other.lr).toBe(optimizer.lr);
  });

  it("OneCycleLR's overshooting last step sets beta1 above 1 as torch does, lr and beta1 together", () => {
    const adam = new Adam([new Embedding(4, 2, { seed: 2 })], { lr: 0.1 });
    const scheduler = new lrScheduler.OneCycleLR(adam, { maxLr: 0.1, totalSteps: 2, annealStrategy: 'linear' });
    scheduler.step();
    scheduler.step(); // torch 1.13: lr -0.0714..., betas (1.0214..., 0.999)
    expect(adam.lr).toBeCloseTo(-0.071428, 5);
    expect(adam.betas[0]).toBeCloseTo(1.021428, 5);
    expect(scheduler.getLastLr()).toEqual([adam.lr]);
    const restored = new Adam([new Embedding(4, 2, { seed: 2 })], { lr: 0.1 });
    restored.loadStateDict(adam.stateDict());
    expect(restored.betas).toEqual(adam.betas);
  });

  it('a ReduceLROnPlateau state dict survives JSON before any improvement (best = Infinity) and after NaN metrics', () => {
    const make = () => new lrScheduler.ReduceLROnPlateau(new SGD([new Embedding(4, 2)], { lr: 0.1 }), { patience: 1 });
    const fresh = make();
    const restored = make();
    restored.loadStateDict(JSON.parse(JSON.stringify(fresh.stateDict())) as SchedulerStateDict);
    expect(restored.stateDict()).toEqual(fresh.stateDict());
    const nan = make();
    nan.step(NaN);
    const again = make();
    again.loadStateDict(JSON.parse(JSON.stringify(nan.stateDict())) as SchedulerStateDict);
    for (const [a, b] of [[nan, again]] as const) {
      a.step(1);
      b.step(1);
      expect(b.getLastLr()).toEqual(a.getLastLr());
    }
  });
});
