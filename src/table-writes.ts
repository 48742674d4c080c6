// Which tables changed: a version per buffer, bumped by every kernel call that writes into it
// (KERNEL_ARRAYS marks the arrays each kernel writes), so that what is cached about a table (the
// row norms of mostSimilar) is dropped when any of the package's own calls changes it: an
// optimizer's step or an update applied in backward, maxNorm's renorm, init's fills, a forward
// whose `out` is a table. Only buffers something is cached about are tracked (versionOf starts
// tracking one); a write to any view of a buffer counts, so tables that share memory invalidate
// each other. Writes the package does not make (a user's own `layer.weight[i] = x`) cannot be
// seen: the layer's invalidateNorms() is for those.
import { KERNEL_ARRAYS, bufferOf } from './async-guard.js';
import type { KernelCall } from './backend.js';

const versions = new WeakMap<ArrayBuffer | SharedArrayBuffer, number>();

/** Records a write into the memory of `view` (nothing when that buffer is not tracked). */
export function noteWritten(view: ArrayBufferView): void {
  const buffer = bufferOf(view);
  const version = versions.get(buffer);
  if (version !== undefined) versions.set(buffer, version + 1);
}

/** Records the writes a kernel call makes, before it runs. */
export function noteWrites([name, args]: KernelCall): void {
  for (const { position, use } of KERNEL_ARRAYS[name]) {
    const value = args[position];
    if (use === 'write' && ArrayBuffer.isView(value)) noteWritten(value);
  }
}

/** The version of the buffer behind `view`; from now on writes to it are counted. */
export function versionOf(view: ArrayBufferView): number {
  const buffer = bufferOf(view);
  let version = versions.get(buffer);
  if (version === undefined) {
    version = 0;
    versions.set(buffer, version);
  }
  return version;
}
