// The native backend: the N-API addon built from native/, loaded through node-gyp-build (a
// prebuild for this platform when the package ships one, else the local build). The addon's
// functions already have the Backend signatures, so this file only loads it and picks the tier.
import path from 'node:path';
import { markAsUntransferable } from 'node:worker_threads';

import { type Backend, KERNEL_NAMES, type KernelName, type Kernels, type OptimizerScalarName, type SimdTier, SIMD_TIERS } from '../backend.js';

export interface CpuFeatures {
  avx2: boolean;
  avx512: boolean;
  neon: boolean;
  /** The tiers this CPU can run, narrowest first. */
  tiers: SimdTier[];
  best: SimdTier;
}

type AsyncKernels = { [K in KernelName]: (...args: Parameters<Kernels[K]>) => Promise<number> };

/** The kernels of one SIMD tier, as the addon hands them out, with their asynchronous forms. */
export interface TierKernels extends Kernels {
  readonly tier: SimdTier;
  /** The same kernels run on a background thread (libuv's pool): each resolves to its result. */
  readonly async: AsyncKernels;
}

/** The addon's exports (native/binding.cc). */
export interface NativeAddon {
  cpuFeatures(): CpuFeatures;
  /** The kernels' names, in the order of KERNEL_NAMES (native/binding.cc kKernelEntries). */
  readonly kernelNames: readonly string[];
  /** The optimizer scalars' slots, name to position (native/optimizer_slots.h): OPTIMIZER_SCALARS. */
  readonly optimizerScalarSlots: Readonly<Record<OptimizerScalarName, number>>;
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
  populateBackward(buffer: ArrayBuffer): { done: Promise<number>; stop(): void };
  /**
   * The whole pages inside bytes [begin, end) of a buffer mapFile returned released (madvise
   * MADV_DONTNEED: the resident size falls, a later read maps the file's pages again, bytes written
   * there are lost); whether they were (false for any other buffer).
   */
  releaseMappedPages(buffer: ArrayBuffer, begin: number, end: number): boolean;
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
  const missing = KERNEL_NAMES.filter((name) => typeof kernels[name] !== 'function');
  if (missing.length > 0) throw new Error(`the native addon has no kernel ${missing.join(', ')}: it is out of date; rebuild it (npm run build:native)`);
  return {
    name: 'native',
    simd: kernels.tier,
    ...(Object.fromEntries(KERNEL_NAMES.map((name) => [name, kernels[name]])) as unknown as Kernels),
    callAsync: ([name, args]) =>
      name === 'firstInvalidIndex'
        ? Promise.resolve(kernels.firstInvalidIndex(...args)) // a quick scan: not worth a thread hop
        : (kernels.async[name] as (...a: unknown[]) => Promise<number>)(...args),
  };
}
