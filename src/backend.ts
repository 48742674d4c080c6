// The backend interface: the kernels the layers call, implemented once in C++ (native) and once
// in TypeScript (js). Layers hold no backend-specific code; they validate arguments, then call
// these. Every kernel that reads indices checks them first and returns the position of the first
// index outside [0, rows) without writing anything, or -1 when it did its work.

/** Index arrays the kernels take directly; `number[]` input is converted before it gets here. */
export type KernelIndices = Int32Array | Uint32Array | BigInt64Array;

export type SimdTier = 'scalar' | 'avx2' | 'avx512' | 'neon';
export const SIMD_TIERS: readonly SimdTier[] = ['scalar', 'avx2', 'avx512', 'neon'];

export interface Backend {
  readonly name: 'native' | 'js';
  /** The instruction-set tier the native kernels run with; null for the TypeScript backend. */
  readonly simd: SimdTier | null;

  firstInvalidIndex(indices: KernelIndices, rows: number): number;

  /** out[i] = weight[indices[i]], rows of `dim` floats. */
  gather(weight: Float32Array, dim: number, indices: KernelIndices, out: Float32Array): number;

  /**
   * grad[indices[i]] += scale[i] * gradOutput[i] in order of i (scale null: a plain add), skipping
   * entries equal to skipRow (-1: none). Multiply then add, two float roundings.
   */
  scatterAdd(
    grad: Float32Array,
    dim: number,
    indices: KernelIndices,
    gradOutput: Float32Array,
    scale: Float32Array | null,
    skipRow: number,
  ): number;

  /**
   * torch.embedding_renorm_: each distinct row of `indices` whose normType-norm exceeds maxNorm is
   * scaled by float(maxNorm / (norm + 1e-7)). `seen` is a zeroed bitmap of ceil(rows / 8) bytes,
   * zeroed again on return.
   */
  renorm(
    weight: Float32Array,
    dim: number,
    indices: KernelIndices,
    maxNorm: number,
    normType: number,
    seen: Uint8Array,
  ): number;
}
