export { Embedding } from './embedding.js';
export { EmbeddingBag } from './embedding-bag.js';
export type { BagMode, BagOffsets, EmbeddingBagOptions } from './embedding-bag.js';
export type { EmbeddingOptions, IndexArray, SparseGrad } from './embedding.js';
export { getBackend, getCapabilities, getNumThreads, setNumThreads } from './loader.js';
export type { Capabilities } from './loader.js';
export type { SimdTier } from './backend.js';
export type { CpuFeatures } from './backends/native.js';
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
