export { Embedding } from './embedding.js';
export type { EmbeddingOptions, IndexArray, SparseGrad } from './embedding.js';
export { getBackend, getCapabilities } from './loader.js';
export type { Capabilities } from './loader.js';
export type { SimdTier } from './backend.js';
export type { CpuFeatures } from './backends/native.js';
