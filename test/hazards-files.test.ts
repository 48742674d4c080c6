// Issue 17, the file and state cases: mapping more than buffer.constants.MAX_LENGTH bytes (was a
// double free, SIGABRT), readers given a FIFO or another non-regular file (blocked forever), and
// a loadStateDict that failed halfway (changed state, then threw a raw TypeError). What could
// crash or hang runs in a child process against the built dist/ (npm test builds it first): a
// signal or a timeout fails the test, not the runner. Big files are sparse (a header, then
// ftruncate): they take no disk, and nothing reads their holes.
import { execFileSync, spawnSync } from 'node:child_process';
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { Adam, Embedding, type OptimizerStateDict, getBackend } from '../src/index.js';

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const backend = getBackend();
const MAX_LENGTH = bufferConstants.MAX_LENGTH;
const dir = mkdtempSync(path.join(os.tmpdir(), 'nne-hazards-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `code` in a fresh Node with this test's backend; `timeout` ms before it is killed. */
function child(code: string, timeout = 20_000) {
  const started = Date.now();
  const result = spawnSync(process.execPath, ['-e', code], { cwd: root, timeout, env: { ...process.env }, encoding: 'utf8' });
  return { status: result.status, signal: result.signal, stdout: result.stdout.trim(), stderr: result.stderr, ms: Date.now() - started };
}

/** The child's last stdout line as JSON, after checking it ended by itself, cleanly. */
function report(result: ReturnType<typeof child>): Record<string, unknown> {
  expect(result.signal, `the child was killed (a crash, or a hang until the timeout); stderr: ${result.stderr}`).toBeNull();
  expect(result.status, `stderr: ${result.stderr}`).toBe(0);
  const parsed = JSON.parse(result.stdout.split('\n').pop()!) as Record<string, unknown>;
  expect(parsed.backend).toBe(backend);
  return parsed;
}

/** Child preamble: the package, and `settle(promise)` giving { ok } or { name, message }. */
const preamble = `
  const nn = require(${JSON.stringify(path.join(dist, 'index.js'))});
  const settle = (p) => Promise.resolve().then(() => p).then(
    (value) => ({ ok: true, value: value && value.shape ? value.shape : undefined }),
    (error) => ({ name: error.name, message: error.message }),
  );
`;

/** A sparse file: `header`, then zeros up to `size` bytes. */
function sparseFile(name: string, header: Uint8Array, size: number): string {
  const file = path.join(dir, name);
  const fd = openSync(file, 'w');
  writeSync(fd, header);
  ftruncateSync(fd, size);
  closeSync(fd);
  return file;
}

// 5 GiB of float32 data: over Node 20's MAX_LENGTH (2^32), far under it from Node 22 (2^53 - 1).
const DIM = 64;
const ROWS = (5 * 2 ** 30) / (4 * DIM);
const tooLarge = (size: number) => size > MAX_LENGTH;

function bigNpy(): { file: string; size: number } {
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${ROWS}, ${DIM}), }`;
  dict += ' '.repeat(128 - 10 - dict.length - 1) + '\n';
  const header = new Uint8Array(128);
  header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(header.buffer).setUint16(8, dict.length, true);
  header.set(Buffer.from(dict, 'latin1'), 10);
  const size = 128 + ROWS * DIM * 4;
  return { file: sparseFile('big.npy', header, size), size };
}

function bigSafetensors(): { file: string; size: number } {
  let json = JSON.stringify({ weight: { dtype: 'F32', shape: [ROWS, DIM], data_offsets: [0, ROWS * DIM * 4] } });
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const header = new Uint8Array(8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(json.length), true);
  header.set(Buffer.from(json, 'utf8'), 8);
  const size = header.length + ROWS * DIM * 4;
  return { file: sparseFile('big.safetensors', header, size), size };
}

const limitMessage = (file: string, size: number) =>
  `${file}: the file is ${size} bytes, more than the ${MAX_LENGTH} bytes one buffer can hold in this Node.js ` +
  `(buffer.constants.MAX_LENGTH), so it can be neither mapped nor read whole`;

describe(`A: more than buffer.constants.MAX_LENGTH bytes (${backend} backend)`, () => {
  it.runIf(tooLarge(128 + ROWS * DIM * 4))('readNpy of a 5 GiB file: a RangeError naming the file, its size and the limit; no signal', () => {
    const { file, size } = bigNpy();
    const result = child(`${preamble}
      settle(nn.readNpy(${JSON.stringify(file)})).then((r) => console.log(JSON.stringify({ backend: nn.getBackend(), r })));
    `);
    const { r } = report(result);
    expect(r).toEqual({ name: 'RangeError', message: limitMessage(file, size) });
  });

  it.runIf(tooLarge(128 + ROWS * DIM * 4))('loadEmbedding (and openSafetensors) of a 5 GiB safetensors file: the same RangeError; no signal', () => {
    const { file, size } = bigSafetensors();
    const result = child(`${preamble}
      Promise.all([settle(nn.loadEmbedding(${JSON.stringify(file)})), settle(nn.openSafetensors(${JSON.stringify(file)}))])
        .then((r) => console.log(JSON.stringify({ backend: nn.getBackend(), r })));
    `);
    const { r } = report(result);
    expect(r).toEqual([
      { name: 'RangeError', message: limitMessage(file, size) },
      { name: 'RangeError', message: limitMessage(file, size) },
    ]);
  });

  // The TypeScript backend always allocated an ordinary Float32Array; the native one asked the addon.
  it.runIf(backend === 'native' && tooLarge(2 ** 33))('a table of 2^31 + 1 floats (allocateTable, the word-vector loaders\' allocator): a zeroed, writable Float32Array; no signal', () => {
    const result = child(`${preamble}
      const { allocateTable } = require(${JSON.stringify(path.join(dist, 'io', 'files.js'))});
      const t = allocateTable(2 ** 31 + 1);
      const zero = t[0] === 0 && t[2 ** 30] === 0 && t[2 ** 31] === 0;
      t[2 ** 31] = 5;
      console.log(JSON.stringify({ backend: nn.getBackend(), length: t.length, zero, written: t[2 ** 31] }));
    `);
    expect(report(result)).toMatchObject({ length: 2 ** 31 + 1, zero: true, written: 5 });
  });

  // The addon itself, below the TypeScript guards: an Error, the mapping released exactly once
  // (by the runtime's finalizer: the process's address space shrinks back, and nothing aborts).
  it.runIf(backend === 'native' && tooLarge(2 ** 33))('addon.allocateZeroed(2**33) and addon.mapFile of a 5 GiB file: an Error, the mapping released once; no signal', () => {
    const { file } = bigNpy();
    const result = child(`${preamble}
      const fs = require('node:fs');
      const addon = require(${JSON.stringify(path.join(dist, 'backends', 'native.js'))}).loadAddon();
      const vm = () => Number(/VmSize:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      const attempt = (f) => { try { f(); return { returned: true }; } catch (e) { return { name: e.name, message: e.message }; } };
      const before = vm();
      const alloc = attempt(() => addon.allocateZeroed(2 ** 33));
      const map = attempt(() => addon.mapFile(${JSON.stringify(file)}));
      setTimeout(() => {
        const grown = vm() - before;
        console.log(JSON.stringify({ backend: nn.getBackend(), alloc, map, grownGiB: grown / 2 ** 30 }));
      }, 50);
    `);
    const { alloc, map, grownGiB } = report(result) as { alloc: { name: string; message: string }; map: { name: string; message: string }; grownGiB: number };
    expect(alloc.name).toMatch(/Error$/);
    expect(alloc.message).toMatch(/larger than|too large|cannot wrap/i);
    expect(map.name).toMatch(/Error$/);
    expect(map.message).toMatch(/larger than|too large|cannot wrap/i);
    expect(grownGiB, 'the 8 GiB and 5 GiB mappings were not released').toBeLessThan(4);
  });
});

describe(`B: FIFOs and other non-regular files are refused before they are opened (${backend} backend)`, () => {
  const fifo = path.join(dir, 'fifo.npy');
  const directory = path.join(dir, 'a-directory.npy');
  const socket = path.join(dir, 'socket.npy');
  execFileSync('mkfifo', [fifo]);
  mkdirSync(directory);

  const readers = `{
    readNpy: (f) => nn.readNpy(f),
    openSafetensors: (f) => nn.openSafetensors(f),
    loadEmbedding: (f) => nn.loadEmbedding(f),
    loadEmbeddingBag: (f) => nn.loadEmbeddingBag(f),
    loadWord2Vec: (f) => nn.loadWord2Vec(f),
    loadGloVe: (f) => nn.loadGloVe(f),
    loadFastText: (f) => nn.loadFastText(f),
    'Vocabulary.load': (f) => nn.Vocabulary.load(f),
  }`;

  it('every reader: a FIFO without a writer, a directory, a socket, a character device; an Error naming the path and what it is, at once', () => {
    const cases: [string, string][] = [
      [fifo, 'it is a FIFO (named pipe), not a regular file'],
      [directory, 'it is a directory, not a regular file'],
      [socket, 'it is a socket, not a regular file'],
      ['/dev/null', 'it is a character device, not a regular file'],
    ];
    const result = child(
      `${preamble}
      const server = require('node:net').createServer().listen(${JSON.stringify(socket)}, async () => {
        const readers = ${readers};
        const out = {};
        for (const file of ${JSON.stringify(cases.map(([file]) => file))}) {
          for (const [name, read] of Object.entries(readers)) out[name + ' ' + file] = await settle(read(file));
        }
        server.close();
        console.log(JSON.stringify({ backend: nn.getBackend(), out }));
      });
    `,
      8_000,
    );
    const { out } = report(result) as { out: Record<string, { name?: string; message?: string; ok?: boolean }> };
    for (const [file, what] of cases) {
      for (const name of ['readNpy', 'openSafetensors', 'loadEmbedding', 'loadEmbeddingBag', 'loadWord2Vec', 'loadGloVe', 'loadFastText', 'Vocabulary.load']) {
        const got = out[`${name} ${file}`]!;
        expect(got.ok, `${name}(${file}) resolved`).toBeUndefined();
        expect(got.message, `${name}(${file})`).toBe(`${file}: cannot open: ${what}`);
      }
    }
    expect(result.ms).toBeLessThan(8_000);
  });

  it.runIf(backend === 'native')('addon.mapFile of a FIFO: an Error naming what it is, without waiting for a writer', () => {
    const result = child(
      `${preamble}
      const addon = require(${JSON.stringify(path.join(dist, 'backends', 'native.js'))}).loadAddon();
      let r;
      try { addon.mapFile(${JSON.stringify(fifo)}); r = { returned: true }; } catch (e) { r = { name: e.name, message: e.message }; }
      console.log(JSON.stringify({ backend: nn.getBackend(), r }));
    `,
      8_000,
    );
    expect(report(result).r).toEqual({ name: 'Error', message: 'it is a FIFO (named pipe), not a regular file' });
  });
});

describe(`C: a failed loadStateDict changes nothing (${backend} backend)`, () => {
  /** A two-table Adam after one step (so both tables have step 1 and both moments). */
  function trainedAdam(): Adam {
    const tables = [new Embedding(4, 2, { seed: 1 }), new Embedding(3, 2, { seed: 2 })];
    const optimizer = new Adam(tables, { lr: 0.1 });
    tables[0]!.backward([1, 3], new Float32Array([1, 2, 3, 4]));
    tables[1]!.backward([2], new Float32Array([5, 6]));
    optimizer.step();
    return optimizer;
  }

  /** The state as bits: steps, buffer names, and every value's bit pattern (NaN payloads included). */
  function bits(dict: OptimizerStateDict): unknown {
    return dict.tables.map((t) => ({
      step: t.step,
      buffers: Object.fromEntries(Object.entries(t.buffers).map(([name, b]) => [name, Array.from(new Uint32Array(b.buffer, b.byteOffset, b.length))])),
    }));
  }

  /** A state dict whose table 0 differs from the optimizer's (step 7, other moments). */
  function withTable0Changed(good: OptimizerStateDict, table1: unknown): OptimizerStateDict {
    const t0 = { step: 7, buffers: { expAvg: new Float32Array(8).fill(3), expAvgSq: new Float32Array(8).fill(4) } };
    return { ...good, tables: [t0, table1] } as OptimizerStateDict;
  }

  function expectRefusedUnchanged(optimizer: Adam, dict: unknown, type: typeof TypeError | typeof RangeError, message: RegExp): void {
    const before = bits(optimizer.stateDict());
    let thrown: unknown = null;
    try {
      optimizer.loadStateDict(dict as OptimizerStateDict);
    } catch (error) {
      thrown = error;
    }
    expect(thrown, 'loadStateDict did not throw').toBeInstanceOf(type);
    expect((thrown as Error).message).toMatch(message);
    expect(bits(optimizer.stateDict()), 'the failed call changed the state').toEqual(before);
  }

  it("the issue's dict (a table without buffers) loads whole: steps 7 and 99, no moments; no TypeError halfway", () => {
    const optimizer = trainedAdam();
    optimizer.loadStateDict({ optimizer: 'Adam', options: {}, tables: [{ step: 7, buffers: {} }, { step: 99 }] } as unknown as OptimizerStateDict);
    expect(optimizer.stateDict().tables).toEqual([
      { step: 7, buffers: {} },
      { step: 99, buffers: {} },
    ]);
  });

  it('tables[1].buffers that is not a plain object: a TypeError naming it, table 0 untouched', () => {
    const optimizer = trainedAdam();
    const good = optimizer.stateDict();
    for (const buffers of [5, 'expAvg', [new Float32Array(6)], null, new Map()]) {
      expectRefusedUnchanged(optimizer, withTable0Changed(good, { step: 3, buffers }), TypeError, /Adam\.loadStateDict: tables\[1\]\.buffers must be a plain object/);
    }
  });

  it('tables[1] that is not an object: a TypeError naming it, table 0 untouched', () => {
    const optimizer = trainedAdam();
    const good = optimizer.stateDict();
    for (const entry of [null, 7, 'x']) {
      expectRefusedUnchanged(optimizer, withTable0Changed(good, entry), TypeError, /Adam\.loadStateDict: tables\[1\] must be an object/);
    }
  });

  it('a buffer on a resizable ArrayBuffer or a growable SharedArrayBuffer is copied: shrinking it afterwards changes nothing', () => {
    const optimizer = trainedAdam();
    const good = optimizer.stateDict();
    // (lib es2022 does not know the options argument yet)
    const buffer = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer & { resize(n: number): void })(24, { maxByteLength: 48 });
    const expAvg = new Float32Array(buffer).fill(0.5);
    optimizer.loadStateDict(withTable0Changed(good, { step: 3, buffers: { expAvg, expAvgSq: new Float32Array(6) } }));
    buffer.resize(0);
    expect(Array.from(optimizer.stateDict().tables[1]!.buffers.expAvg!)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  });

  it('a detached buffer, or an array that is not a Float32Array: an error naming it, nothing changed', () => {
    const optimizer = trainedAdam();
    const good = optimizer.stateDict();
    const detached = new Float32Array(6);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expectRefusedUnchanged(optimizer, withTable0Changed(good, { step: 3, buffers: { expAvg: detached } }), RangeError, /tables\[1\]\.buffers\.expAvg must be a Float32Array of 6 values, got 0 \(its buffer is detached/);
    expectRefusedUnchanged(optimizer, withTable0Changed(good, { step: 3, buffers: { expAvgSq: new Float64Array(6) } }), TypeError, /tables\[1\]\.buffers\.expAvgSq must be a Float32Array of 6 values/);
  });

  it('each field is read once: a step getter that turns invalid after the check cannot be stored', () => {
    const optimizer = trainedAdam();
    const good = optimizer.stateDict();
    let reads = 0;
    const sly = {
      get step() {
        return reads++ === 0 ? 3 : -1;
      },
      buffers: {},
    };
    optimizer.loadStateDict({ ...good, tables: [good.tables[0]!, sly] } as OptimizerStateDict);
    expect(optimizer.stateDict().tables[1]!.step).toBe(3);
    expect(reads).toBe(1);
  });
});
