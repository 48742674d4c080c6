// The word loaders' vocabulary kernel (addDistinctWords) of the backend under test against the
// TypeScript twin and against its definition written here (a Map of the words, the slots probed
// from the FNV-1a hash): random batches with duplicates (of earlier batches and within a batch),
// words of equal 32-bit hash, crowded slot tables and byte buffers that fill up mid-batch, grown as
// the TableBuilder grows them; tables corrupted as JavaScript could corrupt them; the argument
// checks, with the same messages on both backends; and the async form.
import { describe, expect, it } from 'vitest';

import { ADD_WORDS_STATUS } from '../src/backend.js';
import { jsBackend } from '../src/backends/js.js';
import { currentBackend } from '../src/loader.js';
import { rng } from './helpers.js';

type AddWords = typeof jsBackend.addDistinctWords;

/** FNV-1a, 32 bits, as an int32 (what the slots hold). */
function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5 | 0; // an int32 even for no bytes
  for (const c of bytes) hash = Math.imul(hash ^ c, 16777619);
  return hash;
}

/** Pairs of words with the same 32-bit FNV-1a hash. */
const COLLIDING = [
  ['costarring', 'liquid'],
  ['declinate', 'macallums'],
  ['altarage', 'zinke'],
  ['altarages', 'zinkes'],
] as const;

/** A TableBuilder's arrays. */
class Table {
  wordBytes: Uint8Array;
  used = 0;
  wordEnds: Int32Array;
  words = 0;
  slots: Int32Array;

  constructor(bytes: number, records: number, slotCount: number, readonly separator = 32) {
    this.wordBytes = new Uint8Array(bytes);
    this.wordEnds = new Int32Array(records);
    this.slots = new Int32Array(2 * slotCount);
  }

  clone(): Table {
    const copy = new Table(0, 0, 1, this.separator);
    Object.assign(copy, { used: this.used, words: this.words });
    copy.wordBytes = this.wordBytes.slice();
    copy.wordEnds = this.wordEnds.slice();
    copy.slots = this.slots.slice();
    return copy;
  }

  /** One kernel call; the table takes what it reports. */
  add(kernel: AddWords, chunk: Uint8Array, starts: Int32Array, ends: Int32Array, count: number) {
    const out = new Float64Array(5).fill(NaN);
    const added = kernel(chunk, starts, ends, count, this.wordBytes, this.used, this.wordEnds, this.words, this.slots, this.separator, out);
    this.words += added;
    this.used = out[2]!;
    return { added, status: out[0]!, earlier: out[1]!, used: out[2]!, lastSlot: out[3]!, high: out[4]! };
  }

  /** The TableBuilder's growth: twice the size, or what the word needs. */
  grow(needed: number): void {
    const grown = new Uint8Array(Math.max(2 * this.wordBytes.length, needed));
    grown.set(this.wordBytes.subarray(0, this.used));
    this.wordBytes = grown;
  }
}

/** Words laid out in a chunk (a newline before each), and their offsets. */
function layOut(words: Uint8Array[]): { chunk: Uint8Array; starts: Int32Array; ends: Int32Array } {
  const chunk = new Uint8Array(words.reduce((sum, word) => sum + word.length + 1, 0));
  const starts = new Int32Array(words.length);
  const ends = new Int32Array(words.length);
  let p = 0;
  words.forEach((word, i) => {
    chunk[p++] = 10;
    starts[i] = p;
    chunk.set(word, p);
    p += word.length;
    ends[i] = p;
  });
  return { chunk, starts, ends };
}

function randomWord(next: () => number, alphabet: number, maxLength: number): Uint8Array {
  // Empty words too (one in 20): the kernel takes them (the loaders refuse them before).
  const word = new Uint8Array(next() < 0.05 ? 0 : 1 + Math.floor(next() * maxLength));
  for (let k = 0; k < word.length; k++) word[k] = (next() < 0.1 ? 0x80 : 0x61) + Math.floor(next() * alphabet);
  return word;
}

/** Whether two typed arrays hold the same bytes. */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const key = (word: Uint8Array): string => Buffer.from(word).toString('latin1');

describe('addDistinctWords', () => {
  const backend = currentBackend();
  const kernels: AddWords[] = (backend === jsBackend ? [jsBackend] : [backend, jsBackend]).map((b) => b.addDistinctWords);

  it('adds random batches as its definition says, stopping at duplicates and when the bytes are full', () => {
    for (const [a, b] of COLLIDING) expect(fnv1a(Buffer.from(a)), `${a} ${b}`).toBe(fnv1a(Buffer.from(b)));
    const next = rng(18);
    const stops = { duplicate: 0, needSpace: 0, collisions: 0 };
    for (let round = 0; round < 80; round++) {
      const words: Uint8Array[] = [];
      const distinct = 1 + Math.floor(next() * 300);
      for (let i = 0; i < distinct; i++) words.push(randomWord(next, 2 + (round % 5), 1 + (round % 7)));
      // Both words of each colliding pair, and in half the rounds one of them again.
      for (const pair of COLLIDING) for (const word of round % 2 === 0 ? [...pair, pair[1]] : pair) words.push(Buffer.from(word));
      for (let i = words.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [words[i], words[j]] = [words[j]!, words[i]!];
      }
      // Slots for every word as the builder sizes them (at most 3/4 full), or crowded (the least
      // power of two with one slot empty after every word).
      const crowded = round % 3 === 1;
      const slotCount = 2 ** Math.ceil(Math.log2(crowded ? words.length + 1 : (words.length * 4) / 3 + 1));
      const separator = round % 2 === 0 ? 32 : 10;
      const bytes = round % 4 === 0 ? 0 : Math.floor(next() * 40);
      const tables = kernels.map(() => new Table(bytes, words.length, slotCount, separator));
      // The definition: the words added so far, and where each was found first.
      const added: string[] = [];
      const seen = new Map<string, number>();
      const hashes = new Set<number>();
      const maxBatch = 1 + (round % 40);
      for (let first = 0; first < words.length; ) {
        const batch = words.slice(first, first + Math.floor(next() * (maxBatch + 1)));
        const { chunk, starts, ends } = layOut(batch);
        for (let done = 0; done < batch.length; ) {
          const usedBefore = tables[0]!.used;
          const results = kernels.map((kernel, k) => tables[k]!.add(kernel, chunk, starts.subarray(done), ends.subarray(done), batch.length - done));
          const result = results[0]!;
          // Both backends alike, to the byte.
          for (let k = 1; k < kernels.length; k++) {
            expect(results[k], `round ${round}`).toEqual(result);
            expect(sameBytes(tables[k]!.wordBytes, tables[0]!.wordBytes), `round ${round}: wordBytes`).toBe(true);
            expect(sameBytes(tables[k]!.wordEnds, tables[0]!.wordEnds), `round ${round}: wordEnds`).toBe(true);
            expect(sameBytes(tables[k]!.slots, tables[0]!.slots), `round ${round}: slots`).toBe(true);
          }
          // The definition: every word up to the first seen before, or the first that does not fit.
          let expectedAdded = 0;
          let expectedStatus: number = ADD_WORDS_STATUS.done;
          let expectedEarlier = -1;
          let high = 0;
          let bytes = usedBefore;
          for (const word of batch.slice(done)) {
            if (bytes + word.length + 1 > tables[0]!.wordBytes.length) {
              expectedStatus = ADD_WORDS_STATUS.needSpace;
              break;
            }
            const earlier = seen.get(key(word));
            if (earlier !== undefined) {
              expectedStatus = ADD_WORDS_STATUS.duplicate;
              expectedEarlier = earlier;
              break;
            }
            if (hashes.has(fnv1a(word))) stops.collisions++; // a word of equal hash, but other bytes, is there
            hashes.add(fnv1a(word));
            seen.set(key(word), added.length);
            added.push(key(word));
            bytes += word.length + 1;
            for (const c of word) high |= c;
            expectedAdded++;
          }
          expect({ added: result.added, status: result.status, earlier: result.earlier, high: result.high, used: result.used }).toEqual({
            added: expectedAdded,
            status: expectedStatus,
            earlier: expectedEarlier,
            high,
            used: bytes,
          });
          done += result.added;
          if (result.status === ADD_WORDS_STATUS.needSpace) {
            stops.needSpace++;
            for (const table of tables) table.grow(table.used + ends[done]! - starts[done]! + 1);
          } else if (result.status === ADD_WORDS_STATUS.duplicate) {
            stops.duplicate++;
            done++; // where the loader throws, go on with the next word
          }
        }
        first += batch.length;
      }
      // The table: the words in order, separated, each in the slot its probe from its hash reaches.
      const table = tables[0]!;
      expect(table.words).toBe(added.length);
      expect(Buffer.from(table.wordBytes.subarray(0, table.used)).toString('latin1')).toBe(added.map((word) => word + String.fromCharCode(separator)).join(''));
      const mask = slotCount - 1;
      added.forEach((word, record) => {
        const hash = fnv1a(Buffer.from(word, 'latin1'));
        let slot = hash & mask;
        while (table.slots[2 * slot] !== record + 1) {
          expect(table.slots[2 * slot], `${word} not in its probe sequence`).not.toBe(0);
          slot = (slot + 1) & mask;
        }
        expect(table.slots[2 * slot + 1]).toBe(hash);
        expect(table.wordEnds[record]).toBe(added.slice(0, record + 1).reduce((sum, w) => sum + w.length + 1, 0) - 1);
      });
    }
    expect(stops.duplicate).toBeGreaterThan(100);
    expect(stops.needSpace).toBeGreaterThan(50);
    expect(stops.collisions).toBeGreaterThan(200);
  });

  it('reports the slot of the last word added, which emptying takes the word back', () => {
    for (const kernel of kernels) {
      const table = new Table(64, 4, 8);
      const { chunk, starts, ends } = layOut(['a', 'b', 'c'].map((w) => Buffer.from(w)));
      const first = table.add(kernel, chunk, starts, ends, 2);
      expect(first).toMatchObject({ added: 2, status: ADD_WORDS_STATUS.done, lastSlot: fnv1a(Buffer.from('b')) & 7 });
      expect(table.slots[2 * first.lastSlot]).toBe(2);
      const none = table.add(kernel, chunk, starts, ends, 0);
      expect(none).toMatchObject({ added: 0, status: ADD_WORDS_STATUS.done, lastSlot: -1, high: 0, used: 4 });
      // removeLastWord: the slot emptied, the bytes used set back; the word can be added again.
      table.slots[2 * first.lastSlot] = 0;
      table.words = 1;
      table.used = 2;
      expect(table.add(kernel, chunk, starts.subarray(1), ends.subarray(1), 2)).toMatchObject({ added: 2, status: ADD_WORDS_STATUS.done });
      expect(Buffer.from(table.wordBytes.subarray(0, table.used)).toString()).toBe('a b c ');
    }
  });

  it('reports a corrupt table, never reading out of bounds or probing forever; both backends alike', () => {
    const next = rng(1818);
    let corrupt = 0;
    for (let round = 0; round < 400; round++) {
      const words = Array.from({ length: 8 }, () => randomWord(next, 3, 3));
      const valid = new Table(256, 32, 16);
      const { chunk, starts, ends } = layOut(words);
      for (let done = 0; done < words.length; ) {
        const result = valid.add(jsBackend.addDistinctWords, chunk, starts.subarray(done), ends.subarray(done), words.length - done);
        done += result.added + (result.status === ADD_WORDS_STATUS.duplicate ? 1 : 0);
      }
      const wild = [-1, 0, 1, 2, valid.words, valid.words + 1, valid.used, valid.used - 1, 2 ** 31 - 1, -(2 ** 31)];
      const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
      for (let k = 0; k < 3; k++) {
        const kind = Math.floor(next() * 4);
        if (kind === 0) valid.slots[2 * Math.floor(next() * 16)] = pick(wild);
        if (kind === 1) valid.wordEnds[Math.floor(next() * valid.words)] = pick(wild);
        if (kind === 2) valid.slots.forEach((_, s) => s % 2 === 1 && (valid.slots[s] = fnv1a(pick(words))));
        if (kind === 3) valid.slots.forEach((v, s) => s % 2 === 0 && v === 0 && (valid.slots[s] = 1 + Math.floor(next() * valid.words)));
      }
      const more = layOut([...words, ...Array.from({ length: 4 }, () => randomWord(next, 3, 3))].sort(() => next() - 0.5));
      const tables = kernels.map(() => valid.clone());
      const results = kernels.map((kernel, k) => tables[k]!.add(kernel, more.chunk, more.starts, more.ends, more.starts.length));
      for (let k = 1; k < kernels.length; k++) {
        expect(results[k]).toEqual(results[0]);
        expect(tables[k]).toEqual(tables[0]);
      }
      if (results[0]!.status === ADD_WORDS_STATUS.corrupt) corrupt++;
    }
    expect(corrupt).toBeGreaterThan(100);
    // Each kind alone.
    for (const kernel of kernels) {
      const one = layOut([Buffer.from('ab'), Buffer.from('cd')]);
      const full = new Table(16, 2, 1);
      expect(full.add(kernel, one.chunk, one.starts, one.ends, 2)).toMatchObject({ added: 1, status: ADD_WORDS_STATUS.corrupt, used: 3, lastSlot: 0 });
      const ab = layOut([Buffer.from('ab')]);
      for (const [slot, hash, end] of [[2, fnv1a(Buffer.from('ab')), 1], [-5, 0, 1], [1, fnv1a(Buffer.from('ab')), 9], [1, fnv1a(Buffer.from('ab')), -1]] as const) {
        const table = new Table(16, 2, 4);
        table.words = 1;
        table.used = 2;
        table.wordEnds[0] = end;
        const mine = fnv1a(Buffer.from('ab')) & 3;
        table.slots[2 * mine] = slot;
        table.slots[2 * mine + 1] = hash;
        expect(table.add(kernel, ab.chunk, ab.starts, ab.ends, 1), `${slot} ${hash} ${end}`).toMatchObject({ added: 0, status: ADD_WORDS_STATUS.corrupt });
      }
    }
  });

  it('refuses arguments it cannot use safely, with the same messages on both backends', () => {
    const chunk = new Uint8Array(16);
    const starts = () => Int32Array.of(0, 4);
    const ends = () => Int32Array.of(3, 8);
    const args = (changes: Record<number, unknown>): unknown[] => {
      const list: unknown[] = [chunk, starts(), ends(), 2, new Uint8Array(32), 0, new Int32Array(4), 0, new Int32Array(8), 32, new Float64Array(5)];
      for (const [k, v] of Object.entries(changes)) list[Number(k)] = v;
      return list;
    };
    const cases: [unknown[], RegExp][] = [
      [args({ 3: 3 }), /starts and ends must hold count entries/],
      [args({ 1: Int32Array.of(0, -1) }), /every word must satisfy 0 <= starts\[i\] <= ends\[i\] <= chunk.length/],
      [args({ 1: Int32Array.of(4, 4), 2: Int32Array.of(3, 8) }), /every word must satisfy/],
      [args({ 2: Int32Array.of(3, 17) }), /every word must satisfy/],
      [args({ 5: 33 }), /wordBytes must be shorter than 2\^31 and used at most its length/],
      [args({ 7: 3 }), /wordEnds must be shorter than 2\^31 and hold words \+ count entries/],
      [args({ 7: 5 }), /wordEnds must be shorter than 2\^31 and hold words \+ count entries/],
      [args({ 8: new Int32Array(6) }), /slots length must be twice a power of two, at most 2\^32/],
      [args({ 8: new Int32Array(1) }), /slots length must be twice a power of two/],
      [args({ 8: new Int32Array(0) }), /slots length must be twice a power of two/],
      [args({ 9: 256 }), /separator must be a byte \(0 to 255\)/],
      [args({ 10: new Float64Array(4) }), /out must hold 5 values/],
      [args({ 3: -1 }), /count must be an integer >= 0/],
      [args({ 5: 0.5 }), /used must be an integer >= 0/],
      [args({ 4: new Uint8Array(chunk.buffer, 8) }), /chunk and wordBytes share memory/],
    ];
    for (const kernel of new Set([backend.addDistinctWords, jsBackend.addDistinctWords])) {
      for (const [list, message] of cases) {
        expect(() => (kernel as (...a: unknown[]) => number)(...list), String(message)).toThrow(RangeError);
        expect(() => (kernel as (...a: unknown[]) => number)(...list), String(message)).toThrow(message);
      }
      // And the valid call those cases change: both words added.
      const out = new Float64Array(5);
      const list = args({ 10: out });
      expect((kernel as (...a: unknown[]) => number)(...list)).toBe(2);
      expect(Array.from(out)).toEqual([ADD_WORDS_STATUS.done, -1, 9, out[3], 0]);
    }
  });

  it('runs asynchronously with the same result', async () => {
    const words = Array.from({ length: 500 }, (_, i) => Buffer.from(`w${i % 400}`));
    const { chunk, starts, ends } = layOut(words);
    const sync = new Table(1 << 12, 500, 1024);
    const later = new Table(1 << 12, 500, 1024);
    const expected = sync.add(backend.addDistinctWords, chunk, starts, ends, 500);
    const out = new Float64Array(5);
    const added = await backend.callAsync(['addDistinctWords', [chunk, starts, ends, 500, later.wordBytes, 0, later.wordEnds, 0, later.slots, 32, out]]);
    expect(added).toBe(expected.added);
    expect(expected).toMatchObject({ added: 400, status: ADD_WORDS_STATUS.duplicate, earlier: 0 });
    expect(Array.from(out)).toEqual([expected.status, expected.earlier, expected.used, expected.lastSlot, expected.high]);
    expect(later.wordBytes.subarray(0, expected.used)).toEqual(sync.wordBytes.subarray(0, expected.used));
    expect(later.slots).toEqual(sync.slots);
  });
});

describe('addDistinctWords: empty words', () => {
  // FNV-1a of no bytes is 0x811c9dc5, which the slots hold as the int32 -2128831035: a twin that
  // kept the number 2166136261 never matched it and added a second empty word (found in review).
  function run(kernel: AddWords, chunk: Uint8Array, starts: number[], ends: number[]) {
    const wordBytes = new Uint8Array(64);
    const wordEnds = new Int32Array(starts.length);
    const slots = new Int32Array(2 * 8);
    const out = new Float64Array(5).fill(NaN);
    const added = kernel(chunk, Int32Array.from(starts), Int32Array.from(ends), starts.length, wordBytes, 0, wordEnds, 0, slots, 32, out);
    return { added, out: Array.from(out), wordEnds: Array.from(wordEnds), slots: Array.from(slots) };
  }
  const cases: [string, number[], number[]][] = [
    ['two empty words', [0, 1], [0, 1]],
    ['a word, then two empty words', [0, 1, 1], [1, 1, 1]],
    ['an empty word, a word, an empty word', [1, 0, 0], [1, 1, 0]],
  ];
  for (const [name, starts, ends] of cases) {
    it(`${name}: the second empty word is a duplicate of the first, on the backend under test and the twin alike`, () => {
      const chunk = new Uint8Array([97]);
      const firstEmpty = starts.findIndex((s, i) => s === ends[i]);
      const secondEmpty = starts.findIndex((s, i) => i > firstEmpty && s === ends[i]);
      const backend = run(currentBackend().addDistinctWords, chunk, starts, ends);
      const twin = run(jsBackend.addDistinctWords, chunk, starts, ends);
      expect(backend.added).toBe(secondEmpty);
      expect(backend.out[0]).toBe(ADD_WORDS_STATUS.duplicate);
      expect(backend.out[1]).toBe(firstEmpty);
      expect(twin).toEqual(backend);
    });
  }
});
