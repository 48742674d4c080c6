// Embedding: torch.nn.Embedding, read top to bottom. The semantics live here, once, for every
// backend: this file validates, decides what to compute, and calls the backend's kernels.
//
// PyTorch correspondence (torch.nn.Embedding(num_embeddings, embedding_dim, ...)):
//   padding_idx          paddingIdx       negative values count from the end
//   max_norm, norm_type  maxNorm, normType   looked-up rows renormalized in place by forward()
//   scale_grad_by_freq   scaleGradByFreq
//   sparse               sparse           backward() fills sparseGrad instead of grad
//   _weight              weight           adopted, not copied, not zeroed
//   from_pretrained      fromPretrained   freeze defaults to true
import type { Backend, KernelIndices } from './backend.js';
import { currentBackend } from './loader.js';
import { NormalGenerator, randomSeed } from './random.js';
import {
  type IndexArray,
  checkBoolean,
  checkFloat32Array,
  checkInteger,
  checkNoOverlap,
  checkOptions,
  describe,
  indexRangeError,
  toKernelIndices,
} from './validate.js';

export type { IndexArray } from './validate.js';

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
  /** Seed of the default N(0, 1) init; the same seed gives the same table everywhere. */
  seed?: number;
}

/** A sparse gradient: uncoalesced rows, indices[k] is the row that values[k*dim .. k*dim+dim) belongs to. */
export interface SparseGrad {
  indices: Int32Array;
  values: Float32Array;
}

const OPTION_NAMES = ['paddingIdx', 'maxNorm', 'normType', 'scaleGradByFreq', 'sparse', 'weight', 'freeze', 'seed'] as const;

/** Growable storage behind sparseGrad: rows are appended, the views are handed out. */
class SparseRows {
  indices = new Int32Array(64);
  values: Float32Array;
  rows = 0;
  #view: SparseGrad | null = null;

  constructor(readonly dim: number) {
    this.values = new Float32Array(64 * dim);
  }

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

  /** Appends entries [start, start + count) of a backward call: their rows and gradOutput rows. */
  append(gradOutput: Float32Array, start: number, count: number, rowAt: (i: number) => number): void {
    for (let k = 0; k < count; k++) this.indices[this.rows + k] = rowAt(start + k);
    this.values.set(gradOutput.subarray(start * this.dim, (start + count) * this.dim), this.rows * this.dim);
    this.rows += count;
    this.#view = null;
  }

  view(): SparseGrad {
    this.#view ??= {
      indices: this.indices.subarray(0, this.rows),
      values: this.values.subarray(0, this.rows * this.dim),
    };
    return this.#view;
  }
}

export class Embedding {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  readonly maxNorm: number | null;
  readonly normType: number;
  readonly scaleGradByFreq: boolean;
  readonly sparse: boolean;
  readonly freeze: boolean;
  readonly weight: Float32Array;

  readonly #backend: Backend;
  #grad: Float32Array | null = null;
  #sparseRows: SparseRows | null = null;
  /** One bit per row for renorm's "each distinct row once"; allocated on the first maxNorm lookup. */
  #renormSeen: Uint8Array | null = null;
  /** Occurrence counts for scaleGradByFreq, all zero between calls. */
  #counts: Int32Array | null = null;
  #scale: Float32Array | null = null;

  constructor(numEmbeddings: number, embeddingDim: number, options?: EmbeddingOptions) {
    const where = 'Embedding';
    this.numEmbeddings = checkInteger(where, 'numEmbeddings', numEmbeddings, 1);
    this.embeddingDim = checkInteger(where, 'embeddingDim', embeddingDim, 1);
    const size = numEmbeddings * embeddingDim;
    if (size > 2 ** 32) {
      throw new RangeError(
        `${where}: numEmbeddings * embeddingDim = ${size} exceeds the largest Float32Array (2^32 elements)`,
      );
    }
    const opts = checkOptions<EmbeddingOptions>(where, options, OPTION_NAMES);

    this.paddingIdx = normalizePaddingIdx(where, opts.paddingIdx, numEmbeddings);
    if (opts.maxNorm === undefined || opts.maxNorm === null) {
      this.maxNorm = null;
    } else if (typeof opts.maxNorm !== 'number') {
      throw new TypeError(`${where}: options.maxNorm must be a number or null, got ${describe(opts.maxNorm)}`);
    } else if (!(opts.maxNorm > 0 && Number.isFinite(opts.maxNorm))) {
      throw new RangeError(`${where}: options.maxNorm must be a positive finite number, got ${describe(opts.maxNorm)}`);
    } else {
      this.maxNorm = opts.maxNorm;
    }
    if (opts.normType === undefined) {
      this.normType = 2;
    } else if (typeof opts.normType !== 'number') {
      throw new TypeError(`${where}: options.normType must be a number, got ${describe(opts.normType)}`);
    } else if (!(opts.normType > 0)) {
      throw new RangeError(`${where}: options.normType must be > 0 (Infinity allowed), got ${describe(opts.normType)}`);
    } else {
      this.normType = opts.normType;
    }
    this.scaleGradByFreq = checkBoolean(where, 'options.scaleGradByFreq', opts.scaleGradByFreq, false);
    this.sparse = checkBoolean(where, 'options.sparse', opts.sparse, false);
    this.freeze = checkBoolean(where, 'options.freeze', opts.freeze, false);
    if (this.sparse && this.scaleGradByFreq) {
      throw new RangeError(`${where}: options.sparse and options.scaleGradByFreq cannot both be true (as in torch)`);
    }
    if (this.sparse && numEmbeddings > 2 ** 31) {
      throw new RangeError(`${where}: a sparse Embedding has at most 2^31 rows (SparseGrad.indices is an Int32Array)`);
    }

    if (opts.weight !== undefined) {
      if (opts.seed !== undefined) {
        throw new TypeError(`${where}: options.seed has no effect with options.weight (the table is not initialized)`);
      }
      this.weight = checkFloat32Array(where, 'options.weight', opts.weight, size, 'numEmbeddings * embeddingDim');
    } else {
      const seed = opts.seed === undefined ? randomSeed() : checkInteger(where, 'options.seed', opts.seed, 0);
      this.weight = new Float32Array(size);
      new NormalGenerator(seed).fillNormal(this.weight);
      if (this.paddingIdx !== null) {
        this.weight.fill(0, this.paddingIdx * embeddingDim, (this.paddingIdx + 1) * embeddingDim);
      }
    }
    this.#backend = currentBackend();
  }

  /** torch.nn.Embedding.from_pretrained: adopts `weights` (no copy); freeze defaults to true. */
  static fromPretrained(
    weights: Float32Array,
    embeddingDim: number,
    options?: Omit<EmbeddingOptions, 'weight'>,
  ): Embedding {
    const where = 'Embedding.fromPretrained';
    checkFloat32Array(where, 'weights', weights);
    checkInteger(where, 'embeddingDim', embeddingDim, 1);
    if (weights.length === 0 || weights.length % embeddingDim !== 0) {
      throw new RangeError(
        `${where}: weights.length = ${weights.length} must be a positive multiple of embeddingDim = ${embeddingDim}`,
      );
    }
    const opts = checkOptions<EmbeddingOptions>(where, options, OPTION_NAMES.filter((name) => name !== 'weight'));
    return new Embedding(weights.length / embeddingDim, embeddingDim, {
      ...opts,
      weight: weights,
      freeze: opts.freeze ?? true,
    });
  }

  /** The dense gradient: null before the first backward() and after zeroGrad(). */
  get grad(): Float32Array | null {
    return this.#grad;
  }

  /** The sparse gradient (sparse layers): null before the first backward() and after zeroGrad(). */
  get sparseGrad(): SparseGrad | null {
    return this.#sparseRows === null ? null : this.#sparseRows.view();
  }

  /**
   * Looks rows up: returns (or fills `out` with) indices.length * embeddingDim values, row i being
   * weight[indices[i]]. With maxNorm, the distinct looked-up rows are renormalized in place first.
   */
  forward(indices: IndexArray, out?: Float32Array): Float32Array {
    const where = 'Embedding.forward';
    const kernelIndices = toKernelIndices(where, 'indices', indices, this.numEmbeddings);
    const length = kernelIndices.length * this.embeddingDim;
    if (out === undefined) {
      out = new Float32Array(length);
    } else {
      checkFloat32Array(where, 'out', out, length, 'indices.length * embeddingDim');
      checkNoOverlap(where, 'out', out, 'weight', this.weight);
    }
    if (this.maxNorm !== null) {
      this.#renormSeen ??= new Uint8Array(Math.ceil(this.numEmbeddings / 8));
      const bad = this.#backend.renorm(
        this.weight,
        this.embeddingDim,
        kernelIndices,
        this.maxNorm,
        this.normType,
        this.#renormSeen,
      );
      this.#throwIfBad(where, kernelIndices, bad);
    }
    this.#throwIfBad(where, kernelIndices, this.#backend.gather(this.weight, this.embeddingDim, kernelIndices, out));
    return out;
  }

  /**
   * Accumulates the gradient of forward(indices) given gradOutput (indices.length * embeddingDim
   * values): into grad (dense) or as appended rows of sparseGrad (sparse). Frozen layers only
   * validate. The paddingIdx row receives nothing.
   */
  backward(indices: IndexArray, gradOutput: Float32Array): void {
    const where = 'Embedding.backward';
    const kernelIndices = toKernelIndices(where, 'indices', indices, this.numEmbeddings);
    const dim = this.embeddingDim;
    checkFloat32Array(where, 'gradOutput', gradOutput, kernelIndices.length * dim, 'indices.length * embeddingDim');
    if (this.freeze || this.sparse || this.scaleGradByFreq) {
      // These paths read the indices in TypeScript before (or instead of) a kernel.
      this.#throwIfBad(where, kernelIndices, this.#backend.firstInvalidIndex(kernelIndices, this.numEmbeddings));
    }
    if (this.freeze) return;
    if (this.sparse) {
      this.#appendSparseRows(kernelIndices, gradOutput);
      return;
    }
    const grad = this.#grad ?? new Float32Array(this.numEmbeddings * dim);
    checkNoOverlap(where, 'gradOutput', gradOutput, 'grad', grad);
    const scale = this.scaleGradByFreq ? this.#frequencyScale(kernelIndices) : null;
    const bad = this.#backend.scatterAdd(grad, dim, kernelIndices, gradOutput, scale, this.paddingIdx ?? -1);
    this.#throwIfBad(where, kernelIndices, bad);
    this.#grad = grad;
  }

  /** Drops the gradient (grad and sparseGrad become null), as torch's zero_grad(set_to_none=True). */
  zeroGrad(): void {
    this.#grad = null;
    this.#sparseRows = null;
  }

  #throwIfBad(where: string, indices: KernelIndices, bad: number): void {
    if (bad >= 0) throw indexRangeError(where, 'indices', bad, indices[bad]!, this.numEmbeddings);
  }

  /** scale[i] = float(1 / count of indices[i] in this call), as torch's scale_grad_by_freq. */
  #frequencyScale(indices: KernelIndices): Float32Array {
    const counts = (this.#counts ??= new Int32Array(this.numEmbeddings));
    if (this.#scale === null || this.#scale.length < indices.length) this.#scale = new Float32Array(indices.length);
    const scale = this.#scale.subarray(0, indices.length);
    const n = indices.length;
    const rowAt = rowReader(indices);
    for (let i = 0; i < n; i++) counts[rowAt(i)]!++;
    for (let i = 0; i < n; i++) scale[i] = 1 / counts[rowAt(i)]!;
    for (let i = 0; i < n; i++) counts[rowAt(i)] = 0;
    return scale;
  }

  /** Appends the rows of this call, in input order, padding entries left out. */
  #appendSparseRows(indices: KernelIndices, gradOutput: Float32Array): void {
    const rows = (this.#sparseRows ??= new SparseRows(this.embeddingDim));
    const rowAt = rowReader(indices);
    rows.reserve(indices.length);
    // Copy runs of consecutive non-padding entries with one set() each.
    let runStart = 0;
    for (let i = 0; i <= indices.length; i++) {
      if (i === indices.length || rowAt(i) === this.paddingIdx) {
        if (i > runStart) rows.append(gradOutput, runStart, i - runStart, rowAt);
        runStart = i + 1;
      }
    }
  }
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

/** Reads validated indices as numbers, whatever their array type. */
function rowReader(indices: KernelIndices): (i: number) => number {
  if (indices instanceof BigInt64Array) return (i) => Number(indices[i]!);
  return (i) => indices[i]!;
}
