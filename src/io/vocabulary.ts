// A vocabulary: tokens <-> row indices of an embedding table, both ways. Saved as JSON (tokens
// plus the reserved unknown and padding entries); loaded from that JSON or from a plain text file
// of one token per line (the vocab.txt that tokenizers and word-vector tools write).
import { constants as bufferConstants, isUtf8 } from 'node:buffer';

import { checkInteger, checkOptions, defineReadonly, describe } from '../validate.js';
import { FileFormatError, openForReading, quoteText, writeFileAtomic } from './files.js';

export interface VocabularyOptions {
  /** The token that stands for words outside the vocabulary; encode() maps them to its index. */
  unknown?: string;
  /** The token that pads sequences; its index is the embedding's paddingIdx. */
  padding?: string;
}

/** Options of Vocabulary.fromCorpus: word2vec's vocabulary rules, and the reserved entries. */
export interface CorpusOptions extends VocabularyOptions {
  /** Tokens seen fewer times are left out (word2vec's min_count); default 1. */
  minCount?: number;
  /** At most this many entries in all, specials and reserved entries included; the most frequent tokens are kept. */
  maxSize?: number;
  /**
   * Tokens placed first, in this order, whatever the corpus holds: they are not counted (countOf
   * gives 0) nor filtered (e.g. ['<pad>', '<unk>'] with padding: '<pad>', unknown: '<unk>').
   */
  specials?: readonly string[];
}

/** What fromCorpus reads: tokens, or arrays of tokens (sentences), in any mix. */
export type CorpusItem = string | readonly string[];

export interface EncodeOptions {
  /** Map tokens outside the vocabulary to this token's index (it must be in the vocabulary). */
  unknown?: string;
}

/** What Vocabulary.save writes (and Vocabulary.load reads back). */
interface VocabularyJson {
  format: typeof JSON_FORMAT;
  version: 1;
  tokens: string[];
  unknown: string | null;
  padding: string | null;
}

const JSON_FORMAT = 'nn-embedding-vocabulary';

/** Text vocabularies larger than this are refused rather than read into memory. */
const MAX_TEXT_BYTES = 2 ** 31;

/** The most tokens a vocabulary holds: the most entries a JavaScript Map holds (V8). */
export const MAX_VOCABULARY_SIZE = 2 ** 24;

/** Tokens per string handed to the file when saving (bounds the size of each piece). */
const TOKENS_PER_WRITE = 4096;

/** The tokens of a vocabulary being built by vocabularyOfDistinct. */
let adopting: string[] | null = null;

/**
 * A Vocabulary over `tokens` known to be distinct (a loader checked them as it read them): the
 * array is adopted (and frozen), and the token -> index map is built on the first lookup.
 */
export function vocabularyOfDistinct(tokens: string[], options: VocabularyOptions): Vocabulary {
  adopting = tokens;
  try {
    return new Vocabulary(tokens, options);
  } finally {
    adopting = null;
  }
}

/** Gives a vocabulary its corpus counts (assigned in Vocabulary's static block). */
// eslint-disable-next-line prefer-const -- assigned once, in Vocabulary's static block
let attachCounts: (vocabulary: Vocabulary, counts: Map<string, number>) => Vocabulary;

/**
 * Tokens and their indices, both ways. Index i is the i-th token of the list given to the
 * constructor, after the reserved entries.
 *
 * Reserved entries: `padding` and `unknown` name special tokens. A special token already in the
 * list keeps its position. One that is not is inserted before the list, torchtext style: padding
 * at index 0, then unknown (at 0 without padding); the given tokens follow. The same token may be
 * both (one entry).
 */
export class Vocabulary {
  private readonly _tokens: readonly string[];
  /** The tokens given, in order (_tokens without the reserved entries). */
  private readonly _given: readonly string[];
  /** Position of each given token in _given (its index is that plus the reserved entries); built when first needed. */
  private _positions: Map<string, number> | null;
  /** The reserved entries inserted before the given tokens, and their indices. */
  private readonly _reserved: Map<string, number>;
  /** Each token's count in the corpus (Vocabulary.fromCorpus), else null. */
  private _counts: Map<string, number> | null = null;
  /** The index encode() gives tokens outside the vocabulary, or null. Read-only at run time too (defineReadonly). */
  declare readonly unknownIndex: number | null;
  /** The padding entry's index (an embedding's paddingIdx), or null. Read-only at run time too. */
  declare readonly paddingIndex: number | null;

  constructor(tokens: Iterable<string>, options?: VocabularyOptions) {
    const where = 'Vocabulary';
    const opts = checkOptions<VocabularyOptions>(where, options, ['unknown', 'padding']);
    const unknown = checkToken(where, 'options.unknown', opts.unknown);
    const padding = checkToken(where, 'options.padding', opts.padding);
    let given: string[];
    let positions: Map<string, number> | null = null;
    if (adopting !== null && adopting === tokens) {
      given = adopting;
    } else {
      if (tokens === null || typeof tokens !== 'object' || typeof (tokens as Iterable<string>)[Symbol.iterator] !== 'function') {
        throw new TypeError(`${where}: tokens must be an iterable of strings, got ${describe(tokens)}`);
      }
      given = Array.from(tokens);
      if (given.length > MAX_VOCABULARY_SIZE) {
        throw new RangeError(`${where}: ${given.length} tokens are more than a vocabulary holds (${MAX_VOCABULARY_SIZE}, the size limit of a JavaScript Map)`);
      }
      positions = new Map<string, number>();
      for (let i = 0; i < given.length; i++) {
        const token: unknown = given[i];
        if (typeof token !== 'string') throw new TypeError(`${where}: tokens[${i}] must be a string, got ${describe(token)}`);
        const earlier = positions.get(token);
        if (earlier !== undefined) {
          throw new RangeError(`${where}: token ${quoteText(token)} appears twice, at positions ${earlier} and ${i}`);
        }
        positions.set(token, i);
      }
    }
    const isGiven = (token: string): boolean => (positions === null ? given.includes(token) : positions.has(token));
    const reserved = new Map<string, number>();
    if (padding !== undefined && !isGiven(padding)) reserved.set(padding, reserved.size);
    if (unknown !== undefined && !isGiven(unknown) && !reserved.has(unknown)) reserved.set(unknown, reserved.size);
    if (given.length + reserved.size > MAX_VOCABULARY_SIZE) {
      throw new RangeError(`${where}: ${given.length} tokens and ${reserved.size} reserved entries are more than a vocabulary holds (${MAX_VOCABULARY_SIZE})`);
    }
    this._given = Object.freeze(given);
    this._tokens = reserved.size === 0 ? this._given : Object.freeze([...reserved.keys(), ...given]);
    this._positions = positions;
    this._reserved = reserved;
    // Without building the positions of an adopted list.
    const indexOf = (token: string): number => reserved.get(token) ?? (positions?.get(token) ?? given.indexOf(token)) + reserved.size;
    defineReadonly<Vocabulary>(this, {
      unknownIndex: unknown === undefined ? null : indexOf(unknown),
      paddingIndex: padding === undefined ? null : indexOf(padding),
    });
  }

  /** The positions map, built on first use for an adopted token list. */
  private _lookup(): Map<string, number> {
    if (this._positions === null) {
      const positions = new Map<string, number>();
      this._given.forEach((token, i) => positions.set(token, i));
      this._positions = positions;
    }
    return this._positions;
  }

  /**
   * A vocabulary counted from a corpus, ordered as word2vec orders it: `specials` first, then every
   * token seen at least minCount times by count descending, ties by first occurrence (gensim's
   * stable sort), cut to maxSize entries. `tokens` is an iterable of tokens or of token arrays; it is
   * read once, as it comes, and only the distinct tokens and their counts are kept, so a corpus
   * larger than memory can stream through (a generator reading a file). For an async iterable (a
   * stream, readline), use fromCorpusAsync. unknown and padding work as in the constructor.
   */
  static fromCorpus(tokens: Iterable<CorpusItem>, options?: CorpusOptions): Vocabulary {
    const where = 'Vocabulary.fromCorpus';
    const counter = new CorpusCounter(where, options);
    const iterable = tokens as unknown as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null;
    if (typeof tokens === 'string' || iterable === null || typeof iterable !== 'object' || typeof iterable[Symbol.iterator] !== 'function') {
      const hint = iterable !== null && typeof iterable === 'object' && typeof iterable[Symbol.asyncIterator] === 'function' ? ' (an async iterable: use Vocabulary.fromCorpusAsync)' : '';
      throw new TypeError(`${where}: tokens must be an iterable of tokens or of token arrays, got ${describe(tokens)}${hint}`);
    }
    for (const item of tokens) counter.add(item);
    return counter.build();
  }

  /** fromCorpus over an async iterable (or a sync one), resolving to the vocabulary. */
  static async fromCorpusAsync(tokens: AsyncIterable<CorpusItem> | Iterable<CorpusItem>, options?: CorpusOptions): Promise<Vocabulary> {
    const where = 'Vocabulary.fromCorpusAsync';
    const counter = new CorpusCounter(where, options);
    const iterable = tokens as unknown as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null;
    if (typeof tokens === 'string' || iterable === null || typeof iterable !== 'object' ||
      (typeof iterable[Symbol.asyncIterator] !== 'function' && typeof iterable[Symbol.iterator] !== 'function')) {
      throw new TypeError(`${where}: tokens must be an async iterable or iterable of tokens or of token arrays, got ${describe(tokens)}`);
    }
    for await (const item of tokens) counter.add(item);
    return counter.build();
  }

  static {
    attachCounts = (vocabulary, counts) => {
      vocabulary._counts = counts;
      return vocabulary;
    };
  }

  /**
   * How many times `token` occurred in the corpus the vocabulary was counted from, for a token of
   * the vocabulary; 0 for any other token (one left out by minCount or maxSize included) and for
   * specials and reserved entries, which are not counted. A vocabulary not
   * built by fromCorpus has no counts: a TypeError.
   */
  countOf(token: string): number {
    const where = 'Vocabulary.countOf';
    if (typeof token !== 'string') throw new TypeError(`${where}: token must be a string, got ${describe(token)}`);
    if (this._counts === null) throw new TypeError(`${where}: this vocabulary has no counts (only Vocabulary.fromCorpus counts tokens)`);
    return this._counts.get(token) ?? 0;
  }

  /** The number of tokens, reserved entries included. */
  get size(): number {
    return this._tokens.length;
  }

  /** The tokens in index order (a frozen array, not a copy). */
  get tokens(): readonly string[] {
    return this._tokens;
  }

  get unknownToken(): string | null {
    return this.unknownIndex === null ? null : this._tokens[this.unknownIndex]!;
  }

  get paddingToken(): string | null {
    return this.paddingIndex === null ? null : this._tokens[this.paddingIndex]!;
  }

  /** The token's index, or -1 when it is not in the vocabulary. */
  indexOf(token: string): number {
    const position = this._lookup().get(token);
    if (position !== undefined) return position + this._reserved.size;
    return this._reserved.get(token) ?? -1;
  }

  has(token: string): boolean {
    return this._lookup().has(token) || this._reserved.has(token);
  }

  tokenAt(index: number): string {
    checkIndex('Vocabulary.tokenAt', 'index', index, this.size);
    return this._tokens[index]!;
  }

  /**
   * The indices of `tokens`. A token outside the vocabulary gets the index of options.unknown
   * (which must be in the vocabulary), else of the vocabulary's unknown entry; with neither, a
   * RangeError names the first such token and its position.
   */
  encode(tokens: readonly string[], options?: EncodeOptions): Int32Array {
    const where = 'Vocabulary.encode';
    const opts = checkOptions<EncodeOptions>(where, options, ['unknown']);
    const unknownToken = checkToken(where, 'options.unknown', opts.unknown);
    let unknownIndex = this.unknownIndex ?? -1;
    if (unknownToken !== undefined) {
      unknownIndex = this.indexOf(unknownToken);
      if (unknownIndex < 0) {
        throw new RangeError(`${where}: options.unknown = ${quoteText(unknownToken)} is not in the vocabulary`);
      }
    }
    if (!Array.isArray(tokens)) throw new TypeError(`${where}: tokens must be an array of strings, got ${describe(tokens)}`);
    const indices = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const token: unknown = tokens[i];
      if (typeof token !== 'string') throw new TypeError(`${where}: tokens[${i}] must be a string, got ${describe(token)}`);
      const index = this.indexOf(token);
      if (index >= 0) {
        indices[i] = index;
      } else if (unknownIndex >= 0) {
        indices[i] = unknownIndex;
      } else {
        throw new RangeError(
          `${where}: tokens[${i}] = ${quoteText(token)} is not in the vocabulary (give options.unknown, or build the vocabulary with an unknown token)`,
        );
      }
    }
    return indices;
  }

  /** The tokens at `indices`. */
  decode(indices: ArrayLike<number>): string[] {
    const where = 'Vocabulary.decode';
    if (indices === null || typeof indices !== 'object' || typeof indices.length !== 'number') {
      throw new TypeError(`${where}: indices must be an array or typed array of numbers, got ${describe(indices)}`);
    }
    const tokens = new Array<string>(indices.length);
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i];
      checkIndex(where, `indices[${i}]`, index, this.size);
      tokens[i] = this._tokens[index!]!;
    }
    return tokens;
  }

  /**
   * Writes the vocabulary as JSON: {"format":"nn-embedding-vocabulary","version":1,"tokens":[...],
   * "unknown":token|null,"padding":token|null}, through a temporary file renamed into place.
   */
  async save(file: string): Promise<void> {
    const tokens = this._tokens;
    await writeFileAtomic(file, async (sink) => {
      await sink.writeText(`{"format":${JSON.stringify(JSON_FORMAT)},"version":1,"tokens":[`);
      for (let start = 0; start < tokens.length; start += TOKENS_PER_WRITE) {
        const piece = tokens.slice(start, start + TOKENS_PER_WRITE).map((token) => JSON.stringify(token));
        await sink.writeText((start === 0 ? '' : ',') + piece.join(','));
      }
      await sink.writeText(`],"unknown":${JSON.stringify(this.unknownToken)},"padding":${JSON.stringify(this.paddingToken)}}\n`);
    });
  }

  /**
   * Reads a vocabulary written by save() (content starting with '{'), or a UTF-8 text file of
   * one token per line: '\n' or '\r\n' line ends, the last one optional, no empty lines (a text
   * vocabulary has no reserved entries; a first token starting with '{' needs the JSON form).
   * A malformed file gets a FileFormatError naming the file, the line and what is wrong.
   */
  static async load(file: string): Promise<Vocabulary> {
    if (typeof file !== 'string') throw new TypeError(`Vocabulary.load: file must be a string, got ${describe(file)}`);
    let bytes = await readSmallFile(file);
    // A byte order mark is an encoding marker, not part of the first token.
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    if (!isUtf8(bytes)) throw new FileFormatError(file, `${firstInvalidUtf8Line(bytes)} is not valid UTF-8`);
    return bytes[0] === 0x7b ? vocabularyFromJson(file, bytes) : vocabularyFromLines(file, bytes);
  }
}

/** Counts the tokens of a corpus, item by item, then orders them (Vocabulary.fromCorpus). */
class CorpusCounter {
  private readonly counts = new Map<string, number>();
  private readonly specials: readonly string[];
  private readonly specialSet: Set<string>;
  private readonly minCount: number;
  private readonly maxSize: number;
  private readonly reserved: VocabularyOptions;
  private items = 0;

  constructor(private readonly where: string, options: unknown) {
    const o = checkOptions<CorpusOptions>(where, options, ['minCount', 'maxSize', 'specials', 'unknown', 'padding']);
    this.minCount = o.minCount === undefined ? 1 : checkInteger(where, 'options.minCount', o.minCount, 1);
    this.maxSize = o.maxSize === undefined ? MAX_VOCABULARY_SIZE : checkInteger(where, 'options.maxSize', o.maxSize, 1);
    if (o.specials !== undefined && !Array.isArray(o.specials)) throw new TypeError(`${where}: options.specials must be an array of strings, got ${describe(o.specials)}`);
    const specials = o.specials ?? [];
    specials.forEach((token: unknown, i) => {
      if (typeof token !== 'string') throw new TypeError(`${where}: options.specials[${i}] must be a string, got ${describe(token)}`);
      if (specials.indexOf(token) !== i) throw new RangeError(`${where}: options.specials has ${quoteText(token)} twice`);
    });
    if (specials.length > this.maxSize) throw new RangeError(`${where}: options.maxSize = ${this.maxSize} leaves no room for the ${specials.length} specials`);
    this.specials = [...specials];
    this.specialSet = new Set(specials);
    this.reserved = {};
    const unknown = checkToken(where, 'options.unknown', o.unknown);
    const padding = checkToken(where, 'options.padding', o.padding);
    if (unknown !== undefined) this.reserved.unknown = unknown;
    if (padding !== undefined) this.reserved.padding = padding;
    const reservedEntries = new Set([...specials, ...[unknown, padding].filter((t) => t !== undefined)]).size;
    if (reservedEntries > this.maxSize) {
      throw new RangeError(`${where}: options.maxSize = ${this.maxSize} leaves no room for the ${reservedEntries} specials, unknown and padding tokens`);
    }
  }

  /** One item of the corpus: a token, or an array of tokens. */
  add(item: unknown): void {
    const at = this.items++;
    if (typeof item === 'string') {
      this.count(item, at, null);
    } else if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) this.count(item[i], at, i);
    } else {
      throw new TypeError(`${this.where}: item ${at} of the corpus must be a token (string) or an array of tokens, got ${describe(item)}`);
    }
  }

  private count(token: unknown, at: number, position: number | null): void {
    if (typeof token !== 'string') {
      throw new TypeError(`${this.where}: item ${at}${position === null ? '' : `[${position}]`} of the corpus must be a string, got ${describe(token)}`);
    }
    if (this.specialSet.has(token)) return;
    const counts = this.counts;
    const count = counts.get(token);
    if (count !== undefined) {
      counts.set(token, count + 1);
    } else {
      if (counts.size >= MAX_VOCABULARY_SIZE) {
        throw new RangeError(`${this.where}: the corpus has more than ${MAX_VOCABULARY_SIZE} distinct tokens, the most a vocabulary counts (a JavaScript Map's limit)`);
      }
      counts.set(token, 1);
    }
  }

  /** Specials, then the tokens kept by count descending, first occurrence first among equals (Array.prototype.sort is stable). */
  build(): Vocabulary {
    const kept: [string, number][] = [];
    for (const entry of this.counts) if (entry[1] >= this.minCount) kept.push(entry);
    kept.sort((a, b) => b[1] - a[1]);
    // Reserved entries missing from the list are inserted by the constructor: leave room for them.
    const room = this.maxSize - this.specials.length;
    let cut = room;
    let tokens: string[];
    for (;;) {
      tokens = [...this.specials, ...kept.slice(0, Math.max(0, cut)).map(([token]) => token)];
      const present = new Set(tokens);
      const missing = new Set([this.reserved.padding, this.reserved.unknown].filter((t) => t !== undefined && !present.has(t))).size;
      if (cut <= room - missing || cut <= 0) break;
      cut = room - missing;
    }
    const counts = new Map<string, number>();
    for (const token of tokens) {
      const count = this.counts.get(token);
      if (count !== undefined) counts.set(token, count);
    }
    return attachCounts(vocabularyOfDistinct(tokens, this.reserved), counts);
  }
}

/** An optional token option: undefined or a string. */
function checkToken(where: string, name: string, value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw new TypeError(`${where}: ${name} must be a string, got ${describe(value)}`);
  return value;
}

function checkIndex(where: string, name: string, index: unknown, size: number): void {
  if (typeof index !== 'number') throw new TypeError(`${where}: ${name} must be a number, got ${describe(index)}`);
  if (!Number.isInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`${where}: ${name} = ${describe(index)} is out of range [0, ${size}) for a vocabulary of ${size} tokens`);
  }
}

/** The whole file, refused beyond MAX_TEXT_BYTES. */
async function readSmallFile(file: string): Promise<Buffer> {
  const fh = await openForReading(file);
  try {
    const size = (await fh.stat()).size;
    if (size > MAX_TEXT_BYTES) {
      throw new FileFormatError(file, `${size} bytes is too large for a vocabulary file (at most ${MAX_TEXT_BYTES} bytes)`);
    }
    const bytes = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(bytes, done, size - done, done);
      if (bytesRead === 0) throw new FileFormatError(file, `the file shrank while being read (${done} of ${size} bytes)`);
      done += bytesRead;
    }
    return bytes;
  } finally {
    await fh.close();
  }
}

/** "line N" of the first line that is not valid UTF-8 (the buffer as a whole is not). */
function firstInvalidUtf8Line(bytes: Buffer): string {
  let line = 1;
  for (let start = 0; start < bytes.length; line++) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    if (!isUtf8(bytes.subarray(start, end))) return `line ${line}`;
    start = end + 1;
  }
  return 'the file';
}

function vocabularyFromJson(file: string, bytes: Buffer): Vocabulary {
  const bad = (reason: string): FileFormatError => new FileFormatError(file, `not a valid vocabulary file: ${reason}`);
  if (bytes.length > bufferConstants.MAX_STRING_LENGTH) {
    throw bad(`${bytes.length} bytes of JSON is more than a string can hold; save large vocabularies as text, one token per line`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw bad(`invalid JSON (${(error as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('the JSON is not an object');
  const json = parsed as Partial<Record<keyof VocabularyJson, unknown>>;
  if (json.format !== JSON_FORMAT) throw bad(`"format" is ${describe(json.format)}, expected ${JSON.stringify(JSON_FORMAT)}`);
  if (json.version !== 1) throw bad(`"version" is ${describe(json.version)}, expected 1`);
  const extra = Object.keys(json).filter((key) => !['format', 'version', 'tokens', 'unknown', 'padding'].includes(key));
  if (extra.length > 0) throw bad(`unexpected key ${JSON.stringify(extra[0])}`);
  if (!Array.isArray(json.tokens)) throw bad(`"tokens" is ${describe(json.tokens)}, expected an array of strings`);
  const tokens = json.tokens as unknown[];
  if (tokens.length > MAX_VOCABULARY_SIZE) throw bad(`${tokens.length} tokens are more than a vocabulary holds (${MAX_VOCABULARY_SIZE})`);
  const positions = new Map<string, number>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (typeof token !== 'string') throw bad(`tokens[${i}] is ${describe(token)}, expected a string`);
    const earlier = positions.get(token);
    if (earlier !== undefined) throw bad(`token ${quoteText(token)} appears twice, at tokens[${earlier}] and tokens[${i}]`);
    positions.set(token, i);
  }
  const special = (key: 'unknown' | 'padding'): string | undefined => {
    const value = json[key];
    if (value === null || value === undefined) return undefined;
    if (typeof value !== 'string') throw bad(`"${key}" is ${describe(value)}, expected a token or null`);
    if (!positions.has(value)) throw bad(`"${key}" is ${quoteText(value)}, which is not among the tokens`);
    return value;
  };
  const unknown = special('unknown');
  const padding = special('padding');
  return vocabularyOfDistinct(tokens as string[], { ...(unknown === undefined ? {} : { unknown }), ...(padding === undefined ? {} : { padding }) });
}

function vocabularyFromLines(file: string, bytes: Buffer): Vocabulary {
  const tokens: string[] = [];
  const lines = new Map<string, number>();
  for (let start = 0; start < bytes.length; ) {
    let end = bytes.indexOf(10, start);
    const next = end < 0 ? bytes.length : end + 1;
    if (end < 0) end = bytes.length;
    if (end > start && bytes[end - 1] === 13) end--;
    const line = tokens.length + 1;
    if (end === start) throw new FileFormatError(file, `line ${line} is empty (a text vocabulary has one token on every line)`);
    if (line > MAX_VOCABULARY_SIZE) throw new FileFormatError(file, `more than ${MAX_VOCABULARY_SIZE} lines, the most tokens a vocabulary holds`);
    const token = bytes.toString('utf8', start, end);
    const earlier = lines.get(token);
    if (earlier !== undefined) throw new FileFormatError(file, `line ${line}: token ${quoteText(token)} already appeared on line ${earlier}`);
    lines.set(token, line);
    tokens.push(token);
    start = next;
  }
  return vocabularyOfDistinct(tokens, {});
}
