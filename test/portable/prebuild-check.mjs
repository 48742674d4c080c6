#!/usr/bin/env node
// The checks a prebuild must pass where vitest cannot run: on another architecture under
// qemu-user, with Debian's arm64 Node 18 (scripts/test-arm64-prebuild.sh). Plain Node (18+), no
// dependencies. It loads `nn-embedding` as installed in the current directory's node_modules (the
// packed tarball, with its prebuild), then
//   1. PyTorch parity: every case of test/fixtures/{embedding,embedding-bag,optimizers}.json
//      (made by PyTorch 1.13) is run, and its outputs, weights, gradients and optimizer state
//      are compared with torch's, within the golden tests' tolerances;
//   2. bit-exactness: the SHA-256 of every result of those cases, of each initializer's table,
//      and of a seeded training run (forward, backward, four optimizers, fused and explicit,
//      EmbeddingBag sum/mean/max, the thread pool split over 2 threads) is written out, so that
//      two runs (x64 and arm64, or two SIMD tiers) can be compared bit for bit with --compare;
//   3. errors: bad calls throw the documented RangeError/TypeError, and change nothing.
//
//   node prebuild-check.mjs [--backend native|js] [--out results.json]
//   node prebuild-check.mjs --compare a.json b.json     exit 1 unless hashes and errors are equal
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

if (args[0] === '--compare') {
  const [a, b] = [args[1], args[2]].map((file) => JSON.parse(fs.readFileSync(file, 'utf8')));
  const problems = [];
  for (const key of ['hashes', 'errors']) {
    const names = new Set([...Object.keys(a[key]), ...Object.keys(b[key])]);
    for (const name of names) {
      if (a[key][name] !== b[key][name]) problems.push(`${key} ${name}: ${a[key][name]} (${a.platform}) != ${b[key][name]} (${b.platform})`);
    }
  }
  if (problems.length > 0) {
    console.error(`prebuild-check: ${problems.length} results differ:\n  ${problems.slice(0, 20).join('\n  ')}`);
    process.exit(1);
  }
  console.log(`prebuild-check: ${a.platform} and ${b.platform} agree bit for bit (${Object.keys(a.hashes).length} hashes, ${Object.keys(a.errors).length} errors)`);
  process.exit(0);
}

const requireFromProject = createRequire(path.join(process.cwd(), 'package.json'));
const nne = requireFromProject('nn-embedding');
const { Embedding, EmbeddingBag, SGD, Adagrad, Adam, AdamW, SparseAdam, RowWiseAdagrad, applyOptimizerInBackward } = nne;
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const expectedBackend = option('--backend') ?? 'native';
const capabilities = nne.getCapabilities();
if (capabilities.backend !== expectedBackend) {
  console.error(`prebuild-check: backend ${capabilities.backend}, expected ${expectedBackend} (${capabilities.nativeError ?? ''})`);
  process.exit(1);
}

const failures = [];
const hashes = {};
const errors = {};
let compared = 0;

function bytesOf(array) {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}
function hashOf(arrays) {
  const hash = createHash('sha256');
  for (const array of arrays) {
    if (array === null || array === undefined) hash.update('null');
    else hash.update(bytesOf(array));
  }
  return hash.digest('hex').slice(0, 32);
}
/** Fails unless |a - b| <= atol + rtol |b| everywhere (b: torch's values). */
function close(where, actual, expected, rtol, atol) {
  compared += 1;
  if (actual === null || actual.length !== expected.length) {
    failures.push(`${where}: length ${actual?.length} != ${expected.length}`);
    return;
  }
  for (let i = 0; i < expected.length; i++) {
    const e = Math.fround(expected[i]);
    if (!(Math.abs(actual[i] - e) <= atol + rtol * Math.abs(e))) {
      failures.push(`${where}: [${i}] ${actual[i]} != torch ${e}`);
      return;
    }
  }
}
/** A sparse gradient as the dense table it stands for (duplicates summed in float64). */
function densify(indices, values, rows, dim) {
  const dense = new Float64Array(rows * dim);
  for (let k = 0; k < indices.length; k++) {
    for (let j = 0; j < dim; j++) dense[indices[k] * dim + j] += values[k * dim + j];
  }
  return dense;
}
const normType = (p) => (p === 'inf' ? Infinity : p);

// 1 + 2: the PyTorch fixtures.

/**
 * A fixture case's gradient after its steps: the sparse one (compared densified, as torch merges
 * the steps' lists in its own order) or the dense one, against torch's within (1e-6, atol).
 * Returns the arrays to hash.
 */
function checkGrad(what, c, layer, sparse, expectedDense, atol) {
  if (sparse) {
    const g = layer.sparseGrad;
    const t = c.expected.sparseGrad;
    close(`${what} sparseGrad`, densify(g.indices, g.values, c.numEmbeddings, c.embeddingDim),
      densify(t.indices, t.values, c.numEmbeddings, c.embeddingDim), 1e-6, atol);
    return [g.indices, g.values];
  }
  close(`${what} grad`, layer.grad, expectedDense, 1e-6, atol);
  return [layer.grad];
}
const embeddingCases = JSON.parse(fs.readFileSync(path.join(fixtures, 'embedding.json'), 'utf8')).cases;
for (const c of embeddingCases) {
  const o = c.options;
  const layer = new Embedding(c.numEmbeddings, c.embeddingDim, {
    weight: Float32Array.from(c.weight), paddingIdx: o.paddingIdx, maxNorm: o.maxNorm, normType: normType(o.normType),
    scaleGradByFreq: o.scaleGradByFreq, sparse: o.sparse,
  });
  const outputs = c.steps.map((step) => {
    const output = layer.forward(step.indices);
    layer.backward(step.indices, Float32Array.from(step.gradOutput));
    return output;
  });
  outputs.forEach((output, k) => close(`embedding ${c.name} output ${k}`, output, c.expected.outputs[k], 1e-6, 1e-6));
  close(`embedding ${c.name} weight`, layer.weight, c.expected.weightAfter, 1e-6, 1e-6);
  const grads = checkGrad(`embedding ${c.name}`, c, layer, o.sparse, c.expected.grad, 1e-6);
  hashes[`embedding/${c.name}`] = hashOf([...outputs, layer.weight, ...grads]);
}

const bagCases = JSON.parse(fs.readFileSync(path.join(fixtures, 'embedding-bag.json'), 'utf8')).cases;
for (const c of bagCases) {
  const o = c.options;
  const layer = new EmbeddingBag(c.numEmbeddings, c.embeddingDim, {
    weight: Float32Array.from(c.weight), mode: o.mode, paddingIdx: o.paddingIdx, maxNorm: o.maxNorm,
    normType: normType(o.normType), scaleGradByFreq: o.scaleGradByFreq, sparse: o.sparse, includeLastOffset: o.includeLastOffset,
  });
  const results = [];
  c.steps.forEach((step, k) => {
    const offsets = step.bagSize ?? step.offsets;
    const weights = step.perSampleWeights === null ? null : Float32Array.from(step.perSampleWeights);
    const output = layer.forward(step.indices, offsets, weights);
    close(`bag ${c.name} output ${k}`, output, c.expected.outputs[k], 1e-6, 1e-6);
    const weightsGrad = layer.backward(step.indices, offsets, Float32Array.from(step.gradOutput), weights);
    const expected = c.expected.perSampleWeightsGrads[k];
    if (expected !== null && expected !== undefined) close(`bag ${c.name} perSampleWeights grad ${k}`, weightsGrad, expected, 1e-6, 1e-6);
    else if (weightsGrad !== null) failures.push(`bag ${c.name}: a perSampleWeights gradient without weights`);
    results.push(output, weightsGrad);
  });
  close(`bag ${c.name} weight`, layer.weight, c.expected.weightAfter, 1e-6, 1e-6);
  const grads = checkGrad(`bag ${c.name}`, c, layer, o.sparse, o.scaleGradByFreq ? c.expected.gradOwnCount : c.expected.grad, 1e-5);
  hashes[`bag/${c.name}`] = hashOf([...results, ...grads, layer.weight]);
}

const classes = { SGD, Adagrad, Adam, AdamW, SparseAdam, RowWiseAdagrad };
const optimizerCases = JSON.parse(fs.readFileSync(path.join(fixtures, 'optimizers.json'), 'utf8')).cases;
for (const c of optimizerCases) {
  const table = new Embedding(c.numEmbeddings, c.embeddingDim, { weight: Float32Array.from(c.weight), sparse: c.sparse, paddingIdx: c.paddingIdx });
  const optimizer = new classes[c.optimizer]([table], c.options);
  const weights = [];
  c.steps.forEach((step, k) => {
    optimizer.zeroGrad();
    table.forward(step.indices);
    table.backward(step.indices, Float32Array.from(step.gradOutput));
    optimizer.step();
    close(`optimizer ${c.name} weight after step ${k + 1}`, table.weight, c.expected.weights[k], 2e-6, 2e-6);
    weights.push(Float32Array.from(table.weight));
  });
  const state = optimizer.stateDict().tables[0];
  if (state.step !== c.expected.stepCounts) failures.push(`optimizer ${c.name}: step ${state.step} != ${c.expected.stepCounts}`);
  const names = Object.keys(c.expected.buffers).sort();
  for (const name of names) close(`optimizer ${c.name} buffer ${name}`, state.buffers[name], c.expected.buffers[name], 2e-6, 2e-6);
  hashes[`optimizer/${c.name}`] = hashOf([...weights, ...names.map((name) => state.buffers[name])]);
}

// 2: initializers and a seeded training run, hashed.
for (const init of [
  { kind: 'normal' }, { kind: 'normal', mean: 0.5, std: 0.01 }, { kind: 'uniform', a: -0.1, b: 0.1 },
  { kind: 'truncNormal', std: 0.02 }, { kind: 'xavierUniform' }, { kind: 'xavierNormal', gain: 2 },
]) {
  hashes[`init/${JSON.stringify(init)}`] = hashOf([new Embedding(3001, 67, { seed: 7, init }).weight]);
}

let state = 12345;
function nextIndex(n) {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return (state >>> 8) % n;
}
function batch(n, count) {
  const ids = new Int32Array(count);
  for (let i = 0; i < count; i++) ids[i] = nextIndex(n);
  return ids;
}
nne.setNumThreads(2);
const rows = 20_000;
const dim = 72;
const users = new Embedding(rows, dim, { seed: 1, sparse: true, init: { kind: 'normal', std: 0.1 } });
const items = new Embedding(rows, dim, { seed: 2, sparse: true, init: { kind: 'normal', std: 0.1 } });
const dense = new Embedding(rows, dim, { seed: 3, paddingIdx: 0 });
const fused = new Embedding(rows, dim, { seed: 4 });
const bags = ['sum', 'mean', 'max'].map((mode, k) => new EmbeddingBag(rows, dim, { seed: 10 + k, mode }));
const optimizers = [new SparseAdam([users], { lr: 0.01 }), new Adagrad([items], { lr: 0.05 }), new Adam([dense], { lr: 0.001 }),
  new SGD(bags, { lr: 0.1, momentum: 0.9 })];
applyOptimizerInBackward(RowWiseAdagrad, [fused], { lr: 0.05 });
const trainingOutputs = createHash('sha256');
for (let step = 0; step < 12; step++) {
  const ids = batch(rows, 6000); // large enough for the pool to split the calls
  for (const optimizer of optimizers) optimizer.zeroGrad();
  const u = users.forward(ids);
  const v = items.forward(batch(rows, 6000));
  const grad = new Float32Array(u.length);
  for (let i = 0; i < grad.length; i++) grad[i] = Math.fround(0.01 * (u[i] - v[i]));
  users.backward(ids, grad);
  items.backward(ids, grad);
  dense.forward(ids);
  dense.backward(ids, grad);
  fused.backward(ids, grad);
  const offsets = new Int32Array(1000);
  for (let b = 0; b < offsets.length; b++) offsets[b] = b * 6;
  for (const bag of bags) {
    const out = bag.forward(ids, offsets);
    trainingOutputs.update(bytesOf(out));
    bag.backward(ids, offsets, out.map((x) => x * 0.01));
  }
  for (const optimizer of optimizers) optimizer.step();
  trainingOutputs.update(bytesOf(u));
}
hashes['training/outputs'] = trainingOutputs.digest('hex').slice(0, 32);
for (const [name, layer] of Object.entries({ users, items, dense, fused, sum: bags[0], mean: bags[1], max: bags[2] })) {
  hashes[`training/${name}`] = hashOf([layer.weight]);
}

// 3: errors, with nothing changed.
const victim = new Embedding(100, 8, { seed: 5 });
const bag = new EmbeddingBag(100, 8, { seed: 6 });
const before = hashOf([victim.weight, bag.weight]);
const calls = {
  'forward: index out of range': [RangeError, () => victim.forward([1, 100])],
  'forward: negative index': [RangeError, () => victim.forward(new Int32Array([-1]))],
  'forward: wrong index type': [TypeError, () => victim.forward(new Float32Array([1]))],
  'backward: gradOutput length': [RangeError, () => victim.backward([1, 2], new Float32Array(8))],
  'backward: gradOutput type': [TypeError, () => victim.backward([1], new Float64Array(8))],
  'bag: offsets decrease': [RangeError, () => bag.forward([1, 2, 3], new Int32Array([0, 2, 1]))],
  'bag: first offset': [RangeError, () => bag.backward([1, 2], new Int32Array([1]), new Float32Array(8))],
  'setNumThreads(0)': [RangeError, () => nne.setNumThreads(0)],
  'new Embedding(-1, 8)': [RangeError, () => new Embedding(-1, 8)],
  'loadStateDict: wrong size': [RangeError, () => {
    const optimizer = new Adagrad([victim], { lr: 0.1 });
    const saved = optimizer.stateDict();
    saved.tables[0].buffers.sum = new Float32Array(3);
    optimizer.loadStateDict(saved);
  }],
};
for (const [name, [Kind, call]] of Object.entries(calls)) {
  try {
    call();
    failures.push(`error ${name}: no error`);
  } catch (error) {
    if (!(error instanceof Kind)) failures.push(`error ${name}: ${error?.name} (${error?.message}), expected ${Kind.name}`);
    errors[name] = `${error?.name}: ${error?.message}`;
  }
}
if (hashOf([victim.weight, bag.weight]) !== before) failures.push('a rejected call changed a table');

const platform = `${process.arch} node ${process.version} ${capabilities.backend}${capabilities.simd ? `/${capabilities.simd}` : ''}`;
const out = option('--out');
if (out !== undefined) fs.writeFileSync(out, `${JSON.stringify({ platform, hashes, errors }, null, 1)}\n`);
if (failures.length > 0) {
  console.error(`prebuild-check (${platform}): ${failures.length} failures:\n  ${failures.slice(0, 30).join('\n  ')}`);
  process.exit(1);
}
console.log(`prebuild-check (${platform}): ${compared} comparisons with PyTorch passed, ${Object.keys(hashes).length} results hashed, ` +
  `${Object.keys(errors).length} error cases`);
