// Golden values from PyTorch itself (test/fixtures/embedding.json, made by
// scripts/generate-fixtures.py with Debian's python3-torch). Run on every backend and tier.
//
// Exact to the bit wherever torch computes what this library computes: every forward output
// without maxNorm, and gradients of a single step without scaleGradByFreq. Elsewhere torch's
// arithmetic differs in the last bits, by design on one side or the other, and the comparison
// allows a few float32 ulps:
//   - maxNorm: torch accumulates the norm in float32 (in an order that depends on its CPU
//     kernel); this library accumulates it in double, identically on every backend.
//   - scaleGradByFreq: torch adds with a fused multiply-add; this library multiplies, then adds.
//   - dense grad over several steps: torch sums each step from zero and adds that to .grad; this
//     library adds every row straight into grad (grad[row] += gradOutput row, as documented).
//   - sparse grad over several steps: torch's sparse += merges the two lists in index order; this
//     library appends each step's rows in input order, as documented. The rows are compared
//     after summing duplicates (the gradient they represent), and the order is checked separately.
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Embedding } from '../src/index.js';
import { expectClose, expectSameBits, expectSparseGradLike } from './helpers.js';

interface Case {
  name: string;
  numEmbeddings: number;
  embeddingDim: number;
  options: { paddingIdx: number | null; maxNorm: number | null; normType: number | 'inf'; scaleGradByFreq: boolean; sparse: boolean };
  weight: number[];
  steps: { indices: number[]; gradOutput: number[] }[];
  expected: {
    outputs: number[][];
    weightAfter: number[];
    grad: number[] | null;
    sparseGrad: { indices: number[]; values: number[] } | null;
  };
}

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'embedding.json'), 'utf8')) as {
  torch: string;
  cases: Case[];
};

// A few float32 ulps of values of order 1 (float32 epsilon is 1.2e-7).
const RTOL = 1e-6;
const ATOL = 1e-6;

describe(`PyTorch ${fixture.torch} golden values`, () => {
  it('cover every option', () => {
    const has = (f: (c: Case) => boolean) => fixture.cases.some(f);
    expect(has((c) => c.options.paddingIdx !== null && c.options.paddingIdx < 0)).toBe(true);
    expect(has((c) => c.options.paddingIdx !== null && c.options.paddingIdx >= 0)).toBe(true);
    for (const p of [1, 2, 3, 0.5, 'inf']) expect(has((c) => c.options.maxNorm !== null && c.options.normType === p)).toBe(true);
    expect(has((c) => c.options.scaleGradByFreq)).toBe(true);
    expect(has((c) => c.options.sparse && c.steps.length > 1)).toBe(true);
    expect(has((c) => c.steps.some((s) => s.indices.length === 0))).toBe(true);
  });

  for (const c of fixture.cases) {
    it(c.name, () => {
      const { paddingIdx, maxNorm, normType, scaleGradByFreq, sparse } = c.options;
      const layer = new Embedding(c.numEmbeddings, c.embeddingDim, {
        weight: Float32Array.from(c.weight),
        paddingIdx,
        maxNorm,
        normType: normType === 'inf' ? Infinity : normType,
        scaleGradByFreq,
        sparse,
      });
      const steps = c.steps.map((step) => {
        const output = layer.forward(step.indices);
        layer.backward(step.indices, Float32Array.from(step.gradOutput));
        return output;
      });

      const renorms = maxNorm !== null;
      steps.forEach((output, i) => {
        const expected = Float32Array.from(c.expected.outputs[i]!);
        if (renorms) expectClose(output, expected, RTOL, ATOL, `output of step ${i}`);
        else expectSameBits(output, expected, `output of step ${i}`);
      });
      if (renorms) expectClose(layer.weight, c.expected.weightAfter, RTOL, ATOL, 'weight after');
      else expectSameBits(layer.weight, Float32Array.from(c.expected.weightAfter), 'weight after');

      const stepsWithRows = c.steps.filter((s) => s.indices.some((index) => index !== layer.paddingIdx)).length;
      if (!sparse) {
        expect(layer.sparseGrad).toBeNull();
        const expected = Float32Array.from(c.expected.grad!);
        if (stepsWithRows <= 1 && !scaleGradByFreq) expectSameBits(layer.grad, expected, 'grad');
        else expectClose(layer.grad, expected, RTOL, ATOL, 'grad');
        return;
      }

      expect(layer.grad).toBeNull();
      expectSparseGradLike(layer.sparseGrad!, c.steps, c.expected.sparseGrad!, layer.paddingIdx, c.embeddingDim, RTOL, ATOL);
    });
  }
});
