// A table saved here loads in Python with numpy and matches bit for bit (scripts/check-interop-numpy.py
// reads the .npy with numpy.load and parses the safetensors file by hand, as the reference
// implementation validates it). Needs Debian's /usr/bin/python3 with numpy; CI installs it and sets
// NN_EMBEDDING_REQUIRE_PYTHON=1 so a missing Python fails instead of skipping. Narrow tables
// (scripts/check-interop-narrow.py) are also read by torch when python3-torch is installed: its
// .float() and quantized unpack ops must give dequantize()'s bits.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Embedding, dequantize, quantize } from '../../src/index.js';
import { saveEmbedding } from '../../src/io/layers.js';
import { saveNpy } from '../../src/io/npy.js';
import { temporaryDirectory } from './tmp.js';

const python = '/usr/bin/python3';
const hasNumpy = spawnSync(python, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const required = process.env.NN_EMBEDDING_REQUIRE_PYTHON === '1';
const hasTorch = hasNumpy && spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const script = path.join(__dirname, '..', '..', 'scripts', 'check-interop-numpy.py');
const narrowScript = path.join(__dirname, '..', '..', 'scripts', 'check-interop-narrow.py');
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

describe.runIf(hasNumpy || required)('narrow tables saved here, read by numpy (and torch when installed)', () => {
  const hex = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

  it.each(['float16', 'bfloat16', 'int8', 'int4'] as const)('%s: .npy and safetensors hold the packed bytes; torch widens or unpacks them to dequantize()\'s bits', async (dtype) => {
    const dim = 10;
    const weights = new Embedding(37, dim, { seed: 12 }).weight;
    weights[0] = -0;
    weights[1] = 3e-6; // a float16 subnormal
    const packed = quantize(weights, dim, dtype);
    const layer = Embedding.fromPretrained(packed, dim, { dtype });
    const st = path.join(dir, `narrow-${dtype}.safetensors`);
    const npy = path.join(dir, `narrow-${dtype}.npy`);
    const expected = path.join(dir, `narrow-${dtype}.json`);
    await saveEmbedding(st, layer, { prefix: 'embedding' });
    if (dtype !== 'bfloat16') await saveNpy(npy, packed, [37, dim], { dtype });
    writeFileSync(expected, JSON.stringify({ dtype, rows: 37, dim, packed: hex(packed), dequantized: hex(dequantize(packed, dim, dtype)) }));
    const args = [narrowScript, ...(dtype !== 'bfloat16' ? ['--npy', npy] : []), '--safetensors', st, '--expected', expected, ...(hasTorch ? ['--require-torch'] : [])];
    const result = spawnSync(python, args, { encoding: 'utf8' });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/OK .* the packed bytes/);
    if (hasTorch) expect(result.stdout).toMatch(/OK .*: torch .* gives the dequantized values/);
  });

  it('the narrow checker is not a rubber stamp: one changed byte fails', async () => {
    const packed = quantize(new Embedding(3, 4, { seed: 2 }).weight, 4, 'int8');
    const npy = path.join(dir, 'narrow-bad.npy');
    const expected = path.join(dir, 'narrow-bad.json');
    await saveNpy(npy, packed, [3, 4], { dtype: 'int8' });
    const changed = packed.slice();
    changed[5] = changed[5]! ^ 1;
    writeFileSync(expected, JSON.stringify({ dtype: 'int8', rows: 3, dim: 4, packed: hex(changed), dequantized: hex(dequantize(changed, 4, 'int8')) }));
    const result = spawnSync(python, [narrowScript, '--npy', npy, '--expected', expected], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/FAIL .*bytes differ/);
  });
});
