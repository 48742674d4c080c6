#!/usr/bin/env node
// Two builds of the package in one process, their calls alternated: the before/after measurement
// of a change, free of the drift between two runs on a shared machine. Each root is a checkout
// with dist/ and its addon built (for example a `git worktree add /tmp/before HEAD~1`, then
// `npm run build:native && node scripts/build-ts.js` there, with node_modules linked).
//
//   node bench/ab-builds.mjs /tmp/before .               median µs per call, and new/old
//   node bench/ab-builds.mjs /tmp/before . --json out.json
//
// Per shape: Embedding forward(indices, out) and backward at 1 thread, then forwardAsync and
// backwardAsync awaited one after the other; 41 rounds (async: 31), the order of the two builds
// swapped each round; the median of the per-call times of each build.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : null;
const roots = args.filter((arg, i) => !arg.startsWith('--') && (jsonAt < 0 || i !== jsonAt + 1));
if (roots.length !== 2) {
  console.error('usage: node bench/ab-builds.mjs <old root> <new root> [--json FILE]');
  process.exit(2);
}
const require = createRequire(import.meta.url);
const builds = roots.map((root) => require(path.resolve(root, 'dist', 'index.js')));
for (const build of builds) build.setNumThreads(1);

const SHAPES = [
  ['tiny', 1000, 32, 8],
  ['S1', 10_000, 64, 4096],
  ['S3', 100_000, 16, 65_536],
  ['S4', 50_000, 300, 1024],
];

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

async function time(call, reps, isAsync) {
  const start = process.hrtime.bigint();
  if (isAsync) for (let i = 0; i < reps; i++) await call();
  else for (let i = 0; i < reps; i++) call();
  return Number(process.hrtime.bigint() - start) / reps / 1000;
}

const results = [];
for (const [name, rows, dim, batch] of SHAPES) {
  let seed = 7;
  const indices = Int32Array.from({ length: batch }, () => (seed = (seed * 1103515245 + 12345) >>> 0) % rows);
  const out = new Float32Array(batch * dim);
  const gradOutput = new Float32Array(batch * dim).fill(0.001);
  const layers = builds.map((nn) => new nn.Embedding(rows, dim, { seed: 1 }));
  for (const layer of layers) layer.backward(indices, gradOutput);
  const ops = [
    ['forward', (l) => l.forward(indices, out), false],
    ['backward', (l) => l.backward(indices, gradOutput), false],
    ['forwardAsync', (l) => l.forwardAsync(indices, out), true],
    ['backwardAsync', (l) => l.backwardAsync(indices, gradOutput), true],
  ];
  for (const [op, call, isAsync] of ops) {
    const reps = isAsync ? 100 : Math.max(1, Math.round(2e6 / (batch * dim)));
    const samples = [[], []];
    for (let round = 0; round < (isAsync ? 31 : 41); round++) {
      for (const k of round % 2 ? [0, 1] : [1, 0]) samples[k].push(await time(() => call(layers[k]), reps, isAsync));
    }
    const [oldUs, newUs] = samples.map(median);
    results.push({ op, shape: name, rows, dim, batch, oldUs, newUs, ratio: newUs / oldUs });
    console.log(`${op.padEnd(13)} ${name.padEnd(5)} old ${oldUs.toFixed(3).padStart(10)} µs   new ${newUs.toFixed(3).padStart(10)} µs   new/old ${(newUs / oldUs).toFixed(3)}`);
  }
}
if (jsonFile !== null) {
  writeFileSync(jsonFile, `${JSON.stringify({ roots: roots.map((r) => path.resolve(r)), node: process.version, results }, null, 2)}\n`);
  console.log(`wrote ${jsonFile}`);
}
