// What every file format here shares: the error a bad file gets (common.ts), writing through a
// temporary file renamed into place, reading a file in chunks, and mapping a file into memory
// (native addon) or reading it whole (fallback). Every reader here reads regular files only:
// anything else (a FIFO, a directory, a socket, a device) is refused before it is opened, so a
// FIFO with no writer can never leave a read waiting forever.
import { constants as bufferConstants } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { type Stats, constants as fsConstants, fstatSync, promises as fsp } from 'node:fs';
import path from 'node:path';

import { currentBackend, getNumThreads } from '../loader.js';
import { loadAddon } from '../backends/native.js';
import { FileFormatError } from './common.js';

export { FileFormatError, type Progress, type ProgressCallback } from './common.js';

/**
 * A word, token or field of a file quoted for an error message: in double quotes, as JSON writes
 * strings, with every control character (C0, DEL and C1) and lone surrogate escaped as \uXXXX, and
 * cut to `maxChars` characters (then ending in …). Text read from a file is decoded as UTF-8
 * first, by the caller: never shown as its bytes read as latin1.
 */
export function quoteText(text: string, maxChars = 100): string {
  // 4 * maxChars code units hold at least 2 * maxChars characters: enough to tell a cut.
  const characters = Array.from(text.length > 4 * maxChars ? text.slice(0, 4 * maxChars) : text);
  const cut = characters.length > maxChars;
  const quoted = JSON.stringify(cut ? characters.slice(0, maxChars).join('') : text);
  const escaped = quoted.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return cut ? `${escaped.slice(0, -1)}…"` : escaped;
}

/** Chunk size for streamed reads and writes: large enough that per-call costs vanish. */
export const CHUNK_BYTES = 8 << 20;

/** Writes all of `data` to fh, looping over partial writes. */
async function writeAll(fh: fsp.FileHandle, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done);
    done += bytesWritten;
  }
}

/** The sink a writer function gets: buffered appends to the temporary file. */
export interface FileSink {
  /** Appends bytes (copied into the buffer, or written through when large). */
  write(bytes: Uint8Array): Promise<void>;
  /** Appends a string as UTF-8. */
  writeText(text: string): Promise<void>;
  /** Bytes written so far. */
  readonly bytesWritten: number;
}

/**
 * Writes a file through `produce`, into a temporary file in the same directory that is flushed to
 * disk and then renamed over `file`: readers see the old file or the whole new one, never a part
 * (a crash or a full disk leaves at most a stray temporary file, which is removed on errors).
 */
export async function writeFileAtomic(file: string, produce: (sink: FileSink) => Promise<void>): Promise<void> {
  const resolved = path.resolve(file);
  const temporary = path.join(path.dirname(resolved), `.${path.basename(resolved)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fsp.open(temporary, 'wx', 0o644);
  let closed = false;
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let used = 0;
    let total = 0;
    const flush = async (): Promise<void> => {
      if (used > 0) await writeAll(fh, buffer.subarray(0, used));
      used = 0;
    };
    const sink: FileSink = {
      async write(bytes: Uint8Array): Promise<void> {
        total += bytes.length;
        // What is buffered goes first, whichever way these bytes go.
        if (bytes.length >= buffer.length / 2 || used + bytes.length > buffer.length) await flush();
        if (bytes.length >= buffer.length / 2) {
          await writeAll(fh, bytes);
          return;
        }
        buffer.set(bytes, used);
        used += bytes.length;
      },
      async writeText(text: string): Promise<void> {
        // Encode straight into the buffer when it fits (the common case for short lines).
        if (text.length * 3 <= buffer.length - used) {
          const n = buffer.write(text, used, 'utf8');
          used += n;
          total += n;
          return;
        }
        await sink.write(Buffer.from(text, 'utf8'));
      },
      get bytesWritten(): number {
        return total;
      },
    };
    await produce(sink);
    await flush();
    await fh.sync();
    await fh.close();
    closed = true;
    await fsp.rename(temporary, resolved);
  } catch (error) {
    if (!closed) await fh.close().catch(() => undefined);
    await fsp.rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** An open file read from front to back in chunks. */
export interface ChunkReader {
  readonly file: string;
  readonly size: number;
  /**
   * The next chunk of the file: `carry` (unconsumed bytes of the previous chunk, moved to the
   * front) followed by newly read bytes; at least `carry.length + 1` bytes unless the file has
   * ended (then `atEnd` is true and the chunk is what remains). The view is valid until the next call.
   */
  next(carry?: Uint8Array): Promise<Buffer>;
  /** Bytes read from the file so far. */
  readonly position: number;
  /** True once every byte of the file has been returned in a chunk. */
  readonly atEnd: boolean;
  /**
   * Throws the FileFormatError a read past the file's end gives when the open file is now shorter
   * than `end` bytes (fstat): what a reader of the file mapped checks before touching bytes up to
   * `end`, since a mapped page past the end of a truncated file is a SIGBUS, not an error. (This
   * narrows the window in which another process can truncate the file, it cannot close it.)
   */
  checkSize(end: number, done: number): void;
  close(): Promise<void>;
}

/** Opens `file` for chunked reading; the buffer grows only when a carried record needs it. */
export async function openChunkReader(file: string, chunkBytes = CHUNK_BYTES): Promise<ChunkReader> {
  const fh = await openForReading(file);
  const size = (await fh.stat()).size;
  let buffer = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, size)));
  let position = 0;
  return {
    file,
    size,
    get position() {
      return position;
    },
    get atEnd() {
      return position >= size;
    },
    async next(carry?: Uint8Array): Promise<Buffer> {
      const kept = carry?.length ?? 0;
      if (kept > 0) {
        if (kept * 2 > buffer.length) {
          const grown = Buffer.allocUnsafe(kept * 2);
          grown.set(carry!, 0);
          buffer = grown;
        } else {
          buffer.copyWithin(0, carry!.byteOffset - buffer.byteOffset, carry!.byteOffset - buffer.byteOffset + kept);
        }
      }
      let filled = kept;
      while (filled < buffer.length && position < size) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await fh.read(buffer, filled, buffer.length - filled, position));
        } catch (error) {
          throw new Error(`${file}: cannot read at byte ${position}: ${(error as Error).message}`, { cause: error });
        }
        if (bytesRead === 0) throw new FileFormatError(file, `the file shrank while being read (${position} of ${size} bytes)`);
        filled += bytesRead;
        position += bytesRead;
      }
      return buffer.subarray(0, filled);
    },
    checkSize(end: number, done: number): void {
      if (fstatSync(fh.fd).size < end) throw new FileFormatError(file, `the file shrank while being read (${done} of ${size} bytes)`);
    },
    close: () => fh.close(),
  };
}

/** What a file that is not a regular file is, for the error that refuses it. */
function fileKind(stats: Stats): string | null {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return null;
}

/** Throws, naming the file and what it is, unless `stats` are a regular file's. */
function refuseUnlessRegular(file: string, stats: Stats): void {
  if (stats.isFile()) return;
  const kind = fileKind(stats);
  throw new Error(`${file}: cannot open: ${kind === null ? 'not a regular file' : `it is ${kind}, not a regular file`}`);
}

/**
 * fs.stat of `file` (links followed), refusing anything but a regular file before anything opens
 * it: opening a FIFO waits for a writer (forever, if none comes), a directory opens on Linux but
 * fails on the first read (EISDIR, no name), a device never ends.
 */
export async function statRegularFile(file: string): Promise<Stats> {
  let stats: Stats;
  try {
    stats = await fsp.stat(file);
  } catch (error) {
    throw new Error(`${file}: cannot open: ${(error as Error).message}`, { cause: error });
  }
  refuseUnlessRegular(file, stats);
  return stats;
}

/**
 * fs.open for reading a regular file (statRegularFile first), with the error naming the file as
 * every reader's errors do. Opened with O_NONBLOCK, which changes nothing for a regular file: if
 * the path became a FIFO after the stat, the open still returns at once, and the fstat refuses it.
 */
export async function openForReading(file: string): Promise<fsp.FileHandle> {
  await statRegularFile(file);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw new Error(`${file}: cannot open: ${(error as Error).message}`, { cause: error });
  }
  try {
    refuseUnlessRegular(file, await fh.stat());
  } catch (error) {
    await fh.close();
    throw error;
  }
  return fh;
}

/**
 * Refuses a file too large for one ArrayBuffer view: above buffer.constants.MAX_LENGTH (2^32 bytes
 * on Node 20, 2^53 - 1 from Node 22) Node cannot wrap a mapping in an ArrayBuffer (the addon's
 * external buffers go through node::Buffer::New, which refuses them), and no Uint8Array can view
 * the whole file to read it into, so neither the mapped nor the read path can hold it.
 */
function checkWholeFileSize(file: string, size: number): void {
  const limit = bufferConstants.MAX_LENGTH;
  if (size > limit) {
    throw new RangeError(
      `${file}: the file is ${size} bytes, more than the ${limit} bytes one buffer can hold in this Node.js ` +
        `(buffer.constants.MAX_LENGTH), so it can be neither mapped nor read whole`,
    );
  }
}

/** The buffers allocateTable had the addon map (prefaultTable faults in only those). */
const addonTables = new WeakSet<ArrayBuffer>();

/** Tables at least this large are allocated by the addon in huge pages (allocateTable). */
const HUGE_PAGE_TABLE_BYTES = 4 << 20;

/**
 * A zeroed Float32Array of `count` values for a loader to fill. Large tables on the native backend
 * are mapped by the addon with huge pages requested (Linux transparent huge pages in "madvise"
 * mode): filling a fresh 240 MB table then costs ~120 page faults instead of ~60,000, which is
 * most of what a binary load costs beyond the copy. Elsewhere an ordinary Float32Array.
 */
export function allocateTable(count: number): Float32Array {
  // Above buffer.constants.MAX_LENGTH Node cannot wrap the addon's memory in an ArrayBuffer (see
  // checkWholeFileSize): such a table is an ordinary zeroed Float32Array (calloc'd by V8).
  const bytes = count * 4;
  if (bytes >= HUGE_PAGE_TABLE_BYTES && bytes <= bufferConstants.MAX_LENGTH && currentBackend().name === 'native') {
    const buffer = loadAddon().allocateZeroed(count * 4);
    addonTables.add(buffer);
    return new Float32Array(buffer);
  }
  return new Float32Array(count);
}

/** Tables at least this large are faulted in beside their loader (prefaultTable). */
const PREFAULT_TABLE_BYTES = 16 << 20;

/** A fresh table's pages being faulted in beside its loader: stop() ends that, and resolves when it has. */
export interface TablePrefault {
  stop(): Promise<void>;
}

/**
 * Starts faulting in the pages of a table allocateTable just made (the addon's populateBackward,
 * on libuv's thread pool: from the table's end back, MADV_POPULATE_WRITE, no byte changes) while
 * the loader fills it from its start: the kernel's zeroing of fresh pages, which is most of a
 * binary load on this VM when memory comes back from the host (a 1.2 GB table: 0.5 s against
 * 2.5 s), then runs on another core. Only on the native backend with two threads or more (one
 * thread means one core of work), for large tables allocateTable had the addon map; else null. The loader
 * must await stop() before it hands the table out, and when it fails.
 */
export function prefaultTable(table: Float32Array): TablePrefault | null {
  // Only the native backend's allocateTable puts buffers in addonTables.
  const buffer = table.buffer as ArrayBuffer;
  if (table.byteLength < PREFAULT_TABLE_BYTES || !addonTables.has(buffer) || getNumThreads() < 2) return null;
  const job = loadAddon().populateBackward(buffer);
  return {
    async stop() {
      job.stop();
      await job.done;
    },
  };
}

/**
 * The file mapped copy-on-write, as a Buffer, for a reader that goes through it once (the word2vec
 * binary loader: one copy, page cache to table, where reading in chunks makes two): on the native
 * backend, for a file of `size` bytes (the size the caller's open file has) at most
 * buffer.constants.MAX_LENGTH. Null where it cannot be mapped, or no longer has that size: the
 * caller reads its open file in chunks instead. As for mapOrReadFile, the file must not be
 * truncated while mapped.
 */
export function mapForOneRead(file: string, size: number): Buffer | null {
  if (currentBackend().name !== 'native' || size > bufferConstants.MAX_LENGTH || size === 0) return null;
  let buffer: ArrayBuffer;
  try {
    buffer = loadAddon().mapFile(path.resolve(file));
  } catch {
    return null; // not mappable here (no mmap, a path replaced since it was opened): read in chunks
  }
  return buffer.byteLength === size ? Buffer.from(buffer) : null;
}

/** Lets other work run between windows of a mapped file (a chunk reader's reads already do). */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Bytes [begin, end) of a mapping mapForOneRead returned, read and done with: its whole pages are
 * unmapped from this process (the page cache keeps them), so that the resident size of a load stays
 * the table plus the part of the file being read, not the whole file.
 */
export function releaseMappedBytes(mapping: Buffer, begin: number, end: number): void {
  loadAddon().releaseMappedPages(mapping.buffer as ArrayBuffer, mapping.byteOffset + begin, mapping.byteOffset + end);
}

/**
 * The whole file as an ArrayBuffer. On the native backend the file is mapped copy-on-write
 * (MAP_PRIVATE): opening is immediate, pages are read when touched, and writes to the buffer
 * never reach the file. Elsewhere it is read into memory. The file must not be truncated by
 * another process while mapped (reading a page past the new end is a SIGBUS, as for any mapping).
 * Refused before anything opens it: a file that is not a regular file, and one larger than
 * buffer.constants.MAX_LENGTH (checkWholeFileSize).
 */
export async function mapOrReadFile(file: string): Promise<{ buffer: ArrayBuffer; mapped: boolean }> {
  // Too large to map (above MAX_LENGTH): the read path below, which refuses what it cannot hold.
  if (currentBackend().name === 'native' && (await statRegularFile(file)).size <= bufferConstants.MAX_LENGTH) {
    const addon = loadAddon();
    try {
      // The addon refuses a non-regular file too (opened O_NONBLOCK, then fstat), and a mapping
      // over MAX_LENGTH with an Error: a path replaced, or a file grown, since the stat.
      return { buffer: addon.mapFile(path.resolve(file)), mapped: true };
    } catch (error) {
      throw new Error(`${file}: cannot map: ${(error as Error).message}`, { cause: error });
    }
  }
  const fh = await openForReading(file);
  try {
    const size = (await fh.stat()).size;
    checkWholeFileSize(file, size);
    const buffer = new ArrayBuffer(size);
    const bytes = new Uint8Array(buffer);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(bytes, done, Math.min(size - done, 1 << 30), done);
      if (bytesRead === 0) throw new FileFormatError(file, `the file shrank while being read (${done} of ${size} bytes)`);
      done += bytesRead;
    }
    return { buffer, mapped: false };
  } finally {
    await fh.close();
  }
}
