// Writers go through a temporary file renamed into place: a failure or a crash part-way leaves the
// old file (or no file) under the final name, never a partial one, and no stray temporary file
// after an error.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { writeFileAtomic } from '../../src/io/files.js';
import { saveNpy } from '../../src/io/npy.js';
import { strayTemporaryFiles, temporaryDirectory } from './tmp.js';

const dir = temporaryDirectory();
const dist = path.join(__dirname, '..', '..', 'dist', 'io', 'npy.js');

describe('atomic writes', () => {
  it('an error part-way (a full disk, say) leaves the old file and removes the temporary one', async () => {
    const file = path.join(dir, 'kept.npy');
    writeFileSync(file, 'old contents');
    const failure = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    await expect(
      writeFileAtomic(file, async (sink) => {
        await sink.write(new Uint8Array(20 << 20)); // past the buffer: really written to the temporary file
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(readFileSync(file, 'utf8')).toBe('old contents');
    expect(strayTemporaryFiles(dir)).toEqual([]);
  });

  it('a new file appears only when complete', async () => {
    const file = path.join(dir, 'new.npy');
    let seenDuringWrite = true;
    await writeFileAtomic(file, async (sink) => {
      await sink.write(new Uint8Array(10 << 20));
      seenDuringWrite = existsSync(file);
    });
    expect(seenDuringWrite).toBe(false);
    expect(readFileSync(file).length).toBe(10 << 20);
  });

  it.runIf(existsSync(dist))('a process killed while writing leaves the old file intact', async () => {
    const file = path.join(dir, 'crash.npy');
    writeFileSync(file, 'the previous table');
    // The child writes a 400 MB table to the same name and is killed once the write has begun.
    const child = spawn(
      process.execPath,
      ['-e', `require(${JSON.stringify(dist)}).saveNpy(${JSON.stringify(file)}, new Float32Array(100 << 20), [100 << 10, 1024]); console.log('writing');`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 150));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(readFileSync(file, 'utf8')).toBe('the previous table');
    // What a crash leaves is a temporary file beside it (never the final name); clean it up.
    for (const stray of strayTemporaryFiles(dir)) rmSync(path.join(dir, stray));
  });

  it('saveNpy over an existing file replaces it whole', async () => {
    const file = path.join(dir, 'replace.npy');
    await saveNpy(file, new Float32Array([1, 2]), [1, 2]);
    await saveNpy(file, new Float32Array([3, 4, 5, 6]), [2, 2]);
    expect(readFileSync(file).length).toBe(128 + 16);
  });
});
