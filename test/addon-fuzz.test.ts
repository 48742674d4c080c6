// The raw addon, called directly with arbitrary arguments: it must never crash the process (this
// test process surviving is the first half of the assertion), and every call either returns a
// number (-1, or the position of the first bad index) or throws a TypeError or RangeError.
import { readFileSync } from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { KERNEL_NAMES } from '../src/backend.js';
import { type NativeAddon, loadAddon } from '../src/backends/native.js';
import { getBackend } from '../src/index.js';

/** ArrayBuffer's ES2024 constructor form (resizable), which this TypeScript lib does not declare. */
const ResizableArrayBuffer = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;

/** Shared by generated views, so that the arguments of one call may overlap. */
const pool = new ArrayBuffer(4 * 128);

const typedArray = fc.oneof(
  fc.integer({ min: 0, max: 70 }).map((n) => new Float32Array(n)),
  fc.integer({ min: 0, max: 70 }).map((n) => new Float32Array(n + 8).subarray(3, 3 + n)),
  fc.array(fc.integer({ min: -5, max: 80 }), { maxLength: 20 }).map((v) => Int32Array.from(v)),
  fc.array(fc.nat({ max: 80 }), { maxLength: 20 }).map((v) => Uint32Array.from(v)),
  fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 6 }).map((v) => BigInt64Array.from(v)),
  fc.integer({ min: 0, max: 16 }).map((n) => new Uint8Array(n)),
  fc.integer({ min: 0, max: 70 }).map((n) => new Uint16Array(n)),
  fc.integer({ min: 0, max: 8 }).map((n) => new Float64Array(n)),
  fc.constant(new Float32Array(new SharedArrayBuffer(64))),
  fc.array(fc.nat({ max: 12 }), { maxLength: 6 }).map((v) => Uint32Array.from(v.sort((a, b) => a - b))),
  fc.array(fc.double({ min: -2, max: 12, noNaN: true }), { maxLength: 12 }).map((v) => Float64Array.from(v)),
  // Over a resizable ArrayBuffer, and views into one pool, so that arguments alias each other.
  fc.integer({ min: 0, max: 70 }).map((n) => new Float32Array(new ResizableArrayBuffer(4 * n, { maxByteLength: 4 * n + 64 }))),
  fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 40 }), fc.constantFrom(0, 1, 2)).map(([offset, n, kind]) =>
    kind === 0 ? new Float32Array(pool, 4 * offset, n) : kind === 1 ? new Int32Array(pool, 4 * offset, n) : new Uint32Array(pool, 4 * offset, n),
  ),
);

const anyArgument = fc.oneof(
  typedArray,
  fc.integer({ min: -3, max: 70 }),
  fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, 2 ** 64, 1.5, NaN, Infinity, -Infinity, -0),
  fc.constantFrom(null, undefined, '', 'avx2', {}, [], () => 0, 7n, Symbol('x')),
  fc.anything(),
);

function detached(): Float32Array {
  const array = new Float32Array(16);
  structuredClone(array.buffer, { transfer: [array.buffer] });
  return array; // its buffer is detached: length 0
}

describe.runIf(getBackend() === 'native')('the raw addon survives anything', () => {
  const addon: NativeAddon = loadAddon();
  const kernels = addon.kernels('');
  // Every kernel (KERNEL_NAMES, which test/kernel-lists.test.ts checks against the addon's own
  // list), and kernels() itself.
  const functions: [string, (...args: unknown[]) => unknown][] = [
    ...KERNEL_NAMES.map((name): [string, (...args: unknown[]) => unknown] => [name, kernels[name] as never]),
    ['kernels', addon.kernels as never],
  ];

  for (const [name, fn] of functions) {
    it(`${name} with arbitrary arguments`, () => {
      fc.assert(
        fc.property(fc.array(anyArgument, { maxLength: 10 }), (args) => {
          try {
            const result = fn(...args);
            if (name === 'kernels') expect(typeof result).toBe('object');
            else expect(Number.isInteger(result)).toBe(true);
          } catch (error) {
            if (!(error instanceof TypeError || error instanceof RangeError || (name === 'kernels' && error instanceof Error))) {
              throw error;
            }
          }
        }),
        { numRuns: 3000, seed: 4242 },
      );
    });
  }

  it('mapFile and allocateZeroed with arbitrary arguments return an ArrayBuffer or throw an Error', () => {
    const calls: [string, (...args: unknown[]) => unknown][] = [
      ['mapFile', addon.mapFile as never],
      ['allocateZeroed', addon.allocateZeroed as never],
    ];
    const pathLike = fc.oneof(anyArgument, fc.constantFrom('/', '/proc/self/status', '/dev/null', '/nonexistent', 'a\u0000b', __filename));
    for (const [name, fn] of calls) {
      fc.assert(
        fc.property(fc.array(name === 'mapFile' ? pathLike : anyArgument, { maxLength: 3 }), (args) => {
          try {
            const result = fn(...args);
            expect(result, name).toBeInstanceOf(ArrayBuffer);
          } catch (error) {
            if (!(error instanceof Error)) throw error;
          }
        }),
        { numRuns: 500, seed: 77 },
      );
    }
    expect(new Uint8Array(addon.allocateZeroed(5 << 20)).every((b) => b === 0)).toBe(true);
    expect(addon.allocateZeroed(0).byteLength).toBe(0);
  });

  it('releaseMappedPages releases pages of mapFile mappings only, whatever it is passed; the bytes read the same after', () => {
    const mapped = addon.mapFile(__filename);
    const zeroed = addon.allocateZeroed(5 << 20);
    new Uint8Array(zeroed).fill(7);
    const buffers = fc.constantFrom(mapped, zeroed, new ArrayBuffer(64), new ArrayBuffer(0));
    fc.assert(
      fc.property(fc.oneof(buffers, anyArgument), anyArgument, anyArgument, (buffer, begin, end) => {
        try {
          expect(typeof addon.releaseMappedPages(buffer as ArrayBuffer, begin as number, end as number)).toBe('boolean');
        } catch (error) {
          if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
        }
      }),
      { numRuns: 500, seed: 78 },
    );
    const text = readFileSync(__filename);
    expect(addon.releaseMappedPages(mapped, 0, mapped.byteLength)).toBe(mapped.byteLength >= 4096);
    expect(Buffer.from(mapped).equals(text)).toBe(true);
    // Any other memory is left alone (MADV_DONTNEED would zero it).
    expect(addon.releaseMappedPages(zeroed, 0, zeroed.byteLength)).toBe(false);
    expect(new Uint8Array(zeroed).every((b) => b === 7)).toBe(true);
    expect(() => addon.releaseMappedPages(mapped, 2, 1)).toThrow(RangeError);
    expect(() => addon.releaseMappedPages(mapped, 0, mapped.byteLength + 1)).toThrow(RangeError);
    expect(() => addon.releaseMappedPages(new Uint8Array(4) as never, 0, 1)).toThrow(TypeError);
  });

  // The moves JavaScript can make while an async call runs: transfer an argument's buffer (then
  // collect it), resize it, write its index arrays. Each call resolves to a number or rejects (or
  // throws) with an Error; the test process surviving is the rest of the assertion.
  const asyncFunctions = Object.entries(kernels.async) as [string, (...args: unknown[]) => Promise<unknown>][];
  for (const [name, fn] of asyncFunctions) {
    it(`async ${name} with arguments transferred, resized or written mid-call`, async () => {
      const move = fc.constantFrom('transfer', 'resize', 'write', 'none');
      await fc.assert(
        fc.asyncProperty(fc.array(anyArgument, { maxLength: 10 }), fc.array(move, { minLength: 10, maxLength: 10 }), async (args, moves) => {
          let pending: Promise<unknown>;
          try {
            pending = fn(...args);
          } catch (error) {
            if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
            return;
          }
          args.forEach((arg, i) => {
            if (!ArrayBuffer.isView(arg)) return;
            const buffer = arg.buffer as ArrayBuffer & { resize?: (n: number) => void; resizable?: boolean };
            try {
              if (moves[i] === 'transfer' && buffer instanceof ArrayBuffer) structuredClone(buffer, { transfer: [buffer] });
              if (moves[i] === 'resize' && buffer.resizable === true) buffer.resize!(0);
              if (moves[i] === 'write' && (arg instanceof Int32Array || arg instanceof Uint32Array)) arg.fill(0x7ffffff0);
            } catch (error) {
              if (!(error instanceof Error)) throw error; // DataCloneError (Node >= 21): pinned
            }
          });
          globalThis.gc?.();
          try {
            expect(Number.isInteger(await pending)).toBe(true);
          } catch (error) {
            if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
          }
        }),
        { numRuns: 400, seed: 4343 },
      );
    });
  }

  // Well-formed calls, then one hazard: an index array that lives in the array the kernel writes
  // (rows of 1e30 written over indices read back as huge indices), or, for async calls, index and
  // offset arrays overwritten and buffers transferred right after the call returned.
  it('well-formed calls with aliased, overwritten or transferred arrays', async () => {
    const dim = 16;
    const scenario = fc.record({
      kernel: fc.constantFrom('gather', 'scatterAdd', 'bagForward', 'coalesce'),
      async: fc.boolean(),
      alias: fc.boolean(),
      rows: fc.integer({ min: 1, max: 3000 }),
      count: fc.integer({ min: 16, max: 3000 }),
      transfer: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ kernel, async, alias, rows, count, transfer }) => {
        const run = (async ? kernels.async : kernels) as unknown as Record<string, (...args: unknown[]) => unknown>;
        const table = new Float32Array(rows * dim).fill(1e30);
        // The array the kernel writes, and indices inside it when aliasing.
        const writtenLength = kernel === 'scatterAdd' ? rows * dim : count * dim;
        const written = new Float32Array(writtenLength);
        const n = Math.min(count, writtenLength);
        const indices = alias ? new Int32Array(written.buffer, 0, n) : new Int32Array(n);
        for (let i = 0; i < n; i++) indices[i] = (i * 7919) % rows;
        const offsets = Uint32Array.of(0, n >> 1);
        const args: unknown[] =
          kernel === 'gather'
            ? [table, dim, indices, written.subarray(0, n * dim)]
            : kernel === 'scatterAdd'
              ? [written, dim, indices, new Float32Array(n * dim).fill(1e30), null, -1]
              : kernel === 'bagForward'
                ? [table, dim, indices, offsets, 2, null, 0, -1, alias ? written.subarray(0, 2 * dim) : new Float32Array(2 * dim)]
                : [indices, dim, new Float32Array(n * dim).fill(1e30), offsets, 2, null, -1, new Int32Array(rows).fill(-1), new Uint32Array(n), written.subarray(0, n * dim)];
        let result: unknown;
        try {
          result = run[kernel]!(...args);
        } catch (error) {
          if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
          return;
        }
        if (async) {
          indices.fill(0x7ffffff0);
          offsets[1] = 0xfffffff0;
          if (transfer) {
            for (const arg of args) {
              if (ArrayBuffer.isView(arg) && arg.buffer instanceof ArrayBuffer) {
                try {
                  structuredClone(arg.buffer, { transfer: [arg.buffer] });
                } catch (error) {
                  if (!(error instanceof Error)) throw error; // DataCloneError (Node >= 21): pinned
                }
              }
            }
            globalThis.gc?.();
          }
          try {
            result = await result;
          } catch (error) {
            if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
            return;
          }
        }
        expect(Number.isInteger(result)).toBe(true);
      }),
      { numRuns: 600, seed: 99 },
    );
  });

  // The 16-bit table kernels with arguments of the right kinds and random lengths and values:
  // rows outside the table, short grads, states and work, wrong dtypes, roundings out of range.
  it('optimizerUpdatePacked and narrowRows with near-valid arguments return a number or throw a TypeError or RangeError', () => {
    const floats = (n: number) => new Float32Array(n).fill(0.5);
    let completed = 0;
    const call = fc.record({
      rows: fc.integer({ min: 0, max: 6 }),
      dim: fc.integer({ min: -1, max: 20 }),
      dtype: fc.constantFrom(0, 1, 2, 3, 5),
      list: fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 6 }),
      gradRows: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 7 })), // -1: one per listed row
      stateLength: fc.oneof(fc.integer({ min: 0, max: 140 }), fc.constant(-1), fc.constant(-2)), // -1: table-shaped, -2: one per row
      rule: fc.constantFrom(0, 1, 3, 4, 7),
      rounding: fc.constantFrom(-1, 0, 7, 2 ** 32 - 1, 2 ** 32, -2, 1.5, NaN),
      workRows: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 7 })),
      packed: fc.boolean(),
    });
    fc.assert(
      fc.property(call, ({ rows, dim, dtype, list, gradRows, stateLength, rule, rounding, workRows, packed }) => {
        const d = Math.max(dim, 1);
        const data = new Uint16Array(rows * d);
        const list32 = Uint32Array.from(list);
        const perList = (n: number) => (n < 0 ? list.length : n) * d;
        const states = stateLength === -1 ? rows * d : stateLength === -2 ? rows : stateLength;
        const scalars = new Float64Array(12);
        scalars[0] = rule;
        scalars[1] = -0.1;
        try {
          const result = packed
            ? kernels.optimizerUpdatePacked(scalars, data, dtype as 1, dim, floats(perList(gradRows)), floats(states), rule === 3 ? floats(states) : null, null, list32, rounding, floats(perList(workRows)))
            : kernels.narrowRows(data, dtype as 1, dim, list32, floats(perList(gradRows)), rounding);
          expect(Number.isInteger(result)).toBe(true);
          completed++;
        } catch (error) {
          if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
        }
      }),
      { numRuns: 3000, seed: 7 },
    );
    expect(completed, 'calls that reached the kernels').toBeGreaterThan(100);
  });

  it('with detached buffers', () => {
    const indices = new Int32Array([0]);
    expect(kernels.gather(detached(), 2, indices, new Float32Array(2))).toBe(0); // no rows: index 0 is out of range
    expect(kernels.gather(new Float32Array(4), 2, new Int32Array(0), detached())).toBe(-1);
    expect(kernels.scatterAdd(detached(), 2, indices, new Float32Array(2), null, -1)).toBe(0);
  });
});
