// A table saved here loads in Python with numpy and matches bit for bit (scripts/check-interop-numpy.py
// reads the .npy with numpy.load and parses the safetensors file by hand, as the reference
// implementation validates it). Needs Debian's /usr/bin/python3 with numpy; CI installs it and sets
// NN_EMBEDDING_REQUIRE_PYTHON=1 so a missing Python fails instead of skipping.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Embedding } from '../../src/index.js';
import { saveEmbedding } from '../../src/io/layers.js';
import { saveNpy } from '../../src/io/npy.js';
import { temporaryDirectory } from './tmp.js';

const python = '/usr/bin/python3';
const hasNumpy = spawnSync(python, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const required = process.env.NN_EMBEDDING_REQUIRE_PYTHON === '1';
const script = path.join(__dirname, '..', '..', 'scripts', 'check-interop-numpy.py');
const dir = temporaryDirectory();

describe.runIf(hasNumpy || required)('tables saved here, read by numpy', () => {
  it('an Embedding saved as .npy and as safetensors loads in Python and matches', async () => {
    const layer = new Embedding(123, 17, { seed: 11 });
    layer.weight[0] = -0;
    layer.weight[1] = 1e-40; // a float32 subnormal
    const npy = path.join(dir, 'table.npy');
    const st = path.join(dir, 'table.safetensors');
    const expected = path.join(dir, 'expected.json');
    await saveNpy(npy, layer.weight, [123, 17]);
    await saveEmbedding(st, layer, { prefix: 'embedding' });
    writeFileSync(expected, JSON.stringify({ shape: [123, 17], bits: Array.from(new Uint32Array(layer.weight.buffer)) }));
    const out = execFileSync(python, [script, '--npy', npy, '--safetensors', st, '--expected', expected], { encoding: 'utf8' });
    expect(out).toMatch(/OK/);
  });

  it('the checker is not a rubber stamp: one changed bit fails', async () => {
    const layer = new Embedding(4, 3, { seed: 1 });
    const npy = path.join(dir, 'bad.npy');
    const expected = path.join(dir, 'bad.json');
    await saveNpy(npy, layer.weight, [4, 3]);
    const bits = Array.from(new Uint32Array(layer.weight.buffer));
    bits[5] = bits[5]! ^ 1;
    writeFileSync(expected, JSON.stringify({ shape: [4, 3], bits }));
    const result = spawnSync(python, [script, '--npy', npy, '--expected', expected], { encoding: 'utf8' });
    expect(result.status).toBe(1);
  });
});
