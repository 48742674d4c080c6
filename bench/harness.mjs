// Shared benchmark machinery for bench/embedding.mjs (the entry, Embedding suite),
// bench/embedding-bag.mjs (EmbeddingBag suite), bench/train.mjs (training steps), bench/io.mjs
// (loading speed of the file formats), bench/init.mjs (table initialization) and bench/dtype.mjs
// (narrow tables): arguments, seeded
// data, the interleaved timing loop (sync and awaited) and its statistics, the native thread
// count, machine information, and table formatting.
import { readFileSync } from 'node:fs';
import os from 'node:os';

// ---------------------------------------------------------------------------------------------
// Arguments

export const SUITES = ['embedding', 'bag', 'train', 'io', 'torch', 'init', 'dtype', 'similarity'];

export function usage() {
  return [
    'usage: node --expose-gc bench/embedding.mjs [--quick] [--tiers] [--json FILE] [--shapes S1,S2,...] [--suite embedding|bag|train|io|torch|init|dtype|similarity|all]',
    '  --quick        fewer, shorter samples, a reduced set of bag shapes and a 20,000-row io table',
    '                 (all suites in about a minute)',
    '  --tiers        also time native forward/backward on every SIMD tier the CPU runs (embedding, bag)',
    '  --json FILE    write all results, machine info and formulas to FILE, and a speed-up chart to',
    '                 FILE with .svg for .json (FILE.svg if FILE does not end in .json)',
    '  --shapes LIST  comma-separated subset of S1,S2,S3,S4,tiny (Embedding) and',
    '                 L20-D32,L20-D64,L20-D128,L100-D32,L100-D64,L100-D128 (EmbeddingBag);',
    '                 the train, io and init suites have no shapes: with --shapes they run only if named by --suite',
    '  --suite NAME   embedding, bag, train, io, torch, init, dtype, similarity or all (default all); torch: the same calls in\n' +
    '                 PyTorch (bench/torch/bench.py, when a python3 with torch is found); init: creating\n' +
    '                 initialized tables (10^5×300, 10^6×128; --quick: 10^5×300) against PyTorch (bench/torch/init.py);\n' +
    '                 dtype: lookups and bag sums on a 4·10^6×128 table in float32, float16, bfloat16, int8 and int4\n' +
    '                 (--quick: 5·10^5×128) against PyTorch\'s quantized bags (bench/torch/dtype.py); similarity: top-10\n' +
    '                 cosine over 10^5×300 and 10^6×128 (--quick: 2·10^4×300, 10^5×128) against numpy and faiss (bench/python/similarity.py)',
  ].join('\n');
}

const splitList = (value) => value.split(',').map((s) => s.trim()).filter(Boolean);

export function parseArgs(argv) {
  const args = { quick: false, tiers: false, json: null, shapes: null, suite: 'all' };
  const set = (flag, value) => {
    if (flag === '--json') args.json = value;
    else if (flag === '--shapes') args.shapes = splitList(value);
    else {
      if (value !== 'all' && !SUITES.includes(value)) throw new Error(`--suite must be embedding, bag, train, io, torch, init, dtype, similarity or all, got '${value}'\n${usage()}`);
      args.suite = value;
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') args.quick = true;
    else if (arg === '--tiers') args.tiers = true;
    else if (arg === '--json' || arg === '--shapes' || arg === '--suite') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new Error(`${arg} needs a value\n${usage()}`);
      set(arg, value);
    } else if (/^--(json|shapes|suite)=/.test(arg)) {
      const eq = arg.indexOf('=');
      set(arg.slice(0, eq), arg.slice(eq + 1));
    } else if (arg === '--help' || arg === '-h') {
      console.log(usage());
      process.exit(0);
    } else throw new Error(`unknown argument '${arg}'\n${usage()}`);
  }
  return args;
}

// ---------------------------------------------------------------------------------------------
// Data

/** Batches rotated across calls; a power of two (rotating() masks with BATCHES - 1). */
export const BATCHES = 8;
export const SEED = 0x5eed;

/** mulberry32: a small seeded PRNG, uint32 per call. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The Embedding suite's shapes (also the PyTorch suite's forward shapes). */
export const EMBEDDING_SHAPES = [
  { name: 'S1', rows: 10_000, dim: 64, batch: 4_096 },
  { name: 'S2', rows: 1_000_000, dim: 128, batch: 16_384 },
  { name: 'S3', rows: 100_000, dim: 16, batch: 65_536 },
  { name: 'S4', rows: 50_000, dim: 300, batch: 1_024 },
  { name: 'tiny', rows: 1_000, dim: 32, batch: 8 },
];

/** `count` (default BATCHES) batches of `batch` uniform int32 indices in [0, rows), seeded. */
export function indexBatches(rows, batch, seed, count = BATCHES) {
  const next = prng(seed);
  const batches = [];
  for (let b = 0; b < count; b++) {
    const indices = new Int32Array(batch);
    // rows <= 4·10^6 in the suites, so the bias of a 32-bit modulo is negligible (under 10^-3).
    for (let i = 0; i < batch; i++) indices[i] = next() % rows;
    batches.push(indices);
  }
  return batches;
}

/** Fills with values in [-1, 1): a random 64K block, then doubled copies (values do not matter for speed). */
export function fillQuick(array, seed) {
  const next = prng(seed);
  const block = Math.min(array.length, 65_536);
  for (let i = 0; i < block; i++) array[i] = next() / 2 ** 31 - 1;
  for (let filled = block; filled < array.length; filled *= 2) array.copyWithin(filled, 0, Math.min(filled, array.length - filled));
  return array;
}

/** Bit-for-bit equality of two float arrays (a byte compare: NaN payloads and -0 count). */
export function sameFloats(a, b) {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A loop of k calls, each on the next of the BATCHES batches; every variant walks the same sequence. */
export function rotating(batches, call) {
  let next = 0;
  return (k) => {
    for (let i = 0; i < k; i++) {
      call(batches[next]);
      next = (next + 1) & (BATCHES - 1);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Timing

export const now = () => process.hrtime.bigint();
export const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {};
/**
 * A full collection whose freed ArrayBuffers are really unmapped on return: V8 frees backing
 * stores on a concurrent sweeper, and a second gc() waits for the first one's sweep.
 */
export function collect() {
  gc();
  gc();
}
export const secondsSince = (t0) => Number(now() - t0) / 1e9;

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const lo = Math.floor(position);
  const hi = Math.ceil(position);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
}

/**
 * Times a list of variants ({ key, run(k), before?, settings? } where run makes k calls) on one
 * shape and op, with settings { sampleTargetMs, warmupMs, minSamples, maxSamples, budgetMs,
 * warmupCalls? }. A variant's `settings` override the shared ones for it alone (slow alternatives
 * get fewer samples); its `before()` runs untimed before each of its warm-up chunks and samples (the
 * native thread count is set there). Returns { key: stats } with per-call times in microseconds.
 */
export function measure(variants, s) {
  const state = initialState(variants, s);
  for (const [v, k] of schedule(state)) {
    v.before?.();
    const t0 = now();
    v.run(k);
    v.lastNs = now() - t0;
  }
  return statistics(state);
}

/** measure() for variants whose run(k) makes k calls awaited one after the other (a promise). */
export async function measureAsync(variants, s) {
  const state = initialState(variants, s);
  for (const [v, k] of schedule(state)) {
    v.before?.();
    const t0 = now();
    await v.run(k);
    v.lastNs = now() - t0;
  }
  return statistics(state);
}

/**
 * The runs of one measurement, as [variant, k] for the caller to time into variant.lastNs: each
 * variant warmed up in turn, then sampled in rounds whose order rotates, until every one is done.
 */
function* schedule(state) {
  for (const v of state) {
    v.started = now();
    do yield [v, v.chunk];
    while (!warmedUp(v, Number(v.lastNs)));
  }
  for (let round = 0; !state.every(done); round++) {
    for (let j = 0; j < state.length; j++) {
      const v = state[(round + j) % state.length];
      if (done(v)) continue;
      yield [v, v.k];
      sampled(v, v.lastNs);
    }
  }
}

function initialState(variants, shared) {
  return variants.map((v) => {
    const s = { warmupCalls: 3, ...shared, ...(v.settings ?? {}) };
    return { ...v, s, budgetNs: BigInt(Math.round(s.budgetMs * 1e6)), k: 1, chunk: 1, calls: 0, started: 0n, lastNs: 0n, samples: [], spentNs: 0n };
  });
}

// Warm up and calibrate: double the chunk until it lasts a sample and the warm-up time is spent.
function warmedUp(v, elapsedNs) {
  const { sampleTargetMs, warmupMs, warmupCalls } = v.s;
  v.calls += v.chunk;
  const totalMs = Number(now() - v.started) / 1e6;
  if (elapsedNs >= sampleTargetMs * 1e6 && totalMs >= warmupMs && v.calls >= warmupCalls) {
    v.k = Math.max(1, Math.round((v.chunk * sampleTargetMs * 1e6) / elapsedNs));
    return true;
  }
  if (elapsedNs < sampleTargetMs * 1e6) v.chunk *= 2;
  return false;
}

const done = (v) => v.samples.length >= v.s.maxSamples || (v.samples.length >= v.s.minSamples && v.spentNs >= v.budgetNs);

function sampled(v, elapsedNs) {
  v.spentNs += elapsedNs;
  v.samples.push(Number(elapsedNs) / 1e3 / v.k);
}

function statistics(state) {
  const result = {};
  for (const v of state) {
    const sorted = [...v.samples].sort((a, b) => a - b);
    result[v.key] = {
      medianUs: quantile(sorted, 0.5),
      minUs: sorted[0],
      p25Us: quantile(sorted, 0.25),
      p75Us: quantile(sorted, 0.75),
      maxUs: sorted[sorted.length - 1],
      samples: sorted.length,
      callsPerSample: v.k,
      sampleUs: v.samples.map((x) => Number(x.toPrecision(5))),
    };
  }
  return result;
}

/** Times one call of fn (after nothing: the caller warms up if it wants), in microseconds. */
export function timeOnce(fn) {
  const t0 = now();
  fn();
  return Number(now() - t0) / 1e3;
}

// ---------------------------------------------------------------------------------------------
// Native threads

/**
 * The native thread count, when the package has a thread pool (setNumThreads / getNumThreads):
 * `all` is the default count (NN_EMBEDDING_THREADS, else the CPUs available), read before the
 * benchmark changes it. `counts` is [1, all] when all > 1, else [1]; `multi` says whether there
 * is an all-threads count to time. `set(n)` is a no-op without the pool (the native kernels then
 * run on the calling thread: 1 thread); `single` sets 1, the `before` of single-threaded variants.
 */
export function threadControl(lib) {
  const available = typeof lib.setNumThreads === 'function' && typeof lib.getNumThreads === 'function';
  const all = available ? lib.getNumThreads() : 1;
  return {
    available,
    all,
    counts: all > 1 ? [1, all] : [1],
    multi: all > 1,
    set: (n) => {
      if (available) lib.setNumThreads(n);
    },
    single: () => {
      if (available) lib.setNumThreads(1);
    },
    restore: () => {
      if (available) lib.setNumThreads(all);
    },
    describe: () =>
      available
        ? all > 1
          ? `native at 1 thread and at all ${all} threads (setNumThreads; the default count)`
          : 'native at 1 thread (the default count is 1 on this machine)'
        : 'native at 1 thread: this build has no thread pool (no setNumThreads)',
  };
}

/**
 * The native variants of one measurement: `native` at 1 thread and, when the pool has more,
 * `nativeMT` at all threads; run is the same function (the same layer), only the count differs.
 */
export function nativeVariants(threads, run) {
  const variants = [{ key: 'native', before: threads.single, run }];
  if (threads.multi) variants.push({ key: 'nativeMT', before: () => threads.set(threads.all), run });
  return variants;
}

// ---------------------------------------------------------------------------------------------
// Machine

function cpuModel() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => /^(model name|Hardware|CPU part)\s*:/.test(l));
    if (line) return line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function machineInfo() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${os.release()}`,
    arch: process.arch,
    cpuModel: cpuModel(),
    logicalCpus: os.cpus().length,
    totalMemoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    exposeGc: typeof globalThis.gc === 'function',
    env: {
      NN_EMBEDDING_SIMD: process.env.NN_EMBEDDING_SIMD ?? null,
      NN_EMBEDDING_BACKEND: process.env.NN_EMBEDDING_BACKEND ?? null,
      NN_EMBEDDING_THREADS: process.env.NN_EMBEDDING_THREADS ?? null,
    },
  };
}

/** Peak resident set size of this process so far, in GiB. */
export const peakRssGiB = () => process.resourceUsage().maxRSS / 2 ** 20;

// ---------------------------------------------------------------------------------------------
// Formatting

export function fmtUs(us) {
  if (!Number.isFinite(us)) return '-';
  if (us >= 1000) return us.toFixed(0);
  if (us >= 100) return us.toFixed(1);
  if (us >= 10) return us.toFixed(2);
  return us.toFixed(3);
}
export function fmtX(x) {
  if (!Number.isFinite(x)) return '-';
  // Thresholds just below the next format's, so that 9.996 prints 10.0×, not 10.00×.
  if (x >= 99_950) return `${x.toExponential(1).replace('e+', 'e')}×`;
  if (x >= 99.95) return `${Math.round(x)}×`;
  if (x >= 9.995) return `${x.toFixed(1)}×`;
  return `${x.toFixed(2)}×`;
}
/** Seconds, for estimates of calls too slow to run: "450 s", "2.1 h", "3.5 d". */
export function fmtSeconds(seconds) {
  if (!Number.isFinite(seconds)) return '-';
  const two = (x) => (x >= 10 ? String(Math.round(x)) : x.toFixed(1));
  if (seconds >= 2 * 86400) return `${two(seconds / 86400)} d`;
  if (seconds >= 2 * 3600) return `${two(seconds / 3600)} h`;
  if (seconds >= 120) return `${two(seconds / 60)} min`;
  if (seconds >= 0.1) return `${two(seconds)} s`;
  return `${two(seconds * 1e3)} ms`;
}
export const fmtGbps = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');

/**
 * The columns the Embedding and EmbeddingBag comparison tables share after their label columns:
 * the headers, and a result row's cells (tfjsCell renders the tfjs cell, measured or estimated).
 */
export function comparisonHeaders(multiThread, allThreads) {
  return [
    'native µs',
    ...(multiThread ? [`native ${allThreads}T µs`] : []),
    'TS µs',
    'tfjs µs',
    'naive JS µs',
    'ref µs',
    'native GB/s',
    'ref GB/s',
    'native/ref',
    ...(multiThread ? [`${allThreads}T/1T`] : []),
    '× TS',
    '× tfjs',
    '× naive',
  ];
}

export function comparisonCells(r, multiThread, tfjsCell) {
  const cell = (key) => fmtUs(r.variants[key]?.medianUs);
  return [
    cell('native'),
    ...(multiThread ? [cell('nativeMT')] : []),
    cell('ts'),
    tfjsCell(r),
    cell('naive'),
    cell('ref'),
    fmtGbps(r.variants.native.gbps),
    fmtGbps(r.variants.ref?.gbps),
    fmtX(r.nativeVsRef),
    ...(multiThread ? [fmtX(r.threadSpeedup)] : []),
    fmtX(r.speedup.ts),
    fmtX(r.speedup.tfjs),
    fmtX(r.speedup.naive),
  ];
}

export function table(headers, rows, align) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const pad = (cell, i) => (align[i] === 'l' ? cell.padEnd(widths[i]) : cell.padStart(widths[i]));
  const lines = [headers.map(pad).join(' | '), widths.map((w) => '-'.repeat(w)).join('-|-')];
  for (const r of rows) lines.push(r.map(pad).join(' | '));
  return lines.join('\n');
}

/** Prints goals ({ met: true | false | null (not measured), text, goal }) and the count met. */
export function printGoals(goals, title = 'goals') {
  console.log(title);
  for (const g of goals) console.log(`  ${g.met === null ? 'N/A  ' : g.met ? 'MET  ' : 'UNMET'}  ${g.text}  [target ${g.goal}]`);
  const judged = goals.filter((g) => g.met !== null);
  console.log(`  ${judged.filter((g) => g.met).length}/${judged.length} met` + (judged.length < goals.length ? `, ${goals.length - judged.length} not measured` : ''));
}
