// Which backend this process uses, chosen once on first use:
//   NN_EMBEDDING_BACKEND=js      the pure-TypeScript kernels, the addon is not loaded
//   NN_EMBEDDING_BACKEND=native  the addon, and a failed load is an error
//   unset                        the addon when it loads, else the TypeScript kernels
//   NN_EMBEDDING_SIMD=scalar|avx2|avx512|neon   the native tier (default: the widest the CPU runs);
//                                an unknown tier, or one the CPU cannot run, is an error
//   NN_EMBEDDING_MALLOC=default  the addon leaves glibc's malloc settings alone (native/malloc_tuning.h)
//   NN_EMBEDDING_THREADS=n       the native thread pool's default size, an integer in [1, 256]
//                                (default: the CPUs available to the process); the addon reads it
//                                itself, from the process environment; here it is only checked
import { type Backend, type SimdTier, SIMD_TIERS } from './backend.js';
import { jsBackend } from './backends/js.js';
import { type CpuFeatures, createNativeBackend, loadAddon } from './backends/native.js';
import { describe } from './validate.js';

export interface Capabilities {
  /** The backend in use. */
  backend: 'native' | 'js';
  /** The SIMD tier the native kernels run with; null on the TypeScript backend. */
  simd: SimdTier | null;
  /** What the CPU offers, as the addon detected it; null when the addon is not loaded. */
  cpu: CpuFeatures | null;
  /** Why the addon is not in use, when it is not: the load error, or the environment variable. */
  nativeError: string | null;
  /**
   * glibc's malloc settings for the outputs the package allocates: 'tuned' when the addon set them
   * as the README's "Memory of the outputs" describes, else 'default (why not)'; null when the addon
   * is not loaded. NN_EMBEDDING_MALLOC=default keeps glibc's defaults.
   */
  malloc: string | null;
}

interface Selection {
  backend: Backend;
  nativeError: string | null;
}

let selection: Selection | undefined;

function environment(name: string): string {
  return (process.env[name] ?? '').trim();
}

function select(): Selection {
  const requested = environment('NN_EMBEDDING_BACKEND');
  if (requested !== '' && requested !== 'native' && requested !== 'js') {
    throw new RangeError(`NN_EMBEDDING_BACKEND must be 'native' or 'js', got '${requested}'`);
  }
  const tier = environment('NN_EMBEDDING_SIMD');
  if (tier !== '' && !(SIMD_TIERS as readonly string[]).includes(tier)) {
    throw new RangeError(`NN_EMBEDDING_SIMD must be one of ${SIMD_TIERS.join(', ')}, got '${tier}'`);
  }
  const threads = environment('NN_EMBEDDING_THREADS');
  if (threads !== '' && !(/^\d+$/.test(threads) && validThreads(Number(threads)))) {
    throw new RangeError(`NN_EMBEDDING_THREADS must be an integer from 1 to ${MAX_THREADS}, got '${threads}'`);
  }
  const malloc = environment('NN_EMBEDDING_MALLOC');
  if (malloc !== '' && malloc !== 'default') {
    throw new RangeError(`NN_EMBEDDING_MALLOC must be 'default' (or unset), got '${malloc}'`);
  }
  if (requested === 'js') return { backend: jsBackend, nativeError: 'NN_EMBEDDING_BACKEND=js' };
  let addonError: unknown;
  try {
    loadAddon();
  } catch (error) {
    addonError = error;
  }
  if (addonError === undefined) {
    // The addon loaded: a tier it cannot run is the user's explicit request failing, so it throws.
    return { backend: createNativeBackend(tier as SimdTier | ''), nativeError: null };
  }
  const message = addonError instanceof Error ? addonError.message : String(addonError);
  if (requested === 'native') {
    throw new Error(`nn-embedding: NN_EMBEDDING_BACKEND=native but the native addon failed to load: ${message}`, {
      cause: addonError,
    });
  }
  warnFallback(message);
  return { backend: jsBackend, nativeError: message };
}

/** The code of the one warning a process gets when the addon cannot be used (README: Install). */
export const FALLBACK_WARNING_CODE = 'NN_EMBEDDING_NATIVE_UNAVAILABLE';

/**
 * Says, once per process (or worker), that the addon could not be used, why, and what to do: the
 * TypeScript backend is several times slower, which a user must not have to discover. Not called
 * when NN_EMBEDDING_BACKEND=js chose the TypeScript backend deliberately.
 */
function warnFallback(reason: string): void {
  const platform = `${process.platform}-${process.arch}`;
  const prebuilt = platform === 'linux-x64' || platform === 'linux-arm64';
  const firstLine = reason.split('\n')[0]!.slice(0, 300);
  let cause: string;
  if (!/No native build was found/.test(reason)) cause = `the addon failed to load: ${firstLine}`;
  else if (!prebuilt) cause = `no addon for ${platform}: the package ships prebuilds for linux-x64 and linux-arm64 (glibc) only, and none was built from source here`;
  else if (isMusl()) cause = `no addon for ${platform} with musl: the package's prebuilds are for glibc, and none was built from source here`;
  else cause = `no addon was found: the ${platform} prebuild is missing from the installed package (its prebuilds/ folder was removed, or it was packed without it)`;
  process.emitWarning(
    `nn-embedding: ${cause}. Using the pure-TypeScript backend, several times slower. ` +
      'To build the addon from source (python3, make and a C++17 compiler): npx nn-embedding build-native. ' +
      'To choose the TypeScript backend deliberately, and silence this warning: NN_EMBEDDING_BACKEND=js.',
    { code: FALLBACK_WARNING_CODE },
  );
}

function isMusl(): boolean {
  if (process.platform !== 'linux') return false;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime === undefined;
}

/** The most threads setNumThreads accepts (native/thread_pool.h kMaxThreads). */
export const MAX_THREADS = 256;

function validThreads(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_THREADS;
}

/**
 * Sets how many threads the native kernels split large calls over: n - 1 pool threads plus the
 * calling thread. The pool is process-wide (shared by worker_threads) and starts with the first
 * call large enough to split; a new size applies from the next such call. Throws a TypeError
 * unless n is a number, and a RangeError unless it is an integer from 1 to 256. The TypeScript backend accepts and ignores it.
 */
export function setNumThreads(n: number): void {
  if (typeof n !== 'number') throw new TypeError(`setNumThreads: n must be a number, got ${describe(n)}`);
  if (!validThreads(n)) throw new RangeError(`setNumThreads: n must be an integer from 1 to ${MAX_THREADS}, got ${describe(n)}`);
  if (currentBackend().name === 'native') loadAddon().setNumThreads(n);
}

/**
 * The number of threads large native calls are split over: the value set, else
 * NN_EMBEDDING_THREADS, else the CPUs available to the process. 1 on the TypeScript backend.
 */
export function getNumThreads(): number {
  return currentBackend().name === 'native' ? loadAddon().getNumThreads() : 1;
}

/** The backend new layers use (chosen on the first call). */
export function currentBackend(): Backend {
  selection ??= select();
  return selection.backend;
}

/** 'native' when the C++ addon is in use, 'js' for the pure-TypeScript fallback. */
export function getBackend(): 'native' | 'js' {
  return currentBackend().name;
}

/** The backend in use, its SIMD tier, what the CPU offers, and why the addon is not in use if it is not. */
export function getCapabilities(): Capabilities {
  const backend = currentBackend();
  let cpu: CpuFeatures | null = null;
  let malloc: string | null = null;
  if (backend.name === 'native') {
    cpu = loadAddon().cpuFeatures();
    malloc = loadAddon().mallocTuning();
  }
  return { backend: backend.name, simd: backend.simd, cpu, nativeError: selection!.nativeError, malloc };
}

/**
 * Runs fn with `backend` as the one new layers bind to, then restores the previous one. For the
 * tests and the benchmark, which compare backends in one process; not part of the public API.
 */
export function withBackend<T>(backend: Backend, fn: () => T): T {
  const previous = currentBackend();
  selection!.backend = backend;
  try {
    return fn();
  } finally {
    selection!.backend = previous;
  }
}
