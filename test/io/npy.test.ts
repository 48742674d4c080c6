// .npy: round trips, files written by numpy itself, and malformed headers.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Embedding } from '../../src/index.js';
import { readNpy, saveNpy } from '../../src/io/npy.js';
import { expectFileFormatError, expectedBackend, expectSameBits, writeTestFile } from '../helpers.js';
import { strayTemporaryFiles, temporaryDirectory } from './tmp.js';

const dir = temporaryDirectory();
const fixtures = path.join(__dirname, '..', 'fixtures', 'interop');

function npyBytes(header: string, data: Uint8Array, version = 1): Buffer {
  const lengthBytes = version === 1 ? 2 : 4;
  const prefix = Buffer.alloc(8 + lengthBytes);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(prefix);
  if (version === 1) prefix.writeUInt16LE(header.length, 8);
  else prefix.writeUInt32LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]);
}

async function expectFormatError(name: string, bytes: Uint8Array, reason: RegExp): Promise<void> {
  const file = writeTestFile(dir, name, bytes);
  await expectFileFormatError(readNpy(file), file, reason, name);
}

describe('.npy round trips', () => {
  it('Embedding -> .npy -> Embedding is bit-identical; the data is 64-byte aligned as numpy writes it', async () => {
    const layer = new Embedding(33, 5, { seed: 3 });
    layer.weight[0] = -0;
    const file = path.join(dir, 'table.npy');
    await saveNpy(file, layer.weight, [33, 5]);
    const bytes = readFileSync(file);
    const headerLength = bytes.readUInt16LE(8);
    expect((10 + headerLength) % 64).toBe(0);
    expect(bytes.toString('latin1', 10, 10 + headerLength)).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(33, 5\), \} *\n$/);
    const read = await readNpy(file);
    expect(read.shape).toEqual([33, 5]);
    expect(read.mapped).toBe(expectedBackend === 'native');
    const loaded = Embedding.fromPretrained(read.data, read.shape[1]);
    expectSameBits(loaded.weight, layer.weight);
    expect(strayTemporaryFiles(dir)).toEqual([]);
  });

  it('a table between half a write chunk and a chunk (4 to 8 MiB) keeps its header in front of the data', async () => {
    // The file writer buffers the header and used to write data of 4..8 MiB straight to the
    // file before flushing that buffer: the header landed after the data.
    for (const values of [(5 << 20) / 4, ((8 << 20) - 128) / 4, (4 << 20) / 4, 1 + (8 << 20) / 4]) {
      const data = new Float32Array(values).map((_, i) => i);
      const file = path.join(dir, `chunk-${values}.npy`);
      await saveNpy(file, data, [values, 1]);
      expect(readFileSync(file).subarray(0, 6)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]));
      const back = await readNpy(file);
      expect(back.shape).toEqual([values, 1]);
      expectSameBits(back.data, data);
    }
  });

  it('rejects bad arguments to saveNpy', async () => {
    const file = path.join(dir, 'never.npy');
    await expect(saveNpy(file, new Float32Array(5), [2, 2])).rejects.toThrow(/shape \[2, 2\] holds 4 values, data has 5/);
    await expect(saveNpy(file, [1] as never, [1, 1])).rejects.toThrow(TypeError);
    await expect(saveNpy(file, new Float32Array(2), [2] as never)).rejects.toThrow(/shape must be \[rows, cols\]/);
  });
});

describe('.npy files written by numpy (test/fixtures/interop)', () => {
  const expected = JSON.parse(readFileSync(path.join(fixtures, 'numpy-expected.json'), 'utf8')) as { shape: [number, number]; bits: number[] };
  const values = new Float32Array(new Uint32Array(expected.bits).buffer);

  it.each(['numpy-f4.npy', 'numpy-f4-v2.npy', 'numpy-f4-fortran.npy', 'numpy-be-f4.npy'])('%s reads as the array numpy saved', async (name) => {
    const read = await readNpy(path.join(fixtures, name));
    expect(read.shape).toEqual(expected.shape);
    expectSameBits(read.data, values, name);
  });

  it('saveNpy writes numpy-f4.npy byte for byte as np.save does', async () => {
    const file = path.join(dir, 'again.npy');
    await saveNpy(file, values, expected.shape);
    expect(readFileSync(file).equals(readFileSync(path.join(fixtures, 'numpy-f4.npy')))).toBe(true);
  });

  it('converts float64 to the nearest float32, and rejects 1-D arrays', async () => {
    const read = await readNpy(path.join(fixtures, 'numpy-f8.npy'));
    expect(read.descr).toBe('<f8');
    expectSameBits(read.data, values, 'f8 narrowed'); // the fixture's float64 values are exact widenings
    await expect(readNpy(path.join(fixtures, 'numpy-f4-1d.npy'))).rejects.toThrow(/is not 2-D/);
  });
});

describe('malformed .npy files', () => {
  const f4 = (rows: number, cols: number) => new Uint8Array(rows * cols * 4);
  const dict = (descr: string, shape: string, fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;

  it('rejects what is not an .npy file, or a version numpy never wrote', async () => {
    await expectFormatError('empty.npy', new Uint8Array(0), /no \\x93NUMPY magic/);
    await expectFormatError('magic.npy', Buffer.from('PK\x03\x04 not numpy'), /no \\x93NUMPY magic/);
    const v9 = npyBytes(dict('<f4', '(1, 1)'), f4(1, 1));
    v9[6] = 9;
    await expectFormatError('v9.npy', v9, /unsupported format version 9.0/);
    await expectFormatError('longheader.npy', npyBytes(dict('<f4', '(1, 1)'), f4(1, 1)).subarray(0, 20), /header length \d+ runs past the end/);
  });

  it('rejects headers that are not the dict numpy writes', async () => {
    await expectFormatError('nodict.npy', npyBytes("['descr']\n", new Uint8Array(0)), /expected '\{'/);
    await expectFormatError('code.npy', npyBytes("{'descr': __import__('os'), }\n", new Uint8Array(0)), /expected a string/);
    await expectFormatError('twice.npy', npyBytes("{'descr': '<f4', 'descr': '<f4'}\n", new Uint8Array(0)), /key 'descr' appears twice/);
    await expectFormatError('missing.npy', npyBytes("{'descr': '<f4', 'shape': (1, 1), }\n", f4(1, 1)), /exactly 'descr'/);
    await expectFormatError('after.npy', npyBytes(`${dict('<f4', '(1, 1)')}x`, f4(1, 1)), /unexpected text after the header/);
    await expectFormatError('shapeint.npy', npyBytes(dict('<f4', '(1, -1)'), f4(1, 1)), /expected an integer in the shape/);
  });

  it('rejects dtypes, shapes and data sizes that do not fit', async () => {
    await expectFormatError('int.npy', npyBytes(dict('<i4', '(1, 1)'), f4(1, 1)), /dtype '<i4' is not a float dtype/);
    await expectFormatError('object.npy', npyBytes(dict('|O', '(1, 1)'), f4(1, 1)), /dtype '\|O' is not a float dtype/);
    await expectFormatError('3d.npy', npyBytes(dict('<f4', '(1, 1, 1)'), f4(1, 1)), /shape \(1, 1, 1\) is not 2-D/);
    await expectFormatError('short.npy', npyBytes(dict('<f4', '(3, 2)'), f4(2, 2)), /needs 24 bytes of data, the file holds 16/);
    await expectFormatError('long.npy', npyBytes(dict('<f4', '(1, 2)'), f4(2, 2)), /needs 8 bytes of data, the file holds 16/);
    await expectFormatError('huge.npy', npyBytes(dict('<f4', '(9999999999999999, 9999999999999999)'), f4(1, 1)), /the file holds 4/);
  });
});
