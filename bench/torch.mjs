// PyTorch suite of the benchmark (run from bench/embedding.mjs: npm run bench, or
// npm run bench -- --suite torch): the calls a user writes, through the public API, next to the
// same calls in PyTorch on the same machine, the same indices and the same gradOutput. PyTorch runs
// as a child process (bench/torch/bench.py) when a python3 with torch and numpy is found
// (NN_EMBEDDING_TORCH_PYTHON, else python3, else /usr/bin/python3; Debian's python3-torch is
// PyTorch 1.13); otherwise the suite prints "not installed" and times nothing. Never a dependency.
//
//   call          nn-embedding                                   PyTorch
//   fwd           layer.forward(idx)         (new output)        with no_grad: emb(idx)
//   fwd, out      layer.forward(idx, out)                        index_select(w, 0, idx, out=y)
//   fwd+bwd       layer.forward(idx); layer.backward(idx, g)     emb(idx).backward(g)  (dense grad)
//   step          opt.zeroGrad(); layer.forward(idx);            opt.zero_grad(); emb(idx).backward(g);
//                 layer.backward(idx, g); opt.step()             opt.step()   (sparse=True)
//   step, out     the same with layer.forward(idx, out)          (the same torch step)
//   fused         layer.forward(idx); layer.backward(idx, g)     (the same torch step: torch has no
//                 after applyOptimizerInBackward                  update fused into backward)
//   fused, out    the same with layer.forward(idx, out)          (the same torch step)
//
// Shapes: the Embedding suite's S1..S4 and tiny for the forward calls; Embedding(N, 64), batch
// 16,384, N = 10^4 and 10^6 for the training steps (SGD, Adagrad, SparseAdam; lr 1e-4, every other
// hyper-parameter at both libraries' defaults, which agree). 1 thread and all threads.
// Method: the two processes cannot interleave calls, so the suite alternates whole rounds
// (nn-embedding, PyTorch, nn-embedding, PyTorch; one round each with --quick) and keeps each side's
// best median: machine drift then hits both alike. Within a round each call is sampled as the other
// suites sample (median µs per call over samples of k back-to-back calls).
// "ArrayBuffer B/call": the median over 31 calls of process.memoryUsage().arrayBuffers after the
// call minus before it: the bytes of ArrayBuffers a call allocates and leaves behind (its output,
// or any scratch), in steady state.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

import { BATCHES, EMBEDDING_SHAPES, SEED, collect, fillQuick, fmtUs, fmtX, indexBatches, measure, now, printGoals, rotating, secondsSince, table } from './harness.mjs';

const require = createRequire(import.meta.url);
const { Embedding, SGD, Adagrad, SparseAdam, applyOptimizerInBackward } = require('../dist/index.js');

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, 'torch', 'bench.py');

const STEP_ROWS = [10_000, 1_000_000];
const STEP_DIM = 64;
const STEP_BATCH = 16_384;
const LR = 1e-4;
const OPTIMIZERS = { SGD, Adagrad, SparseAdam };

/** The first python3 that imports torch and numpy: { python, version } or { error }. */
export function findTorch() {
  const candidates = [process.env.NN_EMBEDDING_TORCH_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean);
  const tried = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import numpy, torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
    tried.push(`${python}: ${r.error ? r.error.code : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`)}`);
  }
  return { error: `not installed (${tried.join('; ')})` };
}

/** The suite's cases: { id, kind, label, shape, rows, dim, batch, optimizer?, seed }. */
function suiteCases(args) {
  const cases = [];
  const shapes = args.shapes === null ? EMBEDDING_SHAPES : EMBEDDING_SHAPES.filter((s) => args.shapes.includes(s.name));
  for (const [n, s] of shapes.entries()) {
    for (const kind of ['fwd', 'fwdOut', 'fwdBwd']) {
      cases.push({ id: `${kind}-${s.name}`, kind, torchKind: kind, shape: s.name, rows: s.rows, dim: s.dim, batch: s.batch, seed: SEED * 37 + n });
    }
  }
  if (args.shapes === null) {
    for (const [n, rows] of STEP_ROWS.entries()) {
      for (const optimizer of Object.keys(OPTIMIZERS)) {
        for (const kind of ['step', 'stepOut', 'fused', 'fusedOut']) {
          cases.push({ id: `${kind}-${optimizer}-${rows}`, kind, torchKind: 'step', torchId: `step-${optimizer}-${rows}`, optimizer, shape: `${rows}×${STEP_DIM}`, rows, dim: STEP_DIM, batch: STEP_BATCH, seed: SEED * 41 + n });
        }
      }
    }
  }
  return cases;
}

const LABELS = { fwd: 'fwd', fwdOut: 'fwd, out', fwdBwd: 'fwd+bwd', step: 'step', stepOut: 'step, out', fused: 'fused', fusedOut: 'fused, out' };

/** One case's data (the same for both libraries) and its files for the Python side. */
function caseData(c, dir) {
  const batches = indexBatches(c.rows, c.batch, c.seed);
  const gradOutput = fillQuick(new Float32Array(c.batch * c.dim), c.seed + 1);
  for (let i = 0; i < gradOutput.length; i++) gradOutput[i] *= 0.01;
  const indicesFile = join(dir, `${c.shape}-${c.batch}-indices.bin`);
  const gradFile = join(dir, `${c.shape}-${c.batch}-grad.bin`);
  const all = new Int32Array(c.batch * BATCHES);
  batches.forEach((b, i) => all.set(b, i * c.batch));
  writeFileSync(indicesFile, Buffer.from(all.buffer));
  writeFileSync(gradFile, Buffer.from(gradOutput.buffer));
  return { batches, gradOutput, indicesFile, gradFile };
}

/** The nn-embedding call of a case: (idx) => void, on fresh layers. */
function nnCall(c, { gradOutput }) {
  const weight = fillQuick(new Float32Array(c.rows * c.dim), c.seed + 2);
  for (let i = 0; i < weight.length; i++) weight[i] *= 0.1;
  const out = new Float32Array(c.batch * c.dim);
  if (c.kind === 'fwd' || c.kind === 'fwdOut' || c.kind === 'fwdBwd') {
    const layer = new Embedding(c.rows, c.dim, { weight });
    if (c.kind === 'fwd') return (idx) => layer.forward(idx);
    if (c.kind === 'fwdOut') return (idx) => layer.forward(idx, out);
    return (idx) => {
      layer.forward(idx);
      layer.backward(idx, gradOutput);
    };
  }
  const Optimizer = OPTIMIZERS[c.optimizer];
  if (c.kind === 'fused' || c.kind === 'fusedOut') {
    const layer = new Embedding(c.rows, c.dim, { weight });
    applyOptimizerInBackward(Optimizer, [layer], { lr: LR });
    if (c.kind === 'fusedOut') {
      return (idx) => {
        layer.forward(idx, out);
        layer.backward(idx, gradOutput);
      };
    }
    return (idx) => {
      layer.forward(idx);
      layer.backward(idx, gradOutput);
    };
  }
  const layer = new Embedding(c.rows, c.dim, { sparse: true, weight });
  const opt = new Optimizer([layer], { lr: LR });
  if (c.kind === 'step') {
    return (idx) => {
      opt.zeroGrad();
      layer.forward(idx);
      layer.backward(idx, gradOutput);
      opt.step();
    };
  }
  return (idx) => {
    opt.zeroGrad();
    layer.forward(idx, out);
    layer.backward(idx, gradOutput);
    opt.step();
  };
}

/**
 * ArrayBuffer bytes a call leaves behind, in steady state: the median over 31 calls of
 * process.memoryUsage().arrayBuffers after the call minus before it (a collection inside one call
 * makes that call's difference meaningless, the median ignores it).
 */
function arrayBufferBytesPerCall(run) {
  run(BATCHES); // warm
  collect();
  const deltas = [];
  for (let i = 0; i < 31; i++) {
    const before = process.memoryUsage().arrayBuffers;
    run(1);
    deltas.push(process.memoryUsage().arrayBuffers - before);
  }
  deltas.sort((a, b) => a - b);
  return Math.max(0, deltas[15]);
}

function runNn(cases, data, threads, settings) {
  const results = {};
  for (const c of cases) {
    const run = rotating(data.get(c).batches, nnCall(c, data.get(c)));
    const variants = threads.counts.map((n) => ({ key: String(n), before: () => threads.set(n), run }));
    const stats = measure(variants, settings);
    threads.set(1);
    results[c.id] = { ...Object.fromEntries(Object.entries(stats).map(([n, s]) => [n, s.medianUs])), arrayBufferBytes: arrayBufferBytesPerCall(run) };
    threads.restore();
    collect(); // the case's table goes before the next
  }
  return results;
}

function runTorch(torch, cases, data, threads, settings, dir) {
  const seen = new Set();
  const specCases = [];
  for (const c of cases) {
    const id = c.torchId ?? c.id;
    if (seen.has(id)) continue;
    seen.add(id);
    specCases.push({ id, kind: c.torchKind, rows: c.rows, dim: c.dim, batch: c.batch, indices: data.get(c).indicesFile, grad: data.get(c).gradFile, optimizer: c.optimizer, lr: LR });
  }
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify({ threads: threads.counts, ...settings, cases: specCases }));
  const r = spawnSync(torch.python, [SCRIPT, specFile], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`bench/torch/bench.py failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`);
  return JSON.parse(r.stdout).results;
}

export function runTorchSuite({ args, threads }) {
  const started = now();
  console.log('PyTorch: the same calls in torch, same machine, indices and gradOutput');
  const torch = findTorch();
  if (torch.error) {
    console.log(`  torch ${torch.error}: nothing timed (Debian: apt-get install python3-torch)`);
    return { torch: { error: torch.error }, results: [], goals: [], seconds: secondsSince(started) };
  }
  const settings = args.quick
    ? { sampleTargetMs: 4, warmupMs: 20, minSamples: 5, maxSamples: 11, budgetMs: 150 }
    : { sampleTargetMs: 10, warmupMs: 50, minSamples: 7, maxSamples: 41, budgetMs: 500 };
  const rounds = args.quick ? 1 : 2;
  console.log(
    `  torch ${torch.version} (${torch.python}); threads ${threads.counts.join(' and ')}; ${rounds} alternating round(s) per library, best median kept; ` +
      `sample ≈ ${settings.sampleTargetMs} ms, ${settings.minSamples}..${settings.maxSamples} samples, ≤ ~${settings.budgetMs} ms per call and thread count`,
  );
  const cases = suiteCases(args);
  const dir = mkdtempSync(join(os.tmpdir(), 'nn-embedding-torch-'));
  const best = (a, b) => (a === undefined ? b : Math.min(a, b));
  const nn = {};
  const pt = {};
  try {
    const data = new Map(cases.map((c) => [c, caseData(c, dir)]));
    for (let round = 0; round < rounds; round++) {
      const t0 = now();
      const nnRound = runNn(cases, data, threads, settings);
      const t1 = now();
      const ptRound = runTorch(torch, cases, data, threads, settings, dir);
      process.stderr.write(`  round ${round + 1}: nn-embedding ${(Number(t1 - t0) / 1e9).toFixed(1)} s, torch ${secondsSince(t1).toFixed(1)} s\n`);
      for (const [id, r] of Object.entries(nnRound)) {
        nn[id] ??= {};
        for (const [k, v] of Object.entries(r)) nn[id][k] = k === 'arrayBufferBytes' ? Math.max(nn[id][k] ?? 0, v) : best(nn[id][k], v);
      }
      for (const [id, r] of Object.entries(ptRound)) {
        pt[id] ??= {};
        for (const [k, v] of Object.entries(r)) pt[id][k] = best(pt[id][k], v);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const results = cases.map((c) => {
    const mine = nn[c.id];
    const theirs = pt[c.torchId ?? c.id];
    const perThreads = Object.fromEntries(
      threads.counts.map((n) => [n, { nnUs: mine[n], torchUs: theirs[n], speedup: theirs[n] / mine[n] }]),
    );
    return { id: c.id, call: LABELS[c.kind], kind: c.kind, shape: c.shape, rows: c.rows, dim: c.dim, batch: c.batch, optimizer: c.optimizer ?? null, threads: perThreads, arrayBufferBytesPerCall: mine.arrayBufferBytes };
  });
  const [one, all] = [threads.counts[0], threads.counts[threads.counts.length - 1]];
  const MT = threads.multi;
  console.log('');
  console.log(
    table(
      ['call', 'shape', 'nn µs', 'torch µs', '× torch', ...(MT ? [`nn ${all}T µs`, `torch ${all}T µs`, `× torch ${all}T`] : []), 'ArrayBuffer B/call'],
      results.map((r) => [
        r.call + (r.optimizer ? ` ${r.optimizer}` : ''),
        r.shape + (r.optimizer ? ` B=${r.batch}` : ` B=${r.batch}`),
        fmtUs(r.threads[one].nnUs),
        fmtUs(r.threads[one].torchUs),
        fmtX(r.threads[one].speedup),
        ...(MT ? [fmtUs(r.threads[all].nnUs), fmtUs(r.threads[all].torchUs), fmtX(r.threads[all].speedup)] : []),
        String(Math.round(r.arrayBufferBytesPerCall)),
      ]),
      ['l', 'l', 'r', 'r', 'r', ...(MT ? ['r', 'r', 'r'] : []), 'r'],
    ),
  );
  console.log('');
  console.log('× torch = torch µs / nn-embedding µs (> 1: nn-embedding faster); "fused" is compared with torch\'s step (same rule)');
  const goals = torchGoals(results, one);
  console.log('');
  printGoals(goals, 'goals (against PyTorch, 1 thread)');
  return { torch: { version: torch.version, python: torch.python }, settings: { ...settings, rounds }, results, goals, seconds: secondsSince(started) };
}

function torchGoals(results, one) {
  const goals = [];
  const find = (kind, shape, optimizer = null) => results.find((r) => r.kind === kind && r.shape === shape && r.optimizer === optimizer);
  for (const r of results.filter((r) => r.kind === 'fwd')) {
    const x = r.threads[one].speedup;
    if (r.shape === 'tiny') {
      const us = r.threads[one].nnUs;
      goals.push({ goal: 'tiny forward(idx) <= 1.5 µs', shape: r.shape, value: us, target: 1.5, met: us <= 1.5, text: `fwd tiny: forward(idx) ${fmtUs(us)} µs (torch ${fmtUs(r.threads[one].torchUs)} µs)` });
      continue;
    }
    goals.push({ goal: 'forward(idx) >= 1.3x torch', shape: r.shape, value: x, target: 1.3, met: x >= 1.3, text: `fwd ${r.shape}: forward(idx) ${fmtUs(r.threads[one].nnUs)} µs vs torch ${fmtUs(r.threads[one].torchUs)} µs = ${fmtX(x)}` });
    const withOut = find('fwdOut', r.shape);
    if (withOut) {
      const ratio = r.threads[one].nnUs / withOut.threads[one].nnUs;
      goals.push({ goal: 'forward(idx) within 1.3x of forward(idx, out)', shape: r.shape, value: ratio, target: 1.3, met: ratio <= 1.3, text: `fwd ${r.shape}: forward(idx) ${fmtUs(r.threads[one].nnUs)} µs / forward(idx, out) ${fmtUs(withOut.threads[one].nnUs)} µs = ${ratio.toFixed(2)}` });
    }
  }
  for (const r of results.filter((r) => r.kind.startsWith('step') || r.kind.startsWith('fused'))) {
    const x = r.threads[one].speedup;
    const fused = r.kind.startsWith('fused');
    const target = fused ? 2 : 1.5;
    goals.push({ goal: `${fused ? 'fused step' : 'training step'}${r.kind.endsWith('Out') ? ' (forward into out)' : ' (forward allocating)'} >= ${target}x torch's step`, shape: r.shape, value: x, target, met: x >= target, text: `${r.call} ${r.optimizer} ${r.shape}: ${fmtUs(r.threads[one].nnUs)} µs vs torch ${fmtUs(r.threads[one].torchUs)} µs = ${fmtX(x)}` });
  }
  return goals;
}
