#!/usr/bin/env node
// Two builds of the package in one process, their calls alternated: the before/after measurement
// of a change, free of the drift between two runs on a shared machine. Each root is a checkout
// with dist/ and its addon built (for example `git worktree add /tmp/before HEAD~1`, then
// `npm ci && npm run build` there).
//
//   node --expose-gc bench/ab-builds.mjs /tmp/before .                      every case
//   node --expose-gc bench/ab-builds.mjs /tmp/before . '1T S1 renorm'        cases matching a regex
//   node --expose-gc bench/ab-builds.mjs /tmp/before . --json out.json       the results as JSON too
//
// Cases, per thread count (1, 2) and shape: EmbeddingBag forward and backward (sum, mean, max),
// Embedding forward and backward (and their async forms, awaited one after the other), Embedding
// forward with maxNorm 1 (renorm), sparse SGD and Adagrad steps (backward, step, zeroGrad). Each
// sample is the CPU time (user + system, all threads) per call over ~8 ms of calls: the machine
// is shared, and wall time mostly measures the other processes. ROUNDS (env, default 21) samples
// per build, the order of the two builds swapped each round; the median of each is reported, with
// new/old, their geometric mean and the cases worse than 1.05. NN_EMBEDDING_SIMD picks the tier of
// both builds.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : null;
const positional = args.filter((arg, i) => !arg.startsWith('--') && (jsonAt < 0 || i !== jsonAt + 1));
if (positional.length < 2 || positional.length > 3) {
  console.error("usage: node --expose-gc bench/ab-builds.mjs <old root> <new root> ['case regex'] [--json FILE]");
  process.exit(2);
}
const [oldRoot, newRoot, filter] = positional;
const only = filter === undefined ? null : new RegExp(filter);
const ROUNDS = Number(process.env.ROUNDS ?? 21);
const require = createRequire(import.meta.url);
const builds = [oldRoot, newRoot].map((root) => require(path.resolve(root, 'dist', 'index.js')));

const SHAPES = [
  { name: 'S1', rows: 10_000, dim: 64, batch: 4096 },
  { name: 'S2', rows: 1_000_000, dim: 128, batch: 16_384 },
  { name: 'S3', rows: 100_000, dim: 16, batch: 65_536 },
  { name: 'S4', rows: 50_000, dim: 300, batch: 1024 },
  { name: 'tiny', rows: 1000, dim: 32, batch: 8 },
];
const BAG = 4; // entries per bag

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

async function cpuTimePerCall(call, reps, isAsync) {
  const start = process.cpuUsage();
  if (isAsync) for (let i = 0; i < reps; i++) await call();
  else for (let i = 0; i < reps; i++) call();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / reps;
}

// [name, make(nn) -> state, call(state), async]
function cases(shape, indices) {
  const { rows, dim, batch } = shape;
  const gradOutput = new Float32Array(batch * dim).fill(0.001);
  const bagGrad = new Float32Array((batch / BAG) * dim).fill(0.001);
  const out = new Float32Array(batch * dim);
  const bagOut = new Float32Array((batch / BAG) * dim);
  const list = [];
  for (const mode of ['sum', 'mean', 'max']) {
    const make = (nn) => new nn.EmbeddingBag(rows, dim, { mode, seed: 1 });
    list.push([`bag fwd ${mode}`, make, (l) => l.forward(indices, BAG, null, bagOut), false]);
    list.push([`bag bwd ${mode}`, make, (l) => l.backward(indices, BAG, bagGrad), false]);
  }
  const embedding = (nn) => new nn.Embedding(rows, dim, { seed: 1 });
  list.push(['emb fwd', embedding, (l) => l.forward(indices, out), false]);
  list.push(['emb bwd', embedding, (l) => l.backward(indices, gradOutput), false]);
  list.push(['emb fwdAsync', embedding, (l) => l.forwardAsync(indices, out), true]);
  list.push(['emb bwdAsync', embedding, (l) => l.backwardAsync(indices, gradOutput), true]);
  list.push(['renorm fwd (maxNorm 1)', (nn) => new nn.Embedding(rows, dim, { seed: 1, maxNorm: 1 }), (l) => l.forward(indices, out), false]);
  for (const [name, optimizer] of [['SGD', (nn, l) => new nn.SGD([l], { lr: 0.01 })], ['Adagrad', (nn, l) => new nn.Adagrad([l], { lr: 0.01 })]]) {
    const make = (nn) => {
      const layer = new nn.Embedding(rows, dim, { seed: 1, sparse: true });
      return { layer, optimizer: optimizer(nn, layer) };
    };
    const step = ({ layer, optimizer: o }) => {
      layer.backward(indices, gradOutput);
      o.step();
      layer.zeroGrad();
    };
    list.push([`${name} sparse bwd+step`, make, step, false]);
  }
  return list;
}

const results = [];
for (const threads of [1, 2]) {
  for (const build of builds) build.setNumThreads(threads);
  for (const shape of SHAPES) {
    let seed = 7;
    const indices = Int32Array.from({ length: shape.batch }, () => (seed = (seed * 1103515245 + 12345) >>> 0) % shape.rows);
    for (const [name, make, call, isAsync] of cases(shape, indices)) {
      const label = `${threads}T ${shape.name} ${name}`;
      if (only !== null && !only.test(label)) continue;
      const states = builds.map((nn) => make(nn));
      const calls = states.map((state) => () => call(state));
      for (let w = 0; w < 20; w++) for (const c of calls) await c();
      const probe = await cpuTimePerCall(calls[0], 3, isAsync);
      const reps = Math.max(1, Math.min(2000, Math.round(8000 / Math.max(probe, 0.1))));
      const samples = [[], []];
      for (let round = 0; round < ROUNDS; round++) {
        for (const k of round % 2 ? [0, 1] : [1, 0]) samples[k].push(await cpuTimePerCall(calls[k], reps, isAsync));
      }
      const [oldUs, newUs] = samples.map(median);
      const ratio = newUs / oldUs;
      results.push({ threads, shape: shape.name, rows: shape.rows, dim: shape.dim, batch: shape.batch, case: name, oldUs, newUs, ratio });
      console.log(`${label.padEnd(34)} old ${oldUs.toFixed(2).padStart(9)} µs   new ${newUs.toFixed(2).padStart(9)} µs   new/old ${ratio.toFixed(3)}`);
      states.length = 0;
      globalThis.gc?.();
    }
  }
}
if (results.length > 0) {
  const geomean = Math.exp(results.reduce((sum, r) => sum + Math.log(r.ratio), 0) / results.length);
  const worse = results.filter((r) => r.ratio > 1.05);
  console.log(`\n${results.length} cases, geometric mean new/old ${geomean.toFixed(3)}; worse than 1.05: ${worse.length === 0 ? 'none' : ''}`);
  for (const r of worse) console.log(`  ${r.threads}T ${r.shape} ${r.case}: ${r.ratio.toFixed(3)}`);
}
if (jsonFile !== null) {
  const tier = process.env.NN_EMBEDDING_SIMD ?? '';
  writeFileSync(jsonFile, `${JSON.stringify({ roots: [oldRoot, newRoot].map((r) => path.resolve(r)), node: process.version, tier, rounds: ROUNDS, results }, null, 2)}\n`);
  console.log(`wrote ${jsonFile}`);
}
