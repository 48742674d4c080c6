// Optimizer golden values from PyTorch itself (test/fixtures/optimizers.json, made by
// scripts/generate-fixtures.py with Debian's python3-torch; row-wise Adagrad, which torch lacks,
// is computed there with torch tensor ops from FBGEMM's formula). Several consecutive steps of
// each optimizer, dense and sparse, on every backend and tier.
//
// torch's CPU kernels fuse `add_(alpha=...)` and addcmul into fused multiply-adds on this machine
// where this library rounds the multiply and the add separately (to give identical bits on every
// backend), and torch's sparse SGD adds duplicate entries one by one where this library sums them
// first: the weights agree to a few float32 ulps per step, and the tolerance allows for that.
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Adagrad, Adam, AdamW, Embedding, type OptimizerStateDict, RowWiseAdagrad, SGD, SparseAdam } from '../src/index.js';
import { expectClose } from './helpers.js';

interface Case {
  name: string;
  optimizer: 'SGD' | 'Adagrad' | 'Adam' | 'AdamW' | 'SparseAdam' | 'RowWiseAdagrad';
  options: Record<string, unknown>;
  numEmbeddings: number;
  embeddingDim: number;
  sparse: boolean;
  paddingIdx: number | null;
  weight: number[];
  steps: { indices: number[]; gradOutput: number[] }[];
  expected: { weights: number[][]; stepCounts: number; buffers: Record<string, number[]> };
}

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'optimizers.json'), 'utf8')) as {
  torch: string;
  cases: Case[];
};

const classes = { SGD, Adagrad, Adam, AdamW, SparseAdam, RowWiseAdagrad } as const;

// A few float32 ulps of values of order 1, per step (float32 epsilon is 1.2e-7).
const RTOL = 2e-6;
const ATOL = 2e-6;

describe(`PyTorch ${fixture.torch} optimizer golden values`, () => {
  it('cover every optimizer, dense and sparse', () => {
    for (const name of Object.keys(classes)) expect(fixture.cases.some((c) => c.optimizer === name)).toBe(true);
    expect(fixture.cases.some((c) => c.sparse && c.optimizer === 'SGD')).toBe(true);
    expect(fixture.cases.some((c) => c.sparse && c.optimizer === 'Adagrad')).toBe(true);
    expect(fixture.cases.some((c) => !c.sparse && c.optimizer === 'RowWiseAdagrad')).toBe(true);
  });

  for (const c of fixture.cases) {
    it(c.name, () => {
      const table = new Embedding(c.numEmbeddings, c.embeddingDim, {
        weight: Float32Array.from(c.weight),
        sparse: c.sparse,
        paddingIdx: c.paddingIdx,
      });
      const Optimizer = classes[c.optimizer] as unknown as new (p: Embedding[], o: unknown) => {
        step(): void;
        zeroGrad(): void;
        stateDict(): OptimizerStateDict;
      };
      const optimizer = new Optimizer([table], c.options);
      c.steps.forEach((step, k) => {
        optimizer.zeroGrad();
        table.forward(step.indices);
        table.backward(step.indices, Float32Array.from(step.gradOutput));
        optimizer.step();
        expectClose(table.weight, c.expected.weights[k]!, RTOL, ATOL, `weight after step ${k + 1}`);
      });
      const state = optimizer.stateDict().tables[0]!;
      expect(state.step).toBe(c.expected.stepCounts);
      expect(Object.keys(state.buffers).sort()).toEqual(Object.keys(c.expected.buffers).sort());
      for (const [name, values] of Object.entries(c.expected.buffers)) {
        expectClose(state.buffers[name], values, RTOL, ATOL, `buffer ${name}`);
      }
    });
  }
});
