// The shipped declarations (dist/*.d.ts, from node scripts/build-ts.js) as a consumer project sees
// them: a .ts file importing 'nn-embedding', compiled by the project's tsc with no tsconfig (its
// defaults) and --strict, must have no errors: no `#private` (TS18028 below ES2015, TypeScript 5's
// default target), no Node types (a consumer need not have @types/node), no lib beyond what
// index.d.ts references. Backend-independent: run in the TypeScript backend's project only.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { temporaryDirectory } from './io/tmp.js';

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** Uses every kind of public export; the readonly properties must stay readonly in the types. */
const CONSUMER = `
import {
  Adagrad, Adam, AdamW, Embedding, EmbeddingBag, FileFormatError, RowWiseAdagrad, SGD, SparseAdam,
  SafetensorsFile, Vocabulary, applyOptimizerInBackward, getBackend, getCapabilities, getNumThreads,
  init, loadEmbedding, loadEmbeddingBag, loadFastText, loadGloVe, loadWord2Vec, openSafetensors,
  readNpy, saveEmbedding, saveGloVe, saveNpy, saveSafetensors, saveWord2Vec, setNumThreads,
  lrScheduler, type Capabilities, type IndexArray, type OptimizerStateDict, type Progress, type SchedulerStateDict, type SparseGrad, type WordVectors,
} from 'nn-embedding';

const ids: IndexArray = new BigInt64Array(2);
const emb = new Embedding(10, 4, { paddingIdx: 0, seed: 1, init: { kind: 'uniform', a: -1, b: 1 } });
const out: Float32Array = emb.forward(ids);
emb.backward(ids, out);
const grad: Float32Array | null = emb.grad;
const sparse: SparseGrad | null = emb.sparseGrad;
const bag = new EmbeddingBag(10, 4, { mode: 'sum', includeLastOffset: false });
const pooled: Float32Array = bag.forward([1, 2, 3], 3, null);
const optimizers = [
  new SGD([emb, bag], { lr: 0.1 }), new Adagrad([emb]), new Adam([emb]), new AdamW([emb]),
  new SparseAdam([bag]), new RowWiseAdagrad([emb]),
];
const state: OptimizerStateDict = optimizers[0]!.stateDict();
applyOptimizerInBackward(RowWiseAdagrad, [new Embedding(5, 2)], { lr: 0.1 });
const vocabulary = new Vocabulary(['a', 'b'], { unknown: '<unk>' });
const size: number = vocabulary.size + (vocabulary.unknownIndex ?? 0);
init.normal_(out, { std: 0.1, seed: 1 });
setNumThreads(getNumThreads());
const capabilities: Capabilities = getCapabilities();
const backend: 'native' | 'js' = getBackend();
const error: FileFormatError = new FileFormatError('f', 'bad');

// @ts-expect-error weight is readonly
emb.weight = new Float32Array(40);
// @ts-expect-error embeddingDim is readonly
bag.embeddingDim = 3;
optimizers[0]!.lr = 1; // settable, as torch's param_groups[0]['lr']
// @ts-expect-error eps is readonly
optimizers[2]!.eps = 1;
const scheduler = new lrScheduler.OneCycleLR(optimizers[2]!, { maxLr: 0.1, totalSteps: 10 });
scheduler.step();
const rates: number[] = scheduler.getLastLr();
const schedulerState: SchedulerStateDict = scheduler.stateDict();
new lrScheduler.ReduceLROnPlateau(optimizers[1]!, { mode: 'max' }).step(0.5);
// @ts-expect-error unknownIndex is readonly
vocabulary.unknownIndex = 1;

export async function files(onProgress: (progress: Progress) => void): Promise<unknown[]> {
  const vectors: WordVectors = await loadWord2Vec('v.bin', { limit: 10, onProgress });
  await saveWord2Vec('v.txt', vectors.vocabulary, vectors.embedding, { binary: false });
  await saveGloVe('g.txt', vectors.vocabulary, vectors.embedding);
  await saveEmbedding('e.safetensors', emb, { prefix: 'embedding', dtype: 'BF16' });
  await saveSafetensors('t.safetensors', { t: { data: out, shape: [10, 4] } });
  await saveNpy('t.npy', out, [10, 4]);
  const file: SafetensorsFile = await openSafetensors('t.safetensors');
  return [
    await loadGloVe('g.txt'), await loadFastText('f.vec'), await loadEmbedding('e.safetensors'),
    await loadEmbeddingBag('e.safetensors', { mode: 'max' }), file.float32('t'), (await readNpy('t.npy')).shape,
    grad, sparse, pooled, state, size, capabilities, backend, error, rates, schedulerState,
  ];
}
`;

/** Every .d.ts under dir. */
function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return declarationFiles(file);
    return entry.name.endsWith('.d.ts') ? [file] : [];
  });
}

describe.skipIf(process.env.NN_EMBEDDING_BACKEND === 'native')('the shipped declarations', () => {
  const project = temporaryDirectory();

  it('exist (node scripts/build-ts.js builds dist/)', () => {
    expect(existsSync(path.join(dist, 'index.d.ts')), 'dist/index.d.ts is missing: run node scripts/build-ts.js').toBe(true);
  });

  it('declare no ES private names (#private: TS18028 when a consumer targets ES5)', () => {
    const withPrivate = declarationFiles(dist).filter((file) => readFileSync(file, 'utf8').includes('#private'));
    expect(withPrivate.map((file) => path.relative(root, file))).toEqual([]);
  });

  it("compile in a consumer project with tsc's defaults and --strict (and with --module nodenext --lib es5)", async () => {
    mkdirSync(path.join(project, 'node_modules'));
    symlinkSync(root, path.join(project, 'node_modules', 'nn-embedding'), 'dir');
    writeFileSync(path.join(project, 'consumer.ts'), CONSUMER);
    const compile = async (...flags: string[]) => {
      try {
        await promisify(execFile)(process.execPath, [tsc, '--strict', '--noEmit', ...flags, 'consumer.ts'], { cwd: project, encoding: 'utf8' });
        return '';
      } catch (error) {
        const { stdout, stderr, message } = error as { stdout?: string; stderr?: string; message: string };
        return `tsc ${flags.join(' ')}: ${stdout || stderr || message}`;
      }
    };
    const errors = await Promise.all([compile(), compile('--module', 'nodenext', '--lib', 'es5')]);
    expect(errors.filter((text) => text !== '')).toEqual([]);
  });
});
