// Shared benchmark machinery for bench/embedding.mjs (the entry, Embedding suite) and
// bench/embedding-bag.mjs (EmbeddingBag suite): arguments, seeded data, the interleaved timing
// loop and its statistics, machine information, and table formatting.
import { readFileSync } from 'node:fs';
import os from 'node:os';

// ---------------------------------------------------------------------------------------------
// Arguments

export const SUITES = ['embedding', 'bag', 'train'];

export function usage() {
  return [
    'usage: node --expose-gc bench/embedding.mjs [--quick] [--tiers] [--json FILE] [--shapes S1,S2,...] [--suite embedding|bag|train|all]',
    '  --quick        fewer, shorter samples (all suites in about a minute)',
    '  --tiers        also time native forward/backward on every SIMD tier the CPU runs (embedding, bag)',
    '  --json FILE    write all results, machine info and formulas to FILE',
    '  --shapes LIST  comma-separated subset of S1,S2,S3,S4,tiny (Embedding) and',
    '                 L20-D32,L20-D64,L20-D128,L100-D32,L100-D64,L100-D128 (EmbeddingBag);',
    '                 the train suite has no shapes: with --shapes it runs only if --suite train',
    '  --suite NAME   embedding, bag, train or all (default all)',
  ].join('\n');
}

const splitList = (value) => value.split(',').map((s) => s.trim()).filter(Boolean);

export function parseArgs(argv) {
  const args = { quick: false, tiers: false, json: null, shapes: null, suite: 'all' };
  const set = (flag, value) => {
    if (flag === '--json') args.json = value;
    else if (flag === '--shapes') args.shapes = splitList(value);
    else {
      if (value !== 'all' && !SUITES.includes(value)) throw new Error(`--suite must be embedding, bag, train or all, got '${value}'\n${usage()}`);
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
 * Times a list of variants ({ key, run(k) } where run makes k calls) on one shape and op, with
 * settings { sampleTargetMs, warmupMs, minSamples, maxSamples, budgetMs }.
 * Returns { key: stats } with per-call times in microseconds.
 */
export function measure(variants, s) {
  const state = variants.map((v) => ({ ...v, k: 1, samples: [], spentNs: 0n }));
  // Warm up and calibrate: double the chunk until it lasts a sample and the warm-up time is spent.
  for (const v of state) {
    const started = now();
    let chunk = 1;
    let calls = 0;
    for (;;) {
      const t0 = now();
      v.run(chunk);
      const elapsed = Number(now() - t0);
      calls += chunk;
      const total = Number(now() - started) / 1e6;
      if (elapsed >= s.sampleTargetMs * 1e6 && total >= s.warmupMs && calls >= 3) {
        v.k = Math.max(1, Math.round((chunk * s.sampleTargetMs * 1e6) / elapsed));
        break;
      }
      if (elapsed < s.sampleTargetMs * 1e6) chunk *= 2;
    }
  }
  // Interleaved sampling rounds.
  const budgetNs = BigInt(Math.round(s.budgetMs * 1e6));
  const done = (v) => v.samples.length >= s.maxSamples || (v.samples.length >= s.minSamples && v.spentNs >= budgetNs);
  for (let round = 0; !state.every(done); round++) {
    for (let j = 0; j < state.length; j++) {
      const v = state[(round + j) % state.length];
      if (done(v)) continue;
      const t0 = now();
      v.run(v.k);
      const elapsed = now() - t0;
      v.spentNs += elapsed;
      v.samples.push(Number(elapsed) / 1e3 / v.k);
    }
  }
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
export const fmtX = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '-');
export const fmtGbps = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');

export function table(headers, rows, align) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const pad = (cell, i) => (align[i] === 'l' ? cell.padEnd(widths[i]) : cell.padStart(widths[i]));
  const lines = [headers.map(pad).join(' | '), widths.map((w) => '-'.repeat(w)).join('-|-')];
  for (const r of rows) lines.push(r.map(pad).join(' | '));
  return lines.join('\n');
}

export function printGoals(goals) {
  console.log('goals');
  for (const g of goals) console.log(`  ${g.met ? 'MET  ' : 'UNMET'}  ${g.text}  [target ${g.goal}]`);
}
