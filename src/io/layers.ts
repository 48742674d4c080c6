// Saving a layer's table as torch saves it, and loading it back: safetensors with the table under
// its state-dict name ('weight', or 'embedding.weight' with a prefix), the layer's options in the
// metadata under "nn_embedding" as JSON with torch's argument names, so Python can rebuild it:
//   torch.nn.Embedding(**json.loads(metadata["nn_embedding"])["args"]).load_state_dict(tensors)
import { Embedding, type EmbeddingOptions } from '../embedding.js';
import { type BagMode, EmbeddingBag, type EmbeddingBagOptions } from '../embedding-bag.js';
import { checkBoolean, checkOptions, describe } from '../validate.js';
import { FileFormatError } from './files.js';
import { type SafetensorsFile, type SafetensorsTensorInfo, type WriteDtype, openSafetensors, saveSafetensors } from './safetensors.js';

/** The metadata key the layer's options are stored under. */
export const LAYER_METADATA_KEY = 'nn_embedding';

export interface SaveLayerOptions {
  /** State-dict prefix: 'embedding' stores the table as 'embedding.weight'. Default: none ('weight'). */
  prefix?: string;
  /** Stored dtype: 'F32' (default, exact), 'F16' or 'BF16' (rounded to nearest even). */
  dtype?: WriteDtype;
  /** More string metadata to store next to the layer's options. */
  metadata?: Record<string, string>;
}

export interface LoadLayerOptions {
  /** State-dict prefix of the table to load. Default: 'weight', or the file's only 2-D '*.weight' tensor. */
  prefix?: string;
  /** Default false: a loaded layer trains, as a module restored with load_state_dict does. */
  freeze?: boolean;
}

/** What the metadata records: the torch module and its constructor arguments. */
interface LayerRecord {
  module: 'Embedding' | 'EmbeddingBag';
  args: {
    num_embeddings: number;
    embedding_dim: number;
    padding_idx: number | null;
    max_norm: number | null;
    norm_type: number;
    scale_grad_by_freq: boolean;
    sparse: boolean;
    mode?: BagMode;
    include_last_offset?: boolean;
  };
}

function weightName(where: string, prefix: unknown): string {
  if (prefix === undefined || prefix === '') return 'weight';
  if (typeof prefix !== 'string') throw new TypeError(`${where}: options.prefix must be a string, got ${describe(prefix)}`);
  return prefix.endsWith('.') ? `${prefix}weight` : `${prefix}.weight`;
}

/**
 * Saves a layer's table to a safetensors file under torch's state-dict name, with the layer's
 * options in the metadata (written through a temporary file renamed into place).
 */
export async function saveEmbedding(file: string, layer: Embedding | EmbeddingBag, options?: SaveLayerOptions): Promise<void> {
  const where = 'saveEmbedding';
  if (!(layer instanceof Embedding) && !(layer instanceof EmbeddingBag)) {
    throw new TypeError(`${where}: layer must be an Embedding or EmbeddingBag, got ${describe(layer)}`);
  }
  if (layer.dtype !== 'float32') {
    throw new TypeError(
      `${where}: the layer's table is ${layer.dtype}; saving narrow tables is not supported yet (dequantize(layer.data, layer.embeddingDim, '${layer.dtype}') gives a float32 table to save)`,
    );
  }
  const opts = checkOptions<SaveLayerOptions>(where, options, ['prefix', 'dtype', 'metadata']);
  const name = weightName(where, opts.prefix);
  const record: LayerRecord = {
    module: layer instanceof EmbeddingBag ? 'EmbeddingBag' : 'Embedding',
    args: {
      num_embeddings: layer.numEmbeddings,
      embedding_dim: layer.embeddingDim,
      padding_idx: layer.paddingIdx,
      max_norm: layer.maxNorm,
      norm_type: layer.normType,
      scale_grad_by_freq: layer.scaleGradByFreq,
      sparse: layer.sparse,
      ...(layer instanceof EmbeddingBag ? { mode: layer.mode, include_last_offset: layer.includeLastOffset } : {}),
    },
  };
  const metadata = { ...(opts.metadata ?? {}), format: 'pt', [LAYER_METADATA_KEY]: JSON.stringify(record) };
  await saveSafetensors(file, { [name]: { data: layer.weight, shape: [layer.numEmbeddings, layer.embeddingDim], ...(opts.dtype ? { dtype: opts.dtype } : {}) } }, metadata);
}

/** The table and the recorded options of a layer file. */
function readLayer(
  where: string,
  safetensors: SafetensorsFile,
  opts: Record<string, unknown>,
): { weight: Float32Array; dim: number; record: LayerRecord | null; tensor: SafetensorsTensorInfo } {
  const file = safetensors.file;
  let name = weightName(where, opts.prefix);
  if (opts.prefix === undefined && safetensors.info(name) === undefined) {
    const candidates = safetensors.tensors.filter((t) => t.name.endsWith('.weight') && t.shape.length === 2);
    if (candidates.length !== 1) {
      throw new FileFormatError(
        file,
        `no tensor 'weight'${candidates.length > 1 ? ' and several *.weight tensors' : ''}; pass options.prefix (tensors: ${safetensors.names.map((n) => `'${n}'`).join(', ')})`,
      );
    }
    name = candidates[0]!.name;
  }
  const info = safetensors.info(name);
  if (info === undefined) throw new FileFormatError(file, `no tensor '${name}' (tensors: ${safetensors.names.map((n) => `'${n}'`).join(', ')})`);
  if (info.shape.length !== 2 || info.shape[0]! < 1 || info.shape[1]! < 1) {
    throw new FileFormatError(file, `tensor '${name}' has shape [${info.shape.join(', ')}], not [rows, dim] with rows, dim >= 1`);
  }
  const [rows, dim] = info.shape as [number, number];
  let record: LayerRecord | null = null;
  const recorded = safetensors.metadata[LAYER_METADATA_KEY];
  if (recorded !== undefined) {
    try {
      record = JSON.parse(recorded) as LayerRecord;
    } catch {
      throw new FileFormatError(file, `metadata '${LAYER_METADATA_KEY}' is not JSON`);
    }
    if (typeof record !== 'object' || record === null || typeof record.args !== 'object' || record.args === null) {
      throw new FileFormatError(file, `metadata '${LAYER_METADATA_KEY}' has no 'args' object`);
    }
    if (record.args.num_embeddings !== rows || record.args.embedding_dim !== dim) {
      throw new FileFormatError(
        file,
        `metadata says ${describe(record.args.num_embeddings)} x ${describe(record.args.embedding_dim)} but tensor '${name}' is ${rows} x ${dim}`,
      );
    }
  }
  return { weight: safetensors.float32(name), dim, record, tensor: info };
}

/** The recorded table options, as this library names them; bad values surface as the layer's own errors. */
function tableOptions(record: LayerRecord | null): EmbeddingOptions {
  if (record === null) return {};
  const a = record.args;
  const options: EmbeddingOptions = {
    paddingIdx: a.padding_idx,
    maxNorm: a.max_norm,
    normType: a.norm_type,
    scaleGradByFreq: a.scale_grad_by_freq,
    sparse: a.sparse,
  };
  for (const [key, value] of Object.entries(options)) if (value === undefined) delete options[key as keyof EmbeddingOptions];
  return options;
}

function construct<T>(file: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new FileFormatError(file, `the stored layer options are invalid: ${error.message}`);
    }
    throw error;
  }
}

/**
 * Loads an Embedding from a safetensors file: the table ('weight', or `${prefix}.weight`) and the
 * options saveEmbedding recorded (a plain torch state dict, without them, gives default options;
 * an EmbeddingBag's file gives its table options). The table is a view of the mapped file where
 * possible (copy-on-write: training it never changes the file).
 */
export async function loadEmbedding(file: string, options?: LoadLayerOptions): Promise<Embedding> {
  return (await openEmbedding(file, options)).layer;
}

/**
 * loadEmbedding, also handing back the opened file and the tensor the table came from, for
 * callers that describe the file too (the nn-embedding command): the file is opened once.
 */
export async function openEmbedding(
  file: string,
  options?: LoadLayerOptions,
): Promise<{ layer: Embedding; safetensors: SafetensorsFile; tensor: SafetensorsTensorInfo }> {
  const where = 'loadEmbedding';
  const opts = checkOptions<Record<string, unknown>>(where, options, ['prefix', 'freeze']);
  const freeze = checkBoolean(where, 'options.freeze', opts.freeze, false);
  const safetensors = await openSafetensors(file);
  const { weight, dim, record, tensor } = readLayer(where, safetensors, opts);
  const layer = construct(file, () => Embedding.fromPretrained(weight, dim, { ...tableOptions(record), freeze }));
  return { layer, safetensors, tensor };
}

/** loadEmbedding for an EmbeddingBag: also restores mode and includeLastOffset (options override them). */
export async function loadEmbeddingBag(
  file: string,
  options?: LoadLayerOptions & Pick<EmbeddingBagOptions, 'mode' | 'includeLastOffset'>,
): Promise<EmbeddingBag> {
  const where = 'loadEmbeddingBag';
  const opts = checkOptions<Record<string, unknown>>(where, options, ['prefix', 'freeze', 'mode', 'includeLastOffset']);
  // The caller's options are checked here, so the layer's own errors below can only be the file's.
  const freeze = checkBoolean(where, 'options.freeze', opts.freeze, false);
  if (opts.mode !== undefined && !['sum', 'mean', 'max'].includes(opts.mode as string)) {
    throw new RangeError(`${where}: options.mode must be 'sum', 'mean' or 'max', got ${describe(opts.mode)}`);
  }
  if (opts.includeLastOffset !== undefined) checkBoolean(where, 'options.includeLastOffset', opts.includeLastOffset, false);
  const { weight, dim, record } = readLayer(where, await openSafetensors(file), opts);
  const bagOptions: EmbeddingBagOptions = { ...tableOptions(record), freeze };
  const mode = opts.mode ?? record?.args.mode;
  const includeLastOffset = opts.includeLastOffset ?? record?.args.include_last_offset;
  if (mode !== undefined) bagOptions.mode = mode as BagMode;
  if (includeLastOffset !== undefined) bagOptions.includeLastOffset = includeLastOffset as boolean;
  return construct(file, () => EmbeddingBag.fromPretrained(weight, dim, bagOptions));
}
