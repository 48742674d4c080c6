// The public API. Its declarations use ES2020's types (BigInt64Array, generators, iterables); the
// reference below keeps them in the emitted index.d.ts, so that projects compiled for an older
// target or lib (TypeScript 5's default is ES5) can still type-check against it.
/// <reference lib="es2020" preserve="true" />
export { Embedding } from './embedding.js';
export { EmbeddingBag } from './embedding-bag.js';
export type { BagMode, BagOffsets, EmbeddingBagOptions } from './embedding-bag.js';
export type { EmbeddingOptions, IndexArray, SparseGrad } from './embedding.js';
export type { LayerStateDict } from './table.js';
export type { Metric, MostSimilarOptions, Neighbours } from './similarity.js';
export { getBackend, getCapabilities, getNumThreads, setNumThreads } from './loader.js';
export type { Capabilities } from './loader.js';
export type { SimdTier } from './backend.js';
export type { CpuFeatures } from './backends/native.js';
export { DTYPES, dequantize, quantize, rowBytes } from './dtype.js';
export type { Dtype, PackedTable } from './dtype.js';
export { init } from './init.js';
export type { InitKind, InitSpec } from './init.js';
export { Adagrad, Adam, AdamW, RowWiseAdagrad, SGD, SparseAdam, applyOptimizerInBackward } from './optim.js';
export type {
  AdagradOptions,
  AdamOptions,
  Optimizer,
  OptimizerStateDict,
  RowWiseAdagradOptions,
  SGDOptions,
  SparseAdamOptions,
  Trainable,
} from './optim.js';
export * as lrScheduler from './lr-scheduler.js';
export { clipGradNorm_, clipGradValue_ } from './clip-grad.js';
export type { ClipGradNormOptions } from './clip-grad.js';
export type { ScheduledOptimizer, SchedulerStateDict } from './lr-scheduler.js';
export { FileFormatError } from './io/common.js';
export type { Progress, ProgressCallback } from './io/common.js';
export { SafetensorsFile, TABLE_DIM_KEY, TABLE_DTYPE_KEY, openSafetensors, saveSafetensors } from './io/safetensors.js';
export type { FloatDtype, SafetensorsTableInfo, SafetensorsTensorInfo, TensorToWrite, WriteDtype } from './io/safetensors.js';
export type { LoadedTable, ReadDtype } from './io/stored-table.js';
export { readNpy, saveNpy } from './io/npy.js';
export type { NpyArray, NpyTable, ReadNpyOptions, SaveNpyOptions } from './io/npy.js';
export { loadEmbedding, loadEmbeddingBag, saveEmbedding } from './io/layers.js';
export type { LoadLayerOptions, SaveLayerOptions } from './io/layers.js';
export { Vocabulary } from './io/vocabulary.js';
export type { CorpusItem, CorpusOptions, EncodeOptions, VocabularyOptions } from './io/vocabulary.js';
export { WordVectors, loadFastText, loadGloVe, loadWord2Vec, saveGloVe, saveWord2Vec } from './io/word-vectors.js';
export type {
  LoadWord2VecOptions,
  LoadWordVectorsOptions,
  SaveWord2VecOptions,
  SaveWordVectorsOptions,
  MostSimilarWordsOptions,
  WordQuery,
  WordScore,
  WordVectorTable,
} from './io/word-vectors.js';
