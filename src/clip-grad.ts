// Gradient clipping: torch.nn.utils.clip_grad_norm_ and clip_grad_value_ over the gradients the
// layers hold (a dense `grad`, or a sparse gradient's rows), with torch 1.13's arithmetic:
//
//   norm_i = float32(‖grad_i‖_p)                     each layer's gradient (a sparse one coalesced)
//   total  = float32(‖(norm_1, …, norm_n)‖_p)         p = Infinity: the largest
//   coef   = min(1, float32(float32(1 / float32(total + float32(1e-6))) * float32(maxNorm)))
//   grad_i = float32(grad_i * coef)                   in place
//
// torch computes `max_norm / (total + 1e-6)` on a float tensor as reciprocal() * max_norm, hence
// the two roundings. The norms are the backend's `norm` kernel (p = 1 and 2 summed in double in a
// fixed eight-lane order, the same in every tier and backend; other p through pow()), the scaling
// and clamping its `scaleValues` and `clampValues` kernels.
//
// A sparse gradient is an uncoalesced list of rows (a row looked up twice is there twice). Its norm
// is the norm of the coalesced gradient, as torch's (duplicate rows summed in entry order, by the
// optimizers' `coalesce` kernel, into a buffer kept per layer); the scaling multiplies every entry,
// which scales the coalesced gradient too. (torch 1.13 computes that norm but its in-place
// `grad.detach().mul_()` does not reach a sparse gradient, so it leaves sparse gradients unscaled;
// this package scales them, as the function means to.)
import type { Embedding } from './embedding.js';
import type { EmbeddingBag } from './embedding-bag.js';
import { type EmbeddingTable, accessOf, backendOf, isEmbeddingTable, keptGradients } from './table.js';
import { checkBoolean, checkOptions, describe } from './validate.js';

export interface ClipGradNormOptions {
  /** The p of the p-norm: any number > 0, or Infinity (the largest |g|). Default 2. */
  normType?: number;
  /** Throw a RangeError, changing nothing, when the total norm is NaN or infinite. Default false, as torch. */
  errorIfNonfinite?: boolean;
}

type Layers = Embedding | EmbeddingBag | readonly (Embedding | EmbeddingBag)[];

/** A layer's gradient to clip: dense values, or a sparse gradient's entries. */
interface HeldGradient {
  table: EmbeddingTable;
  values: Float32Array;
  sparseIndices: Int32Array | null;
}

/** Per layer, the buffers that coalesce its sparse gradient (slots: one per table row, -1 between calls). */
const COALESCE_BUFFERS = new WeakMap<EmbeddingTable, { slots: Int32Array; rows: Uint32Array; values: Float32Array }>();

function checkLayers(where: string, layers: unknown): EmbeddingTable[] {
  const list = Array.isArray(layers) ? layers : [layers];
  if (Array.isArray(layers) && layers.length === 0) throw new TypeError(`${where}: layers must be a layer or a non-empty array of layers, got an empty array`);
  list.forEach((layer: unknown, i) => {
    if (!isEmbeddingTable(layer)) {
      const name = Array.isArray(layers) ? `layers[${i}]` : 'layers';
      throw new TypeError(`${where}: ${name} must be an Embedding or EmbeddingBag, got ${describe(layer)}`);
    }
    if (list.indexOf(layer) !== i) throw new RangeError(`${where}: layers[${i}] appears more than once`);
  });
  return list as EmbeddingTable[];
}

/** The gradients the layers hold (those without one are skipped, as torch skips a None grad), checked for writing. */
function heldGradients(where: string, tables: EmbeddingTable[]): HeldGradient[] {
  const held: HeldGradient[] = [];
  for (const table of tables) {
    accessOf(table).check(where, 'write');
    table.checkKept(where);
    const { dense, sparse } = keptGradients(table);
    if (dense !== null) held.push({ table, values: dense, sparseIndices: null });
    else if (sparse !== null) held.push({ table, values: sparse.values, sparseIndices: sparse.indices });
  }
  return held;
}

/** The values whose norm is the gradient's norm: dense values as they are, a sparse gradient coalesced. */
function normValues(gradient: HeldGradient): Float32Array {
  const { table, values, sparseIndices: indices } = gradient;
  if (indices === null) return values;
  const dim = table.embeddingDim;
  let buffers = COALESCE_BUFFERS.get(table);
  if (buffers === undefined || buffers.rows.length < indices.length) {
    const slots = buffers?.slots ?? new Int32Array(table.numEmbeddings).fill(-1);
    buffers = { slots, rows: new Uint32Array(indices.length), values: new Float32Array(indices.length * dim) };
    COALESCE_BUFFERS.set(table, buffers);
  }
  const distinct = backendOf(table).coalesce(indices, dim, values, null, 0, null, -1, buffers.slots, buffers.rows, buffers.values);
  return buffers.values.subarray(0, distinct * dim);
}

function checkNormType(where: string, value: unknown): number {
  if (value === undefined) return 2;
  if (typeof value !== 'number') throw new TypeError(`${where}: options.normType must be a number, got ${describe(value)}`);
  if (!(value > 0)) throw new RangeError(`${where}: options.normType must be a number > 0 or Infinity, got ${describe(value)}`);
  return value;
}

/** The p-norm of values in double, by the backend's kernel. */
function normOf(table: EmbeddingTable, values: Float32Array, p: number, out: Float64Array): number {
  backendOf(table).norm(values, p, out);
  return out[0]!;
}

/**
 * torch.nn.utils.clip_grad_norm_: the p-norm of all the layers' gradients taken together (each
 * layer's gradient a vector; a sparse one coalesced), and, when it exceeds maxNorm, every gradient
 * scaled in place by maxNorm / (total + 1e-6). Returns the total norm (a float32 value, as torch's
 * tensor). Layers without a gradient are skipped; with none at all, returns 0. maxNorm may be
 * Infinity (measure the norm, change nothing).
 */
export function clipGradNorm_(layers: Layers, maxNorm: number, options?: ClipGradNormOptions): number {
  const where = 'clipGradNorm_';
  const tables = checkLayers(where, layers);
  if (typeof maxNorm !== 'number') throw new TypeError(`${where}: maxNorm must be a number, got ${describe(maxNorm)}`);
  if (!(maxNorm >= 0)) throw new RangeError(`${where}: maxNorm must be a non-negative number (or Infinity), got ${describe(maxNorm)}`);
  const o = checkOptions<ClipGradNormOptions>(where, options, ['normType', 'errorIfNonfinite']);
  const p = checkNormType(where, o.normType);
  const errorIfNonfinite = checkBoolean(where, 'options.errorIfNonfinite', o.errorIfNonfinite, false);
  const gradients = heldGradients(where, tables);
  if (gradients.length === 0) return 0;

  const out = new Float64Array(1);
  const norms = new Float32Array(gradients.map((gradient) => normOf(gradient.table, normValues(gradient), p, out)));
  const total = Math.fround(normOf(gradients[0]!.table, norms, p, out));
  if (errorIfNonfinite && !Number.isFinite(total)) {
    throw new RangeError(
      `${where}: the total norm of order ${p} of the gradients is ${total}, so they cannot be clipped (nothing was changed; ` +
        'errorIfNonfinite: false scales them by it anyway, as torch)',
    );
  }
  const coefficient = Math.fround(Math.fround(1 / Math.fround(total + Math.fround(1e-6))) * Math.fround(maxNorm));
  // torch.clamp(coef, max=1.0) keeps a NaN coefficient, and so does this comparison.
  if (!(coefficient >= 1)) for (const gradient of gradients) backendOf(gradient.table).scaleValues(gradient.values, coefficient);
  return total;
}

/**
 * torch.nn.utils.clip_grad_value_: every element of every layer's dense gradient clamped in place
 * to [-clipValue, clipValue] (a NaN stays NaN). A sparse gradient is a TypeError, as in torch
 * (clamping its entries is not clamping the gradient, whose rows are their sums).
 */
export function clipGradValue_(layers: Layers, clipValue: number): void {
  const where = 'clipGradValue_';
  const tables = checkLayers(where, layers);
  if (typeof clipValue !== 'number') throw new TypeError(`${where}: clipValue must be a number, got ${describe(clipValue)}`);
  if (!(clipValue >= 0)) throw new RangeError(`${where}: clipValue must be a non-negative number, got ${describe(clipValue)}`);
  const gradients = heldGradients(where, tables);
  gradients.forEach((gradient) => {
    if (gradient.sparseIndices !== null) {
      const index = tables.indexOf(gradient.table);
      throw new TypeError(`${where}: layers[${index}] has a sparse gradient, which torch does not clamp either (clamping its entries would not clamp their sums); use clipGradNorm_`);
    }
  });
  for (const gradient of gradients) backendOf(gradient.table).clampValues(gradient.values, -clipValue, clipValue);
}
