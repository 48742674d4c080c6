// The public classes' readonly properties are read-only at run time too: assigning one from
// strict-mode JavaScript (an ES module, a class body, a 'use strict' script) throws a TypeError
// instead of being silently accepted and blamed on an index later; the object keeps working with
// the values it was built with, and the properties stay own, enumerable and readable.
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  Adagrad,
  Adam,
  AdamW,
  Embedding,
  EmbeddingBag,
  FileFormatError,
  RowWiseAdagrad,
  SGD,
  SparseAdam,
  Vocabulary,
  openSafetensors,
  saveSafetensors,
} from '../src/index.js';
import { expectSameBits, randomTable } from './helpers.js';
import { temporaryDirectory } from './io/tmp.js';

const dir = temporaryDirectory();

const TABLE_PROPERTIES = ['numEmbeddings', 'embeddingDim', 'paddingIdx', 'maxNorm', 'normType', 'scaleGradByFreq', 'sparse', 'freeze', 'weight'];

/** A value of the wrong kind for every property: a test that it was not stored. */
const replacement = { wrong: 'value' };

/** Assigning, in strict mode (this module; a 'use strict' function), throws a TypeError naming the property, and changes nothing. */
function expectReadonly(object: object, names: readonly string[]): void {
  const target = object as Record<string, unknown>;
  const strictAssign = new Function('object', 'name', 'value', "'use strict'; object[name] = value;") as (o: object, n: string, v: unknown) => void;
  for (const name of names) {
    const before = target[name];
    expect(Object.keys(object), `${name} is an own enumerable property`).toContain(name);
    let thrown: unknown;
    try {
      target[name] = replacement;
    } catch (error) {
      thrown = error;
    }
    expect(thrown, `assigning ${name}`).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toContain(`'${name}'`);
    expect(() => strictAssign(object, name, before === 0 ? 1 : 0), `${name} in a 'use strict' function`).toThrow(TypeError);
    expect(() => delete target[name], `delete ${name}`).toThrow(TypeError);
    expect(() => Object.defineProperty(object, name, { value: replacement }), `redefining ${name}`).toThrow(TypeError);
    expect(target[name], name).toBe(before);
  }
}

describe('readonly properties', () => {
  it('Embedding: every option and the table; the layer works after the failed assignments', () => {
    const weight = randomTable(6, 3, 1);
    const emb = new Embedding(6, 3, { weight: weight.slice(), paddingIdx: 0, maxNorm: 100, scaleGradByFreq: true });
    expectReadonly(emb, TABLE_PROPERTIES);
    expect(() => {
      (emb as unknown as Record<string, unknown>).grad = new Float32Array(18);
    }).toThrow(TypeError); // a getter without a setter
    expect(() => {
      (emb as unknown as Record<string, unknown>).sparseGrad = null;
    }).toThrow(TypeError);
    expectSameBits(emb.forward(new Int32Array([5, 2])), Float32Array.of(...weight.subarray(15, 18), ...weight.subarray(6, 9)));
    emb.backward([5], new Float32Array(3).fill(1));
    expectSameBits(emb.grad!.subarray(15, 18), new Float32Array(3).fill(1));
  });

  it('EmbeddingBag: the table properties, mode and includeLastOffset', () => {
    const weight = randomTable(5, 2, 2);
    const bag = new EmbeddingBag(5, 2, { weight: weight.slice(), mode: 'sum' });
    expectReadonly(bag, [...TABLE_PROPERTIES, 'mode', 'includeLastOffset']);
    expectSameBits(bag.forward([1, 3], 2), Float32Array.of(Math.fround(weight[2]! + weight[6]!), Math.fround(weight[3]! + weight[7]!)));
  });

  it('the optimizers: name, tables (a frozen copy) and every hyperparameter a scheduler does not set', () => {
    // lr, SGD's momentum and the betas are settable (test/lr-scheduler.test.ts); betas stays a frozen pair.
    const dense = () => new Embedding(4, 2, { seed: 3 });
    const sparse = () => new Embedding(4, 2, { seed: 3, sparse: true });
    const cases: [object, string[]][] = [
      [new SGD([dense()], { lr: 0.1 }), ['dampening', 'weightDecay', 'nesterov']],
      [new Adagrad([dense()]), ['lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps']],
      [new Adam([dense()]), ['eps', 'weightDecay', 'amsgrad']],
      [new AdamW([dense()]), ['eps', 'weightDecay', 'amsgrad']],
      [new SparseAdam([sparse()]), ['eps']],
      [new RowWiseAdagrad([sparse()]), ['eps', 'weightDecay']],
    ];
    for (const [optimizer, names] of cases) expectReadonly(optimizer, ['name', 'tables', ...names]);

    const params = [dense()];
    const optimizer = new SGD(params, { lr: 0.5 });
    params.push(dense()); // the caller's array is not the optimizer's
    expect(optimizer.tables).toHaveLength(1);
    expect(Object.isFrozen(optimizer.tables)).toBe(true);
    expect(() => (optimizer.tables as unknown[]).push(dense())).toThrow(TypeError);
    const before = params[0]!.weight.slice();
    params[0]!.backward([1], Float32Array.of(1, 2));
    optimizer.step();
    expectSameBits(params[0]!.weight.subarray(2, 4), Float32Array.of(Math.fround(before[2]! - 0.5), Math.fround(before[3]! - 1)));
  });

  it('Vocabulary: unknownIndex and paddingIndex (size and tokens are getters)', () => {
    const vocabulary = new Vocabulary(['a', 'b'], { unknown: '<unk>', padding: '<pad>' });
    expectReadonly(vocabulary, ['unknownIndex', 'paddingIndex']);
    for (const name of ['size', 'tokens']) {
      expect(() => {
        (vocabulary as unknown as Record<string, unknown>)[name] = 1;
      }, name).toThrow(TypeError);
    }
    expect(Array.from(vocabulary.encode(['b', 'zzz']))).toEqual([3, 1]);
  });

  it('SafetensorsFile and FileFormatError', async () => {
    const file = path.join(dir, 't.safetensors');
    await saveSafetensors(file, { t: { data: Float32Array.of(1, 2), shape: [1, 2] } });
    const opened = await openSafetensors(file);
    expectReadonly(opened, ['file', 'metadata', 'tensors', 'mapped']);
    expect(Array.from(opened.float32('t'))).toEqual([1, 2]);
    expectReadonly(new FileFormatError('f.bin', 'bad'), ['file', 'reason']);
  });
});
