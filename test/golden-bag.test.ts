// EmbeddingBag golden values from PyTorch itself (test/fixtures/embedding-bag.json, made by
// scripts/generate-fixtures.py with Debian's python3-torch, which also checks every value against
// an exact model of torch's CPU arithmetic). Run on every backend and tier.
//
// Exact to the bit where torch computes what this library computes: every forward without
// maxNorm (sum and mean add in entry order in float32, mean divides by the count), except a
// weighted sum without paddingIdx, for which torch's fast kernel uses a fused multiply-add; and
// the sparse rows of a single step. Elsewhere, within a few float32 ulps (1e-6):
//   - dense gradients: torch adds each row's contributions in the order an unstable sort leaves
//     them, with a fused multiply-add; this library adds in entry order, multiply then add;
//   - per-sample-weight gradients: torch sums float32 products in order; this library sums in
//     double in eight lanes;
//   - maxNorm (as for Embedding), and gradients over several steps.
// scaleGradByFreq: torch's bag backward divides by the count of the wrong row (a sorting bug in
// torch 1.13); this library divides by each row's own count, as torch's nn.Embedding does, and is
// compared with that gradient, which the fixture computes with nn.Embedding ("gradOwnCount").
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { type BagMode, EmbeddingBag } from '../src/index.js';
import { expectClose, expectSameBits, expectSparseGradLike } from './helpers.js';

interface Step {
  indices: number[];
  offsets: number[] | null;
  bagSize: number | null;
  perSampleWeights: number[] | null;
  gradOutput: number[];
}

interface Case {
  name: string;
  numEmbeddings: number;
  embeddingDim: number;
  options: {
    mode: BagMode;
    paddingIdx: number | null;
    maxNorm: number | null;
    normType: number | 'inf';
    scaleGradByFreq: boolean;
    sparse: boolean;
    includeLastOffset: boolean;
  };
  weight: number[];
  steps: Step[];
  expected: {
    outputs: number[][];
    weightAfter: number[];
    grad: number[] | null;
    sparseGrad: { indices: number[]; values: number[] } | null;
    perSampleWeightsGrads: (number[] | null)[];
    gradOwnCount: number[] | null;
  };
}

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'embedding-bag.json'), 'utf8')) as {
  torch: string;
  cases: Case[];
};

const RTOL = 1e-6;
const ATOL = 1e-6;
// Dense gradients sum up to ~100 contributions of order 1 per element, in a different order than
// torch's: each addition may round differently by half an ulp of the running sum (6e-8 at 1).
const GRAD_ATOL = 1e-5;

describe(`PyTorch ${fixture.torch} EmbeddingBag golden values`, () => {
  it('cover every mode and option', () => {
    const has = (f: (c: Case) => boolean) => fixture.cases.some(f);
    for (const mode of ['sum', 'mean', 'max']) expect(has((c) => c.options.mode === mode)).toBe(true);
    expect(has((c) => c.options.includeLastOffset)).toBe(true);
    expect(has((c) => c.steps.some((s) => s.bagSize !== null))).toBe(true);
    expect(has((c) => c.steps.some((s) => s.perSampleWeights !== null))).toBe(true);
    expect(has((c) => c.options.paddingIdx !== null && c.options.paddingIdx < 0)).toBe(true);
    expect(has((c) => c.options.maxNorm !== null)).toBe(true);
    expect(has((c) => c.options.scaleGradByFreq)).toBe(true);
    expect(has((c) => c.options.sparse && c.steps.length > 1)).toBe(true);
  });

  for (const c of fixture.cases) {
    it(c.name, () => {
      const { mode, paddingIdx, maxNorm, normType, scaleGradByFreq, sparse, includeLastOffset } = c.options;
      const layer = new EmbeddingBag(c.numEmbeddings, c.embeddingDim, {
        weight: Float32Array.from(c.weight),
        mode,
        paddingIdx,
        maxNorm,
        normType: normType === 'inf' ? Infinity : normType,
        scaleGradByFreq,
        sparse,
        includeLastOffset,
      });
      c.steps.forEach((step, k) => {
        const offsets = step.bagSize ?? step.offsets!;
        const weights = step.perSampleWeights === null ? null : Float32Array.from(step.perSampleWeights);
        const output = layer.forward(step.indices, offsets, weights);
        const expected = Float32Array.from(c.expected.outputs[k]!);
        const fusedByTorch = weights !== null && paddingIdx === null;
        if (maxNorm === null && !fusedByTorch) expectSameBits(output, expected, `output of step ${k}`);
        else expectClose(output, expected, RTOL, ATOL, `output of step ${k}`);
        const weightsGrad = layer.backward(step.indices, offsets, Float32Array.from(step.gradOutput), weights);
        const expectedWeightsGrad = c.expected.perSampleWeightsGrads[k];
        if (expectedWeightsGrad === null || expectedWeightsGrad === undefined) expect(weightsGrad).toBeNull();
        else expectClose(weightsGrad, expectedWeightsGrad, RTOL, ATOL, `perSampleWeights grad of step ${k}`);
      });

      if (maxNorm === null) expectSameBits(layer.weight, Float32Array.from(c.expected.weightAfter), 'weight after');
      else expectClose(layer.weight, c.expected.weightAfter, RTOL, ATOL, 'weight after');

      if (!sparse) {
        expect(layer.sparseGrad).toBeNull();
        const expected = scaleGradByFreq ? c.expected.gradOwnCount! : c.expected.grad!;
        expectClose(layer.grad, expected, RTOL, GRAD_ATOL, 'grad');
        return;
      }

      expect(layer.grad).toBeNull();
      expectSparseGradLike(layer.sparseGrad!, c.steps, c.expected.sparseGrad!, layer.paddingIdx, c.embeddingDim, RTOL, ATOL);
    });
  }
});
