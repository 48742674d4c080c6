// EmbeddingBag: torch.nn.EmbeddingBag, read top to bottom. Each bag (a run of indices given by
// offsets) is reduced to one row — sum, mean, or max per feature — by fused kernels that never
// materialize the looked-up rows. Options shared with Embedding are in table.ts.
//
// PyTorch correspondence (torch.nn.EmbeddingBag(num_embeddings, embedding_dim, ...)):
//   mode='sum'|'mean'|'max'   mode (default 'mean')
//   include_last_offset       includeLastOffset
//   input 1-D + offsets       forward(indices, offsets)
//   input 2-D (B, L)          forward(indices, L): every bag has L indices, B = indices.length / L
//   per_sample_weights        perSampleWeights (mode 'sum' only); backward returns their gradient
//   other options             as in Embedding
import { heldArray, heldIndices } from './async-guard.js';
import { BAG_MODE_CODES, type KernelCall, type KernelIndices, type OutputHolder, type PackedData, type Plan } from './backend.js';
import { EmbeddingTable, type EmbeddingOptions, TABLE_OPTION_NAMES, forEachBag, forEachEntry, kernelOutput, pretrainedArguments, rowReader } from './table.js';
import {
  type IndexArray,
  checkBoolean,
  checkFloat32Array,
  checkInteger,
  checkNoOverlap,
  checkOptions,
  defineReadonly,
  stableCopy,
  describe,
  toKernelIndices,
  viewOrNull,
} from './validate.js';

export type BagMode = 'sum' | 'mean' | 'max';

export interface EmbeddingBagOptions extends EmbeddingOptions {
  /** How a bag's rows are combined; default 'mean', as in torch. */
  mode?: BagMode;
  /** offsets has numBags + 1 entries, the last equal to indices.length. */
  includeLastOffset?: boolean;
}

/** Bag boundaries as a forward or backward call gives them: an offsets array, or one bag length. */
export type BagOffsets = IndexArray | number;

const OPTION_NAMES = [...TABLE_OPTION_NAMES, 'mode', 'includeLastOffset'] as const;
const MODES: readonly BagMode[] = ['sum', 'mean', 'max'];

interface Bags {
  offsets: Uint32Array;
  numBags: number;
}

export class EmbeddingBag extends EmbeddingTable {
  // Read-only at run time too, as the table's properties (defineReadonly).
  declare readonly mode: BagMode;
  declare readonly includeLastOffset: boolean;
  /** Offsets of the last fixed-length call, reused while the bag length and count repeat. */
  private _fixedOffsets: Uint32Array | null = null;

  constructor(numEmbeddings: number, embeddingDim: number, options?: EmbeddingBagOptions) {
    const where = 'EmbeddingBag';
    const opts = checkOptions<EmbeddingBagOptions>(where, options, OPTION_NAMES);
    super(where, numEmbeddings, embeddingDim, opts);
    let mode: BagMode;
    if (opts.mode === undefined) {
      mode = 'mean';
    } else if (typeof opts.mode !== 'string') {
      throw new TypeError(`${where}: options.mode must be 'sum', 'mean' or 'max', got ${describe(opts.mode)}`);
    } else if (!MODES.includes(opts.mode)) {
      throw new RangeError(`${where}: options.mode must be 'sum', 'mean' or 'max', got ${describe(opts.mode)}`);
    } else {
      mode = opts.mode;
    }
    const includeLastOffset = checkBoolean(where, 'options.includeLastOffset', opts.includeLastOffset, false);
    defineReadonly<EmbeddingBag>(this, { mode, includeLastOffset });
    if (this.mode === 'max' && this.sparse) {
      throw new RangeError(`${where}: mode 'max' does not support options.sparse (as in torch)`);
    }
    if (this.mode === 'max' && this.scaleGradByFreq) {
      throw new RangeError(`${where}: mode 'max' does not support options.scaleGradByFreq (as in torch)`);
    }
  }

  /**
   * new EmbeddingBag(numEmbeddings, embeddingDim, options), with the table's init run without
   * blocking the event loop (native: on the thread pool; TypeScript: in a later task).
   */
  static create(numEmbeddings: number, embeddingDim: number, options?: Omit<EmbeddingBagOptions, 'weight'>): Promise<EmbeddingBag> {
    return EmbeddingTable.createDeferred('EmbeddingBag.create', options, (o) => new EmbeddingBag(numEmbeddings, embeddingDim, o));
  }

  /**
   * torch.nn.EmbeddingBag.from_pretrained: adopts `weights` (no copy); freeze defaults to true.
   * With options.dtype narrow, `weights` is that dtype's packed table (quantize() makes one).
   */
  static fromPretrained(
    weights: Float32Array | PackedData,
    embeddingDim: number,
    options?: Omit<EmbeddingBagOptions, 'weight'>,
  ): EmbeddingBag {
    return new EmbeddingBag(
      ...pretrainedArguments<EmbeddingBagOptions>('EmbeddingBag.fromPretrained', weights, embeddingDim, options, OPTION_NAMES),
    );
  }

  /**
   * Reduces each bag to one row: returns (or fills `out` with) numBags * embeddingDim values.
   * offsets: where each bag starts in indices, or a number L for bags of L indices each.
   * perSampleWeights (mode 'sum' only): one weight per index, multiplied into its row.
   * With maxNorm, the distinct looked-up rows are renormalized in place first.
   */
  forward(indices: IndexArray, offsets: BagOffsets, perSampleWeights?: Float32Array | null, out?: Float32Array): Float32Array {
    const where = 'EmbeddingBag.forward';
    return this.run(where, this.forwardAccess, () => this._forward(where, indices, offsets, perSampleWeights, out));
  }

  /**
   * forward() with the reduction on a background thread (native backend); resolves to the output.
   * Until it settles, calls that would change this layer throw (as do all calls, with maxNorm).
   */
  forwardAsync(
    indices: IndexArray,
    offsets: BagOffsets,
    perSampleWeights?: Float32Array | null,
    out?: Float32Array,
  ): Promise<Float32Array> {
    const where = 'EmbeddingBag.forwardAsync';
    return this.runAsync(where, this.forwardAccess, () => {
      // Before the copies hide them.
      for (const [name, value] of [['indices', indices], ['offsets', offsets], ['perSampleWeights', perSampleWeights]] as const) {
        checkNoOverlap(where, 'out', viewOrNull(out), name, viewOrNull(value));
      }
      const later = this.maxNorm !== null; // renorm first, then the reduction
      return this._forward(
        where,
        heldIndices(indices, later),
        heldIndices(offsets, later),
        heldArray(where, 'perSampleWeights', perSampleWeights),
        heldArray(where, 'out', out) ?? {}, // without out, the backend allocates it: it stays transferable
      );
    });
  }

  private *_forward(
    where: string,
    indices: IndexArray,
    offsets: BagOffsets,
    perSampleWeights: Float32Array | null | undefined,
    out: Float32Array | OutputHolder | undefined,
  ): Plan<Float32Array> {
    const kernelIndices = toKernelIndices(where, 'indices', indices, this.numEmbeddings);
    const bags = this._bags(where, offsets, kernelIndices.length);
    const weights = this._perSampleWeights(where, perSampleWeights, kernelIndices.length);
    const length = bags.numBags * this.embeddingDim;
    if (out === undefined) {
      out = kernelOutput(length);
    } else if (!ArrayBuffer.isView(out)) {
      // an OutputHolder (async): the backend allocates the output
    } else {
      checkFloat32Array(where, 'out', out, length, 'numBags * embeddingDim');
      checkNoOverlap(where, 'out', out, this.dtype === 'float32' ? 'weight' : 'data', this.data);
      checkNoOverlap(where, 'out', out, 'indices', kernelIndices);
      checkNoOverlap(where, 'out', out, 'offsets', bags.offsets);
      checkNoOverlap(where, 'out', out, 'perSampleWeights', weights);
    }
    yield* this.renormLookedUp(where, kernelIndices);
    const mode = BAG_MODE_CODES[this.mode];
    const skipRow = this.paddingIdx ?? -1;
    const code = this.packedCode;
    const call: KernelCall = code === null
      ? ['bagForward', [this.weight, this.embeddingDim, kernelIndices, bags.offsets, bags.numBags, weights, mode, skipRow, out]]
      : ['bagForwardPacked', [this.data as PackedData, code, this.embeddingDim, kernelIndices, bags.offsets, bags.numBags, weights, mode, skipRow, out]];
    this.throwIfBad(where, kernelIndices, yield call);
    return ArrayBuffer.isView(out) ? out : out.out!;
  }

  /**
   * Accumulates the gradient of forward(indices, offsets, perSampleWeights) given gradOutput
   * (numBags * embeddingDim values) into grad, or appends rows to sparseGrad. Returns the gradient
   * of perSampleWeights (one value per index, 0 for padding entries) when they are given, else
   * null; frozen layers return it too, and record nothing else.
   */
  backward(
    indices: IndexArray,
    offsets: BagOffsets,
    gradOutput: Float32Array,
    perSampleWeights?: Float32Array | null,
  ): Float32Array | null {
    const where = 'EmbeddingBag.backward';
    return this.run(where, 'write', () => this._backward(where, indices, offsets, gradOutput, perSampleWeights));
  }

  /** backward() with its kernels on a background thread (native backend). */
  backwardAsync(
    indices: IndexArray,
    offsets: BagOffsets,
    gradOutput: Float32Array,
    perSampleWeights?: Float32Array | null,
  ): Promise<Float32Array | null> {
    const where = 'EmbeddingBag.backwardAsync';
    return this.runAsync(where, 'write', () => {
      checkNoOverlap(where, 'indices', viewOrNull(indices), 'grad', this.denseGrad); // before the copies hide them
      checkNoOverlap(where, 'offsets', viewOrNull(offsets), 'grad', this.denseGrad);
      return this._backward(where, heldIndices(indices), heldIndices(offsets), heldArray(where, 'gradOutput', gradOutput), heldArray(where, 'perSampleWeights', perSampleWeights));
    });
  }

  private *_backward(
    where: string,
    indices: IndexArray,
    offsets: BagOffsets,
    gradOutput: Float32Array,
    perSampleWeights: Float32Array | null | undefined,
  ): Plan<Float32Array | null> {
    this.checkTrainable(where);
    this.checkNoDenseGradient(where);
    let kernelIndices = toKernelIndices(where, 'indices', indices, this.numEmbeddings);
    const bags = this._bags(where, offsets, kernelIndices.length);
    const dim = this.embeddingDim;
    checkFloat32Array(where, 'gradOutput', gradOutput, bags.numBags * dim, 'numBags * embeddingDim');
    const weights = this._perSampleWeights(where, perSampleWeights, kernelIndices.length);
    // Read in TypeScript (entry scales, sparse rows) as well as by the kernels.
    kernelIndices = stableCopy(kernelIndices);
    yield* this.checkIndices(where, kernelIndices);
    const skipRow = this.paddingIdx ?? -1;

    let weightsGrad: Float32Array | null = null;
    if (weights !== null) {
      weightsGrad = new Float32Array(kernelIndices.length);
      if (this.dtype === 'float32') {
        yield ['bagWeightGrad', [this.weight, dim, kernelIndices, bags.offsets, bags.numBags, gradOutput, skipRow, weightsGrad]];
      } else {
        yield* this._packedWeightGrad(kernelIndices, bags, gradOutput, skipRow, weightsGrad);
      }
    }
    if (this.freeze) return weightsGrad;

    const update = this.inBackwardUpdate;
    if (update !== undefined) {
      const scale = this._entryScales(kernelIndices, bags, weights);
      yield* update({ indices: kernelIndices, source: gradOutput, offsets: bags.offsets, numBags: bags.numBags, scale, skipRow });
      return weightsGrad;
    }

    if (this.sparse) {
      const scale = this._entryScales(kernelIndices, bags, weights);
      const rows = this.sparseTarget(kernelIndices.length);
      const rowAt = rowReader(kernelIndices);
      forEachEntry(bags, kernelIndices.length, (i, bag) => {
        const row = rowAt(i);
        if (row !== skipRow) rows.appendScaled(row, gradOutput, bag, scale === null ? null : scale[i]!);
      });
      return weightsGrad;
    }

    const grad = this.gradTarget();
    checkNoOverlap(where, 'gradOutput', gradOutput, 'grad', grad);
    checkNoOverlap(where, 'indices', kernelIndices, 'grad', grad);
    checkNoOverlap(where, 'offsets', bags.offsets, 'grad', grad);
    if (this.mode === 'max') {
      yield ['bagMaxBackward', [this.weight, grad, dim, kernelIndices, bags.offsets, bags.numBags, gradOutput, skipRow]];
    } else {
      const scale = this._entryScales(kernelIndices, bags, weights);
      yield ['bagScatterAdd', [grad, dim, kernelIndices, bags.offsets, bags.numBags, gradOutput, scale, skipRow]];
    }
    this.denseGrad = grad;
    return weightsGrad;
  }

  /**
   * bagWeightGrad on a float16/bfloat16 table: the same dots over the entries' rows widened (one
   * float32 row per entry, made for this call), skipRow entries 0.
   */
  private *_packedWeightGrad(indices: KernelIndices, bags: Bags, gradOutput: Float32Array, skipRow: number, out: Float32Array): Plan<void> {
    const dim = this.embeddingDim;
    const rows = new Float32Array(indices.length * dim);
    yield ['gatherPacked', [this.data as PackedData, this.packedCode!, dim, indices, rows]];
    const entries = Uint32Array.from({ length: indices.length }, (_, i) => i);
    yield ['bagWeightGrad', [rows, dim, entries, bags.offsets, bags.numBags, gradOutput, -1, out]];
    const rowAt = rowReader(indices);
    for (let i = 0; i < indices.length; i++) if (rowAt(i) === skipRow) out[i] = 0;
  }

  /**
   * Each entry's gradient scale, as torch computes it in double and applies as a float:
   * perSampleWeights[i], divided by the row's count in this call (scaleGradByFreq), divided by the
   * bag's non-padding entry count (mean). Null when every scale is 1.
   */
  private _entryScales(indices: KernelIndices, bags: Bags, weights: Float32Array | null): Float32Array | null {
    const mean = this.mode === 'mean';
    if (weights === null && !this.scaleGradByFreq && !mean) return null;
    const scale = new Float32Array(indices.length);
    const rowAt = rowReader(indices);
    const fill = (countOf: ((i: number) => number) | null) => {
      forEachBag(bags, indices.length, (begin, end) => {
        let entries = 0;
        if (mean) for (let i = begin; i < end; i++) if (rowAt(i) !== this.paddingIdx) entries++;
        for (let i = begin; i < end; i++) {
          let s = weights === null ? 1 : weights[i]!;
          if (countOf !== null) s /= countOf(i);
          if (mean) s /= entries;
          scale[i] = s;
        }
      });
    };
    if (this.scaleGradByFreq) this.withCounts(indices, fill);
    else fill(null);
    return scale;
  }

  /** The bags of a call: offsets validated and as a Uint32Array (a view when possible), and their count. */
  private _bags(where: string, offsets: BagOffsets, count: number): Bags {
    if (typeof offsets === 'number') {
      const length = checkInteger(where, 'offsets (a bag length)', offsets, 1);
      if (count % length !== 0) {
        throw new RangeError(`${where}: indices.length = ${count} is not a multiple of the bag length ${length}`);
      }
      const numBags = count / length;
      const cached = this._fixedOffsets;
      if (cached === null || cached.length !== numBags || (numBags > 1 && cached[1] !== length)) {
        this._fixedOffsets = Uint32Array.from({ length: numBags }, (_, b) => b * length);
      }
      return { offsets: this._fixedOffsets!, numBags };
    }
    const values = toOffsetArray(where, offsets, count);
    const n = values.length;
    if (this.includeLastOffset && n === 0) {
      throw new RangeError(`${where}: offsets must have at least one entry with includeLastOffset`);
    }
    if (n === 0 && count > 0) {
      throw new RangeError(`${where}: offsets is empty (no bags) but indices has ${count} entries`);
    }
    if (n > 0 && values[0] !== 0) {
      throw new RangeError(`${where}: offsets[0] = ${values[0]} must be 0 (the first bag starts at the first index)`);
    }
    for (let b = 1; b < n; b++) {
      if (values[b]! < values[b - 1]!) {
        throw new RangeError(`${where}: offsets[${b}] = ${values[b]} is less than offsets[${b - 1}] = ${values[b - 1]} (offsets must not decrease)`);
      }
    }
    if (n > 0 && values[n - 1]! > count) {
      const b = values.findIndex((v) => v > count);
      throw new RangeError(`${where}: offsets[${b}] = ${values[b]} exceeds indices.length = ${count}`);
    }
    if (this.includeLastOffset && values[n - 1] !== count) {
      throw new RangeError(`${where}: offsets[${n - 1}] = ${values[n - 1]} must equal indices.length = ${count} with includeLastOffset`);
    }
    return { offsets: values, numBags: this.includeLastOffset ? n - 1 : n };
  }

  private _perSampleWeights(where: string, weights: Float32Array | null | undefined, count: number): Float32Array | null {
    if (weights === undefined || weights === null) return null;
    checkFloat32Array(where, 'perSampleWeights', weights, count, 'indices.length');
    if (this.mode !== 'sum') {
      throw new RangeError(`${where}: perSampleWeights is only supported with mode 'sum' (this layer's mode is '${this.mode}'), as in torch`);
    }
    return weights;
  }
}

/**
 * Offsets as non-negative integers in a Uint32Array: a Uint32Array as it is, an Int32Array viewed
 * in place once no entry is negative, others copied (a value too large for a Uint32Array is reported
 * here, with its value). Order and the other range rules are checked by the caller.
 */
function toOffsetArray(where: string, offsets: unknown, count: number): Uint32Array {
  // Validated here and read again by the kernels: one in a SharedArrayBuffer is copied first.
  if (offsets instanceof Uint32Array) return stableCopy(offsets);
  const negative = (i: number, value: number | bigint) =>
    new RangeError(`${where}: offsets[${i}] = ${value} is negative`);
  if (offsets instanceof Int32Array) {
    const stable = stableCopy(offsets);
    for (let i = 0; i < stable.length; i++) if (stable[i]! < 0) throw negative(i, stable[i]!);
    return new Uint32Array(stable.buffer, stable.byteOffset, stable.length);
  }
  if (offsets instanceof BigInt64Array) {
    const copy = new Uint32Array(offsets.length);
    for (let i = 0; i < offsets.length; i++) {
      const value = offsets[i]!;
      if (value < 0n) throw negative(i, value);
      if (value > BigInt(count)) throw new RangeError(`${where}: offsets[${i}] = ${value} exceeds indices.length = ${count}`);
      copy[i] = Number(value);
    }
    return copy;
  }
  if (Array.isArray(offsets)) {
    const copy = new Uint32Array(offsets.length);
    for (let i = 0; i < offsets.length; i++) {
      const value: unknown = offsets[i];
      if (typeof value !== 'number') throw new TypeError(`${where}: offsets[${i}] must be a number, got ${describe(value)}`);
      if (!Number.isInteger(value)) throw new RangeError(`${where}: offsets[${i}] = ${describe(value)} is not an integer`);
      if (value < 0) throw negative(i, value);
      if (value > count) throw new RangeError(`${where}: offsets[${i}] = ${value} exceeds indices.length = ${count}`);
      copy[i] = value;
    }
    return copy;
  }
  throw new TypeError(
    `${where}: offsets must be an Int32Array, Uint32Array, BigInt64Array, an array of numbers, or a bag length, got ${describe(offsets)}`,
  );
}

