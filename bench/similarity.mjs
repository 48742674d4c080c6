// Similarity suite of the benchmark (run from bench/embedding.mjs: npm run bench -- --suite
// similarity): exact top-10 cosine neighbours (Embedding.mostSimilarBatch) for 1 query and for
// batches of 16 and 256, over a 10^5 × 300 and a 10^6 × 128 table (--quick: 2·10^4 × 300 and
// 10^5 × 128), native at 1 thread and at all threads, next to
//   - a bandwidth reference: one pass over the table, every row copied in order into a buffer that
//     stays in cache (kernels('scalar').gather over consecutive rows, 1024 at a time, 1 thread);
//   - the TypeScript backend (1 query only: it takes seconds per call on the large table);
//   - when installed (bench/python/similarity.py, Debian's /usr/bin/python3): a numpy brute force
//     and faiss's exact IndexFlatIP, on the same table and queries, OpenBLAS at 1 thread; their rows
//     unit-normalized beforehand, untimed, as nn-embedding's cached norms are.
// Tables: N(0, 1) (a layer's default init, seed 1), queries N(0, 1) (seed 2): no repeated rows, so
// neighbours are unique up to near-ties. The row norms are computed before timing (the first cosine
// search caches them). faiss's neighbours for the batch of 256 at k = 10 are compared with ours:
// a differing neighbour counts as a near-tie when its two scores differ by less than 1e-6.
// Goals: 1 query over 10^6 × 128 at 1 thread ≥ 0.8× the reference's speed (reference time / ours);
// batch of 256 at 1 thread at least as fast as faiss IndexFlatIP, with the same neighbours.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { fmtUs, fmtX, measure, now, printGoals, secondsSince, table } from './harness.mjs';

const require = createRequire(import.meta.url);
const { Embedding } = require('../dist/index.js');
const { withBackend } = require('../dist/loader.js');
const { jsBackend } = require('../dist/backends/js.js');

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, 'python', 'similarity.py');
const PYTHON = '/usr/bin/python3';
const K = 10;
const BATCHES = [1, 16, 256];
const TABLES = [{ rows: 100_000, dim: 300 }, { rows: 1_000_000, dim: 128 }];
const QUICK_TABLES = [{ rows: 20_000, dim: 300 }, { rows: 100_000, dim: 128 }];
const COPY_ROWS = 1024;

/** The bandwidth reference: every row once, in order, copied into a cached buffer. */
function onePass(reference, weight, rows, dim) {
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  const scratch = new Float32Array(COPY_ROWS * dim);
  return () => {
    for (let r = 0; r < rows; r += COPY_ROWS) {
      const ids = order.subarray(r, Math.min(rows, r + COPY_ROWS));
      reference.gather(weight, dim, ids, ids.length === COPY_ROWS ? scratch : scratch.subarray(0, ids.length * dim));
    }
  };
}

/** The Python references on the same table and queries, or { error }. */
function python(weight, queries, rows, dim, threads, quick) {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return { error: `no numpy at ${PYTHON}` };
  const dir = mkdtempSync(join(os.tmpdir(), 'nne-similarity-'));
  try {
    const tableFile = join(dir, 'table.f32');
    const queryFile = join(dir, 'queries.f32');
    writeFileSync(tableFile, new Uint8Array(weight.buffer, weight.byteOffset, weight.byteLength));
    writeFileSync(queryFile, new Uint8Array(queries.buffer, queries.byteOffset, queries.byteLength));
    // --quick: one sample after the warm-up, at 1 thread only.
    const spec = { table: tableFile, queries: queryFile, rows, dim, k: K, batches: BATCHES, threads: quick ? [1] : threads.counts, budget_s: quick ? 0.1 : 2, min_samples: quick ? 1 : 3, neighbours_batch: 256 };
    const run = spawnSync(PYTHON, [SCRIPT], {
      input: JSON.stringify(spec),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: String(threads.all) },
    });
    if (run.status !== 0) return { error: `bench/python/similarity.py failed: ${run.stderr.trim().split('\n').pop()}` };
    return JSON.parse(run.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Our neighbours against faiss's: identical, or differing only where scores are within 1e-6. */
function compareNeighbours(ours, faiss) {
  let same = 0, nearTies = 0, different = 0;
  for (let i = 0; i < ours.indices.length; i++) {
    if (ours.indices[i] === faiss.faiss_neighbours[i]) same++;
    else if (Math.abs(ours.scores[i] - faiss.faiss_scores[i]) < 1e-6) nearTies++;
    else different++;
  }
  return { same, nearTies, different };
}

export function runSimilaritySuite({ args, reference, threads }) {
  const started = now();
  const tables = args.quick ? QUICK_TABLES : TABLES;
  const SETTINGS = args.quick
    ? { sampleTargetMs: 2, warmupMs: 10, minSamples: 3, maxSamples: 9, budgetMs: 150, warmupCalls: 1 }
    : { sampleTargetMs: 20, warmupMs: 100, minSamples: 5, maxSamples: 21, budgetMs: 1500, warmupCalls: 1 };
  const SLOW = { minSamples: 1, maxSamples: 3, budgetMs: args.quick ? 200 : 2000, warmupCalls: 1, sampleTargetMs: 1, warmupMs: 0 };
  console.log(`Similarity: exact top-${K} cosine (mostSimilarBatch) for batches of ${BATCHES.join(', ')} queries`);
  const results = [];
  const goals = [];
  for (const { rows, dim } of tables) {
    const layer = new Embedding(rows, dim, { seed: 1 });
    const queries = new Embedding(256, dim, { seed: 2 }).weight;
    layer.mostSimilar(0, K); // the row norms, computed and cached before timing
    const ts = withBackend(jsBackend, () => Embedding.fromPretrained(layer.weight, dim));
    const name = `${rows.toLocaleString('en-US')} × ${dim}`;
    // The native result equals the TypeScript backend's (bits), on a few queries.
    const check = queries.subarray(0, 2 * dim);
    const a = layer.mostSimilarBatch(check, K);
    const b = ts.mostSimilarBatch(check, K);
    if (a.indices.some((x, i) => x !== b.indices[i]) || a.scores.some((x, i) => !Object.is(x, b.scores[i]))) {
      throw new Error(`similarity suite: ${name}: native and TypeScript results differ`);
    }
    const variants = [{ key: 'ref', before: threads.single, run: ((pass) => (k) => { for (let i = 0; i < k; i++) pass(); })(onePass(reference, layer.weight, rows, dim)) }];
    for (const batch of BATCHES) {
      const q = queries.subarray(0, batch * dim);
      const search = (k) => { for (let i = 0; i < k; i++) layer.mostSimilarBatch(q, K); };
      variants.push({ key: `native:${batch}`, before: threads.single, run: search });
      if (threads.multi) variants.push({ key: `nativeMT:${batch}`, before: () => threads.set(threads.all), run: search });
    }
    variants.push({ key: 'ts:1', before: threads.single, settings: SLOW, run: (k) => { for (let i = 0; i < k; i++) ts.mostSimilarBatch(queries.subarray(0, dim), K); } });
    const stats = measure(variants, SETTINGS);
    threads.restore();
    const py = python(layer.weight, queries, rows, dim, threads, args.quick);
    const refUs = stats.ref.medianUs;
    const tableBytes = rows * dim * 4;
    const rowsOut = [];
    for (const batch of BATCHES) {
      const one = stats[`native:${batch}`].medianUs;
      const many = threads.multi ? stats[`nativeMT:${batch}`].medianUs : null;
      const pyOne = py.results?.find((r) => r.batch === batch && r.threads === 1);
      const pyAll = py.results?.find((r) => r.batch === batch && r.threads === threads.all);
      const entry = {
        table: name, rows, dim, batch, k: K,
        nativeUs: one, nativeMTUs: many, refUs, tsUs: batch === 1 ? stats['ts:1'].medianUs : null,
        numpyUs: pyOne?.numpy_s === undefined ? null : pyOne.numpy_s * 1e6,
        faissUs: pyOne?.faiss_s === undefined ? null : pyOne.faiss_s * 1e6,
        faissMTUs: threads.multi && pyAll?.faiss_s !== undefined ? pyAll.faiss_s * 1e6 : null,
        gbps: tableBytes / (one * 1e3),
      };
      results.push(entry);
      rowsOut.push([
        `${batch}`, fmtUs(one), many === null ? '-' : fmtUs(many), `${entry.gbps.toFixed(1)}`, fmtX(refUs / one),
        entry.tsUs === null ? '-' : fmtUs(entry.tsUs), entry.numpyUs === null ? '-' : fmtUs(entry.numpyUs),
        entry.faissUs === null ? '-' : fmtUs(entry.faissUs), entry.faissUs === null ? '-' : fmtX(entry.faissUs / one),
        entry.faissMTUs === null ? '-' : fmtUs(entry.faissMTUs),
      ]);
    }
    console.log(`  ${name} table (${(tableBytes / 2 ** 20).toFixed(0)} MiB); one-pass reference ${fmtUs(refUs)} (${(tableBytes / (refUs * 1e3)).toFixed(1)} GB/s, 1 thread)`);
    console.log(
      table(
        ['batch', 'native 1T', threads.multi ? `native ${threads.all}T` : 'native MT', 'GB/s 1T', 'ref/native', 'TS', 'numpy 1T', 'faiss 1T', 'faiss/native', threads.multi ? `faiss ${threads.all}T` : 'faiss MT'],
        rowsOut,
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ).split('\n').map((line) => `    ${line}`).join('\n'),
    );
    let neighbours = null;
    if (py.faiss_neighbours) {
      neighbours = compareNeighbours(layer.mostSimilarBatch(queries, K), py);
      console.log(`    faiss IndexFlatIP ${py.faiss}: batch of 256, k = ${K}: ${neighbours.same} neighbours the same, ${neighbours.nearTies} near-ties (|Δscore| < 1e-6), ${neighbours.different} different`);
    } else {
      console.log(`    Python references: ${py.error ?? py.faiss_error ?? 'none'}${py.numpy ? ` (numpy ${py.numpy} ran; faiss: ${py.faiss_error})` : ''}`);
    }
    const big = rows === tables[1].rows;
    if (big) {
      const single = results.find((r) => r.table === name && r.batch === 1);
      goals.push({ met: refUs / single.nativeUs >= 0.8, text: `1 query over ${name}, 1 thread: ${fmtX(refUs / single.nativeUs)} the one-pass reference's speed`, goal: '>= 0.80x' });
    }
    const batch256 = results.find((r) => r.table === name && r.batch === 256);
    goals.push({
      met: batch256.faissUs === null ? null : batch256.faissUs / batch256.nativeUs >= 1 && neighbours !== null && neighbours.different === 0,
      text: `batch of 256 over ${name}, 1 thread: ${batch256.faissUs === null ? 'faiss not measured' : `${fmtX(batch256.faissUs / batch256.nativeUs)} faiss IndexFlatIP's speed`}` +
        (neighbours === null ? '' : `, ${neighbours.different} neighbours different beyond near-ties`),
      goal: '>= 1.00x, same neighbours',
    });
    results.at(-1).neighbours = neighbours;
    results.at(-1).python = { numpy: py.numpy ?? null, faiss: py.faiss ?? null, error: py.error ?? py.faiss_error ?? null };
  }
  printGoals(goals, '  similarity goals');
  return { results, goals, settings: SETTINGS, seconds: secondsSince(started) };
}
