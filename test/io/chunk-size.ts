// Runs a load with the word-vector readers' chunk size lowered, so that chunk boundaries fall
// inside records (readSettings is the loaders' test hook, not part of the package's API).
import { readSettings } from '../../src/io/word-vectors.js';

export async function withChunkBytes<T>(chunkBytes: number, run: () => Promise<T>): Promise<T> {
  const saved = readSettings.chunkBytes;
  readSettings.chunkBytes = chunkBytes;
  try {
    return await run();
  } finally {
    readSettings.chunkBytes = saved;
  }
}
