// Temporary directories for file-format tests, removed after each file's tests.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
