// Temporary directories for file-format tests, removed after each file's tests.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/** A fresh directory under the OS temp dir, removed after the calling test file. */
export function temporaryDirectory(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nn-embedding-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The names in `dir` that look like writeFileAtomic's temporary files (none may be left behind). */
export function strayTemporaryFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.tmp'));
}

/**
 * Writes dir/name as a safetensors file from a header object (or raw header text) and data bytes;
 * `pad` pads the header to a multiple of 8 bytes, as the format's writers do. Returns the path.
 */
export function writeRawSafetensors(dir: string, name: string, header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): string {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.concat([prefix, Buffer.from(text), data]));
  return file;
}
