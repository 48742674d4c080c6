// What the file formats' public declarations share: the error a bad file gets and the progress
// callback. Kept apart from files.ts, which uses Node's fs, so that the package's .d.ts files need
// no @types/node in the projects that import them.
import { defineReadonly } from '../validate.js';

/** A file that cannot be read as the format it was read as: names the file and what is wrong. */
export class FileFormatError extends Error {
  override name = 'FileFormatError';
  // Read-only at run time too (defineReadonly).
  declare readonly file: string;
  declare readonly reason: string;

  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    defineReadonly<FileFormatError>(this, { file, reason });
  }
}

/** Progress of a long read or write, reported through an onProgress callback. */
export interface Progress {
  /** Bytes of the file read (or written) so far. */
  bytes: number;
  /** The file's size (for a write: the size it will have). */
  totalBytes: number;
}

export type ProgressCallback = (progress: Progress) => void;
