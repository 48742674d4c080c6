// The word2vec binary record kernel (word2vecBinaryRecords) of the backend under test against a
// plain reference written here from its definition (src/backend.ts), on random record bytes cut
// at every length, from several starts and with several record budgets: the same count, stop,
// status, non-finite position, byte OR, rows and word offsets. Then the argument checks, which
// both backends make with the same messages.
import { describe, expect, it } from 'vitest';

import { BINARY_RECORD_STATUS } from '../src/backend.js';
import { jsBackend } from '../src/backends/js.js';
import { currentBackend } from '../src/loader.js';
import { rng } from './helpers.js';

interface Outcome {
  records: number;
  out: number[];
  rows: number[];
  starts: number[];
  ends: number[];
}

/** The definition, a byte at a time. */
function reference(bytes: Uint8Array, start: number, maxWordBytes: number, dim: number, maxRecords: number): Outcome {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let p = start;
  let high = 0;
  let records = 0;
  const stop = (status: number, at: number, bad = -1): Outcome => ({ records, out: [at, status, bad, high], rows, starts, ends });
  while (records < maxRecords) {
    while (p < bytes.length && bytes[p]! >= 9 && bytes[p]! <= 13) p++;
    const wordStart = p;
    while (p < bytes.length && bytes[p] !== 32 && p - wordStart <= maxWordBytes) p++;
    if (p - wordStart > maxWordBytes) return stop(BINARY_RECORD_STATUS.wordTooLong, wordStart);
    if (p + 1 + 4 * dim > bytes.length) return stop(BINARY_RECORD_STATUS.needMore, wordStart);
    if (p === wordStart) return stop(BINARY_RECORD_STATUS.emptyWord, wordStart);
    for (let k = wordStart; k < p; k++) high |= bytes[k]!;
    starts.push(wordStart);
    ends.push(p);
    let bad = -1;
    for (let j = 0; j < dim; j++) {
      const bits = view.getUint32(p + 1 + 4 * j, true);
      rows.push(bits);
      if (bad < 0 && (bits & 0x7f800000) === 0x7f800000) bad = j;
    }
    if (bad >= 0) return stop(BINARY_RECORD_STATUS.notFinite, wordStart, bad);
    p += 1 + 4 * dim;
    records++;
  }
  return stop(BINARY_RECORD_STATUS.done, p);
}

function run(kernel: typeof jsBackend.word2vecBinaryRecords, bytes: Uint8Array, start: number, maxWordBytes: number, dim: number, maxRecords: number): Outcome {
  const table = new Float32Array(2 + maxRecords * dim).fill(-7);
  const wordStarts = new Int32Array(maxRecords).fill(-1);
  const wordEnds = new Int32Array(maxRecords).fill(-1);
  const out = new Float64Array(4);
  const records = kernel(bytes, start, maxWordBytes, dim, table, 2, maxRecords, wordStarts, wordEnds, out);
  const filled = records + (out[1] === BINARY_RECORD_STATUS.notFinite ? 1 : 0);
  // Nothing written before rowOffset or past the rows parsed (a bad write shows as a mismatch).
  let untouched = table[0] === -7 && table[1] === -7;
  for (let i = 2 + filled * dim; i < table.length; i++) untouched &&= table[i] === -7;
  return {
    records: untouched ? records : -1,
    out: Array.from(out),
    rows: Array.from(new Uint32Array(table.buffer, 8, filled * dim)),
    starts: Array.from(wordStarts.subarray(0, filled)),
    ends: Array.from(wordEnds.subarray(0, filled)),
  };
}

function randomRecords(next: () => number, records: number, dim: number, layout: 'c' | 'gensim', hostile: boolean): Uint8Array {
  const bytes: number[] = [];
  const value = new DataView(new ArrayBuffer(4));
  for (let r = 0; r < records; r++) {
    if (next() < 0.1) for (let k = Math.floor(next() * 4); k > 0; k--) bytes.push(9 + Math.floor(next() * 5));
    const length = hostile && next() < 0.05 ? 0 : 1 + Math.floor(next() * 9);
    for (let k = 0; k < length; k++) {
      const c = next();
      bytes.push(c < 0.1 ? 0xc0 + Math.floor(next() * 60) : c < 0.15 ? 9 + Math.floor(next() * 5) : 97 + Math.floor(next() * 26));
    }
    bytes.push(32);
    for (let j = 0; j < dim; j++) {
      value.setFloat32(0, hostile && next() < 0.02 ? (next() < 0.5 ? NaN : -Infinity) : (next() - 0.5) * 20, true);
      for (let b = 0; b < 4; b++) bytes.push(value.getUint8(b));
    }
    if (layout === 'c') bytes.push(10);
  }
  return Uint8Array.from(bytes);
}

describe('word2vecBinaryRecords', () => {
  const backend = currentBackend();

  it('matches its definition on random records cut at every length', () => {
    const next = rng(2026);
    const kernels = backend === jsBackend ? [jsBackend] : [backend, jsBackend];
    let calls = 0;
    for (const [dim, records] of [[1, 10], [3, 8], [17, 4]] as const) {
      for (const layout of ['c', 'gensim'] as const) {
        for (const hostile of [false, true]) {
          const file = randomRecords(next, records, dim, layout, hostile);
          for (let length = 0; length <= file.length; length++) {
            const bytes = file.subarray(0, length);
            for (const start of new Set([0, 1, length >> 1].filter((s) => s <= length))) {
              for (const [maxWordBytes, maxRecords] of [[16, records], [4, records], [0, 2], [16, 0]] as const) {
                const expected = JSON.stringify(reference(bytes, start, maxWordBytes, dim, maxRecords));
                for (const kernel of kernels) {
                  const actual = JSON.stringify(run(kernel.word2vecBinaryRecords, bytes, start, maxWordBytes, dim, maxRecords));
                  calls++;
                  if (actual !== expected) {
                    const what = `${kernel.name} dim ${dim} ${layout} hostile ${hostile} length ${length} start ${start} max word ${maxWordBytes} records ${maxRecords}`;
                    expect(actual, what).toBe(expected);
                  }
                }
              }
            }
          }
        }
      }
    }
    expect(calls).toBeGreaterThan(1000);
  });

  it('refuses arguments it cannot use safely, with the same messages on both backends', () => {
    const bytes = new Uint8Array(16);
    const table = new Float32Array(12);
    const offsets = () => new Int32Array(4);
    const cases: [unknown[], RegExp][] = [
      [[bytes, 17, 16, 3, table, 0, 4, offsets(), offsets(), new Float64Array(4)], /bytes must be shorter than 2\^31 and start at most its length/],
      [[bytes, 0, 2 ** 31, 3, table, 0, 4, offsets(), offsets(), new Float64Array(4)], /maxWordBytes must be below 2\^31/],
      [[bytes, 0, 16, 3, table, 0, 5, offsets(), offsets(), new Float64Array(4)], /maxRecords rows of dim from rowOffset must fit in the table/],
      [[bytes, 0, 16, 3, table, 1, 4, offsets(), offsets(), new Float64Array(4)], /maxRecords rows of dim from rowOffset must fit in the table/],
      [[bytes, 0, 16, 3, table, 13, 0, offsets(), offsets(), new Float64Array(4)], /maxRecords rows of dim from rowOffset must fit in the table/],
      [[bytes, 0, 16, 3, table, 0, 4, new Int32Array(3), offsets(), new Float64Array(4)], /wordStarts and wordEnds must hold maxRecords entries/],
      [[bytes, 0, 16, 3, table, 0, 4, offsets(), offsets(), new Float64Array(3)], /out must hold 4 values/],
      [[new Uint8Array(table.buffer), 0, 16, 3, table, 0, 4, offsets(), offsets(), new Float64Array(4)], /bytes and table share memory/],
    ];
    for (const kernel of new Set([backend.word2vecBinaryRecords, jsBackend.word2vecBinaryRecords])) {
      for (const [args, message] of cases) {
        expect(() => (kernel as (...a: unknown[]) => number)(...args), String(message)).toThrow(RangeError);
        expect(() => (kernel as (...a: unknown[]) => number)(...args), String(message)).toThrow(message);
      }
    }
  });
});
