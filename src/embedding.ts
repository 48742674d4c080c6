// Embedding: torch.nn.Embedding, read top to bottom. The semantics live here, once, for every
// backend: this file validates, decides what to compute, and calls the backend's kernels. What it
// shares with EmbeddingBag (options, renorm, gradients) is in table.ts.
//
// PyTorch correspondence (torch.nn.Embedding(num_embeddings, embedding_dim, ...)):
//   padding_idx          paddingIdx       negative values count from the end
//   max_norm, norm_type  maxNorm, normType   looked-up rows renormalized in place by forward()
//   scale_grad_by_freq   scaleGradByFreq
//   sparse               sparse           backward() fills sparseGrad instead of grad
//   _weight              weight           adopted, not copied, not zeroed
//   from_pretrained      fromPretrained   freeze defaults to true
import { heldArray, heldIndices } from './async-guard.js';
import type { KernelCall, KernelIndices, OutputHolder, PackedData, Plan } from './backend.js';
import { noteWritten } from './table-writes.js';
import { EmbeddingTable, type EmbeddingOptions, TABLE_OPTION_NAMES, kernelOutput, pretrainedArguments } from './table.js';
import { type IndexArray, checkFloat32Array, checkNoOverlap, checkOptions, stableCopy, toKernelIndices, viewOrNull } from './validate.js';

export type { EmbeddingOptions, SparseGrad } from './table.js';
export type { IndexArray } from './validate.js';

export class Embedding extends EmbeddingTable {
  /** Per-occurrence scale for scaleGradByFreq, reused between calls. */
  private _scale: Float32Array | null = null;

  constructor(numEmbeddings: number, embeddingDim: number, options?: EmbeddingOptions) {
    const where = 'Embedding';
    super(where, numEmbeddings, embeddingDim, checkOptions<EmbeddingOptions>(where, options, TABLE_OPTION_NAMES));
  }

  /**
   * new Embedding(numEmbeddings, embeddingDim, options), with the table's init run without blocking
   * the event loop (native: on the thread pool; TypeScript: in a later task). The same table as the
   * constructor gives for the same options and seed. Bad arguments reject with the constructor's error.
   */
  static create(numEmbeddings: number, embeddingDim: number, options?: Omit<EmbeddingOptions, 'weight'>): Promise<Embedding> {
    return EmbeddingTable.createDeferred('Embedding.create', options, (o) => new Embedding(numEmbeddings, embeddingDim, o));
  }

  /**
   * torch.nn.Embedding.from_pretrained: adopts `weights` (no copy); freeze defaults to true. With
   * options.dtype narrow, `weights` is that dtype's packed table (quantize() makes one), adopted too.
   */
  static fromPretrained(
    weights: Float32Array | PackedData,
    embeddingDim: number,
    options?: Omit<EmbeddingOptions, 'weight'>,
  ): Embedding {
    return new Embedding(
      ...pretrainedArguments<EmbeddingOptions>('Embedding.fromPretrained', weights, embeddingDim, options, TABLE_OPTION_NAMES),
    );
  }

  /**
   * Looks rows up: returns (or fills `out` with) indices.length * embeddingDim values, row i being
   * weight[indices[i]]. With maxNorm, the distinct looked-up rows are renormalized in place first.
   */
  forward(indices: IndexArray, out?: Float32Array): Float32Array {
    const where = 'Embedding.forward';
    if (this.maxNorm !== null) return this.run(where, 'write', () => this._forward(where, indices, out));
    // The plain lookup, the per-call-overhead path, without a plan: the same steps as _forward.
    this.checkAccess(where, 'read');
    const [kernelIndices, output] = this._forwardArguments(where, indices, out);
    if (out !== undefined) noteWritten(output); // `out` may be another layer's table
    const code = this.packedCode;
    const bad = code === null
      ? this.backend.gather(this.weight, this.embeddingDim, kernelIndices, output)
      : this.backend.gatherPacked(this.data as PackedData, code, this.embeddingDim, kernelIndices, output);
    this.throwIfBad(where, kernelIndices, bad);
    return output;
  }

  /**
   * forward() with the lookup on a background thread (native backend); resolves to the output.
   * Until it settles, calls that would change this layer throw (as do all calls, with maxNorm).
   */
  forwardAsync(indices: IndexArray, out?: Float32Array): Promise<Float32Array> {
    const where = 'Embedding.forwardAsync';
    return this.runAsync(where, this.forwardAccess, () => {
      checkNoOverlap(where, 'out', viewOrNull(out), 'indices', viewOrNull(indices)); // before the copy hides it
      // With maxNorm, renorm runs first and the gather after it: the gather's indices must be held.
      // Without out, the backend allocates the output (an OutputHolder): it stays transferable.
      return this._forward(where, heldIndices(indices, this.maxNorm !== null), heldArray(where, 'out', out) ?? {});
    });
  }

  /**
   * Accumulates the gradient of forward(indices) given gradOutput (indices.length * embeddingDim
   * values): into grad (dense) or as appended rows of sparseGrad (sparse). Frozen layers only
   * validate. The paddingIdx row receives nothing. With an optimizer applied in backward
   * (applyOptimizerInBackward), the update is applied instead, and no gradient is kept.
   */
  backward(indices: IndexArray, gradOutput: Float32Array): void {
    this.run('Embedding.backward', 'write', () => this._backward('Embedding.backward', indices, gradOutput));
  }

  /** backward() with its kernels on a background thread (native backend). */
  backwardAsync(indices: IndexArray, gradOutput: Float32Array): Promise<void> {
    const where = 'Embedding.backwardAsync';
    return this.runAsync(where, 'write', () => {
      checkNoOverlap(where, 'indices', viewOrNull(indices), 'grad', this.denseGrad); // before the copy hides it
      // The plain dense backward is one kernel; the other paths read the indices again later.
      const later = this.freeze || this.sparse || this.scaleGradByFreq || this.inBackwardUpdate !== undefined;
      return this._backward(where, heldIndices(indices, later), heldArray(where, 'gradOutput', gradOutput));
    });
  }

  private *_forward(where: string, indices: IndexArray, out: Float32Array | OutputHolder | undefined): Plan<Float32Array> {
    const [kernelIndices, output] = this._forwardArguments(where, indices, out);
    // Refused by the gather kernel too, but only after maxNorm has renormalized the table.
    if (output instanceof Float32Array) checkNoOverlap(where, 'out', output, 'indices', kernelIndices);
    yield* this.renormLookedUp(where, kernelIndices);
    this.throwIfBad(where, kernelIndices, yield this._lookup(kernelIndices, output));
    return output instanceof Float32Array ? output : output.out!;
  }

  /** The kernel call of the lookup: gather, or gatherPacked on a narrow table. */
  private _lookup(indices: KernelIndices, output: Float32Array | OutputHolder): KernelCall {
    const code = this.packedCode;
    return code === null
      ? ['gather', [this.weight, this.embeddingDim, indices, output]]
      : ['gatherPacked', [this.data as PackedData, code, this.embeddingDim, indices, output]];
  }

  /** forward()'s arguments checked: the kernels' indices and the output array (or holder, async). */
  private _forwardArguments<O extends Float32Array | OutputHolder>(where: string, indices: IndexArray, out: O | undefined): [KernelIndices, O | Float32Array] {
    const kernelIndices = toKernelIndices(where, 'indices', indices, this.numEmbeddings);
    const length = kernelIndices.length * this.embeddingDim;
    if (out === undefined) return [kernelIndices, kernelOutput(length)];
    if (!ArrayBuffer.isView(out)) return [kernelIndices, out];
    checkFloat32Array(where, 'out', out, length, 'indices.length * embeddingDim');
    checkNoOverlap(where, 'out', out, this.dtype === 'float32' ? 'weight' : 'data', this.data);
    return [kernelIndices, out];
  }

  private *_backward(where: string, indices: IndexArray, gradOutput: Float32Array): Plan<void> {
    this.checkTrainable(where);
    this.checkNoDenseGradient(where);
    let kernelIndices = toKernelIndices(where, 'indices', indices, this.numEmbeddings);
    const dim = this.embeddingDim;
    checkFloat32Array(where, 'gradOutput', gradOutput, kernelIndices.length * dim, 'indices.length * embeddingDim');
    const update = this.inBackwardUpdate;
    if (this.freeze || this.sparse || this.scaleGradByFreq || update !== undefined) {
      // These paths read the indices in TypeScript before (or instead of) a kernel.
      kernelIndices = stableCopy(kernelIndices);
      yield* this.checkIndices(where, kernelIndices);
    }
    if (this.freeze) return;
    if (update !== undefined) {
      const scale = this.scaleGradByFreq ? this._frequencyScale(kernelIndices) : null;
      yield* update({ indices: kernelIndices, source: gradOutput, offsets: null, numBags: 0, scale, skipRow: this.paddingIdx ?? -1 });
      return;
    }
    if (this.sparse) {
      this._appendSparseRows(kernelIndices, gradOutput);
      return;
    }
    const grad = this.gradTarget();
    checkNoOverlap(where, 'gradOutput', gradOutput, 'grad', grad);
    const scale = this.scaleGradByFreq ? this._frequencyScale(kernelIndices) : null;
    const bad = yield ['scatterAdd', [grad, dim, kernelIndices, gradOutput, scale, this.paddingIdx ?? -1]];
    this.throwIfBad(where, kernelIndices, bad);
    this.denseGrad = grad;
  }

  /** scale[i] = float(1 / count of indices[i] in this call), as torch's scale_grad_by_freq. */
  private _frequencyScale(indices: KernelIndices): Float32Array {
    if (this._scale === null || this._scale.length < indices.length) this._scale = new Float32Array(indices.length);
    const scale = this._scale.subarray(0, indices.length);
    this.withCounts(indices, (countOf) => {
      for (let i = 0; i < indices.length; i++) scale[i] = 1 / countOf(i);
    });
    return scale;
  }

  /** Appends the rows of this call, in input order, padding entries left out. */
  private _appendSparseRows(indices: KernelIndices, gradOutput: Float32Array): void {
    const rows = this.sparseTarget(indices.length);
    const padding = this.paddingIdx;
    if (padding === null) {
      rows.appendCopies(gradOutput, indices, 0, indices.length);
      return;
    }
    // Copy runs of consecutive non-padding entries with one set() each.
    const skip = indices instanceof BigInt64Array ? BigInt(padding) : padding;
    let runStart = 0;
    for (let i = 0; i <= indices.length; i++) {
      if (i === indices.length || indices[i] === skip) {
        if (i > runStart) rows.appendCopies(gradOutput, indices, runStart, i - runStart);
        runStart = i + 1;
      }
    }
  }

}
