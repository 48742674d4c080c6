// Issue 17: no sequence of JavaScript calls crashes the process. Each scenario runs in a fresh Node
// process (with --expose-gc and this project's backend and SIMD tier) against the built package in
// dist/, so that a crash fails the test instead of the runner; the child prints one `RESULT {json}`
// line that the test then checks. Covered: buffers transferred during an async call (1), resizable
// and growable buffers (2), indices and offsets sharing memory with an array a kernel writes (3),
// SharedArrayBuffer indices changed by a worker during a call (4), arguments changed after an async
// call returned (5), a worker ending with async calls pending (6), a table whose buffer was
// transferred (11), and random sequences of all these moves (fast-check).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { getBackend } from '../src/index.js';

const root = path.resolve(__dirname, '..');
const dist = path.resolve(root, 'dist', 'index.js');
const backend = getBackend();
const native = backend === 'native';

/** Quick test data, in the children and their workers. */
const DATA_HELPERS = `
/** A rows x dim table, quick to fill: a pseudo-random block repeated, column 0 = the row number. */
function table(rows, dim, seed) {
  const t = new Float32Array(rows * dim);
  let s = seed >>> 0;
  const block = Math.min(rows, 4096) * dim;
  for (let i = 0; i < block; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; t[i] = (s >>> 8) / 65536 - 128; }
  for (let n = block; n < t.length; n *= 2) t.copyWithin(n, 0, Math.min(n, t.length - n));
  for (let r = 0; r < rows; r++) t[r * dim] = r;
  return t;
}
function indices(count, rows, step = 7919) {
  const ix = new Int32Array(count);
  for (let i = 0; i < count; i++) ix[i] = (i * step) % rows;
  return ix;
}
`;

/** What every child script starts with: the package, and small helpers. */
const PRELUDE = `
'use strict';
const nn = require(${JSON.stringify(dist)});
const { MessageChannel, Worker, receiveMessageOnPort } = require('node:worker_threads');
function report(value) { process.stdout.write('RESULT ' + JSON.stringify(value) + '\\n'); }
function errorInfo(e) {
  if (e === null || typeof e !== 'object') return { name: typeof e, ctor: null, message: String(e) };
  return { name: String(e.name), ctor: e.constructor ? e.constructor.name : null, message: String(e.message) };
}
/** Calls fn now; a synchronous throw becomes a rejection. The promise is marked handled. */
function start(fn) {
  let p;
  try { p = Promise.resolve(fn()); } catch (e) { p = Promise.reject(e); }
  p.catch(() => {});
  return p;
}
async function outcome(p) {
  try { return { ok: true, value: await p }; } catch (e) { return { ok: false, error: errorInfo(e) }; }
}
function bytesOf(a) { return new Uint8Array(a.buffer, a.byteOffset, a.byteLength); }
function copyBytes(a) { return Uint8Array.from(bytesOf(a)); }
function sameBytes(a, b) {
  if (!a || !b || a.byteLength !== b.byteLength) return false;
  return Buffer.compare(Buffer.from(copyBytes(a).buffer), Buffer.from(copyBytes(b).buffer)) === 0;
}
/** Fast equality of two large plain typed arrays (no copies). */
function equalLarge(a, b) {
  if (!a || !b || a.byteLength !== b.byteLength) return false;
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}
/** Transfers the buffer away; 'copied' when it stayed attached (an untransferable buffer on Node 20). */
function transfer(buffer, how) {
  const before = buffer.byteLength;
  try {
    if (how === 'structuredClone') {
      let moved = structuredClone(buffer, { transfer: [buffer] });
      moved = null;
    } else {
      const { port1, port2 } = new MessageChannel();
      port1.postMessage(buffer, [buffer]);
      let moved = receiveMessageOnPort(port2); // taken off the port at once, then dropped
      moved = null;
      port1.close();
      port2.close();
    }
  } catch (e) {
    return { outcome: 'threw', ...errorInfo(e) };
  }
  return { outcome: before > 0 && buffer.byteLength === before ? 'copied' : 'detached' };
}
/** Collects, then allocates and fills ~580 MB of garbage, so freed memory is unmapped or reused. */
function garbage(rounds = 12) {
  globalThis.gc();
  for (let i = 0; i < rounds; i++) new Float32Array(12_000_000).fill(9);
  globalThis.gc();
}
${DATA_HELPERS}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
`;

interface ChildRun {
  signal: NodeJS.Signals | null;
  status: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  result: unknown;
}

/**
 * Runs `body` (the inside of an async function; it reports with report()) in a fresh Node process
 * with this project's environment (plus `env`), `input` on its stdin, and returns how it ended and
 * what it reported.
 */
function runChild(body: string, options: { timeout?: number; env?: Record<string, string>; input?: string } = {}): ChildRun {
  const code = `${PRELUDE}
(async () => {
${body}
})().then(
  () => {},
  (e) => { process.stdout.write('FATAL ' + (e && e.stack ? e.stack : String(e)) + '\\n'); process.exitCode = 70; },
);`;
  const run = spawnSync(process.execPath, ['--expose-gc', '-e', code], {
    // Far above a normal run (a few seconds alone; 10-16 s on this 2-core VM under a load of 6): only a hang reaches it.
    timeout: options.timeout ?? 35_000,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    input: options.input,
    maxBuffer: 256 << 20,
  });
  const stdout = run.stdout ?? '';
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return {
    signal: run.signal,
    status: run.status,
    timedOut: (run.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT',
    stdout,
    stderr: run.stderr ?? '',
    result: line === undefined ? undefined : JSON.parse(line.slice('RESULT '.length)),
  };
}

function tail(text: string, n = 3000): string {
  return text.length > n ? `…${text.slice(-n)}` : text;
}

/** The child ended by itself, by no signal, with status 0, and reported a result. */
function expectSurvived<T>(run: ChildRun): T {
  const context = `\n--- stdout ---\n${tail(run.stdout)}\n--- stderr ---\n${tail(run.stderr)}`;
  expect(run.timedOut, `the child timed out (a hang)${context}`).toBe(false);
  expect(run.signal, `the child died by a signal${context}`).toBeNull();
  expect(run.status, `the child exited with status ${run.status}${context}`).toBe(0);
  expect(run.result, `the child reported no result${context}`).toBeDefined();
  return run.result as T;
}

interface ErrorInfo {
  name: string;
  ctor: string | null;
  message: string;
}
interface Settled {
  label: string;
  ok: boolean;
  error: ErrorInfo | null;
  unchanged?: boolean;
  correct?: boolean;
}

const word = (name: string) => new RegExp(`(^|[^A-Za-z])${name.replace('.', '\\.')}($|[^A-Za-z])`);

// ---------------------------------------------------------------------------------------------
// 1. A buffer in use by an async call is transferred (and the original collected) mid-call.

/** Big enough that the native call still runs during the transfer and the collection (~0.5 s). */
const SIZES = native ? { rows: 1_000_000, dim: 64, count: 1_500_000 } : { rows: 100_000, dim: 64, count: 200_000 };

type TransferTarget = 'weight' | 'out' | 'indices' | 'gradOutput' | 'bagWeight' | 'halfData';

function transferScenario(target: TransferTarget, how: 'structuredClone' | 'postMessage'): string {
  return `
const S = ${JSON.stringify(SIZES)};
const target = ${JSON.stringify(target)}, how = ${JSON.stringify(how)};
const w = table(S.rows, S.dim, 1);
const idx = indices(S.count, S.rows);
const few = idx.slice(0, 64);
let layer, expected, p, victim, check;
if (target === 'weight' || target === 'out' || target === 'indices') {
  // The expected output, synchronously, on separate copies.
  expected = nn.Embedding.fromPretrained(w.slice(), S.dim).forward(idx.slice());
  layer = nn.Embedding.fromPretrained(w, S.dim);
  const out = target === 'out' ? new Float32Array(S.count * S.dim) : undefined;
  p = start(() => layer.forwardAsync(idx, out));
  victim = target === 'weight' ? layer.weight : target === 'out' ? out : idx;
  check = (value) => equalLarge(value, expected) && (out === undefined || value === out);
} else if (target === 'gradOutput') {
  const g = table(S.count, S.dim, 2);
  const reference = nn.Embedding.fromPretrained(w.slice(), S.dim, { freeze: false });
  reference.backward(idx.slice(), g.slice());
  expected = reference.grad;
  layer = nn.Embedding.fromPretrained(w, S.dim, { freeze: false });
  p = start(() => layer.backwardAsync(idx, g));
  victim = g;
  check = () => equalLarge(layer.grad, expected);
} else if (target === 'halfData') {
  // A trained float16 table: the update kernels write the table itself (a sixth of the entries:
  // the first step also allocates its work space, which alone took seconds on the full count).
  const ids = idx.slice(0, S.count / 6);
  const g = table(ids.length, S.dim, 2);
  const data = nn.quantize(w, S.dim, 'float16');
  const options = { lr: 0.1, stochasticRounding: true, seed: 5 };
  const reference = nn.Embedding.fromPretrained(data.slice(), S.dim, { dtype: 'float16', freeze: false });
  nn.applyOptimizerInBackward(nn.RowWiseAdagrad, [reference], options);
  reference.backward(ids.slice(), g.slice());
  expected = reference.forward(few);
  layer = nn.Embedding.fromPretrained(data, S.dim, { dtype: 'float16', freeze: false });
  nn.applyOptimizerInBackward(nn.RowWiseAdagrad, [layer], options);
  p = start(() => layer.backwardAsync(ids, g));
  victim = layer.data;
  check = () => equalLarge(layer.data, reference.data);
} else {
  expected = nn.EmbeddingBag.fromPretrained(w.slice(), S.dim, { mode: 'sum' }).forward(idx.slice(), 8);
  layer = nn.EmbeddingBag.fromPretrained(w, S.dim, { mode: 'sum' });
  p = start(() => layer.forwardAsync(idx, 8));
  victim = layer.weight;
  check = (value) => equalLarge(value, expected);
}
const begun = performance.now();
const moved = transfer(victim.buffer, how);
garbage(8);
const r = await outcome(p);
const correct = r.ok && check(r.value);
// The layer still works afterwards.
let after = null;
if (target !== 'gradOutput') {
  const a = target === 'bagWeight' ? outcome(start(() => layer.forward(few, 8))) : outcome(start(() => layer.forward(few)));
  const ra = await a;
  after = ra.ok ? equalLarge(ra.value, expected.subarray(0, ra.value.length)) : ra.error;
}
report({ backend: nn.getBackend(), transfer: moved, ms: Math.round(performance.now() - begun),
  ok: r.ok, error: r.ok ? null : r.error, correct, after });
`;
}

interface TransferResult {
  backend: string;
  transfer: { outcome: 'copied' | 'threw' | 'detached'; name?: string; message?: string };
  ok: boolean;
  error: ErrorInfo | null;
  correct: boolean;
  after: boolean | ErrorInfo | null;
}

describe('1. an array in use by an async call is transferred mid-call', () => {
  const targets: [TransferTarget, string][] = [
    ['weight', "the layer's weight during Embedding.forwardAsync"],
    ['gradOutput', 'the dense gradOutput of Embedding.backwardAsync'],
    ['out', 'the out passed to Embedding.forwardAsync'],
    ['indices', 'the indices of Embedding.forwardAsync'],
    ['bagWeight', "an EmbeddingBag's weight during forwardAsync"],
    ['halfData', "a float16 table's data during a backwardAsync that applies RowWiseAdagrad (stochastic rounding)"],
  ];
  for (const [target, what] of targets) {
    for (const how of ['structuredClone', 'postMessage'] as const) {
      it(`${what}, by ${how}, then gc: the call resolves to the right result`, () => {
        const result = expectSurvived<TransferResult>(runChild(transferScenario(target, how)));
        expect(result.backend).toBe(backend);
        // The design: arrays in use are untransferable while the call runs (Node 20 copies,
        // Node >= 21 throws a DataCloneError). Index-like arrays may instead be copied when the
        // call starts, in which case the transfer may detach the caller's array.
        if (result.transfer.outcome === 'threw') expect(result.transfer.name).toBe('DataCloneError');
        const allowed = target === 'indices' ? ['copied', 'threw', 'detached'] : ['copied', 'threw'];
        expect(allowed, `transfer outcome ${JSON.stringify(result.transfer)}`).toContain(result.transfer.outcome);
        expect(result.error, 'the call rejected').toBeNull();
        expect(result.correct, 'the result differs from the synchronous one').toBe(true);
        if (target !== 'gradOutput') expect(result.after, 'a forward call after the transfer').toBe(true);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// 2. Resizable ArrayBuffers and growable SharedArrayBuffers.
//
// Refused with a TypeError naming the argument, before anything is written, wherever a change of
// length could reach memory in use: the table (kept by the layer), and, for a resizable
// ArrayBuffer, every array an async call's kernel uses in place (out, gradOutput, the forward's
// perSampleWeights). Elsewhere the package may instead prove it safe (nothing can resize a buffer
// during a synchronous call, a growable SharedArrayBuffer never shrinks, index-like arrays are
// copied when an async call starts): then the call must give the result it gives on plain arrays,
// even when the buffer is resized to 0 right after an async call started.

function resizableScenario(kind: 'resizable' | 'growable'): string {
  return `
const kind = ${JSON.stringify(kind)};
const results = [];
const rows = 50, dim = 4;
const w = new Float32Array(rows * dim).fill(10);
const idxValues = [1, 2, 3, 4, 5, 6];
const offsetValues = [0, 2, 2, 5];
const ones = (n) => new Array(n).fill(1);

/** Arrays for one call: over a resizable (or growable) buffer, or plain ones with the same values. */
function arrays(special) {
  const buffers = [];
  const make = (Ctor, values, fixed = false) => {
    if (!special) return Ctor.from(values);
    const bytes = values.length * Ctor.BYTES_PER_ELEMENT;
    const buffer = kind === 'resizable'
      ? new ArrayBuffer(bytes, { maxByteLength: bytes * 2 + 8 })
      : new SharedArrayBuffer(bytes, { maxByteLength: bytes * 2 + 8 });
    buffers.push(buffer);
    const a = fixed ? new Ctor(buffer, 0, values.length) : new Ctor(buffer);
    a.set(values);
    return a;
  };
  return { make, buffers };
}
/** The bytes a call may have written: its result, the layer's weight and grad, and the out array. */
function observe(layer, value, out) {
  const parts = [];
  for (const a of [value instanceof Float32Array ? value : null, layer && layer.weight, layer && layer.grad, out]) {
    parts.push(a ? Array.from(copyBytes(a)) : null);
  }
  return JSON.stringify(parts);
}
/**
 * One case: run(layer, make) makes its arguments with make() and calls the package; strict cases
 * must be refused. The same call on plain arrays (and a fresh layer) gives the expected outcome.
 */
async function check(label, arg, strict, async, makeLayer, run) {
  const plain = arrays(false);
  const reference = makeLayer && makeLayer();
  const plainOut = { out: null };
  const expected = await outcome(start(() => run(reference, plain.make, plainOut)));
  const untouched = makeLayer && makeLayer();
  const special = arrays(true);
  const layer = makeLayer && makeLayer();
  const specialOut = { out: null };
  const untouchedOut = specialOut.out;
  const p = start(() => run(layer, special.make, specialOut));
  const outBefore = specialOut.out ? copyBytes(specialOut.out) : null;
  let resized = false;
  if (async) {
    // Shrink what can shrink while the call may still run.
    for (const b of special.buffers) if (b instanceof ArrayBuffer) { b.resize(0); resized = true; }
    garbage(1);
  }
  const r = await outcome(p);
  const record = { label, arg, strict, ok: r.ok, error: r.ok ? null : r.error };
  if (!r.ok) {
    // Refused: nothing written (the layer as a fresh one, out as it was).
    record.unchanged = observe(layer, null, null) === observe(untouched, null, null) &&
      (outBefore === null || resized || sameBytes(specialOut.out, outBefore));
  } else {
    record.correct = expected.ok && observe(layer, r.value, resized ? null : specialOut.out) === observe(reference, expected.value, resized ? null : plainOut.out);
    if (!expected.ok) record.expectedError = expected.error;
  }
  results.push(record);
}

const resizable = kind === 'resizable';
// The table: kept by the layer, so always refused.
await check('Embedding.fromPretrained(weights)', 'weights', true, false, null, (_, make) => nn.Embedding.fromPretrained(make(Float32Array, w), dim));
await check('new Embedding({ weight })', 'weight', true, false, null, (_, make) => new nn.Embedding(rows, dim, { weight: make(Float32Array, w, true) }));
await check('EmbeddingBag.fromPretrained(weights)', 'weights', true, false, null, (_, make) => nn.EmbeddingBag.fromPretrained(make(Float32Array, w), dim));
await check('new EmbeddingBag({ weight })', 'weight', true, false, null, (_, make) => new nn.EmbeddingBag(rows, dim, { weight: make(Float32Array, w) }));

// Embedding (maxNorm renormalizes in place: a refused call must not have touched the weight).
const renorming = () => new nn.Embedding(rows, dim, { weight: w.slice(), maxNorm: 1 });
const dense = () => { const l = new nn.Embedding(rows, dim, { weight: w.slice() }); l.backward(Int32Array.from(idxValues), new Float32Array(idxValues.length * dim).fill(1)); return l; };
for (const async of [false, true]) {
  const f = async ? 'forwardAsync' : 'forward', b = async ? 'backwardAsync' : 'backward';
  await check('Embedding.' + f + '(Int32Array indices)', 'indices', false, async, renorming, (l, make) => l[f](make(Int32Array, idxValues)));
  await check('Embedding.' + f + '(BigInt64Array indices)', 'indices', false, async, renorming, (l, make) => l[f](make(BigInt64Array, idxValues.map(BigInt), true)));
  for (const fixed of [false, true]) {
    await check('Embedding.' + f + '(out' + (fixed ? ', fixed length' : '') + ')', 'out', async && resizable, async, renorming,
      (l, make, o) => l[f](Int32Array.from(idxValues), (o.out = make(Float32Array, new Array(idxValues.length * dim).fill(7), fixed))));
    await check('Embedding.' + b + '(gradOutput' + (fixed ? ', fixed length' : '') + ')', 'gradOutput', async && resizable, async, dense,
      (l, make) => l[b](Int32Array.from(idxValues), make(Float32Array, new Array(idxValues.length * dim).fill(2), fixed)));
  }
  await check('Embedding.' + b + '(indices)', 'indices', false, async, dense, (l, make) => l[b](make(Int32Array, idxValues), new Float32Array(idxValues.length * dim).fill(2)));
  // A sparse layer's backward copies gradOutput's rows in TypeScript: no kernel uses it in place.
  await check('sparse Embedding.' + b + '(gradOutput)', 'gradOutput', false, async,
    () => new nn.Embedding(rows, dim, { weight: w.slice(), sparse: true }),
    (l, make) => l[b](Int32Array.from(idxValues), make(Float32Array, new Array(idxValues.length * dim).fill(2))));
}

// EmbeddingBag: offsets, perSampleWeights, out, indices, gradOutput.
const bagRenorming = () => new nn.EmbeddingBag(rows, dim, { weight: w.slice(), mode: 'sum', maxNorm: 1 });
const bagDense = () => { const l = new nn.EmbeddingBag(rows, dim, { weight: w.slice(), mode: 'sum' }); l.backward(Int32Array.from(idxValues), Uint32Array.from(offsetValues), new Float32Array(offsetValues.length * dim).fill(1)); return l; };
const ix = () => Int32Array.from(idxValues), offs = () => Uint32Array.from(offsetValues);
const g = () => new Float32Array(offsetValues.length * dim).fill(1);
for (const async of [false, true]) {
  const f = async ? 'forwardAsync' : 'forward', b = async ? 'backwardAsync' : 'backward';
  await check('EmbeddingBag.' + f + '(Int32Array offsets)', 'offsets', false, async, bagRenorming, (l, make) => l[f](ix(), make(Int32Array, offsetValues)));
  await check('EmbeddingBag.' + f + '(Uint32Array offsets)', 'offsets', false, async, bagRenorming, (l, make) => l[f](ix(), make(Uint32Array, offsetValues, true)));
  await check('EmbeddingBag.' + f + '(perSampleWeights)', 'perSampleWeights', async && resizable, async, bagRenorming, (l, make) => l[f](ix(), offs(), make(Float32Array, ones(idxValues.length))));
  await check('EmbeddingBag.' + f + '(out)', 'out', async && resizable, async, bagRenorming,
    (l, make, o) => l[f](ix(), offs(), null, (o.out = make(Float32Array, new Array(offsetValues.length * dim).fill(7)))));
  await check('EmbeddingBag.' + f + '(indices)', 'indices', false, async, bagRenorming, (l, make) => l[f](make(Int32Array, idxValues), offs()));
  await check('EmbeddingBag.' + b + '(offsets)', 'offsets', false, async, bagDense, (l, make) => l[b](ix(), make(Uint32Array, offsetValues), g()));
  await check('EmbeddingBag.' + b + '(gradOutput)', 'gradOutput', async && resizable, async, bagDense, (l, make) => l[b](ix(), offs(), make(Float32Array, Array.from(g()), true)));
  await check('EmbeddingBag.' + b + '(perSampleWeights)', 'perSampleWeights', false, async, bagDense, (l, make) => l[b](ix(), offs(), g(), make(Float32Array, ones(idxValues.length))));
}
report({ backend: nn.getBackend(), results });
`;
}

function growableSharedArrayBufferSupported(): boolean {
  try {
    return (new (SharedArrayBuffer as unknown as new (n: number, o: object) => { growable?: boolean })(8, { maxByteLength: 16 })).growable === true;
  } catch {
    return false;
  }
}

interface ResizableResult extends Settled {
  arg: string;
  strict: boolean;
  expectedError?: ErrorInfo;
}

describe('2. resizable and growable buffers: refused with a TypeError naming the argument, or safe', () => {
  for (const kind of ['resizable', 'growable'] as const) {
    const supported = kind === 'resizable' || growableSharedArrayBufferSupported();
    const name = kind === 'resizable' ? 'a resizable ArrayBuffer' : 'a growable SharedArrayBuffer';
    it.runIf(supported)(`${name} behind any argument: refused before anything is written (the table, arrays in use by an async call) or the plain-array result`, () => {
      const { backend: childBackend, results } = expectSurvived<{ backend: string; results: ResizableResult[] }>(runChild(resizableScenario(kind)));
      expect(childBackend).toBe(backend);
      const problems: string[] = [];
      const what = kind === 'resizable' ? /resizable/ : /resizable|growable/;
      for (const r of results) {
        if (r.ok) {
          if (r.strict) problems.push(`${r.label}: accepted; expected a TypeError`);
          else if (!r.correct) problems.push(`${r.label}: accepted, with a result other than on plain arrays${r.expectedError ? ` (which threw ${r.expectedError.message})` : ''}`);
          continue;
        }
        const message = r.error!.message;
        if (r.error!.ctor !== 'TypeError' || !what.test(message) || !word(r.arg).test(message)) {
          problems.push(`${r.label}: ${r.error!.ctor}: ${message}`);
        }
        if (r.unchanged === false) problems.push(`${r.label}: wrote before refusing`);
      }
      expect(problems, `expected a TypeError matching ${what} naming the argument (or, where not required, the plain-array result)`).toEqual([]);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 3. Arrays read by a kernel that share memory with an array it writes.

const ALIAS_SCENARIO = `
const results = [];
async function refuse(label, names, call, watched) {
  const before = watched.map(copyBytes);
  const r = await outcome(start(call));
  results.push({ label, names, ok: r.ok, error: r.ok ? null : r.error, unchanged: watched.every((a, k) => sameBytes(a, before[k])) });
}
const rows = 100, dim = 4;
const w = table(rows, dim, 3);

// indices inside grad, which backward writes (1e30 written through them would be a huge index).
for (const async of [false, true]) {
  const layer = new nn.Embedding(rows, dim, { weight: w.slice() });
  layer.backward(new Int32Array(8), new Float32Array(8 * dim)); // grad exists, all zero
  const ix = new Int32Array(layer.grad.buffer, 0, 8);
  const g = new Float32Array(8 * dim).fill(1e30);
  await refuse('Embedding.' + (async ? 'backwardAsync' : 'backward') + '(indices inside grad)', ['indices', 'grad'],
    () => async ? layer.backwardAsync(ix, g) : layer.backward(ix, g), [layer.grad]);
}
// indices inside out, which forward writes.
for (const async of [false, true]) {
  const layer = new nn.Embedding(rows, dim, { weight: w.slice() });
  const buffer = new ArrayBuffer(8 * dim * 4);
  const ix = new Int32Array(buffer, 0, 8);
  const out = new Float32Array(buffer);
  await refuse('Embedding.' + (async ? 'forwardAsync' : 'forward') + '(indices inside out)', ['indices', 'out'],
    () => async ? layer.forwardAsync(ix, out) : layer.forward(ix, out), [out]);
}
// EmbeddingBag: offsets, perSampleWeights or indices inside out.
const bagIndices = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
for (const async of [false, true]) {
  const call = async ? 'forwardAsync' : 'forward';
  const bag = new nn.EmbeddingBag(rows, dim, { weight: w.slice(), mode: 'sum' });
  {
    const buffer = new ArrayBuffer(2 * dim * 4);
    const offsets = new Int32Array(buffer, 0, 2); // [0, 0]: valid
    const out = new Float32Array(buffer);
    await refuse('EmbeddingBag.' + call + '(offsets inside out)', ['offsets', 'out'], () => bag[call](bagIndices, offsets, null, out), [out]);
  }
  {
    const buffer = new ArrayBuffer(2 * dim * 4);
    const weights = new Float32Array(buffer, 0, 8).fill(1);
    const out = new Float32Array(buffer);
    await refuse('EmbeddingBag.' + call + '(perSampleWeights inside out)', ['perSampleWeights', 'out'],
      () => bag[call](bagIndices, Uint32Array.from([0, 4]), weights, out), [out]);
  }
  {
    const buffer = new ArrayBuffer(8 * dim * 4);
    const ix = new Int32Array(buffer, 0, 8);
    const out = new Float32Array(buffer);
    await refuse('EmbeddingBag.' + call + '(indices inside out)', ['indices', 'out'], () => bag[call](ix, 1, null, out), [out]);
  }
}
// EmbeddingBag backward: indices or offsets inside grad.
for (const async of [false, true]) {
  const call = async ? 'backwardAsync' : 'backward';
  const bag = new nn.EmbeddingBag(rows, dim, { weight: w.slice(), mode: 'sum' });
  bag.backward(new Int32Array(8), Uint32Array.from([0, 4]), new Float32Array(2 * dim));
  const g = new Float32Array(2 * dim).fill(1e30);
  await refuse('EmbeddingBag.' + call + '(indices inside grad)', ['indices', 'grad'],
    () => bag[call](new Int32Array(bag.grad.buffer, 0, 8), Uint32Array.from([0, 4]), g), [bag.grad]);
  await refuse('EmbeddingBag.' + call + '(offsets inside grad)', ['offsets', 'grad'],
    () => bag[call](bagIndices, new Uint32Array(bag.grad.buffer, 0, 2), g), [bag.grad]);
}
report({ backend: nn.getBackend(), results });
`;

describe('3. arrays a kernel reads that share memory with an array it writes', () => {
  it('are refused with a RangeError naming both, and nothing changes', () => {
    const { backend: childBackend, results } = expectSurvived<{ backend: string; results: (Settled & { names: string[] })[] }>(
      runChild(ALIAS_SCENARIO),
    );
    expect(childBackend).toBe(backend);
    const problems: string[] = [];
    for (const r of results) {
      const message = r.error?.message ?? '';
      if (r.ok) problems.push(`${r.label}: succeeded`);
      else if (r.error!.ctor !== 'RangeError' || !/share memory/.test(message) || !r.names.every((n) => word(n).test(message))) {
        problems.push(`${r.label}: ${r.error!.ctor}: ${message}`);
      }
      if (!r.unchanged) problems.push(`${r.label}: the written array changed`);
    }
    expect(problems, 'expected a RangeError matching /share memory/ naming both arrays, nothing written').toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. SharedArrayBuffer indices and offsets changed by a worker during synchronous calls.

const RACE_SCENARIO = `
const rows = 1000, dim = 32, n = 2048, P = 1234, bags = 64;
const sab = new SharedArrayBuffer(n * 4 + bags * 4);
const ix = new Int32Array(sab, 0, n);
for (let i = 0; i < n; i++) ix[i] = (i * 37) % rows;
ix[P] = 0;
const offsets = new Int32Array(sab, n * 4, bags);
for (let b = 0; b < bags; b++) offsets[b] = b * (n / bags);
const control = new Int32Array(new SharedArrayBuffer(8));
const worker = new Worker(
  "const { workerData } = require('node:worker_threads');" +
  "const ix = new Int32Array(workerData.sab, 0, workerData.n);" +
  "const offsets = new Int32Array(workerData.sab, workerData.n * 4, workerData.bags);" +
  "const control = new Int32Array(workerData.control);" +
  "const good = offsets[1];" +
  "Atomics.store(control, 1, 1);" +
  "while (Atomics.load(control, 0) === 0) {" +
  "  for (let k = 0; k < 1000; k++) { ix[workerData.P] = 0x20000000; offsets[1] = 0x20000000; ix[workerData.P] = 0; offsets[1] = good; }" +
  "}",
  { eval: true, workerData: { sab, n, P, bags, control: control.buffer } },
);
const exited = new Promise((resolve) => worker.on('exit', resolve));
while (Atomics.load(control, 1) === 0) await sleep(5);

const w = table(rows, dim, 5);
const layer = new nn.Embedding(rows, dim, { weight: w });
const g = new Float32Array(n * dim).fill(1e-3);
const counts = {};
const unexpected = [];
let wrongRow = 0;
function tally(name, fn) {
  const c = (counts[name] ??= { ok: 0, rangeError: 0 });
  try {
    const value = fn();
    c.ok++;
    return value;
  } catch (e) {
    if (e instanceof RangeError && /out of range|offsets/.test(e.message)) c.rangeError++;
    else if (unexpected.length < 5) unexpected.push(name + ': ' + (e && e.stack));
    return undefined;
  }
}
/** A successful lookup read ix[P] as 0 (the only valid value it ever has): row P is weight row 0. */
function checkRow(out) {
  if (!out) return;
  for (let j = 0; j < dim; j++) if (out[P * dim + j] !== w[j]) { wrongRow++; return; }
}
let deadline = performance.now() + 1000;
while (performance.now() < deadline) {
  checkRow(tally('forward', () => layer.forward(ix)));
  tally('backward', () => layer.backward(ix, g));
}
const bag = new nn.EmbeddingBag(rows, dim, { weight: w, mode: 'sum' });
deadline = performance.now() + 500;
while (performance.now() < deadline) tally('EmbeddingBag.forward', () => bag.forward(ix, offsets));
// The async forms too: they take a snapshot (or validate as they read) as well.
deadline = performance.now() + 300;
while (performance.now() < deadline) {
  const r = await outcome(start(() => layer.forwardAsync(ix)));
  const c = (counts.forwardAsync ??= { ok: 0, rangeError: 0 });
  if (r.ok) { c.ok++; checkRow(r.value); }
  else if (r.error.ctor === 'RangeError' && /out of range/.test(r.error.message)) c.rangeError++;
  else if (unexpected.length < 5) unexpected.push('forwardAsync: ' + r.error.ctor + ': ' + r.error.message);
}
Atomics.store(control, 0, 1);
const stop = setTimeout(() => worker.terminate(), 2000);
const code = await exited;
clearTimeout(stop);
report({ backend: nn.getBackend(), counts, unexpected, wrongRow, workerExit: code });
`;

describe('4. SharedArrayBuffer indices and offsets flipped by a worker during calls', () => {
  it('each call succeeds (with the right rows) or throws a RangeError; no crash', () => {
    const result = expectSurvived<{
      backend: string;
      counts: Record<string, { ok: number; rangeError: number }>;
      unexpected: string[];
      wrongRow: number;
    }>(runChild(RACE_SCENARIO));
    expect(result.backend).toBe(backend);
    expect(result.unexpected, 'errors other than a RangeError for the index or offsets').toEqual([]);
    expect(result.wrongRow, 'successful lookups whose flipped row is not row 0').toBe(0);
    for (const name of ['forward', 'backward', 'EmbeddingBag.forward', 'forwardAsync']) {
      const c = result.counts[name]!;
      expect(c.ok + c.rangeError, `${name} ran`).toBeGreaterThan(0);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Arguments changed right after an async call returned its promise.

// One libuv thread, held by a long call started first, so that each call below is still queued
// (its arrays not yet read by any kernel) when the arguments change: the change is always seen by
// an implementation that reads them late.
const MUTATE_SCENARIO = `
const results = [];
const rows = 2000, dim = 16;
const w = table(rows, dim, 7);
const blockerTable = table(${native ? 400_000 : 20_000}, 64, 8);
const blocker = nn.Embedding.fromPretrained(blockerTable, 64);
const blockerIndices = indices(${native ? 1_000_000 : 20_000}, ${native ? 400_000 : 20_000});
async function scenario(label, run) {
  process.stdout.write('SCENARIO ' + label + '\\n');
  const hold = start(() => blocker.forwardAsync(blockerIndices));
  const r = await outcome(start(run));
  await outcome(hold);
  results.push({ label, ok: r.ok && r.value.ok, error: r.ok ? r.value.error ?? null : r.error, correct: r.ok && r.value.correct });
}
const bagIndices = indices(4096, rows, 31);
const bagOffsets = Uint32Array.from({ length: 64 }, (_, b) => b * 64);

await scenario('EmbeddingBag.forwardAsync, then offsets[1] = 0xfffffff0 and indices[0] = 0x7ffffff0', async () => {
  const expected = nn.EmbeddingBag.fromPretrained(w.slice(), dim, { mode: 'sum' }).forward(bagIndices.slice(), bagOffsets.slice());
  const bag = nn.EmbeddingBag.fromPretrained(w.slice(), dim, { mode: 'sum' });
  const ix = bagIndices.slice(), offsets = bagOffsets.slice();
  const p = start(() => bag.forwardAsync(ix, offsets));
  offsets[1] = 0xfffffff0;
  ix[0] = 0x7ffffff0;
  const r = await outcome(p);
  return { ok: r.ok, error: r.ok ? null : r.error, correct: r.ok && sameBytes(r.value, expected) };
});
await scenario('EmbeddingBag.forwardAsync (Int32Array offsets), then offsets[1] = -16', async () => {
  const expected = nn.EmbeddingBag.fromPretrained(w.slice(), dim, { mode: 'max' }).forward(bagIndices.slice(), Int32Array.from(bagOffsets));
  const bag = nn.EmbeddingBag.fromPretrained(w.slice(), dim, { mode: 'max' });
  const offsets = Int32Array.from(bagOffsets);
  const p = start(() => bag.forwardAsync(bagIndices.slice(), offsets));
  offsets[1] = -16;
  offsets[2] = 0x7ffffff0;
  const r = await outcome(p);
  return { ok: r.ok, error: r.ok ? null : r.error, correct: r.ok && sameBytes(r.value, expected) };
});
await scenario('Embedding.forwardAsync, then idx[0] = 1e9', async () => {
  const idx = indices(4096, rows, 13);
  const expected = nn.Embedding.fromPretrained(w.slice(), dim).forward(idx.slice());
  const layer = nn.Embedding.fromPretrained(w.slice(), dim);
  const p = start(() => layer.forwardAsync(idx));
  idx[0] = 1e9 | 0;
  idx[4095] = -1;
  const r = await outcome(p);
  return { ok: r.ok, error: r.ok ? null : r.error, correct: r.ok && sameBytes(r.value, expected) };
});
await scenario('Embedding.backwardAsync (dense), then idx[0] = 0x7ffffff0', async () => {
  const idx = indices(4096, rows, 17);
  const g = table(4096, dim, 9);
  const reference = new nn.Embedding(rows, dim, { weight: w.slice() });
  reference.backward(idx.slice(), g);
  const layer = new nn.Embedding(rows, dim, { weight: w.slice() });
  const p = start(() => layer.backwardAsync(idx, g));
  idx[0] = 0x7ffffff0;
  const r = await outcome(p);
  return { ok: r.ok, error: r.ok ? null : r.error, correct: r.ok && sameBytes(layer.grad, reference.grad) };
});
await scenario('EmbeddingBag.backwardAsync (dense), then offsets[1] = 0xfffffff0', async () => {
  const g = table(64, dim, 10);
  const reference = new nn.EmbeddingBag(rows, dim, { weight: w.slice(), mode: 'mean' });
  reference.backward(bagIndices.slice(), bagOffsets.slice(), g);
  const bag = new nn.EmbeddingBag(rows, dim, { weight: w.slice(), mode: 'mean' });
  const ix = bagIndices.slice(), offsets = bagOffsets.slice();
  const p = start(() => bag.backwardAsync(ix, offsets, g));
  offsets[1] = 0xfffffff0;
  ix[0] = 0x7ffffff0;
  const r = await outcome(p);
  return { ok: r.ok, error: r.ok ? null : r.error, correct: r.ok && sameBytes(bag.grad, reference.grad) };
});
for (const [name, make] of [
  ['SparseAdam', (t) => new nn.SparseAdam([t], { lr: 0.01 })],
  ['SGD', (t) => new nn.SGD([t], { lr: 0.1 })],
]) {
  await scenario(name + '.stepAsync, then layer.sparseGrad.indices[0] = 0x7ffffff0', async () => {
    const idx = indices(4096, rows, 19);
    const g = table(4096, dim, 11);
    const reference = new nn.Embedding(rows, dim, { weight: w.slice(), sparse: true });
    const referenceOptimizer = make(reference);
    reference.backward(idx, g);
    referenceOptimizer.step();
    const layer = new nn.Embedding(rows, dim, { weight: w.slice(), sparse: true });
    const optimizer = make(layer);
    layer.backward(idx, g);
    const p = start(() => optimizer.stepAsync());
    layer.sparseGrad.indices[0] = 0x7ffffff0;
    layer.sparseGrad.indices[1] = -1;
    const r = await outcome(p);
    return { ok: r.ok, error: r.ok ? null : r.error, correct: r.ok && sameBytes(layer.weight, reference.weight) };
  });
}
report({ backend: nn.getBackend(), results });
`;

describe('5. arguments changed after an async call returned its promise', () => {
  it('do not change the result: the call uses the arguments as they were when it started', () => {
    const { backend: childBackend, results } = expectSurvived<{ backend: string; results: Settled[] }>(
      runChild(MUTATE_SCENARIO, { env: { UV_THREADPOOL_SIZE: '1' } }),
    );
    expect(childBackend).toBe(backend);
    const problems = results
      .filter((r) => !r.ok || !r.correct)
      .map((r) => `${r.label}: ${r.ok ? 'a different result' : `${r.error?.ctor}: ${r.error?.message}`}`);
    expect(problems).toEqual([]);
    expect(results.length).toBe(7);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. A worker that ends while its async calls are pending.

function workerEndScenario(how: 'process.exit' | 'terminate'): string {
  const rows = native ? 400_000 : 20_000;
  const count = native ? 600_000 : 20_000;
  return `
const how = ${JSON.stringify(how)};
const workerCode = ${JSON.stringify(`const { parentPort } = require('node:worker_threads');
const nn = require(${JSON.stringify(dist)});
${DATA_HELPERS}`)};
const exits = [];
for (let round = 0; round < 2; round++) {
  const worker = new Worker(workerCode + ${JSON.stringify(`
const w = table(${rows}, 64, 1);
const reader = nn.Embedding.fromPretrained(w, 64);
const writers = [0, 1].map(() => nn.Embedding.fromPretrained(w, 64, { freeze: false }));
const ix = indices(${count}, ${rows});
const g = new Float32Array(${count} * 64).fill(0.5);
const pending = [0, 1, 2].map(() => reader.forwardAsync(ix));
pending.push(...writers.map((layer) => layer.backwardAsync(ix, g)));
for (const p of pending) p.then(() => parentPort.postMessage('settled'), (e) => parentPort.postMessage('rejected ' + e.message));
if (${JSON.stringify(how)} === 'process.exit') process.exit(3);
parentPort.postMessage('started');
`)}, { eval: true });
  worker.on('message', (m) => { if (m === 'started' && how === 'terminate') worker.terminate(); });
  worker.on('error', (e) => exits.push('error ' + e.message));
  exits.push(await new Promise((resolve) => worker.on('exit', resolve)));
}
// Whatever was still running finishes now, after the workers' environments are gone.
await sleep(${native ? 1000 : 200});
globalThis.gc();
process.stdout.write('main thread alive\\n');
report({ backend: nn.getBackend(), exits });
`;
}

describe('6. a worker ends with async calls pending', () => {
  for (const how of ['process.exit', 'terminate'] as const) {
    it(`${how === 'terminate' ? 'worker.terminate() from the main thread' : 'process.exit() inside the worker'}: the main process survives`, () => {
      const run = runChild(workerEndScenario(how));
      const result = expectSurvived<{ backend: string; exits: (number | string)[] }>(run);
      expect(result.backend).toBe(backend);
      expect(run.stdout).toContain('main thread alive');
      expect(result.exits).toEqual(how === 'terminate' ? [1, 1] : [3, 3]);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 11. A table whose weight buffer was transferred before any call.

const DETACHED_SCENARIO = `
const results = [];
const rows = 1000, dim = 8;
const w = table(rows, dim, 4);
const makers = [
  ['Embedding.fromPretrained', () => nn.Embedding.fromPretrained(w.slice(), dim), (l) => l.forward([1, 2])],
  ['new Embedding({ seed })', () => new nn.Embedding(rows, dim, { seed: 1 }), (l) => l.forward([1, 2])],
  ['Embedding.fromPretrained, forwardAsync', () => nn.Embedding.fromPretrained(w.slice(), dim), (l) => l.forwardAsync(Int32Array.of(1, 2))],
  ['Embedding with maxNorm', () => new nn.Embedding(rows, dim, { weight: w.slice(), maxNorm: 1 }), (l) => l.forward([1, 2])],
  ['EmbeddingBag.fromPretrained', () => nn.EmbeddingBag.fromPretrained(w.slice(), dim), (l) => l.forward([1, 2], [0])],
];
for (const [label, make, call] of makers) {
  for (const how of ['structuredClone', 'postMessage']) {
    const expected = await outcome(start(() => call(make())));
    const layer = make();
    const moved = transfer(layer.weight.buffer, how);
    const r = await outcome(start(() => call(layer)));
    results.push({ label: label + ' (' + how + ')', transfer: moved, ok: r.ok, error: r.ok ? null : r.error,
      correct: r.ok && expected.ok && sameBytes(r.value, expected.value) });
  }
}
report({ backend: nn.getBackend(), results });
`;

describe('11. a table whose weight buffer was transferred away', () => {
  it('throws an Error saying the weight is detached (not an index range error)', () => {
    const { backend: childBackend, results } = expectSurvived<{
      backend: string;
      results: (Settled & { transfer: { outcome: string; name?: string } })[];
    }>(runChild(DETACHED_SCENARIO));
    expect(childBackend).toBe(backend);
    const problems: string[] = [];
    let detached = 0;
    for (const r of results) {
      if (r.transfer.outcome === 'detached') {
        detached++;
        // A user's array adopted by the layer can be transferred; the next call must say so.
        if (r.ok) problems.push(`${r.label}: succeeded on a detached weight`);
        else if (!/detached/.test(r.error!.message) || !/weight/.test(r.error!.message) || /out of range/.test(r.error!.message)) {
          problems.push(`${r.label}: ${r.error!.ctor}: ${r.error!.message}`);
        }
      } else {
        // The package may make the weight untransferable: then the layer keeps working.
        if (r.transfer.outcome === 'threw' && r.transfer.name !== 'DataCloneError') problems.push(`${r.label}: transfer threw ${r.transfer.name}`);
        if (!r.ok || !r.correct) problems.push(`${r.label}: the transfer was refused, yet the call ${r.ok ? 'gave a wrong result' : `threw ${r.error!.message}`}`);
      }
    }
    expect(problems).toEqual([]);
    // A fresh fromPretrained layer holds the caller's own array: on Node 20 nothing pins it yet.
    if (process.versions.node.startsWith('20.')) expect(detached).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzz: random sequences of moves on small layers, many sequences per child process.

type Move =
  | { op: 'forward' | 'backward'; layer: 'dense' | 'bag' | 'sparse'; async: boolean; indices: IndexSpec; out: boolean }
  | { op: 'transfer'; target: Target; layer: 'dense' | 'bag' | 'sparse'; how: 'structuredClone' | 'postMessage' }
  | { op: 'resize'; target: Target; bytes: number }
  | { op: 'mutate'; target: 'indices' | 'offsets' | 'sparseIndices'; at: number; value: number }
  | { op: 'zeroGrad' | 'step' | 'stepAsync' | 'gc' | 'await'; layer: 'dense' | 'bag' | 'sparse' };
type Target = 'weight' | 'grad' | 'out' | 'indices' | 'offsets' | 'gradOutput' | 'sparseIndices' | 'sparseValues';
interface IndexSpec {
  kind: 'Int32Array' | 'Uint32Array' | 'BigInt64Array' | 'Array' | 'shared' | 'resizable' | 'inGrad' | 'inOut' | 'last';
  values: number[];
}

const ROWS_FUZZ = 24;
const layerName = fc.constantFrom('dense' as const, 'bag' as const, 'sparse' as const);
const target = fc.constantFrom<Target>('weight', 'grad', 'out', 'indices', 'offsets', 'gradOutput', 'sparseIndices', 'sparseValues');
const indexSpec: fc.Arbitrary<IndexSpec> = fc.record({
  kind: fc.constantFrom('Int32Array', 'Uint32Array', 'BigInt64Array', 'Array', 'shared', 'resizable', 'inGrad', 'inOut', 'last'),
  values: fc.array(fc.oneof({ weight: 8, arbitrary: fc.nat({ max: ROWS_FUZZ - 1 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, ROWS_FUZZ, 0x7ffffff0) }), {
    minLength: 0,
    maxLength: 12,
  }),
});
const move: fc.Arbitrary<Move> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constantFrom('forward' as const, 'backward' as const), layer: layerName, async: fc.boolean(), indices: indexSpec, out: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('transfer' as const), target, layer: layerName, how: fc.constantFrom('structuredClone' as const, 'postMessage' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('resize' as const), target, bytes: fc.constantFrom(0, 4, 64) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('mutate' as const),
      target: fc.constantFrom('indices' as const, 'offsets' as const, 'sparseIndices' as const),
      at: fc.nat({ max: 12 }),
      value: fc.constantFrom(0x7ffffff0, 0xfffffff0, -1, 1e9 | 0, 0, ROWS_FUZZ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('zeroGrad' as const, 'step' as const, 'stepAsync' as const, 'gc' as const, 'await' as const), layer: layerName }) },
);

const FUZZ_RUNNER = `
const ROWS = ${ROWS_FUZZ}, DIM = 4;
const sequences = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const tally = { ok: 0, errors: {} };
const bad = [];
function classify(e) {
  const ok = e instanceof TypeError || e instanceof RangeError || (e && e.name === 'DataCloneError') || (e instanceof Error && e.constructor === Error);
  const key = e && e.constructor ? e.constructor.name + (e.name === 'DataCloneError' ? '/DataCloneError' : '') : typeof e;
  tally.errors[key] = (tally.errors[key] || 0) + 1;
  return ok;
}
for (let s = 0; s < sequences.length; s++) {
  const w = table(ROWS, DIM, s + 1);
  const layers = {
    dense: new nn.Embedding(ROWS, DIM, { weight: w.slice(), paddingIdx: s % 3 === 0 ? 0 : null }),
    bag: new nn.EmbeddingBag(ROWS, DIM, { weight: w.slice(), mode: ['sum', 'mean', 'max'][s % 3] }),
    sparse: new nn.Embedding(ROWS, DIM, { seed: s, sparse: true }),
  };
  const optimizers = {
    dense: new nn.Adam([layers.dense], { lr: 0.01 }),
    bag: new nn.SGD([layers.bag], { lr: 0.1, momentum: 0.5 }),
    sparse: s % 2 === 0 ? new nn.SparseAdam([layers.sparse], { lr: 0.01 }) : new nn.SGD([layers.sparse], { lr: 0.1 }),
  };
  const last = { indices: new Int32Array(0), offsets: null, out: null, gradOutput: null };
  const resizables = [];
  const pending = [];
  function record(m, k, fn) {
    try {
      const value = fn();
      if (value && typeof value.then === 'function') {
        pending.push(value.then(() => { tally.ok++; }, (e) => { if (!classify(e)) bad.push({ s, k, m, async: true, error: errorInfo(e) }); }));
      } else tally.ok++;
    } catch (e) {
      if (!classify(e)) bad.push({ s, k, m, error: errorInfo(e) });
    }
  }
  function makeIndices(spec, layer) {
    const v = spec.values;
    switch (spec.kind) {
      case 'Int32Array': return Int32Array.from(v);
      case 'Uint32Array': return Uint32Array.from(v.map((x) => x >>> 0));
      case 'BigInt64Array': return BigInt64Array.from(v.map(BigInt));
      case 'Array': return v.slice();
      case 'shared': { const a = new Int32Array(new SharedArrayBuffer(v.length * 4 + 4), 4, v.length); a.set(v); return a; }
      case 'resizable': { const b = new ArrayBuffer(v.length * 4, { maxByteLength: v.length * 4 + 64 }); resizables.push(b); const a = new Int32Array(b); a.set(v); return a; }
      case 'inGrad': { const gr = layer.grad; if (gr === null || gr.length < v.length) return Int32Array.from(v); return new Int32Array(gr.buffer, gr.byteOffset, v.length); }
      case 'inOut': return 'inOut';
      default: return last.indices;
    }
  }
  function bufferOf(t, layer) {
    const grad = layer.sparseGrad;
    switch (t) {
      case 'weight': return layer.weight.buffer;
      case 'grad': return layer.grad && layer.grad.buffer;
      case 'sparseIndices': return grad && grad.indices.buffer;
      case 'sparseValues': return grad && grad.values.buffer;
      default: return last[t] && !Array.isArray(last[t]) ? last[t].buffer : undefined;
    }
  }
  for (let k = 0; k < sequences[s].length; k++) {
    const m = sequences[s][k];
    process.stdout.write('MOVE ' + s + ' ' + k + ' ' + JSON.stringify(m) + '\\n');
    if (m.op === 'forward' || m.op === 'backward') {
      const layer = layers[m.layer];
      let ix;
      try { ix = makeIndices(m.indices, layer); } catch { continue; }
      const n = ix === 'inOut' ? m.indices.values.length : ix.length;
      const isBag = m.layer === 'bag';
      const offsets = isBag ? Uint32Array.from([0, n >> 1]) : null;
      const rowsOut = isBag ? 2 : n;
      if (m.op === 'forward') {
        let out = m.out ? new Float32Array(rowsOut * DIM) : undefined;
        if (ix === 'inOut') {
          // indices inside the output array
          out = new Float32Array(rowsOut * DIM);
          if (n * 4 <= out.byteLength) { ix = new Int32Array(out.buffer, 0, n); ix.set(m.indices.values); }
          else ix = Int32Array.from(m.indices.values);
        }
        last.indices = ix; last.offsets = offsets; last.out = out || null;
        const method = m.async ? 'forwardAsync' : 'forward';
        record(m, k, () => isBag ? layer[method](ix, offsets, null, out) : layer[method](ix, out));
      } else {
        if (ix === 'inOut') ix = Int32Array.from(m.indices.values);
        const g = new Float32Array(rowsOut * DIM).fill(k % 2 ? 1e30 : 0.25);
        last.indices = ix; last.offsets = offsets; last.gradOutput = g;
        const method = m.async ? 'backwardAsync' : 'backward';
        record(m, k, () => isBag ? layer[method](ix, offsets, g) : layer[method](ix, g));
      }
    } else if (m.op === 'transfer') {
      const b = bufferOf(m.target, layers[m.layer]);
      if (!b || b instanceof SharedArrayBuffer) continue;
      const t = transfer(b, m.how);
      if (t.outcome === 'threw' && t.name !== 'DataCloneError') bad.push({ s, k, m, error: t });
    } else if (m.op === 'resize') {
      for (const b of resizables) { try { b.resize(Math.min(m.bytes, b.maxByteLength)); } catch {} }
    } else if (m.op === 'mutate') {
      const a = m.target === 'sparseIndices' ? layers.sparse.sparseGrad && layers.sparse.sparseGrad.indices : last[m.target];
      if (a && a.length > 0) { const i = m.at % a.length; try { a[i] = typeof a[i] === 'bigint' ? BigInt(m.value) : m.value; } catch {} }
    } else if (m.op === 'zeroGrad') {
      record(m, k, () => layers[m.layer].zeroGrad());
    } else if (m.op === 'step') {
      record(m, k, () => optimizers[m.layer].step());
    } else if (m.op === 'stepAsync') {
      record(m, k, () => optimizers[m.layer].stepAsync());
    } else if (m.op === 'gc') {
      globalThis.gc();
    } else {
      await Promise.all(pending.splice(0));
    }
  }
  await Promise.all(pending.splice(0));
  globalThis.gc();
}
report({ backend: nn.getBackend(), sequences: sequences.length, tally, bad: bad.slice(0, 10) });
`;

describe('fuzz: random sequences of transfers, resizes, aliases, mutations and calls', () => {
  it('never kill the process; every move succeeds or throws a TypeError, RangeError, Error or DataCloneError', () => {
    // Each run draws a seed; the child gets the 60 sequences fast-check samples from it (so a
    // failure is reported as a seed, and the moves leading to it, not as 60 sequences).
    const batch = fc.array(move, { minLength: 1, maxLength: 25 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const sequences = fc.sample(batch, { seed, numRuns: 60 });
        const run = runChild(FUZZ_RUNNER, { input: JSON.stringify(sequences) });
        // On a crash, the last move started is the culprit (stdout is synchronous on Linux pipes).
        const moves = run.stdout.split('\n').filter((l) => l.startsWith('MOVE '));
        const context = `last moves:\n${moves.slice(-8).join('\n')}\n--- stderr ---\n${tail(run.stderr)}`;
        expect(run.timedOut, `the child hung; ${context}`).toBe(false);
        expect(run.signal, `the child died by a signal; ${context}`).toBeNull();
        expect(run.status, `the child exited with ${run.status}; ${context}\n${tail(run.stdout.split('\n').filter((l) => !l.startsWith('MOVE ')).join('\n'))}`).toBe(0);
        const result = run.result as { backend: string; sequences: number; bad: unknown[] };
        expect(result.backend).toBe(backend);
        expect(result.sequences).toBe(sequences.length);
        expect(result.bad, 'moves that threw something else').toEqual([]);
      }),
      { numRuns: 6, seed: 1717, endOnFailure: true },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Found by an adversarial review of the first fix: each of these crashed it (native), or left a
// layer's gradient holding rows outside the table.

const REVIEW_SCENARIO = `
const results = {};
const isNative = nn.getBackend() === 'native';
// A layer's async backward writes its grad on a pool thread while a synchronous forward of another
// layer takes a view of that grad as indices (checked, then read again by the kernel).
{
  const a = new nn.Embedding(16, 1), b = new nn.Embedding(16, 1);
  a.backward(new Int32Array(1), new Float32Array(1));
  a.grad.fill(0);
  const n = isNative ? 4_000_000 : 200_000;
  const g = Float32Array.from({ length: n }, (_, i) => (i & 1 ? -1e30 : 1e30));
  const p = a.backwardAsync(new Int32Array(n), g);
  const ix = new Int32Array(a.grad.buffer, 0, 1);
  const out = new Float32Array(1);
  let ok = 0, rangeErrors = 0, other = null;
  const t0 = Date.now();
  while (Date.now() - t0 < 600) {
    try { b.forward(ix, out); ok++; } catch (e) { if (e instanceof RangeError) rangeErrors++; else { other = errorInfo(e); break; } }
  }
  await p;
  results.viewOfAsyncWrites = { ok, rangeErrors, other };
}
// An own 'resizable' property cannot hide a resizable buffer.
{
  const rab = new ArrayBuffer(4 * 64 * 10, { maxByteLength: 4 * 64 * 20 });
  Object.defineProperty(rab, 'resizable', { value: false });
  results.spoofedResizable = await outcome(start(() => nn.Embedding.fromPretrained(new Float32Array(rab), 64).forwardAsync([1])));
}
// A copy made for an async call obeys no Symbol.species: changing the array afterwards changes nothing.
{
  const e = new nn.Embedding(10, 2, { sparse: true, seed: 1 });
  const ix = Int32Array.of(1, 2);
  ix.constructor = { [Symbol.species]: function () { return ix; } };
  const p = e.backwardAsync(ix, new Float32Array(4).fill(1));
  ix[0] = 500_000_000;
  await p;
  results.speciesRows = Array.from(e.sparseGrad.indices);
}
report({ backend: nn.getBackend(), results });
`;

const RAW_REVIEW_SCENARIO = `
const addon = require(${JSON.stringify(path.join(root, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(root)});
nn.getBackend(); // the package loads the addon and installs its transfer guard
const K = addon.kernels('').async;
const results = {};
// JavaScript overwrites coalesce's outRows while the job runs (its last loop reads them back).
{
  const rows = 1000, dim = 64, n = 1_000_000;
  const indices = Int32Array.from({ length: n }, (_, i) => i % rows);
  const outRows = new Uint32Array(n);
  const p = outcome(K.coalesce(indices, dim, new Float32Array(n * dim).fill(1), null, 0, null, -1, new Int32Array(rows).fill(-1), outRows, new Float32Array(n * dim)));
  const t0 = Date.now();
  while (Date.now() - t0 < 300) outRows.fill(0x7ffffff0, 0, rows);
  results.coalesceOverwritten = await p;
}
// An output holder whose setter throws: the promise rejects with that error (not an uncaught one).
{
  const holder = new Proxy({}, { set() { throw new Error('no thanks'); } });
  results.throwingHolder = await outcome(K.gather(new Float32Array(64).fill(1), 8, Int32Array.of(1, 2), holder));
}
// The transfer guard cannot be replaced once the package installed it.
try { addon.setTransferGuard(() => {}); results.replaceGuard = 'accepted'; } catch (e) { results.replaceGuard = errorInfo(e); }
// A getter on ArrayBuffer.prototype changed after setup is not what the binding asks.
{
  const original = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable');
  Object.defineProperty(ArrayBuffer.prototype, 'resizable', { configurable: true, get() { return false; } });
  const rab = new ArrayBuffer(4 * 64 * 10, { maxByteLength: 4 * 64 * 20 });
  try { results.patchedGetter = await outcome(start(() => K.gather(new Float32Array(rab), 64, Int32Array.of(1), new Float32Array(64)))); }
  finally { Object.defineProperty(ArrayBuffer.prototype, 'resizable', original); }
}
report(results);
`;

describe('review findings', () => {
  it('a view of an array an async call writes, used as indices; a spoofed resizable flag; Symbol.species copies', () => {
    const { backend: childBackend, results } = expectSurvived<{
      backend: string;
      results: {
        viewOfAsyncWrites: { ok: number; rangeErrors: number; other: ErrorInfo | null };
        spoofedResizable: { ok: boolean; error: ErrorInfo | null };
        speciesRows: number[];
      };
    }>(runChild(REVIEW_SCENARIO, { timeout: 30_000 }));
    expect(childBackend).toBe(backend);
    expect(results.viewOfAsyncWrites.other).toBeNull();
    expect(results.viewOfAsyncWrites.ok + results.viewOfAsyncWrites.rangeErrors).toBeGreaterThan(0);
    expect(results.spoofedResizable.ok).toBe(false);
    expect(results.spoofedResizable.error!.ctor).toBe('TypeError');
    expect(results.spoofedResizable.error!.message).toMatch(/resizable/);
    expect(results.speciesRows).toEqual([1, 2]);
  });

  it.runIf(native)('the raw addon: outRows overwritten mid-coalesce; the guard not replaceable; a patched getter', () => {
    const results = expectSurvived<{
      coalesceOverwritten: { ok: boolean };
      replaceGuard: ErrorInfo | string;
      throwingHolder: { ok: boolean; error: ErrorInfo | null };
      patchedGetter: { ok: boolean; error: ErrorInfo | null };
    }>(runChild(RAW_REVIEW_SCENARIO, { timeout: 30_000 }));
    expect(typeof results.coalesceOverwritten.ok).toBe('boolean');
    expect(results.replaceGuard).toMatchObject({ message: expect.stringMatching(/already set/) });
    expect(results.throwingHolder).toMatchObject({ ok: false, error: { message: 'no thanks' } });
    expect(results.patchedGetter.ok).toBe(false);
    expect(results.patchedGetter.error!.message).toMatch(/resizable/);
  });
});

// The nearest-rows kernels called raw with near-valid arguments, each mutated at random (lengths,
// k, rows, metric, dtype against the array type, garbage queryRows and exclude, short invNorms),
// synchronously and asynchronously with JavaScript writing the read-only arrays mid-call: every
// call returns -1 or throws a TypeError or RangeError, and the process survives.
const NEAREST_SCENARIO = `
const addon = require(${JSON.stringify(path.join(root, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(root)});
nn.getBackend();
const K = addon.kernels('');
let seed = 12345;
const rand = (n) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed % n; };
const pick = (...choices) => choices[rand(choices.length)];
const counts = { ok: 0, TypeError: 0, RangeError: 0, other: [] };
const note = (e) => { if (e instanceof TypeError) counts.TypeError++; else if (e instanceof RangeError) counts.RangeError++; else counts.other.push(String(e)); };
const pending = [];
for (let n = 0; n < 4000; n++) {
  const dim = pick(1, 3, 8, 17);
  const rows = pick(0, 1, 5, 40);
  const q = pick(0, 1, 3);
  const k = pick(1, 5, 40);
  // Well-formed first; then each argument replaced by a bad value with probability 1/8.
  const args = [new Float32Array(rows * dim), 0, dim, rows, new Float32Array(q * dim), k, pick(0, 1, 2), new Float64Array(rows),
    Int32Array.from({ length: q }, () => rand(2 ** 31) - 2 ** 30), Int32Array.from({ length: 5 }, () => rand(100) - 50),
    new Int32Array(q * k), new Float32Array(q * k)];
  const bad = [
    () => pick(new Float32Array(rows * dim + 1), new Uint16Array(rows * dim), new Uint8Array(rows * (dim + 8)), null),
    () => pick(1, 2, 3, 4, 5, -1, 0.5), () => pick(0, -dim, 2 ** 53, dim + 1), () => pick(rows + 1, -1, 2 ** 40, 2 ** 31),
    () => pick(new Float32Array(q * dim + 1), new Float64Array(q * dim)), () => pick(0, 2 ** 31, -1, 1.5, NaN, k + 1),
    () => pick(3, -1, 1.5), () => pick(null, new Float64Array(Math.max(0, rows - 1)), new Float64Array(rows).fill(NaN)),
    () => pick(null, new Int32Array(q + 1)), () => pick(null, new Int32Array(0), new Uint32Array(3)),
    () => pick(new Int32Array(q * k + 1), new Int32Array(0)), () => pick(new Float32Array(Math.max(0, q * k - 1)), null),
  ];
  for (let i = 0; i < args.length; i++) if (rand(8) === 0) args[i] = bad[i]();
  const mode = rand(3);
  try {
    if (mode === 0) { K.nearestRows(...args); counts.ok++; }
    else if (mode === 1) { K.rowInverseNorms(args[0], args[1], args[2], pick(0, 1, rows, -1), pick(new Float64Array(rows), new Float64Array(rows + 1))); counts.ok++; }
    else {
      const p = K.async.nearestRows(...args);
      for (const a of [args[7], args[8], args[9]]) if (a) a.fill(pick(-1, 2 ** 30, NaN, 7));
      pending.push(p.then(() => counts.ok++, note));
    }
  } catch (e) { note(e); }
}
await Promise.all(pending);
report(counts);
`;

describe.runIf(native)('the nearest-rows kernels with near-valid arguments', () => {
  it('return -1 or throw a TypeError or RangeError; the process survives', () => {
    const counts = expectSurvived<{ ok: number; TypeError: number; RangeError: number; other: string[] }>(runChild(NEAREST_SCENARIO, { timeout: 60_000 }));
    expect(counts.other).toEqual([]);
    expect(counts.ok).toBeGreaterThan(100);
    expect(counts.RangeError).toBeGreaterThan(100);
  });
});

// The word2vec binary record kernel called raw with near-valid arguments, each mutated at random
// (start past the bytes, maxRecords past the table or the offset arrays, rowOffset, dim, short out,
// bytes overlapping the table), synchronously and asynchronously with JavaScript writing the bytes
// and the table mid-call: every call returns a count or throws a TypeError or RangeError, and the
// process survives.
const BINARY_RECORDS_SCENARIO = `
const addon = require(${JSON.stringify(path.join(root, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(root)});
nn.getBackend();
const K = addon.kernels('');
let seed = 4242;
// The high bits of the generator: its low bits repeat with short periods.
const rand = (n) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return Math.floor((seed / 2 ** 32) * n); };
const pick = (...choices) => choices[rand(choices.length)];
const counts = { ok: 0, TypeError: 0, RangeError: 0, other: [] };
const note = (e) => { if (e instanceof TypeError) counts.TypeError++; else if (e instanceof RangeError) counts.RangeError++; else counts.other.push(String(e)); };
const pending = [];
for (let n = 0; n < 4000; n++) {
  const dim = pick(1, 2, 5);
  const records = pick(0, 1, 4, 9);
  const bytes = new Uint8Array(pick(0, 3, 20, 200));
  for (let i = 0; i < bytes.length; i++) bytes[i] = pick(32, 97, 10, 0, 0x7f, 0xff, rand(256));
  const table = new Float32Array(records * dim + pick(0, 0, 3));
  const args = [bytes, 0, pick(0, 4, 65536), dim, table, 0, records, new Int32Array(records), new Int32Array(records), new Float64Array(4)];
  const bad = [
    () => pick(new Uint8Array(table.buffer), new Int8Array(8), null, new Float32Array(2)), () => pick(bytes.length + 1, -1, 2 ** 53, 0.5, NaN),
    () => pick(-1, 2 ** 31, 1.5), () => pick(0, -1, 2 ** 40, 2 ** 53), () => pick(new Float32Array(0), new Float64Array(9), null),
    () => pick(table.length + 1, -1, table.length, 2 ** 53), () => pick(records + 1, 2 ** 31, -1, 2 ** 53),
    () => pick(new Int32Array(0), new Uint32Array(records), null), () => pick(new Int32Array(Math.max(0, records - 1)), null),
    () => pick(new Float64Array(3), new Float32Array(4), null),
  ];
  for (let i = 0; i < args.length; i++) if (rand(8) === 0) args[i] = bad[i]();
  try {
    if (rand(2) === 0) { K.word2vecBinaryRecords(...args); counts.ok++; }
    else {
      const p = K.async.word2vecBinaryRecords(...args);
      if (args[0] && args[0].fill) args[0].fill(pick(32, 0, 0xff));
      if (args[4] && args[4].fill) args[4].fill(NaN);
      pending.push(p.then(() => counts.ok++, note));
    }
  } catch (e) { note(e); }
}
await Promise.all(pending);
report(counts);
`;

describe.runIf(native)('the word2vec binary record kernel with near-valid arguments', () => {
  it('returns a count or throws a TypeError or RangeError; the process survives', () => {
    const counts = expectSurvived<{ ok: number; TypeError: number; RangeError: number; other: string[] }>(runChild(BINARY_RECORDS_SCENARIO, { timeout: 60_000 }));
    expect(counts.other).toEqual([]);
    expect(counts.ok).toBeGreaterThan(100);
    expect(counts.RangeError).toBeGreaterThan(100);
  });
});

// parseTextLines called raw with near-valid arguments, each mutated at random (start, end, rows,
// dim, array lengths, limits), on texts of random bytes and of lines, synchronously and
// asynchronously with JavaScript overwriting the text (its newlines too) and the outputs mid-call:
// every call returns a count or throws a TypeError or RangeError, and the process survives.
const PARSE_TEXT_SCENARIO = `
const addon = require(${JSON.stringify(path.join(root, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(root)});
nn.getBackend();
nn.setNumThreads(2);
const K = addon.kernels('');
let seed = 4321;
const rand = (n) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed % n; };
const pick = (...choices) => choices[rand(choices.length)];
const counts = { ok: 0, TypeError: 0, RangeError: 0, other: [] };
const note = (e) => { if (e instanceof TypeError) counts.TypeError++; else if (e instanceof RangeError) counts.RangeError++; else counts.other.push(String(e)); };
const alphabet = Buffer.from('0123456789 .-+eE\\t\\r\\nw');
const lines = (n, dim) => Buffer.from(Array.from({ length: n }, (_, i) => 'w' + i + ' ' + Array.from({ length: dim }, () => (rand(2000) - 1000) / 7).join(' ')).join('\\n') + '\\n');
const pending = [];
for (let n = 0; n < 3000; n++) {
  const dim = pick(1, 3, 8);
  const rows = pick(0, 1, 5, 40, 3000);
  const text = pick(0, 1) === 0 ? lines(rows, dim) : Buffer.from(Array.from({ length: rand(4000) }, () => alphabet[rand(alphabet.length)]));
  const args = [text, 0, text.length, new Float32Array((rows + 2) * dim), 2, dim, rows, 1 << 16, 1 << 20, new Int32Array(rows), new Int32Array(rows)];
  const bad = [
    () => pick(new Uint16Array(4), null, 'text'), () => pick(-1, text.length + 1, 0.5, 2 ** 53), () => pick(text.length + 1, -1, 2 ** 31, NaN),
    () => pick(new Float32Array(Math.max(0, (rows + 2) * dim - 1)), new Float64Array(4), null), () => pick(-1, 3, 2 ** 52),
    () => pick(0, -1, 2 ** 40), () => pick(rows + 1, -1, 2 ** 31), () => pick(0, -1), () => pick(0, 1, -1),
    () => pick(new Int32Array(Math.max(0, rows - 1)), new Uint32Array(rows)), () => pick(new Int32Array(Math.max(0, rows - 1)), null),
  ];
  for (let i = 0; i < args.length; i++) if (rand(10) === 0) args[i] = bad[i]();
  try {
    if (rand(2) === 0) {
      const result = K.parseTextLines(...args);
      if (!Number.isInteger(result)) counts.other.push('result ' + result);
      counts.ok++;
    } else {
      const p = K.async.parseTextLines(...args);
      if (Buffer.isBuffer(args[0])) args[0].fill(pick(48, 32, 10, 0));
      for (const a of [args[3], args[9], args[10]]) if (a && a.fill) a.fill(pick(-1, 2 ** 30, 7));
      pending.push(p.then(() => counts.ok++, note));
    }
  } catch (e) { note(e); }
}
await Promise.all(pending);
report(counts);
`;

describe.runIf(native)('the parseTextLines kernel with near-valid arguments and text changed mid-call', () => {
  it('returns a count or throws a TypeError or RangeError; the process survives', () => {
    const counts = expectSurvived<{ ok: number; TypeError: number; RangeError: number; other: string[] }>(runChild(PARSE_TEXT_SCENARIO, { timeout: 60_000 }));
    expect(counts.other).toEqual([]);
    expect(counts.ok).toBeGreaterThan(100);
    expect(counts.RangeError).toBeGreaterThan(100);
  });
});

// countRecords called raw with near-valid arguments, each mutated at random, synchronously and
// asynchronously with JavaScript overwriting the text mid-call: every call returns a count or
// throws a TypeError or RangeError, and the process survives.
const COUNT_RECORDS_SCENARIO = `
const addon = require(${JSON.stringify(path.join(root, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(root)});
nn.getBackend();
nn.setNumThreads(2);
const K = addon.kernels('');
let seed = 8765;
const rand = (n) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed % n; };
const pick = (...choices) => choices[rand(choices.length)];
const counts = { ok: 0, TypeError: 0, RangeError: 0, other: [] };
const note = (e) => { if (e instanceof TypeError) counts.TypeError++; else if (e instanceof RangeError) counts.RangeError++; else counts.other.push(String(e)); };
const alphabet = Buffer.from('ab \\t\\r\\n\\n');
const pending = [];
for (let n = 0; n < 2000; n++) {
  const length = pick(0, 1, 100, 5000, 3 << 20);
  const text = Buffer.from(Array.from({ length: Math.min(length, 5000) }, () => alphabet[rand(alphabet.length)]));
  const big = length > 5000 ? Buffer.alloc(length, text.length > 0 ? text : Buffer.from('a\\n')) : text;
  const args = [big, rand(big.length + 1), big.length, rand(2), pick(0, 5, Number.MAX_SAFE_INTEGER)];
  args[1] = Math.min(args[1], args[2]);
  const bad = [
    () => pick(new Uint16Array(4), null, 'text'), () => pick(-1, big.length + 1, 0.5, 2 ** 53), () => pick(big.length + 1, -1, NaN, args[1] - 1),
    () => pick(2, -1, 0.5, true), () => pick(-1, Infinity, NaN),
  ];
  for (let i = 0; i < args.length; i++) if (rand(8) === 0) args[i] = bad[i]();
  try {
    if (rand(2) === 0) {
      const result = K.countRecords(...args);
      if (!Number.isInteger(result) || result < 0) counts.other.push('result ' + result);
      counts.ok++;
    } else {
      const p = K.async.countRecords(...args);
      if (Buffer.isBuffer(args[0])) args[0].fill(pick(10, 32, 97, 0));
      pending.push(p.then(() => counts.ok++, note));
    }
  } catch (e) { note(e); }
}
await Promise.all(pending);
report(counts);
`;

describe.runIf(native)('the countRecords kernel with near-valid arguments and text changed mid-call', () => {
  it('returns a count or throws a TypeError or RangeError; the process survives', () => {
    const counts = expectSurvived<{ ok: number; TypeError: number; RangeError: number; other: string[] }>(runChild(COUNT_RECORDS_SCENARIO, { timeout: 60_000 }));
    expect(counts.other).toEqual([]);
    expect(counts.ok).toBeGreaterThan(100);
    expect(counts.RangeError).toBeGreaterThan(50);
  });
});

// populateBackward (the loaders' fault-in of a fresh table) on buffers that JavaScript transfers,
// drops or fills while it runs, and on odd arguments: every call returns { done, stop } or throws
// a TypeError, each done resolves, and the process survives.
const POPULATE_SCENARIO = `
const addon = require(${JSON.stringify(path.join(root, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(root)});
let seed = 99;
const rand = (n) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed % n; };
const counts = { ok: 0, TypeError: 0, RangeError: 0, other: [] };
const pending = [];
for (let n = 0; n < 300; n++) {
  let buffer = rand(2) === 0 ? addon.allocateZeroed([0, 4096, 3 << 20, 9 << 20][rand(4)]) : new ArrayBuffer([0, 100, 5 << 20][rand(3)]);
  try {
    const job = addon.populateBackward(rand(20) === 0 ? [null, 'x', new Uint8Array(8), {}][rand(4)] : buffer);
    pending.push(job.done.then((r) => { if (!Number.isInteger(r) || r < -1) counts.other.push('result ' + r); counts.ok++; }, (e) => counts.other.push(String(e))));
    const what = rand(4);
    if (what === 0) { try { structuredClone(buffer, { transfer: [buffer] }); } catch {} }
    else if (what === 1) new Uint8Array(buffer).fill(7);
    else if (what === 2) job.stop();
    buffer = null;
    if (rand(10) === 0) globalThis.gc?.();
  } catch (e) { if (e instanceof TypeError) counts.TypeError++; else counts.other.push(String(e)); }
}
await Promise.all(pending);
report(counts);
`;

describe.runIf(native)('populateBackward with buffers transferred, filled or dropped while it runs', () => {
  it('resolves every call or throws a TypeError; the process survives', () => {
    const counts = expectSurvived<{ ok: number; TypeError: number; RangeError: number; other: string[] }>(runChild(POPULATE_SCENARIO, { timeout: 60_000 }));
    expect(counts.other).toEqual([]);
    expect(counts.ok).toBeGreaterThan(200);
    expect(counts.TypeError).toBeGreaterThan(0);
  });
});

// addDistinctWords called raw with near-valid arguments, each mutated at random (offsets outside
// the chunk, counts past the offset or word-end arrays, used past the bytes, slot tables of other
// lengths, tables corrupted beforehand: record numbers and word ends out of range, no empty slot),
// synchronously and asynchronously with JavaScript writing the slots, the word ends and the chunk
// mid-call: every call returns a count or throws a TypeError or RangeError, and the process survives.
const ADD_WORDS_SCENARIO = `
const addon = require(${JSON.stringify(path.join(root, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(root)});
nn.getBackend();
const K = addon.kernels('');
let seed = 1818;
const rand = (n) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return Math.floor((seed / 2 ** 32) * n); };
const pick = (...choices) => choices[rand(choices.length)];
const counts = { ok: 0, TypeError: 0, RangeError: 0, corrupt: 0, other: [] };
const note = (e) => { if (e instanceof TypeError) counts.TypeError++; else if (e instanceof RangeError) counts.RangeError++; else counts.other.push(String(e)); };
const pending = [];
for (let n = 0; n < 4000; n++) {
  const words = pick(0, 1, 5, 40, 300);
  const chunk = new Uint8Array(words * 4);
  for (let i = 0; i < chunk.length; i++) chunk[i] = pick(97, 98, 32, 0xff, rand(256));
  const starts = Int32Array.from({ length: words }, (_, i) => 4 * i);
  const ends = Int32Array.from({ length: words }, (_, i) => 4 * i + rand(4));
  const slotCount = pick(1, 2, 16, 512);
  const slots = new Int32Array(2 * slotCount);
  const wordEnds = new Int32Array(words + pick(0, 0, 3));
  const wordBytes = new Uint8Array(pick(0, 7, 64, 4096));
  // A corrupt table beforehand: entries anywhere, claiming words that are not there.
  const known = pick(0, 0, 2, 7);
  const used = Math.min(wordBytes.length, known * 3);
  if (rand(2) === 0) for (let s = 0; s < slots.length; s++) slots[s] = pick(0, 1, 2, known, known + 1, -1, 2 ** 31 - 1, rand(2 ** 16));
  if (rand(2) === 0) wordEnds.fill(pick(-1, 0, used, used + 1, 2 ** 31 - 1));
  const args = [chunk, starts, ends, words, wordBytes, used, wordEnds, Math.min(known, wordEnds.length), slots, 32, new Float64Array(5)];
  const bad = [
    () => pick(new Uint8Array(0), new Uint16Array(4), null, new Uint8Array(wordBytes.buffer)), () => pick(Int32Array.of(-1, 0), Int32Array.from(ends, (e) => e + 5), new Uint32Array(words), null),
    () => pick(Int32Array.from(starts, (s) => s - 1), Int32Array.of(2 ** 31 - 1), new Int32Array(words > 0 ? words - 1 : 0), new Int32Array(wordEnds.buffer)),
    () => pick(words + 1, -1, 2 ** 31, 2 ** 53, 0.5), () => pick(new Uint8Array(0), new Int8Array(4), new Uint8Array(chunk.buffer), null),
    () => pick(wordBytes.length + 1, -1, 2 ** 31, NaN), () => pick(new Int32Array(0), new Int32Array(slots.buffer), new Float32Array(words), null),
    () => pick(wordEnds.length + 1, -1, 2 ** 31, wordEnds.length), () => pick(new Int32Array(6), new Int32Array(0), new Int32Array(1), new Uint32Array(8), null),
    () => pick(256, -1, 0.5, 2 ** 53), () => pick(new Float64Array(4), new Float32Array(5), null),
  ];
  for (let i = 0; i < args.length; i++) if (rand(10) === 0) args[i] = bad[i]();
  try {
    if (rand(2) === 0) {
      const result = K.addDistinctWords(...args);
      if (!Number.isInteger(result)) counts.other.push('result ' + result);
      if (args[10] && args[10][0] === 3) counts.corrupt++;
      counts.ok++;
    } else {
      const p = K.async.addDistinctWords(...args);
      for (const a of [args[6], args[8]]) if (a && a.fill) a.fill(pick(-1, 0, 1, 2 ** 30, 7));
      if (args[0] && args[0].fill) args[0].fill(pick(97, 0, 0xff));
      pending.push(p.then((result) => { if (!Number.isInteger(result)) counts.other.push('result ' + result); counts.ok++; }, note));
    }
  } catch (e) { note(e); }
}
await Promise.all(pending);
report(counts);
`;

describe.runIf(native)('the addDistinctWords kernel with near-valid arguments, corrupt tables, and tables changed mid-call', () => {
  it('returns a count or throws a TypeError or RangeError; the process survives', () => {
    const counts = expectSurvived<{ ok: number; TypeError: number; RangeError: number; corrupt: number; other: string[] }>(runChild(ADD_WORDS_SCENARIO, { timeout: 60_000 }));
    expect(counts.other).toEqual([]);
    expect(counts.ok).toBeGreaterThan(100);
    expect(counts.corrupt).toBeGreaterThan(50);
    expect(counts.RangeError).toBeGreaterThan(100);
  });
});
