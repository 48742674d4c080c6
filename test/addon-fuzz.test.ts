// The raw addon, called directly with arbitrary arguments: it must never crash the process (this
// test process surviving is the first half of the assertion), and every call either returns a
// number (-1, or the position of the first bad index) or throws a TypeError or RangeError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { type NativeAddon, loadAddon } from '../src/backends/native.js';
import { getBackend } from '../src/index.js';

const typedArray = fc.oneof(
  fc.integer({ min: 0, max: 70 }).map((n) => new Float32Array(n)),
  fc.integer({ min: 0, max: 70 }).map((n) => new Float32Array(n + 8).subarray(3, 3 + n)),
  fc.array(fc.integer({ min: -5, max: 80 }), { maxLength: 20 }).map((v) => Int32Array.from(v)),
  fc.array(fc.nat({ max: 80 }), { maxLength: 20 }).map((v) => Uint32Array.from(v)),
  fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 6 }).map((v) => BigInt64Array.from(v)),
  fc.integer({ min: 0, max: 16 }).map((n) => new Uint8Array(n)),
  fc.integer({ min: 0, max: 8 }).map((n) => new Float64Array(n)),
  fc.constant(new Float32Array(new SharedArrayBuffer(64))),
  fc.array(fc.nat({ max: 12 }), { maxLength: 6 }).map((v) => Uint32Array.from(v.sort((a, b) => a - b))),
  fc.array(fc.double({ min: -2, max: 12, noNaN: true }), { maxLength: 12 }).map((v) => Float64Array.from(v)),
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
  const functions: [string, (...args: unknown[]) => unknown][] = [
    ['gather', kernels.gather as never],
    ['scatterAdd', kernels.scatterAdd as never],
    ['renorm', kernels.renorm as never],
    ['bagForward', kernels.bagForward as never],
    ['bagScatterAdd', kernels.bagScatterAdd as never],
    ['bagMaxBackward', kernels.bagMaxBackward as never],
    ['bagWeightGrad', kernels.bagWeightGrad as never],
    ['optimizerUpdate', kernels.optimizerUpdate as never],
    ['coalesce', kernels.coalesce as never],
    ['firstInvalidIndex', addon.firstInvalidIndex as never],
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

  it('with detached buffers', () => {
    const indices = new Int32Array([0]);
    expect(kernels.gather(detached(), 2, indices, new Float32Array(2))).toBe(0); // no rows: index 0 is out of range
    expect(kernels.gather(new Float32Array(4), 2, new Int32Array(0), detached())).toBe(-1);
    expect(kernels.scatterAdd(detached(), 2, indices, new Float32Array(2), null, -1)).toBe(0);
  });
});
