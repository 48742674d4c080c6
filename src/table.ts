// What Embedding and EmbeddingBag share: the table, its options, its gradient, and the parts of
// forward and backward that do not depend on how looked-up rows are combined (maxNorm renorm,
// scaleGradByFreq counts, sparse rows). Each layer's own file reads as its operator's semantics.
import { constants as bufferConstants } from 'node:buffer';

import { heldArray } from './async-guard.js';
import { type Backend, DTYPE_CODES, METRIC_CODES, type KernelIndices, type PackedData, type PackedDtypeCode, type Plan } from './backend.js';
import { checkDtype as checkDtypeName, type Dtype, quantize, rowBytes } from './dtype.js';
import { currentBackend } from './loader.js';
import { AsyncAccess, runPlan, runPlanAsync } from './plan.js';
import { type InitPlan, type InitSpec, fillWithPlan, planInit } from './init.js';
import { loadAddon } from './backends/native.js';
import { randomSeed } from './random.js';
import { type MostSimilarOptions, type Neighbours, rowList, searchOptions } from './similarity.js';
import { noteWritten, versionOf } from './table-writes.js';
import {
  checkBoolean,
  checkFixedLength,
  checkFloat32Array,
  checkInteger,
  checkNoOverlap,
  checkOptions,
  defineReadonly,
  type IndexArray,
  describe,
  indexRangeError,
} from './validate.js';

export interface EmbeddingOptions {
  /** Row whose gradient is always zero; zeroed by the default init. May be negative: counts from the end. */
  paddingIdx?: number | null;
  /** Rows looked up by forward() whose normType-norm exceeds maxNorm are renormalized in place. */
  maxNorm?: number | null;
  /** p of the maxNorm norm, > 0 (Infinity allowed); default 2. */
  normType?: number;
  /** Divide each gradient contribution by how often its row occurs in that call's indices. */
  scaleGradByFreq?: boolean;
  /** backward() records rows in sparseGrad instead of accumulating a dense grad. */
  sparse?: boolean;
  /** Initial table, row-major, numEmbeddings * embeddingDim; adopted without copying or zeroing. */
  weight?: Float32Array;
  /** backward() records nothing. Default false (true in fromPretrained). */
  freeze?: boolean;
  /**
   * How the table is initialized (torch.nn.init's choices and defaults): { kind: 'normal', mean?,
   * std? } (the default: N(0, 1)), 'uniform' (a?, b?), 'truncNormal' (mean?, std?, a?, b?),
   * 'xavierUniform' / 'xavierNormal' (gain?; fan_in = embeddingDim, fan_out = numEmbeddings),
   * 'constant' (value), 'zeros'. The paddingIdx row is zeroed after any of them.
   */
  init?: InitSpec;
  /** Seed of the random init; the same seed gives the same table on every backend and machine. */
  seed?: number;
  /**
   * How the table is stored (src/dtype.ts): 'float32' (the default), 'float16' or 'bfloat16'
   * (a Uint16Array of bits), 'int8' or 'int4' (a Uint8Array of rows, torch's
   * embedding_bag_byte_prepack / embedding_bag_4bit_prepack layouts). A narrow table is
   * initialized in float32 and converted; `data` holds it, `weight` exists only for float32.
   * float16 and bfloat16 tables train through sparse rows (sparse: true, or an optimizer applied in
   * backward): each step updates the touched rows in float32 and rounds them back (README,
   * "Training float16 and bfloat16 tables"). int8 and int4 tables are for lookups. maxNorm and
   * scaleGradByFreq need a float32 table.
   */
  dtype?: Dtype;
}

/** A sparse gradient: uncoalesced rows, indices[k] is the row that values[k*dim .. k*dim+dim) belongs to. */
/**
 * A layer's state, as torch's module.state_dict() names it: the table as stored (float32 values, or
 * a narrow dtype's packed rows: a Uint16Array of float16/bfloat16 bits, a Uint8Array of int8/int4
 * rows).
 */
export interface LayerStateDict {
  weight: Float32Array | PackedData;
}

export interface SparseGrad {
  indices: Int32Array;
  values: Float32Array;
}

export const TABLE_OPTION_NAMES = [
  'paddingIdx',
  'maxNorm',
  'normType',
  'scaleGradByFreq',
  'sparse',
  'weight',
  'freeze',
  'init',
  'seed',
  'dtype',
] as const;

const DISTANCE_COSINE = METRIC_CODES.cosine;

/** A narrow table's packed rows adopted by fromPretrained (the constructor's options.weight is float32 only). */
const PACKED_DATA: unique symbol = Symbol('nn-embedding.packedData');

/**
 * Tables at least this large are allocated by the addon on the native backend: see newTable. It is
 * glibc's mmap threshold as the addon sets it (native/malloc_tuning.h): smaller tables come from
 * the shared heap, whose memory may be touched already and stays the heap's after the table is freed.
 */
const HUGE_PAGE_TABLE_BYTES = 32 << 20;

/**
 * A zeroed table for a layer to initialize. On the native backend a large one is mapped by the
 * addon (allocateZeroed: fresh zero pages, unmapped when the array is collected) with huge pages
 * requested before its first write (Linux transparent huge pages in "madvise" mode): the init's
 * first writes then fault in 2 MiB at a time instead of 4 KiB, which on the machines measured costs
 * less than the init's own arithmetic instead of more. And its rows start on cache-line
 * boundaries: a Float32Array that V8 allocates starts 16 bytes into a page (glibc's header of an
 * mmap'd block), so a 512-byte row touches 9 cache lines instead of 8 and a float16 row of 256
 * bytes 5 instead of 4, one more line fetched per row looked up or updated. Elsewhere (and above
 * buffer.constants.MAX_LENGTH, which Node cannot wrap around the addon's memory) a plain typed
 * array, which V8 frees when it is collected (a large one is fresh pages from the OS too).
 */
function newTable(count: number): Float32Array {
  return zeroedTable(Float32Array, count);
}

/** A zeroed array of `count` elements of `Type`, allocated as newTable says (the dtype benchmark's tables too). */
export function zeroedTable<T extends Float32Array | PackedData>(Type: { new (length: number): T; new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number }, count: number): T {
  const bytes = count * Type.BYTES_PER_ELEMENT;
  if (bytes >= HUGE_PAGE_TABLE_BYTES && bytes <= bufferConstants.MAX_LENGTH && currentBackend().name === 'native') {
    let buffer: ArrayBuffer | null = null;
    try {
      buffer = loadAddon().allocateZeroed(bytes) as ArrayBuffer;
    } catch {
      // The system refused the mapping: V8's allocation below says so in its own words, or succeeds.
    }
    if (buffer !== null) return new Type(buffer);
  }
  return withHugePages(new Type(count));
}

/** A fresh zeroed table with huge pages requested when it is large enough (see newTable). */
function withHugePages<T extends Float32Array | PackedData>(table: T): T {
  if (table.byteLength >= HUGE_PAGE_TABLE_BYTES && currentBackend().name === 'native') loadAddon().adviseHugePages(table.buffer as ArrayBuffer);
  return table;
}

/** Marks options of a layer whose init runs later, asynchronously (Embedding.create). */
export const DEFER_INIT: unique symbol = Symbol('nn-embedding.deferInit');
const deferredInits = new WeakMap<EmbeddingTable, InitPlan>();

/** A create()'s options for the constructor: checked as an object, with the init deferred. */
function deferredInit<T extends object>(where: string, options: T | undefined): T {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new TypeError(`${where}: options must be an object, got ${describe(options)}`);
  }
  if (options !== undefined && (options as { weight?: unknown }).weight !== undefined) {
    throw new TypeError(`${where}: options.weight is not accepted (use the constructor to adopt a table)`);
  }
  return { ...options, [DEFER_INIT]: true } as T;
}

/** Growable storage behind sparseGrad: rows are appended, views are handed out. */
export class SparseRows {
  indices = new Int32Array(64);
  values: Float32Array;
  rows = 0;
  private _view: SparseGrad | null = null;

  constructor(readonly dim: number) {
    this.values = new Float32Array(64 * dim);
  }

  /** Makes room for `extra` more rows. */
  reserve(extra: number): void {
    const needed = this.rows + extra;
    if (needed <= this.indices.length) return;
    const capacity = Math.max(needed, this.indices.length * 2);
    const indices = new Int32Array(capacity);
    indices.set(this.indices.subarray(0, this.rows));
    const values = new Float32Array(capacity * this.dim);
    values.set(this.values.subarray(0, this.rows * this.dim));
    this.indices = indices;
    this.values = values;
  }

  /** Appends `count` rows: their indices from indices[start ..] (valid rows), their values copied from source. */
  appendCopies(source: Float32Array, indices: KernelIndices, start: number, count: number): void {
    if (indices instanceof BigInt64Array) {
      for (let k = 0; k < count; k++) this.indices[this.rows + k] = Number(indices[start + k]!);
    } else {
      // Valid rows are below 2^31: an Int32Array holds them as they are.
      this.indices.set(indices.subarray(start, start + count), this.rows);
    }
    this.values.set(source.subarray(start * this.dim, (start + count) * this.dim), this.rows * this.dim);
    this.rows += count;
    this._view = null;
  }

  /** Appends one row: scale * source[sourceRow] (a copy when scale is null). */
  appendScaled(row: number, source: Float32Array, sourceRow: number, scale: number | null): void {
    const dim = this.dim;
    const to = this.rows * dim;
    const from = sourceRow * dim;
    this.indices[this.rows] = row;
    if (scale === null) {
      this.values.set(source.subarray(from, from + dim), to);
    } else {
      for (let j = 0; j < dim; j++) this.values[to + j] = scale * source[from + j];
    }
    this.rows += 1;
    this._view = null;
  }

  /** Empties the storage for reuse (nothing handed out may still view it). */
  clear(): void {
    this.rows = 0;
    this._view = null;
  }

  view(): SparseGrad {
    this._view ??= {
      indices: this.indices.subarray(0, this.rows),
      values: this.values.subarray(0, this.rows * this.dim),
    };
    return this._view;
  }
}

/** Bag b holds entries [offsets[b], end): end is offsets[b + 1], or count for the last bag when offsets has numBags entries. */
/**
 * A new Float32Array for an output a kernel writes in full (forward's rows, a bag's sums): its memory
 * is not zeroed first (Buffer.allocUnsafeSlow, its own ArrayBuffer of exactly length * 4 bytes),
 * which saves a pass over it. Only for arrays every element of which is written before the caller
 * sees them (the tests fill a caller's `out` with NaN and compare, for every kernel path).
 * Arrays of up to 16 floats live on V8's heap, where a zeroed array is cheaper still.
 */
export function kernelOutput(length: number): Float32Array {
  if (length <= 16 || length * 4 > MAX_BUFFER_BYTES) return new Float32Array(length);
  const bytes = Buffer.allocUnsafeSlow(length * 4);
  return new Float32Array(bytes.buffer, bytes.byteOffset, length);
}
const MAX_BUFFER_BYTES = bufferConstants.MAX_LENGTH;

export function forEachBag(
  bags: { offsets: Uint32Array; numBags: number },
  count: number,
  visit: (begin: number, end: number, bag: number) => void,
): void {
  for (let b = 0; b < bags.numBags; b++) {
    visit(bags.offsets[b]!, b + 1 < bags.offsets.length ? bags.offsets[b + 1]! : count, b);
  }
}

/** Visits every entry i of the bags with its bag. */
export function forEachEntry(bags: { offsets: Uint32Array; numBags: number }, count: number, visit: (i: number, bag: number) => void): void {
  forEachBag(bags, count, (begin, end, bag) => {
    for (let i = begin; i < end; i++) visit(i, bag);
  });
}

/** Reads validated indices as numbers, whatever their array type. */
export function rowReader(indices: KernelIndices): (i: number) => number {
  if (indices instanceof BigInt64Array) return (i) => Number(indices[i]!);
  return (i) => indices[i]!;
}

/**
 * An update applied straight from a backward call's entries (applyOptimizerInBackward): entry i
 * contributes scale[i] * source[i] (or source[bag of i] with offsets) to row indices[i], entries
 * equal to skipRow left out. Indices are valid when it is called.
 */
export interface EntryRows {
  indices: KernelIndices;
  source: Float32Array;
  offsets: Uint32Array | null;
  numBags: number;
  scale: Float32Array | null;
  skipRow: number;
}

export type InBackwardUpdate = (rows: EntryRows) => Plan<void>;

/**
 * Package-internal links of a table: its backend, the guard against racing its unfinished async
 * calls, and an optimizer applied in its backward.
 */
const backends = new WeakMap<EmbeddingTable, Backend>();
const accesses = new WeakMap<EmbeddingTable, AsyncAccess>();
const inBackwardUpdates = new WeakMap<EmbeddingTable, InBackwardUpdate>();

/**
 * A table's gradients as the package's optimizers read them: unlike the grad and sparseGrad
 * getters, this does not count as handing them to the user (see EmbeddingTable.zeroGrad).
 */
// eslint-disable-next-line prefer-const -- assigned once, in EmbeddingTable's static block
export let keptGradients: (table: EmbeddingTable) => { dense: Float32Array | null; sparse: SparseGrad | null };

export function backendOf(table: EmbeddingTable): Backend {
  return backends.get(table)!;
}

export function accessOf(table: EmbeddingTable): AsyncAccess {
  return accesses.get(table)!;
}

export function isEmbeddingTable(value: unknown): value is EmbeddingTable {
  return typeof value === 'object' && value !== null && backends.has(value as EmbeddingTable);
}

export function setInBackwardUpdate(table: EmbeddingTable, update: InBackwardUpdate): void {
  inBackwardUpdates.set(table, update);
}

export abstract class EmbeddingTable {
  // Set once by the constructor, read-only at run time too (defineReadonly: assigning one throws).
  declare readonly numEmbeddings: number;
  declare readonly embeddingDim: number;
  declare readonly paddingIdx: number | null;
  declare readonly maxNorm: number | null;
  declare readonly normType: number;
  declare readonly scaleGradByFreq: boolean;
  declare readonly sparse: boolean;
  declare readonly freeze: boolean;
  declare readonly weight: Float32Array;
  /** How the table is stored: 'float32', or a narrow dtype whose packed rows `data` holds. */
  declare readonly dtype: Dtype;
  /**
   * The table as stored: `weight` itself for float32; for a narrow dtype its packed rows (a
   * Uint16Array of float16/bfloat16 bits, or a Uint8Array of int8/int4 rows), numEmbeddings rows
   * of rowBytes(embeddingDim, dtype) bytes.
   */
  declare readonly data: Float32Array | PackedData;

  protected readonly backend: Backend;
  protected denseGrad: Float32Array | null = null;
  protected sparseRows: SparseRows | null = null;
  /**
   * Gradient storage that zeroGrad() dropped without the user ever having been handed it (through
   * the grad or sparseGrad getters): the next backward reuses it instead of allocating, so a
   * training step allocates nothing in steady state. Storage the user was handed is never reused:
   * a gradient handed out is never overwritten by a later call.
   */
  private _spareDense: Float32Array | null = null;
  private _spareSparse: SparseRows | null = null;
  private _denseHandedOut = false;
  private _sparseHandedOut = false;
  /** One bit per row for renorm's "each distinct row once"; allocated on the first maxNorm lookup. */
  private _renormSeen: Uint8Array | null = null;
  /** Occurrence counts for scaleGradByFreq, all zero between calls. */
  private _counts: Int32Array | null = null;
  /** data's length when the layer took it (checkKept compares it on every call). */
  private _dataLength = 0;
  /**
   * mostSimilar's cosine divisors: 1 / the norm of each row, for rows [0, _normsCount), valid
   * while the table's version (table-writes.ts) is _normsVersion.
   */
  private _invNorms: Float64Array | null = null;
  private _normsCount = 0;
  private _normsVersion = -1;

  /** Validates the table's size and options (`opts` already checked for unknown keys). */
  protected constructor(where: string, numEmbeddings: number, embeddingDim: number, opts: Partial<EmbeddingOptions>) {
    checkInteger(where, 'numEmbeddings', numEmbeddings, 1);
    checkInteger(where, 'embeddingDim', embeddingDim, 1);
    const size = numEmbeddings * embeddingDim;
    if (size > 2 ** 32) {
      throw new RangeError(
        `${where}: numEmbeddings * embeddingDim = ${size} exceeds the largest Float32Array (2^32 elements)`,
      );
    }
    const paddingIdx = normalizePaddingIdx(where, opts.paddingIdx, numEmbeddings);
    let maxNorm: number | null;
    if (opts.maxNorm === undefined || opts.maxNorm === null) {
      maxNorm = null;
    } else if (typeof opts.maxNorm !== 'number') {
      throw new TypeError(`${where}: options.maxNorm must be a number or null, got ${describe(opts.maxNorm)}`);
    } else if (!(opts.maxNorm > 0 && Number.isFinite(opts.maxNorm))) {
      throw new RangeError(`${where}: options.maxNorm must be a positive finite number, got ${describe(opts.maxNorm)}`);
    } else {
      maxNorm = opts.maxNorm;
    }
    let normType: number;
    if (opts.normType === undefined) {
      normType = 2;
    } else if (typeof opts.normType !== 'number') {
      throw new TypeError(`${where}: options.normType must be a number, got ${describe(opts.normType)}`);
    } else if (!(opts.normType > 0)) {
      throw new RangeError(`${where}: options.normType must be > 0 (Infinity allowed), got ${describe(opts.normType)}`);
    } else {
      normType = opts.normType;
    }
    const scaleGradByFreq = checkBoolean(where, 'options.scaleGradByFreq', opts.scaleGradByFreq, false);
    const sparse = checkBoolean(where, 'options.sparse', opts.sparse, false);
    const freeze = checkBoolean(where, 'options.freeze', opts.freeze, false);
    if (sparse && scaleGradByFreq) {
      throw new RangeError(`${where}: options.sparse and options.scaleGradByFreq cannot both be true (as in torch)`);
    }
    if (sparse && numEmbeddings > 2 ** 31) {
      throw new RangeError(`${where}: a sparse layer has at most 2^31 rows (SparseGrad.indices is an Int32Array)`);
    }
    const dtype = checkDtype(where, opts.dtype, embeddingDim);
    if (dtype !== 'float32') {
      // float16/bfloat16 tables train through sparse rows (sparse: true or an optimizer applied in
      // backward); quantized ones are for lookups only. maxNorm would renormalize the table in place.
      const halves = dtype === 'float16' || dtype === 'bfloat16';
      for (const [name, set] of [['maxNorm', maxNorm !== null], ['sparse', sparse && !halves], ['scaleGradByFreq', scaleGradByFreq]] as const) {
        if (set) throw new TypeError(`${where}: options.${name} needs a float32 table; this one is ${dtype} (${halves ? 'not supported on 16-bit tables' : 'quantized tables are for lookups'})`);
      }
    }
    const packed = (opts as { [PACKED_DATA]?: PackedData })[PACKED_DATA];

    let weight: Float32Array;
    let plan: InitPlan | null = null;
    if (packed !== undefined) {
      weight = new Float32Array(0); // never used: a narrow table has data, not weight
    } else if (opts.weight !== undefined) {
      if (dtype !== 'float32') {
        throw new TypeError(
          `${where}: options.weight is a float32 table; to adopt a ${dtype} table use fromPretrained(data, embeddingDim, { dtype: '${dtype}' }), or quantize() the weights first`,
        );
      }
      if (opts.seed !== undefined) {
        throw new TypeError(`${where}: options.seed has no effect with options.weight (the table is not initialized)`);
      }
      if (opts.init !== undefined && opts.init !== null) {
        throw new TypeError(`${where}: options.init has no effect with options.weight (the table is adopted as it is)`);
      }
      weight = checkFloat32Array(where, 'options.weight', opts.weight, size, 'numEmbeddings * embeddingDim');
      checkFixedLength(where, 'options.weight', weight);
    } else {
      const seed = opts.seed === undefined ? randomSeed() : checkInteger(where, 'options.seed', opts.seed, 0);
      plan = planInit(where, 'options.init', opts.init ?? { kind: 'normal' }, numEmbeddings, embeddingDim, seed);
      weight = newTable(size);
    }
    const data = packed ?? (dtype === 'float32' ? weight : emptyPacked(dtype, numEmbeddings, embeddingDim));
    defineReadonly<EmbeddingTable>(this, { numEmbeddings, embeddingDim, paddingIdx, maxNorm, normType, scaleGradByFreq, sparse, freeze, dtype, data });
    this._dataLength = data.length;
    if (dtype === 'float32') {
      defineReadonly<EmbeddingTable>(this, { weight });
    } else {
      Object.defineProperty(this, 'weight', {
        enumerable: true,
        get: () => {
          throw new TypeError(
            `${this.constructor.name}.weight: this layer's table is ${dtype} (its packed rows are layer.data); weight is the float32 ` +
              `table and exists only for dtype 'float32'. dequantize(layer.data, layer.embeddingDim, '${dtype}') gives its values`,
          );
        },
      });
    }
    if (plan !== null) {
      if ((opts as { [DEFER_INIT]?: boolean })[DEFER_INIT] === true) {
        deferredInits.set(this, plan);
      } else {
        fillWithPlan(weight, plan, true);
        this._zeroPaddingRow(weight);
        if (dtype !== 'float32') data.set(quantize(weight, embeddingDim, dtype));
      }
    }
    this.backend = currentBackend();
    backends.set(this, this.backend);
    accesses.set(this, new AsyncAccess('layer'));
  }

  private _zeroPaddingRow(weight: Float32Array): void {
    if (this.paddingIdx !== null) weight.fill(0, this.paddingIdx * this.embeddingDim, (this.paddingIdx + 1) * this.embeddingDim);
  }

  /**
   * A layer's static create(): its constructor (`construct`) given the options with the init
   * deferred, then the init run without blocking the event loop (native: on the thread pool;
   * TypeScript: in a later task). Bad arguments reject with the constructor's error.
   */
  protected static async createDeferred<L extends EmbeddingTable, O extends object>(
    where: string,
    options: O | undefined,
    construct: (options: O) => L,
  ): Promise<L> {
    const layer = construct(deferredInit(where, options));
    await layer.initDeferred();
    return layer;
  }

  /** The init of a layer built with DEFER_INIT, on the thread pool (native) or in a later task (TypeScript). */
  private async initDeferred(): Promise<void> {
    const plan = deferredInits.get(this);
    if (plan === undefined) return;
    deferredInits.delete(this);
    // A narrow table is initialized in float32, then converted.
    const weight = this.dtype === 'float32' ? this.weight : new Float32Array(this.numEmbeddings * this.embeddingDim);
    if (plan.fill === 'kernel') await this.backend.callAsync(['initFill', [weight, plan.params, 0]]);
    else fillWithPlan(weight, plan, true);
    this._zeroPaddingRow(weight);
    if (this.dtype !== 'float32') this.data.set(quantize(weight, this.embeddingDim, this.dtype));
  }

  /** Runs a method's plan now, unless an unfinished async call conflicts with it. */
  protected run<T>(where: string, access: 'read' | 'write', plan: () => Plan<T>): T {
    this.checkAccess(where, access);
    this.checkKept(where);
    return runPlan(this.backend, plan());
  }

  /**
   * Throws if an unfinished async call conflicts with a synchronous call of this access. (The
   * plain forward, which checks nothing else up front, learns of a detached weight from the
   * kernel: with no rows left, any index is out of range, and throwIfBad says why.)
   */
  protected checkAccess(where: string, access: 'read' | 'write'): void {
    accessOf(this).check(where, access);
  }

  /**
   * Throws an Error if an array this layer keeps (weight, grad, sparseGrad) no longer has its
   * length: its buffer was transferred (detached) or otherwise taken from under the layer.
   */
  checkKept(where: string): void {
    const size = this.numEmbeddings * this.embeddingDim;
    if (this.data.length !== this._dataLength) {
      throw keptArrayError(where, this.dtype === 'float32' ? 'weight' : 'data', this.data.length, this._dataLength);
    }
    if (this.denseGrad !== null && this.denseGrad.length !== size) throw keptArrayError(where, 'grad', this.denseGrad.length, size);
    const sparse = this.sparseRows;
    if (sparse !== null && (sparse.indices.length < sparse.rows || sparse.values.length < sparse.rows * this.embeddingDim)) {
      throw keptArrayError(where, 'sparseGrad', sparse.values.length, sparse.rows * this.embeddingDim);
    }
  }

  /** Runs a method's plan with its kernels off the JavaScript thread; conflicting calls throw meanwhile. */
  protected async runAsync<T>(where: string, access: 'read' | 'write', plan: () => Plan<T>): Promise<T> {
    const guard = accessOf(this);
    this.checkAccess(where, access);
    this.checkKept(where);
    heldArray(where, this.dtype === 'float32' ? 'weight' : 'data', this.data);
    heldArray(where, 'grad', this.denseGrad);
    const release = guard.acquire(access);
    try {
      return await runPlanAsync(this.backend, plan());
    } finally {
      release();
    }
  }

  /** The packed-table code of a narrow layer's kernels (gatherPacked, bagForwardPacked); null for float32. */
  protected get packedCode(): PackedDtypeCode | null {
    return this.dtype === 'float32' ? null : DTYPE_CODES[this.dtype];
  }

  /**
   * Throws the TypeError for training a quantized table (backward, optimizers): int8 and int4
   * tables are for inference. float16 and bfloat16 tables train through sparse rows.
   */
  checkTrainable(where: string): void {
    if (this.dtype !== 'int8' && this.dtype !== 'int4') return;
    throw new TypeError(`${where}: this layer's table is ${this.dtype}; quantized tables are for inference (train a float32 or float16/bfloat16 table, then quantize() it)`);
  }

  /**
   * Throws the TypeError for a dense gradient of a float16/bfloat16 table: it would be a float32
   * array of the whole table's size. Such tables train with sparse: true or applyOptimizerInBackward.
   */
  protected checkNoDenseGradient(where: string): void {
    if (this.dtype === 'float32' || this.freeze || this.sparse || this.inBackwardUpdate !== undefined) return;
    throw new TypeError(
      `${where}: this layer's table is ${this.dtype}, whose backward takes no dense gradient (a float32 array of the table's size); ` +
        'construct it with sparse: true and step a sparse-capable optimizer, or use applyOptimizerInBackward',
    );
  }

  /**
   * The k rows most similar to `query`, a row index or a Float32Array of embeddingDim values,
   * best first, ties to the lower row (options: MostSimilarOptions; cosine by default). A row
   * query does not return itself unless options.excludeSelf is false. When exclusions leave
   * fewer than k rows, the arrays are shorter. Exact: every row of [0, options.limit) is scored.
   */
  mostSimilar(query: number | Float32Array, k: number, options?: MostSimilarOptions): Neighbours {
    const where = `${this.constructor.name}.mostSimilar`;
    let queries: Float32Array | Int32Array;
    if (typeof query === 'number') {
      if (!Number.isInteger(query) || query < 0 || query >= this.numEmbeddings) {
        throw new RangeError(`${where}: query = ${describe(query)} is not a row index in [0, ${this.numEmbeddings})`);
      }
      queries = Int32Array.of(query);
    } else if (query instanceof Float32Array) {
      if (query.length !== this.embeddingDim) {
        throw new RangeError(`${where}: query has ${query.length} values; a query vector has embeddingDim = ${this.embeddingDim}`);
      }
      queries = query;
    } else {
      throw new TypeError(`${where}: query must be a row index or a Float32Array of embeddingDim values, got ${describe(query)}`);
    }
    const result = this.run(where, 'read', () => this._nearest(where, queries, k, options));
    let found = result.indices.length;
    while (found > 0 && result.indices[found - 1] === -1) found--;
    return { indices: result.indices.subarray(0, found), scores: result.scores.subarray(0, found) };
  }

  /**
   * mostSimilar for q queries at once: `queries` is a Float32Array of q * embeddingDim values, or
   * q row indices (an IndexArray). Returns q * k indices and scores, query by query; when
   * exclusions leave fewer than k rows, the last slots of a query hold index -1 and score NaN.
   * The table is read once for the whole batch.
   */
  mostSimilarBatch(queries: Float32Array | IndexArray, k: number, options?: MostSimilarOptions): Neighbours {
    const where = `${this.constructor.name}.mostSimilarBatch`;
    let checked: Float32Array | Int32Array;
    if (queries instanceof Float32Array) {
      if (queries.length % this.embeddingDim !== 0) {
        throw new RangeError(`${where}: queries has ${queries.length} values, not a multiple of embeddingDim = ${this.embeddingDim}`);
      }
      checked = queries;
    } else {
      checked = rowList(where, 'queries', queries, this.numEmbeddings);
    }
    return this.run(where, 'read', () => this._nearest(where, checked, k, options));
  }

  /**
   * Drops the row norms that mostSimilar caches (computed once, on the first cosine search). Every
   * change the package makes to the table drops them itself (optimizers, updates in backward,
   * maxNorm, init, a forward writing into it); a change made directly to `weight` or `data`
   * (`layer.weight[i] = x`, `layer.weight.set(...)`) must be followed by this call, or cosine
   * scores use the old norms.
   */
  invalidateNorms(): void {
    this._invNorms = null;
    this._normsCount = 0;
  }

  /** The code of this table's dtype for the similarity kernels (0: float32). */
  private get _anyCode(): 0 | PackedDtypeCode {
    return this.packedCode ?? 0;
  }

  /** The search: query vectors (or rows, gathered first), the norms when cosine needs them, then the kernel. */
  private *_nearest(where: string, queries: Float32Array | Int32Array, k: unknown, options: unknown): Plan<Neighbours> {
    const [count, search] = searchOptions(where, k, options, this.numEmbeddings);
    const dim = this.embeddingDim;
    let vectors: Float32Array;
    let queryRows: Int32Array | null = null;
    if (queries instanceof Int32Array) {
      vectors = new Float32Array(queries.length * dim);
      const code = this.packedCode;
      yield code === null
        ? ['gather', [this.weight, dim, queries, vectors]]
        : ['gatherPacked', [this.data as PackedData, code, dim, queries, vectors]];
      if (search.excludeSelf) queryRows = queries;
    } else {
      vectors = queries;
    }
    const numQueries = vectors.length / dim;
    const invNorms = search.metric === DISTANCE_COSINE ? yield* this._norms(search.limit) : null;
    const indices = new Int32Array(numQueries * count);
    const scores = new Float32Array(numQueries * count);
    yield ['nearestRows', [this.data, this._anyCode, dim, search.limit, vectors, count, search.metric, invNorms, queryRows, search.exclude, indices, scores]];
    return { indices, scores };
  }

  /** The inverse norms of rows [0, rows), computed where the cache does not hold them. */
  private *_norms(rows: number): Plan<Float64Array> {
    const version = versionOf(this.data);
    if (this._invNorms === null || this._normsVersion !== version) {
      this._invNorms ??= new Float64Array(this.numEmbeddings);
      this._normsCount = 0;
      this._normsVersion = version;
    }
    const norms = this._invNorms;
    if (this._normsCount < rows) {
      yield ['rowInverseNorms', [this.data, this._anyCode, this.embeddingDim, this._normsCount, norms.subarray(this._normsCount, rows)]];
      this._normsCount = rows;
    }
    return norms;
  }

  /** The optimizer update applied in this layer's backward, if any (applyOptimizerInBackward). */
  protected get inBackwardUpdate(): InBackwardUpdate | undefined {
    return inBackwardUpdates.get(this);
  }

  /**
   * torch's module.state_dict(): `{ weight }`, a copy of the table as stored (`data`: float32 values,
   * or a narrow dtype's packed rows). Changing it changes nothing in the layer.
   */
  stateDict(): LayerStateDict {
    const where = `${this.constructor.name}.stateDict`;
    this.checkAccess(where, 'read');
    this.checkKept(where);
    return { weight: this.data.slice() };
  }

  /**
   * torch's module.load_state_dict(state) (strict): `state.weight`, of this layer's dtype and size,
   * copied into the table. Everything is checked first (a missing or unexpected key, a wrong array
   * type or length): a bad state changes nothing.
   */
  loadStateDict(state: LayerStateDict): void {
    const where = `${this.constructor.name}.loadStateDict`;
    this.checkAccess(where, 'write');
    this.checkKept(where);
    if (state === null || typeof state !== 'object' || Array.isArray(state)) throw new TypeError(`${where}: state must be an object { weight }, got ${describe(state)}`);
    const unexpected = Object.keys(state).filter((key) => key !== 'weight');
    if (unexpected.length > 0) throw new RangeError(`${where}: unexpected key(s) in state: ${unexpected.map((key) => `'${key}'`).join(', ')} (a layer's state is { weight })`);
    const weight: unknown = state.weight;
    if (weight === undefined) throw new RangeError(`${where}: missing key 'weight' in state`);
    const expected = this.data.constructor as typeof Float32Array | typeof Uint16Array | typeof Uint8Array;
    if (!(weight instanceof expected)) {
      throw new TypeError(`${where}: state.weight must be a ${expected.name} (this layer's table is ${this.dtype}), got ${describe(weight)}`);
    }
    if (weight.length !== this.data.length) {
      throw new RangeError(
        `${where}: state.weight must have ${this.data.length} elements (${this.numEmbeddings} rows of ${this.embeddingDim}${this.dtype === 'float32' ? '' : `, ${this.dtype}`}), got ${weight.length}`,
      );
    }
    this.data.set(weight);
    noteWritten(this.data); // what is cached about the table (mostSimilar's row norms) is stale now
  }

  /** The dense gradient: null before the first backward() and after zeroGrad(). */
  get grad(): Float32Array | null {
    if (this.denseGrad !== null) this._denseHandedOut = true;
    return this.denseGrad;
  }

  /** The sparse gradient (sparse layers): null before the first backward() and after zeroGrad(). */
  get sparseGrad(): SparseGrad | null {
    if (this.sparseRows === null) return null;
    this._sparseHandedOut = true;
    return this.sparseRows.view();
  }

  /**
   * Drops the gradient (grad and sparseGrad become null), as torch's zero_grad(set_to_none=True).
   * Arrays already handed out keep their values; storage never handed out is reused.
   */
  zeroGrad(): void {
    accessOf(this).check(`${this.constructor.name}.zeroGrad`, 'write');
    if (this.denseGrad !== null && !this._denseHandedOut) this._spareDense = this.denseGrad;
    if (this.sparseRows !== null && !this._sparseHandedOut) this._spareSparse = this.sparseRows;
    this.denseGrad = null;
    this.sparseRows = null;
    this._denseHandedOut = false;
    this._sparseHandedOut = false;
  }

  static {
    keptGradients = (table) => ({ dense: table.denseGrad, sparse: table.sparseRows === null ? null : table.sparseRows.view() });
  }

  /** Throws the RangeError for the index a kernel reported, if it reported one. */
  protected throwIfBad(where: string, indices: KernelIndices, bad: number): void {
    if (bad < 0) return;
    this.checkKept(where); // a detached table makes every index look out of range
    throw indexRangeError(where, 'indices', bad, indices[bad]!, this.numEmbeddings);
  }

  /** With maxNorm: torch.embedding_renorm_ on every distinct looked-up row (padding included). */
  protected *renormLookedUp(where: string, indices: KernelIndices): Plan<void> {
    if (this.maxNorm === null) return;
    checkNoOverlap(where, 'indices', indices, 'weight', this.weight);
    this._renormSeen ??= new Uint8Array(Math.ceil(this.numEmbeddings / 8));
    const bad = yield ['renorm', [this.weight, this.embeddingDim, indices, this.maxNorm, this.normType, this._renormSeen]];
    this.throwIfBad(where, indices, bad);
  }

  /** Throws for the first index outside the table, before a path that reads indices in TypeScript. */
  protected *checkIndices(where: string, indices: KernelIndices): Plan<void> {
    this.throwIfBad(where, indices, yield ['firstInvalidIndex', [indices, this.numEmbeddings]]);
  }

  /** Whether forward() changes the table (maxNorm renormalizes in place). */
  protected get forwardAccess(): 'read' | 'write' {
    return this.maxNorm === null ? 'read' : 'write';
  }

  /** The dense gradient to accumulate into: the existing one, or a zeroed one (not yet kept). */
  protected gradTarget(): Float32Array {
    if (this.denseGrad !== null) return this.denseGrad;
    const spare = this._spareDense;
    this._spareDense = null;
    if (spare !== null && spare.length === this.numEmbeddings * this.embeddingDim) return spare.fill(0);
    return new Float32Array(this.numEmbeddings * this.embeddingDim);
  }

  /** counts[row] = occurrences of row in indices, for the duration of use(); zeroed again after. */
  protected withCounts<T>(indices: KernelIndices, use: (countOf: (i: number) => number) => T): T {
    const counts = (this._counts ??= new Int32Array(this.numEmbeddings));
    const rowAt = rowReader(indices);
    for (let i = 0; i < indices.length; i++) counts[rowAt(i)]!++;
    try {
      return use((i) => counts[rowAt(i)]!);
    } finally {
      for (let i = 0; i < indices.length; i++) counts[rowAt(i)] = 0;
    }
  }

  protected sparseTarget(extraRows: number): SparseRows {
    if (this.sparseRows === null && this._spareSparse !== null) {
      this.sparseRows = this._spareSparse;
      this._spareSparse = null;
      this.sparseRows.clear();
    }
    const rows = (this.sparseRows ??= new SparseRows(this.embeddingDim));
    rows.reserve(extraRows);
    return rows;
  }
}

/** options.dtype checked: one of DTYPES (int4 needs an even embeddingDim); 'float32' when not given. */
function checkDtype(where: string, value: unknown, embeddingDim: number): Dtype {
  if (value === undefined) return 'float32';
  checkDtypeName(where, value, 'options.dtype');
  if (value === 'int4' && embeddingDim % 2 !== 0) {
    throw new RangeError(`${where}: an int4 table needs an even embeddingDim (two codes per byte), got ${embeddingDim}`);
  }
  return value as Dtype;
}

/** A zeroed narrow table of `rows` rows, in the array type its dtype is stored in (allocated as newTable's). */
function emptyPacked(dtype: Exclude<Dtype, 'float32'>, rows: number, dim: number): PackedData {
  const bytes = rows * rowBytes(dim, dtype);
  return dtype === 'float16' || dtype === 'bfloat16' ? zeroedTable(Uint16Array, bytes / 2) : zeroedTable(Uint8Array, bytes);
}

/** The Error for a kept array whose buffer was detached (transferred) or shrunk. */
export function keptArrayError(where: string, name: string, length: number, expected: number): Error {
  return new Error(
    `${where}: ${name} has ${length} elements where ${expected} were expected: its buffer was detached (transferred to ` +
      `another thread or structuredClone'd with transfer) or resized after the package took it; the layer cannot be used`,
  );
}

function normalizePaddingIdx(where: string, value: unknown, numEmbeddings: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number') {
    throw new TypeError(`${where}: options.paddingIdx must be a number or null, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < -numEmbeddings || value >= numEmbeddings) {
    throw new RangeError(
      `${where}: options.paddingIdx must be an integer in [-${numEmbeddings}, ${numEmbeddings}), got ${describe(value)}`,
    );
  }
  return value < 0 ? numEmbeddings + value : value;
}


/**
 * fromPretrained's arguments as constructor arguments: numEmbeddings from the table's length,
 * the table adopted (options.weight; a narrow table's packed rows when options.dtype says so),
 * freeze true unless given.
 */
export function pretrainedArguments<T extends EmbeddingOptions>(
  where: string,
  weights: unknown,
  embeddingDim: unknown,
  options: unknown,
  optionNames: readonly string[],
): [number, number, T] {
  const requested = typeof options === 'object' && options !== null ? (options as { dtype?: unknown }).dtype : undefined;
  if (requested !== undefined && requested !== 'float32') return packedPretrainedArguments(where, weights, embeddingDim, options, optionNames);
  checkFloat32Array(where, 'weights', weights);
  checkFixedLength(where, 'weights', weights as Float32Array);
  checkInteger(where, 'embeddingDim', embeddingDim, 1);
  const table = weights as Float32Array;
  const dim = embeddingDim as number;
  if (table.length === 0 || table.length % dim !== 0) {
    throw new RangeError(`${where}: weights.length = ${table.length} must be a positive multiple of embeddingDim = ${dim}`);
  }
  const opts = checkOptions<T>(where, options, optionNames.filter((name) => name !== 'weight'));
  return [table.length / dim, dim, { ...opts, weight: table, freeze: opts.freeze ?? true } as T];
}

/** The same for a narrow table: `data` is its packed rows (quantize's output), adopted without a copy. */
function packedPretrainedArguments<T extends EmbeddingOptions>(
  where: string,
  data: unknown,
  embeddingDim: unknown,
  options: unknown,
  optionNames: readonly string[],
): [number, number, T] {
  const dim = checkInteger(where, 'embeddingDim', embeddingDim, 1);
  const opts = checkOptions<T>(where, options, optionNames.filter((name) => name !== 'weight'));
  const dtype = checkDtype(where, opts.dtype, dim);
  const halves = dtype === 'float16' || dtype === 'bfloat16';
  const type = halves ? Uint16Array : Uint8Array;
  if (!(data instanceof type)) {
    throw new TypeError(`${where}: a ${dtype} table is ${halves ? 'a Uint16Array of bits' : 'a Uint8Array of rows'} (quantize() makes one), got ${describe(data)}`);
  }
  checkFixedLength(where, 'data', data);
  const bytesPerRow = rowBytes(dim, dtype);
  if (data.byteLength === 0 || data.byteLength % bytesPerRow !== 0) {
    throw new RangeError(
      `${where}: a ${dtype} table of embeddingDim ${dim} has ${bytesPerRow} bytes per row; data has ${data.byteLength} bytes, not a positive multiple`,
    );
  }
  return [data.byteLength / bytesPerRow, dim, { ...opts, [PACKED_DATA]: data, freeze: opts.freeze ?? true } as unknown as T];
}
