// Table-initialization suite of the benchmark (run from bench/embedding.mjs: npm run bench, or
// npm run bench -- --suite init): the cost of creating an initialized N × D table, written as a
// user writes it, next to the same tables in PyTorch (when installed) and a fill-bandwidth reference.
//
//   row             nn-embedding                                         PyTorch
//   default N(0,1)  new Embedding(N, D, { seed: 1 })                     torch.nn.Embedding(N, D)
//   normal          new Embedding(N, D, { init: { kind: 'normal',        nn.init.normal_(torch.empty(N, D),
//                     std: 0.01 }, seed: 1 })                              std=0.01)
//   uniform         { kind: 'uniform', a: -0.05, b: 0.05 }, seed 1       uniform_(t, -0.05, 0.05)
//   truncNormal     { kind: 'truncNormal', std: 0.02 }, seed 1           trunc_normal_(t, std=0.02)
//   xavierUniform   { kind: 'xavierUniform' }, seed 1                    xavier_uniform_(t)
//   zeros           { kind: 'zeros' }             (no seed)              zeros_(t)
//   constant 0.5    { kind: 'constant', value: 0.5 } (no seed)           constant_(t, 0.5)
//   create (async)  await Embedding.create(N, D, { seed: 1 })            (compared with nn.Embedding)
//   TS column       withBackend(jsBackend, () => new Embedding(N, D, { seed: 1 }))  (default row only)
//   references      new Float32Array(N·D).fill(0.5): fresh pages and one write pass;
//                   touched.fill(0): the same bytes written over an array allocated and written
//                   before (a memset without page faults)
// torch's t = torch.empty(N, D) is allocated inside each timed call (bench/torch/init.py), so both
// libraries pay for fresh memory. A constructor that throws a TypeError about the seed is retried
// without it (the row is then marked "no seed"); an init kind or Embedding.create that this build
// does not have (TypeError "unknown option 'init'", an unknown kind, create not a function) prints
// "not available in this build" instead of a time.
//
// Shapes: 10^5 × 300 and 10^6 × 128 (--quick: 10^5 × 300 only). Threads: native rows at 1 thread
// and at all threads (setNumThreads before each call, untimed); the TS backend and the references
// are single-threaded JavaScript (run at 1 thread); torch at torch.set_num_threads(1) and (all).
// The TS backend runs at 10^6 × 128 only when its 10^5 × 300 median projects (by values) to at most
// TS_MAX_MS per call; otherwise its cell gives that estimate.
//
// Method: each measurement is one call (they take milliseconds to seconds). Every cell (variant ×
// thread count) is first called once, untimed, on a small PROBE table (code paths, thread pool),
// whose values are checked against the init's distribution (mean / std / range, loose bounds; a
// failed check is printed and recorded, it does not stop the run). Then runs, in rounds: each round
// times every cell once, the order rotating from round to round, with a full collection (collect())
// before each call and the table dropped after it, then a turn of the event loop (anything freed
// by a finalizer is freed there: see settle()), so no call pays for the previous one's table.
// At least minRuns rounds, up to maxRuns for cells whose runs so far took under budgetMs in all
// (per shape: INIT_SHAPES; --quick: one run per cell).
// Reported: the median of a cell's runs (all runs are in the JSON). PyTorch runs the same way in a
// child process (bench/torch/init.py) after the Node side, one table alive at a time.
// M values/s = N·D / median seconds / 10^6 (the nn 1-thread cell; 4 bytes per value).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { collect, fmtSeconds, fmtUs, fmtX, now, printGoals, secondsSince, table } from './harness.mjs';
import { findTorch } from './torch.mjs';

const require = createRequire(import.meta.url);
const { Embedding } = require('../dist/index.js');
const { withBackend } = require('../dist/loader.js');
const { jsBackend } = require('../dist/backends/js.js');

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, 'torch', 'init.py');

// runs: { minRuns, maxRuns, budgetMs } per cell at the shape (see the header). At 10^6 × 128 a
// call that writes fresh memory costs ~1.5 s on the VM this was written on (page faults: 512 MB
// written into fresh pages 1.45 s, into touched ones 44 ms), so cells that slow get 2 runs there
// and the full suite stays near 3 minutes; faster cells get 3 to 5.
export const INIT_SHAPES = [
  { name: '1e5x300', label: '10^5×300', rows: 100_000, dim: 300, runs: { minRuns: 3, maxRuns: 5, budgetMs: 1_000 } },
  { name: '1e6x128', label: '10^6×128', rows: 1_000_000, dim: 128, runs: { minRuns: 2, maxRuns: 5, budgetMs: 2_000 } },
];
const QUICK_SHAPES = ['1e5x300'];
const QUICK_RUNS = { minRuns: 1, maxRuns: 1, budgetMs: 0 };
const PROBE = { rows: 1_000, dim: 128 };
const SEED = 1;
/** The TS backend runs at a shape only when its projected time per call is at most this. */
const TS_MAX_MS = 2_000;
/** The TypeScript default init before the native initializers, values per second (the goal's base). */
const TS_BEFORE_VALUES_PER_S = 18e6;

// The init kinds: `init` is the options.init object (null: the default init); `seed` whether the
// call passes seed: 1; `check(stats, rows, dim)` judges a probe table's values.
const near = (x, target, tolerance) => Math.abs(x - target) <= tolerance * Math.abs(target);
const INITS = [
  {
    key: 'default',
    label: 'default N(0,1)',
    init: null,
    seed: true,
    expect: 'mean ≈ 0, std ≈ 1',
    check: (s) => Math.abs(s.mean) < 0.02 && near(s.std, 1, 0.03),
  },
  {
    key: 'normal',
    label: 'normal std 0.01',
    init: { kind: 'normal', std: 0.01 },
    seed: true,
    expect: 'mean ≈ 0, std ≈ 0.01',
    check: (s) => Math.abs(s.mean) < 2e-4 && near(s.std, 0.01, 0.03),
  },
  {
    key: 'uniform',
    label: 'uniform ±0.05',
    init: { kind: 'uniform', a: -0.05, b: 0.05 },
    seed: true,
    expect: 'in [-0.05, 0.05], std ≈ 0.1/√12',
    check: (s) => s.min >= Math.fround(-0.05) && s.max <= Math.fround(0.05) && near(s.std, 0.1 / Math.sqrt(12), 0.03),
  },
  {
    key: 'truncNormal',
    label: 'truncNormal std 0.02',
    init: { kind: 'truncNormal', std: 0.02 },
    seed: true,
    // torch's bounds a=-2, b=2 are absolute (irrelevant at std 0.02); bounds of ±2 std would give
    // std ≈ 0.88 × 0.02: both pass.
    expect: 'mean ≈ 0, std in [0.85, 1.03] × 0.02, |x| ≤ 2',
    check: (s) => Math.abs(s.mean) < 5e-4 && s.std >= 0.85 * 0.02 && s.std <= 1.03 * 0.02 && s.min >= -2 && s.max <= 2,
  },
  {
    key: 'xavierUniform',
    label: 'xavierUniform',
    init: { kind: 'xavierUniform' },
    seed: true,
    // torch: fan_in = D, fan_out = N for an (N, D) weight; gain 1: bound sqrt(6 / (N + D)).
    expect: '|x| ≤ √(6/(N+D)), std ≈ bound/√3',
    check: (s, rows, dim) => {
      const bound = Math.sqrt(6 / (rows + dim));
      return s.min >= -bound * (1 + 1e-6) && s.max <= bound * (1 + 1e-6) && near(s.std, bound / Math.sqrt(3), 0.03);
    },
  },
  {
    key: 'zeros',
    label: 'zeros',
    init: { kind: 'zeros' },
    seed: false,
    expect: 'all 0',
    check: (s) => s.min === 0 && s.max === 0,
  },
  {
    key: 'constant',
    label: 'constant 0.5',
    init: { kind: 'constant', value: 0.5 },
    seed: false,
    expect: 'all 0.5',
    check: (s) => s.min === 0.5 && s.max === 0.5,
  },
];
const TORCH_KINDS = INITS.map((i) => i.key);

function stats(values) {
  let sum = 0;
  let sumSq = 0;
  let min = Infinity;
  let max = -Infinity;
  let nonFinite = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (!Number.isFinite(x)) {
      nonFinite++;
      continue;
    }
    sum += x;
    sumSq += x * x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const n = values.length - nonFinite;
  const mean = sum / n;
  return { mean, std: Math.sqrt(Math.max(0, sumSq / n - mean * mean)), min, max, nonFinite };
}

const options = (spec, withSeed) => ({ ...(spec.init ? { init: { ...spec.init } } : {}), ...(withSeed ? { seed: SEED } : {}) });

/**
 * Decides how a variant is called in this build, on the probe table: { available: true, seed,
 * layer } or { available: false, reason }. make(withSeed) returns a layer or a promise of one.
 * A TypeError about the seed is retried without it; one about the init option or kind, or a
 * missing Embedding.create, means "not available"; any other error is a real one.
 */
async function probe(spec, make) {
  const unavailable = (e) =>
    (e instanceof TypeError || e instanceof RangeError) &&
    (/unknown option 'init'|Embedding\.create is not a function/.test(e.message) || (!/seed/.test(e.message) && /init|kind/.test(e.message)));
  let withSeed = spec.seed;
  for (;;) {
    try {
      const layer = await make(withSeed);
      return { available: true, seed: withSeed, layer };
    } catch (e) {
      if (unavailable(e)) return { available: false, reason: e.message };
      if (withSeed && e instanceof TypeError && /seed/.test(e.message)) {
        withSeed = false;
        continue;
      }
      throw e;
    }
  }
}

/** The nn-side variants: { key, label, spec, threadCounts, make(rows, dim, withSeed) , async }. */
function nnVariants(threads) {
  const variants = INITS.map((spec) => ({
    key: spec.key,
    spec,
    threadCounts: threads.counts,
    make: (rows, dim, withSeed) => new Embedding(rows, dim, options(spec, withSeed)),
  }));
  const defaultSpec = INITS[0];
  variants.push({
    key: 'create',
    spec: { ...defaultSpec, key: 'create', label: 'Embedding.create (async, default)' },
    threadCounts: threads.counts,
    async: true,
    make: (rows, dim, withSeed) => {
      if (typeof Embedding.create !== 'function') throw new TypeError('Embedding.create is not a function');
      return Embedding.create(rows, dim, options(defaultSpec, withSeed));
    },
  });
  variants.push({
    key: 'ts',
    spec: { ...defaultSpec, key: 'ts', label: 'default N(0,1), TS backend' },
    threadCounts: [1],
    make: (rows, dim, withSeed) => withBackend(jsBackend, () => new Embedding(rows, dim, options(defaultSpec, withSeed))),
  });
  return variants;
}

const REFERENCES = [
  { key: 'refFresh', label: 'ref: new Float32Array(N·D).fill(0.5)' },
  { key: 'refTouched', label: 'ref: fill(0) of a touched Float32Array(N·D)' },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const summary = (runsMs) => ({ medianMs: median(runsMs), minMs: Math.min(...runsMs), runsMs: runsMs.map((x) => Number(x.toPrecision(5))) });

/**
 * A full collection, then a turn of the event loop, twice: memory freed by a finalizer (N-API
 * defers them to a later turn) is then gone too. Tables are plain Float32Arrays, which V8 frees at
 * the collection itself; an earlier draft mapped them in the addon, and a loop of synchronous
 * constructors then kept every dropped table mapped (5.8 GB after twelve 512 MB tables, measured),
 * which is why layers no longer do that.
 */
async function settle() {
  for (let i = 0; i < 2; i++) {
    collect();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Times cells ({ id, n, call, async }) in rounds: every cell once per round, the order rotating,
 * settle() and threads.set(n) untimed before each call; rounds minRuns..maxRuns (a cell joins the
 * rounds past minRuns only while its runs so far took under budgetMs). Returns { id: [ms, ...] }.
 */
async function timeCells(cells, threads, settings) {
  const runs = Object.fromEntries(cells.map((c) => [c.id, []]));
  for (let round = 0; round < settings.maxRuns; round++) {
    const active = cells.filter((c) => round < settings.minRuns || runs[c.id].reduce((a, b) => a + b, 0) < settings.budgetMs);
    if (active.length === 0) break;
    for (let j = 0; j < active.length; j++) {
      const cell = active[(round + j) % active.length];
      await settle();
      threads.set(cell.n);
      let result;
      const t0 = now();
      if (cell.async) result = await cell.call();
      else result = cell.call();
      const ms = Number(now() - t0) / 1e6;
      runs[cell.id].push(ms);
      result = null; // dropped before the next call's settle()
    }
  }
  threads.restore();
  await settle();
  return runs;
}

function runTorchSide(torch, shapes, threads, settings) {
  const dir = mkdtempSync(join(os.tmpdir(), 'nn-embedding-init-'));
  try {
    const specFile = join(dir, 'spec.json');
    writeFileSync(
      specFile,
      JSON.stringify({ threads: threads.counts, shapes: shapes.map(({ name, rows, dim }) => ({ name, rows, dim, ...settings[name] })), kinds: TORCH_KINDS }),
    );
    const r = spawnSync(torch.python, [SCRIPT, specFile], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`bench/torch/init.py failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`);
    return JSON.parse(r.stdout).results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runInitSuite({ args, threads }) {
  const started = now();
  const shapes = args.quick ? INIT_SHAPES.filter((s) => QUICK_SHAPES.includes(s.name)) : INIT_SHAPES;
  const settings = Object.fromEntries(shapes.map((s) => [s.name, args.quick ? QUICK_RUNS : s.runs])); // per shape
  const MT = threads.multi;
  const all = threads.all;
  const torch = findTorch();
  console.log('Table initialization: new Embedding(N, D, { init, seed }) and Embedding.create, next to PyTorch\'s nn.Embedding and nn.init (fresh memory)');
  console.log(
    `  one call per run, order rotating, median; runs per cell: ` +
      shapes
        .map((s) => {
          const r = settings[s.name];
          return `${s.label} ` + (r.maxRuns > r.minRuns ? `${r.minRuns}..${r.maxRuns} (more than ${r.minRuns} while its runs took < ${r.budgetMs} ms in all)` : `${r.minRuns}`);
        })
        .join(', ') +
      `; threads ${threads.counts.join(' and ')}; ` +
      (torch.error ? `torch ${torch.error}` : `torch ${torch.version} (${torch.python})`),
  );

  // Probe every variant on a small table: is it available, does it take the seed, are its values right?
  const variants = nnVariants(threads);
  const probes = {};
  const warnings = [];
  for (const v of variants) {
    const p = await probe(v.spec, (withSeed) => v.make(PROBE.rows, PROBE.dim, withSeed));
    if (p.available) {
      for (const n of v.threadCounts.slice(1)) {
        threads.set(n);
        await v.make(PROBE.rows, PROBE.dim, p.seed); // warm the pool path too
      }
      threads.restore();
      const s = stats(p.layer.weight);
      const ok = s.nonFinite === 0 && v.spec.check(s, PROBE.rows, PROBE.dim);
      p.check = { ok, expect: v.spec.expect, ...Object.fromEntries(Object.entries(s).map(([k, x]) => [k, Number(x.toPrecision(6))])) };
      if (!ok) warnings.push(`CHECK FAILED: ${v.spec.label} on ${PROBE.rows}×${PROBE.dim}: mean ${s.mean.toPrecision(4)}, std ${s.std.toPrecision(4)}, min ${s.min}, max ${s.max}, non-finite ${s.nonFinite} (expected ${v.spec.expect})`);
      delete p.layer;
    }
    probes[v.key] = p;
  }
  await settle();
  for (const w of warnings) console.log(`  ${w}`);

  // The Node side, shape by shape.
  const nn = {};
  let tsProjectedMsPerValue = null;
  const tsSkipped = {};
  for (const shape of shapes) {
    const t0 = now();
    const { rows, dim } = shape;
    const values = rows * dim;
    const cells = [];
    for (const v of variants) {
      const p = probes[v.key];
      if (!p.available) continue;
      if (v.key === 'ts' && tsProjectedMsPerValue !== null && tsProjectedMsPerValue * values > TS_MAX_MS) {
        tsSkipped[shape.name] = { estimatedMs: tsProjectedMsPerValue * values };
        continue;
      }
      for (const n of v.threadCounts) cells.push({ id: `${v.key}:${n}`, n, async: v.async === true, call: () => v.make(rows, dim, p.seed) });
    }
    await settle();
    let touched = new Float32Array(values);
    touched.fill(1); // every page mapped and written before the timed fill(0)
    cells.push({ id: 'refFresh:1', n: 1, call: () => new Float32Array(values).fill(0.5) });
    cells.push({ id: 'refTouched:1', n: 1, call: () => touched.fill(0) });
    const runs = await timeCells(cells, threads, settings[shape.name]);
    touched = null;
    await settle();
    nn[shape.name] = runs;
    if (runs['ts:1']?.length) tsProjectedMsPerValue ??= median(runs['ts:1']) / values;
    const brief = Object.entries(runs).map(([id, ms]) => `${id} ${fmtUs(median(ms))}`).join(', ');
    process.stderr.write(`  init ${shape.label}: ${brief} ms  (${secondsSince(t0).toFixed(1)} s)\n`);
  }

  // The PyTorch side.
  let pt = null;
  if (!torch.error) {
    const t0 = now();
    pt = runTorchSide(torch, shapes, threads, settings);
    process.stderr.write(`  init torch: ${secondsSince(t0).toFixed(1)} s\n`);
  }

  // Results.
  const results = [];
  for (const shape of shapes) {
    const values = shape.rows * shape.dim;
    const runs = nn[shape.name];
    const cellOf = (id) => (runs[id]?.length ? summary(runs[id]) : null);
    const torchOf = (kind) => (pt ? Object.fromEntries(threads.counts.map((n) => [n, summary(pt[shape.name][kind][String(n)])])) : null);
    for (const v of variants.filter((v) => v.key !== 'ts')) {
      const p = probes[v.key];
      const nnCells = p.available ? Object.fromEntries(v.threadCounts.map((n) => [n, cellOf(`${v.key}:${n}`)])) : null;
      const torchCells = torchOf(v.key === 'create' ? 'default' : v.key);
      const r = {
        kind: v.key,
        label: v.spec.label,
        init: v.spec.init,
        shape: shape.name,
        rows: shape.rows,
        dim: shape.dim,
        values,
        available: p.available,
        ...(p.available ? { seedWanted: v.spec.seed, seedPassed: p.seed, check: p.check } : { reason: p.reason }),
        nn: nnCells,
        torch: torchCells,
        speedupTorch1T: nnCells && torchCells ? torchCells[1].medianMs / nnCells[1].medianMs : null,
        threadSpeedup: nnCells && MT ? nnCells[1].medianMs / nnCells[all].medianMs : null,
        mValuesPerS: nnCells ? values / (nnCells[1].medianMs * 1e3) : null,
      };
      if (v.key === 'default') {
        const ts = probes.ts;
        r.ts = !ts.available
          ? { available: false, reason: ts.reason }
          : tsSkipped[shape.name]
            ? { skipped: true, estimatedMs: tsSkipped[shape.name].estimatedMs }
            : { ...cellOf('ts:1'), mValuesPerS: values / (cellOf('ts:1').medianMs * 1e3) };
      }
      results.push(r);
    }
    for (const ref of REFERENCES) {
      const c = cellOf(`${ref.key}:1`);
      results.push({ kind: ref.key, label: ref.label, reference: true, shape: shape.name, rows: shape.rows, dim: shape.dim, values, nn: { 1: c }, mValuesPerS: values / (c.medianMs * 1e3), gbps: (values * 4) / (c.medianMs * 1e-3) / 1e9 });
    }
  }

  // Table.
  const NA = 'not available in this build';
  const ms = (c) => (c ? fmtUs(c.medianMs) : '-');
  const torchCell = (r, n) => (r.reference ? '-' : pt ? ms(r.torch[n]) : 'not installed');
  const rowLabel = (r) => r.label + (r.available && r.seedWanted && !r.seedPassed ? ' (no seed)' : '');
  const tsCell = (r) => {
    if (r.kind !== 'default') return '';
    if (r.ts.available === false) return NA;
    if (r.ts.skipped) return `skipped (~${fmtSeconds(r.ts.estimatedMs / 1e3)} est.)`;
    return ms(r.ts);
  };
  console.log('');
  console.log(
    table(
      ['init', 'shape', 'nn 1T ms', ...(MT ? [`nn ${all}T ms`] : []), 'TS ms', 'torch 1T ms', ...(MT ? [`torch ${all}T ms`] : []), '× torch 1T', 'M values/s (nn 1T)'],
      results.map((r) => {
        const shapeLabel = INIT_SHAPES.find((s) => s.name === r.shape).label;
        if (r.reference) return [r.label, shapeLabel, ms(r.nn[1]), ...(MT ? ['-'] : []), '', '-', ...(MT ? ['-'] : []), '-', r.mValuesPerS.toFixed(0)];
        if (!r.available) return [rowLabel(r), shapeLabel, NA, ...(MT ? [NA] : []), tsCell(r), torchCell(r, 1), ...(MT ? [torchCell(r, all)] : []), '-', '-'];
        return [
          rowLabel(r),
          shapeLabel,
          ms(r.nn[1]),
          ...(MT ? [ms(r.nn[all])] : []),
          tsCell(r),
          torchCell(r, 1),
          ...(MT ? [torchCell(r, all)] : []),
          fmtX(r.speedupTorch1T ?? NaN),
          r.mValuesPerS.toFixed(0),
        ];
      }),
      ['l', 'l', 'r', ...(MT ? ['r'] : []), 'r', 'r', ...(MT ? ['r'] : []), 'r', 'r'],
    ),
  );
  console.log('');
  console.log(
    `median ms per call (one call = one fresh N×D float32 table); nn = the default (native) backend, ${MT ? `1T / ${all}T = setNumThreads(1 / ${all})` : threads.describe()}; ` +
      'TS = pure-TypeScript backend (default init); torch = torch.empty + nn.init.*_ (nn.Embedding for the default and create rows), set_num_threads',
  );
  console.log('× torch 1T = torch 1-thread ms / nn 1-thread ms; M values/s = N·D / nn 1-thread seconds / 10^6; references: single-threaded JavaScript');
  const seedless = results.filter((r) => r.available && r.seedWanted && !r.seedPassed);
  if (seedless.length > 0) console.log(`(no seed): the constructor rejected seed for ${[...new Set(seedless.map((r) => r.label))].join(', ')}; timed without it`);
  const missing = new Map(); // reason -> labels
  for (const v of variants.filter((v) => !probes[v.key].available)) missing.set(probes[v.key].reason, [...(missing.get(probes[v.key].reason) ?? []), v.spec.label]);
  for (const [reason, labels] of missing) console.log(`${labels.join(', ')}: ${NA} (${reason})`);

  const goals = initGoals(results, threads, pt !== null);
  console.log('');
  printGoals(goals, 'goals (table initialization)');
  return {
    torch: torch.error ? { error: torch.error } : { version: torch.version, python: torch.python },
    settings: { runs: settings, shapes: shapes.map((s) => s.name), probe: PROBE, seed: SEED, tsMaxMs: TS_MAX_MS, quick: args.quick },
    probes,
    warnings,
    results,
    goals,
    seconds: secondsSince(started),
  };
}

function initGoals(results, threads, haveTorch) {
  const goals = [];
  const find = (kind, shape) => results.find((r) => r.kind === kind && r.shape === shape);
  const MT = threads.multi;
  const na = (goal, shape, text) => ({ goal, shape, value: null, met: null, text });

  {
    const goal = "default-init new Embedding(10^6, 128) at 1 thread >= 5x torch's nn.Embedding(10**6, 128) at 1 thread";
    const r = find('default', '1e6x128');
    if (!r) goals.push(na(goal, '1e6x128', 'default 10^6×128: not run (--quick)'));
    else if (!haveTorch) goals.push(na(goal, '1e6x128', 'default 10^6×128: torch not installed'));
    else {
      const x = r.speedupTorch1T;
      goals.push({ goal, shape: r.shape, value: x, target: 5, met: x >= 5, text: `default 10^6×128: nn ${fmtUs(r.nn[1].medianMs)} ms vs torch ${fmtUs(r.torch[1].medianMs)} ms = ${fmtX(x)}` });
    }
  }
  {
    const goal = 'default init at all threads >= 1.7x its 1-thread speed at 10^6×128';
    const r = find('default', '1e6x128');
    if (!r) goals.push(na(goal, '1e6x128', 'default 10^6×128: not run (--quick)'));
    else if (!MT) goals.push(na(goal, '1e6x128', `default 10^6×128: not measured, ${threads.describe()}`));
    else {
      const x = r.threadSpeedup;
      goals.push({ goal, shape: r.shape, threads: threads.all, value: x, target: 1.7, met: x >= 1.7, text: `default 10^6×128: ${threads.all} threads ${fmtUs(r.nn[threads.all].medianMs)} ms vs 1 thread ${fmtUs(r.nn[1].medianMs)} ms = ${fmtX(x)}` });
    }
  }
  for (const kind of ['uniform', 'zeros']) {
    for (const r of results.filter((r) => r.kind === kind)) {
      const goal = `${kind} >= 10x torch (1 thread, each shape)`;
      const label = INIT_SHAPES.find((s) => s.name === r.shape).label;
      if (!r.available) goals.push(na(goal, r.shape, `${kind} ${label}: not available in this build`));
      else if (!haveTorch) goals.push(na(goal, r.shape, `${kind} ${label}: torch not installed`));
      else {
        const x = r.speedupTorch1T;
        goals.push({ goal, shape: r.shape, kind, value: x, target: 10, met: x >= 10, text: `${kind} ${label}: nn ${fmtUs(r.nn[1].medianMs)} ms vs torch ${fmtUs(r.torch[1].medianMs)} ms = ${fmtX(x)}` });
      }
    }
  }
  {
    const goal = 'zeros of 10^6×128 <= 5 ms (1 thread)';
    const r = find('zeros', '1e6x128');
    if (!r) goals.push(na(goal, '1e6x128', 'zeros 10^6×128: not run (--quick)'));
    else if (!r.available) goals.push(na(goal, '1e6x128', 'zeros 10^6×128: not available in this build'));
    else {
      const v = r.nn[1].medianMs;
      goals.push({ goal, shape: r.shape, value: v, target: 5, met: v <= 5, text: `zeros 10^6×128: ${fmtUs(v)} ms at 1 thread` + (MT ? ` (${threads.all} threads ${fmtUs(r.nn[threads.all].medianMs)} ms)` : '') });
    }
  }
  for (const r of results.filter((r) => r.kind === 'default')) {
    const goal = `TS backend default init >= 3x the ${TS_BEFORE_VALUES_PER_S / 1e6} M values/s measured before the native initializers (>= ${(3 * TS_BEFORE_VALUES_PER_S) / 1e6} M values/s)`;
    const label = INIT_SHAPES.find((s) => s.name === r.shape).label;
    if (r.ts.available === false) goals.push(na(goal, r.shape, `TS default ${label}: not available`));
    else if (r.ts.skipped) goals.push(na(goal, r.shape, `TS default ${label}: skipped (~${fmtSeconds(r.ts.estimatedMs / 1e3)} per call est., over ${TS_MAX_MS / 1e3} s)`));
    else {
      const v = r.ts.mValuesPerS;
      const x = (v * 1e6) / TS_BEFORE_VALUES_PER_S;
      goals.push({ goal, shape: r.shape, value: v * 1e6, target: 3 * TS_BEFORE_VALUES_PER_S, met: x >= 3, text: `TS default ${label}: ${fmtUs(r.ts.medianMs)} ms = ${v.toFixed(1)} M values/s = ${fmtX(x)} the ${TS_BEFORE_VALUES_PER_S / 1e6} M values/s before` });
    }
  }
  return goals;
}
