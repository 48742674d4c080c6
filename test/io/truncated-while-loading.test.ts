// A word-vector file truncated (by another process) while it loads: a FileFormatError, never a
// crash. On the native backend the loaders read the file mapped, and a mapped page past the end of
// a truncated file is a SIGBUS that kills the process; so before each window they check the open
// file's size (ChunkReader.checkSize). Found in review when text files became mapped. The file is
// truncated from the onProgress callback, standing in for the other process; each load runs in a
// child process (a SIGBUS would end this one), with the built package (npm run build).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { currentBackend } from '../../src/loader.js';

const root = path.resolve(__dirname, '..', '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'nn-embedding-truncated-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SCRIPT = `
const fs = require('fs');
const nn = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
require(${JSON.stringify(path.join(root, 'dist', 'io', 'word-vectors', 'settings.js'))}).readSettings.chunkBytes = 65536;
const [, kind, file] = process.argv;
const count = 100000;
if (kind === 'binary') {
  const parts = [Buffer.from(count + ' 4\\n')];
  for (let i = 0; i < count; i++) {
    const record = Buffer.alloc(('w' + i).length + 1 + 16);
    record.write('w' + i + ' ', 'latin1');
    for (let j = 0; j < 4; j++) record.writeFloatLE(j / 8, record.length - 16 + 4 * j);
    parts.push(record);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
} else {
  const lines = [];
  for (let i = 0; i < count; i++) lines.push('w' + i + ' 0.1 0.2 0.3 0.4');
  fs.writeFileSync(file, (kind === 'glove' ? '' : count + ' 4\\n') + lines.join('\\n') + '\\n');
}
let truncated = false;
const onProgress = () => { if (!truncated) { truncated = true; fs.truncateSync(file, 100000); } };
const load = kind === 'glove' ? nn.loadGloVe(file, { onProgress }) : nn.loadWord2Vec(file, { onProgress, binary: kind === 'binary' });
load.then(
  () => process.stdout.write('RESULT loaded\\n'),
  (e) => process.stdout.write('RESULT ' + e.constructor.name + ': ' + e.message + '\\n'),
);
`;

describe('a word-vector file truncated while it loads', () => {
  for (const kind of ['word2vec', 'glove', 'binary']) {
    it(`${kind}: rejects with a FileFormatError ("the file shrank"), the process survives`, () => {
      const env = { ...process.env, NN_EMBEDDING_BACKEND: currentBackend().name === 'native' ? 'native' : 'js' };
      const run = spawnSync(process.execPath, ['-e', SCRIPT, kind, path.join(dir, `${kind}.txt`)], { encoding: 'utf8', timeout: 60_000, env });
      expect({ signal: run.signal, status: run.status, stderr: run.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
      expect(run.stdout).toMatch(/RESULT FileFormatError: .*the file shrank while being read/);
    });
  }
});
