// The native backend: the N-API addon built from native/, loaded through node-gyp-build (a
// prebuild for this platform when the package ships one, else the local build). The addon's
// functions already have the Backend signatures, so this file only loads it and picks the tier.
import path from 'node:path';
import { markAsUntransferable } from 'node:worker_threads';

import { type Backend, type KernelIndices, type KernelName, type SimdTier, SIMD_TIERS } from '../backend.js';

export interface CpuFeatures {
  avx2: boolean;
  avx512: boolean;
  neon: boolean;
  /** The tiers this CPU can run, narrowest first. */
  tiers: SimdTier[];
  best: SimdTier;
}

type AsyncKernels = { [K in Exclude<KernelName, 'firstInvalidIndex'>]: (...args: Parameters<Backend[K]>) => Promise<number> };

/** The kernels of one SIMD tier, as the addon hands them out, with their asynchronous forms. */
export interface TierKernels
  extends Pick<
    Backend,
    'gather' | 'scatterAdd' | 'renorm' | 'bagForward' | 'bagScatterAdd' | 'bagMaxBackward' | 'bagWeightGrad' | 'optimizerUpdate' | 'initFill' | 'coalesce'
  > {
  readonly tier: SimdTier;
  /** The same kernels run on a background thread (libuv's pool): each resolves to its result. */
  readonly async: AsyncKernels;
}

/** The addon's exports (native/binding.cc). */
export interface NativeAddon {
  cpuFeatures(): CpuFeatures;
  firstInvalidIndex(indices: KernelIndices, rows: number): number;
  /** The kernels of a tier ('' for the widest this CPU runs); throws for a tier it cannot run. */
  kernels(tier: SimdTier | ''): TierKernels;
  /** Sizes the process-wide native thread pool (an integer in [1, 256]; checked again here). */
  setNumThreads(n: number): void;
  /** The pool's size: the number set, else NN_EMBEDDING_THREADS, else the CPUs available. */
  getNumThreads(): number;
  /** The file mapped copy-on-write (MAP_PRIVATE) as an ArrayBuffer, unmapped when collected. */
  mapFile(path: string): ArrayBuffer;
  /** `bytes` zeroed bytes, huge pages requested, as an ArrayBuffer unmapped when collected. */
  allocateZeroed(bytes: number): ArrayBuffer;
  /** Huge pages requested for the whole 2 MiB blocks of a buffer not yet written; whether the kernel took it. */
  adviseHugePages(buffer: ArrayBuffer): boolean;
  /** What the addon did to glibc's malloc settings when it loaded (native/malloc_tuning.h). */
  mallocTuning(): string;
  /**
   * What async kernel calls apply to the ArrayBuffers they use (native/binding.cc, CallArrays):
   * worker_threads.markAsUntransferable (checked to pin a probe) and the built-in getter
   * ArrayBuffer.prototype.resizable. Once per environment; async kernels throw until it is set.
   */
  setTransferGuard(guard: (buffer: ArrayBuffer) => void, resizableGetter: (() => boolean) | undefined): void;
}

/** The package root: src/ and dist/ both sit one level below it. */
export const packageRoot = path.resolve(__dirname, '..', '..');

let addon: NativeAddon | undefined;

/** Loads the addon once per process (or worker); throws what node-gyp-build threw. */
export function loadAddon(): NativeAddon {
  if (addon === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (root: string) => NativeAddon;
    const loaded = nodeGypBuild(packageRoot);
    loaded.setTransferGuard(markAsUntransferable, Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable')?.get);
    addon = loaded;
  }
  return addon;
}

/**
 * The native backend running the given tier ('' for the widest this CPU runs). Throws when the
 * addon cannot load, the tier name is unknown, or the CPU cannot run it.
 */
export function createNativeBackend(tier: SimdTier | ''): Backend {
  if (tier !== '' && !SIMD_TIERS.includes(tier)) {
    throw new RangeError(`unknown SIMD tier '${String(tier)}' (expected ${SIMD_TIERS.join(', ')})`);
  }
  const native = loadAddon();
  const kernels = native.kernels(tier);
  return {
    name: 'native',
    simd: kernels.tier,
    firstInvalidIndex: native.firstInvalidIndex,
    gather: kernels.gather,
    scatterAdd: kernels.scatterAdd,
    renorm: kernels.renorm,
    bagForward: kernels.bagForward,
    bagScatterAdd: kernels.bagScatterAdd,
    bagMaxBackward: kernels.bagMaxBackward,
    bagWeightGrad: kernels.bagWeightGrad,
    optimizerUpdate: kernels.optimizerUpdate,
    initFill: kernels.initFill,
    coalesce: kernels.coalesce,
    callAsync: ([name, args]) =>
      name === 'firstInvalidIndex'
        ? Promise.resolve(native.firstInvalidIndex(...args)) // a quick scan: not worth a thread hop
        : (kernels.async[name] as (...a: unknown[]) => Promise<number>)(...args),
  };
}
