// Saving a layer's table as torch saves it, and loading it back: safetensors with the table under
// its state-dict name ('weight', or 'embedding.weight' with a prefix), the layer's options in the
// metadata under "nn_embedding" as JSON with torch's argument names, so Python can rebuild it:
//   torch.nn.Embedding(**json.loads(metadata["nn_embedding"])["args"]).load_state_dict(tensors)
// A narrow layer's table is saved in its dtype (safetensors.ts says how int8/int4 are stored), and
// a table loads in the dtype asked for (options.dtype; float32 unless told), converted only when
// the file stores another.
import { DTYPES, type Dtype, rowBytes } from '../dtype.js';
import { Embedding, type EmbeddingOptions } from '../embedding.js';
import { type BagMode, EmbeddingBag, type EmbeddingBagOptions } from '../embedding-bag.js';
import { checkBoolean, checkInteger, checkOptions, describe } from '../validate.js';
import type { LayerStateDict } from '../table.js';
import { FileFormatError } from './files.js';
import {
  type SafetensorsFile,
  type SafetensorsTensorInfo,
  TABLE_DIM_KEY,
  TABLE_DTYPE_KEY,
  type TensorToWrite,
  type WriteDtype,
  openSafetensors,
  saveSafetensors,
} from './safetensors.js';
import { type LoadedTable, type ReadDtype, checkReadDtype, convertTable } from './stored-table.js';

/** The metadata key the layer's options are stored under. */
export const LAYER_METADATA_KEY = 'nn_embedding';

export interface SaveLayerOptions {
  /** State-dict prefix: 'embedding' stores the table as 'embedding.weight'. Default: none ('weight'). */
  prefix?: string;
  /**
   * The dtype to store the table in; default the layer's own (float32 tables as F32). Another
   * dtype is converted through float32 (dequantize, then quantize: torch's rounding). 'F32',
   * 'F16' and 'BF16' are the same as 'float32', 'float16' and 'bfloat16'.
   */
  dtype?: Dtype | WriteDtype;
  /** More string metadata to store next to the layer's options. */
  metadata?: Record<string, string>;
  /**
   * With a state dict in place of a layer (layer.stateDict()'s `{ weight }`): its row length, which
   * the state does not hold. Required then, refused with a layer.
   */
  embeddingDim?: number;
}

export interface LoadLayerOptions {
  /** State-dict prefix of the table to load. Default: 'weight', or the file's only 2-D '*.weight' tensor. */
  prefix?: string;
  /** Default false: a loaded layer trains, as a module restored with load_state_dict does. */
  freeze?: boolean;
  /**
   * The layer's dtype: 'float32' (the default, whatever the file stores), another Dtype, or
   * 'file' for the one the file stores. A table stored in that dtype is adopted as it is (a view
   * of the mapped file); another is converted through float32 (dequantize, then quantize).
   */
  dtype?: ReadDtype;
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

/** The safetensors names of the float dtypes, which saveEmbedding's options.dtype also takes. */
const WRITE_DTYPE_NAMES: Readonly<Record<WriteDtype, Dtype>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** saveEmbedding's options.dtype as a Dtype: the layer's own when not given. */
function checkSaveDtype(where: string, value: unknown, layerDtype: Dtype, dim: number): Dtype {
  if (value === undefined) return layerDtype;
  const dtype = typeof value === 'string' ? (WRITE_DTYPE_NAMES[value as WriteDtype] ?? (DTYPES.includes(value as Dtype) ? (value as Dtype) : null)) : null;
  if (dtype === null) {
    const message = `${where}: options.dtype must be one of ${DTYPES.map((d) => `'${d}'`).join(', ')} (or 'F32', 'F16', 'BF16'), got ${describe(value)}`;
    throw typeof value === 'string' ? new RangeError(message) : new TypeError(message);
  }
  if (dtype === 'int4' && dim % 2 !== 0) {
    throw new RangeError(`${where}: options.dtype 'int4' needs an even embeddingDim (two codes per byte), got ${dim}`);
  }
  return dtype;
}

/**
 * A state dict (`{ weight }`, as layer.stateDict() returns it) as a frozen Embedding over its
 * weight, not copied: options.embeddingDim gives the row length, options.dtype what weight holds
 * (float32 for a Float32Array; required for packed rows), and it is stored as it is (the options
 * the layer had are not in a state dict: the file records torch's defaults).
 */
function layerOfState(where: string, state: unknown, opts: SaveLayerOptions): Embedding {
  if (state === null || typeof state !== 'object' || Array.isArray(state) || ArrayBuffer.isView(state)) {
    throw new TypeError(`${where}: the second argument must be an Embedding, an EmbeddingBag or a state dict { weight }, got ${describe(state)}`);
  }
  const keys = Object.keys(state);
  const weight: unknown = (state as { weight?: unknown }).weight;
  if (keys.length !== 1 || !(weight instanceof Float32Array || weight instanceof Uint16Array || weight instanceof Uint8Array)) {
    throw new TypeError(`${where}: a state dict must be { weight } with weight a Float32Array (or a narrow table's Uint16Array/Uint8Array), got keys ${keys.map((k) => `'${k}'`).join(', ') || 'none'}`);
  }
  if (opts.embeddingDim === undefined) throw new TypeError(`${where}: options.embeddingDim is required with a state dict (its weight is flat)`);
  checkInteger(where, 'options.embeddingDim', opts.embeddingDim, 1);
  const dim = opts.embeddingDim;
  if (opts.dtype === undefined && !(weight instanceof Float32Array)) {
    throw new TypeError(`${where}: options.dtype must say what a state dict's ${weight.constructor.name} holds ('float16', 'bfloat16', 'int8' or 'int4')`);
  }
  const dtype = checkSaveDtype(where, opts.dtype, 'float32', dim);
  const arrayType = dtype === 'float32' ? Float32Array : dtype === 'float16' || dtype === 'bfloat16' ? Uint16Array : Uint8Array;
  if (!(weight instanceof arrayType)) {
    throw new TypeError(`${where}: a ${dtype} state dict's weight must be a ${arrayType.name}, got ${describe(weight)}`);
  }
  delete opts.dtype; // stored as it is (opts is this call's copy)
  const rowLength = dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16' ? dim : rowBytes(dim, dtype);
  if (weight.length === 0 || weight.length % rowLength !== 0) {
    throw new RangeError(`${where}: a state dict's weight must hold whole rows of ${rowLength} ${dtype === 'int8' || dtype === 'int4' ? 'bytes' : 'values'} (embeddingDim ${dim}, ${dtype}), got ${weight.length}`);
  }
  return Embedding.fromPretrained(weight as Float32Array, dim, { dtype, freeze: true });
}

/**
 * Saves a layer's table to a safetensors file under torch's state-dict name, with the layer's
 * options in the metadata (written through a temporary file renamed into place). The table is
 * stored in the layer's dtype unless options.dtype names another: float32 as F32, float16 as F16
 * and bfloat16 as BF16 (the bits as they are), int8 and int4 as U8 [rows, rowBytes] of the packed
 * rows, with `nn_embedding.dtype.<name>` and `nn_embedding.dim.<name>` in the metadata.
 */
export async function saveEmbedding(file: string, source: Embedding | EmbeddingBag | LayerStateDict, options?: SaveLayerOptions): Promise<void> {
  const where = 'saveEmbedding';
  const opts = { ...checkOptions<SaveLayerOptions>(where, options, ['prefix', 'dtype', 'metadata', 'embeddingDim']) };
  const layer = source instanceof Embedding || source instanceof EmbeddingBag ? source : layerOfState(where, source, opts);
  if (layer === source && opts.embeddingDim !== undefined) {
    throw new TypeError(`${where}: options.embeddingDim is for a state dict; a layer has its own (${layer.embeddingDim})`);
  }
  const name = weightName(where, opts.prefix);
  const rows = layer.numEmbeddings;
  const dim = layer.embeddingDim;
  const dtype = checkSaveDtype(where, opts.dtype, layer.dtype, dim);
  const record: LayerRecord = {
    module: layer instanceof EmbeddingBag ? 'EmbeddingBag' : 'Embedding',
    args: {
      num_embeddings: rows,
      embedding_dim: dim,
      padding_idx: layer.paddingIdx,
      max_norm: layer.maxNorm,
      norm_type: layer.normType,
      scale_grad_by_freq: layer.scaleGradByFreq,
      sparse: layer.sparse,
      ...(layer instanceof EmbeddingBag ? { mode: layer.mode, include_last_offset: layer.includeLastOffset } : {}),
    },
  };
  // The table keys are this function's to write: any in options.metadata (say, copied from the
  // file the layer came from) would contradict the table written now.
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(opts.metadata ?? {})) {
    if (!key.startsWith(TABLE_DTYPE_KEY) && !key.startsWith(TABLE_DIM_KEY)) metadata[key] = value;
  }
  Object.assign(metadata, { format: 'pt', [LAYER_METADATA_KEY]: JSON.stringify(record) });
  const data = convertTable(layer.data, dim, layer.dtype, dtype);
  let tensor: TensorToWrite;
  switch (dtype) {
    case 'float32':
      tensor = { data, shape: [rows, dim] };
      break;
    case 'float16':
    case 'bfloat16':
      tensor = { data, shape: [rows, dim], dtype: dtype === 'float16' ? 'F16' : 'BF16' };
      break;
    default:
      tensor = { data, shape: [rows, rowBytes(dim, dtype)], dtype: 'U8' };
      Object.assign(metadata, { [TABLE_DTYPE_KEY + name]: dtype, [TABLE_DIM_KEY + name]: String(dim) });
  }
  await saveSafetensors(file, { [name]: tensor }, metadata);
}

/**
 * The name of a layer file's table: `${prefix}.weight` ('weight' without a prefix), or, with no
 * prefix given and no 'weight', the file's only 2-D '*.weight' tensor. A FileFormatError listing
 * the names otherwise.
 */
export function layerTableName(where: string, safetensors: SafetensorsFile, prefix: unknown): string {
  const file = safetensors.file;
  let name = weightName(where, prefix);
  if (prefix === undefined && safetensors.info(name) === undefined) {
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
  return name;
}

/** The table, in the dtype asked for, and the recorded options of a layer file. */
function readLayer(
  where: string,
  safetensors: SafetensorsFile,
  opts: Record<string, unknown>,
): { table: LoadedTable; record: LayerRecord | null; tensor: SafetensorsTensorInfo } {
  const file = safetensors.file;
  const dtype = checkReadDtype(where, opts.dtype);
  const name = layerTableName(where, safetensors, opts.prefix);
  const info = safetensors.info(name)!;
  const { rows, dim } = safetensors.tableInfo(name);
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
  return { table: safetensors.table(name, { dtype }), record, tensor: info };
}

/**
 * The recorded table options, as this library names them; bad values surface as the layer's own
 * errors. A narrow table takes no training options: sparse and scaleGradByFreq, which only shape
 * gradients, are left out; maxNorm, which changes lookups, is a TypeError.
 */
function tableOptions(where: string, file: string, record: LayerRecord | null, dtype: Dtype): EmbeddingOptions {
  if (record === null) return dtype === 'float32' ? {} : { dtype };
  const a = record.args;
  if (dtype !== 'float32' && a.max_norm !== null && a.max_norm !== undefined) {
    throw new TypeError(
      `${where}: ${file} records maxNorm ${describe(a.max_norm)}, which renormalizes looked-up rows and needs a float32 table; ` +
        `load it with dtype 'float32' (the default), not '${dtype}'`,
    );
  }
  const options: EmbeddingOptions = {
    paddingIdx: a.padding_idx,
    maxNorm: a.max_norm,
    normType: a.norm_type,
    ...(dtype === 'float32' ? { scaleGradByFreq: a.scale_grad_by_freq, sparse: a.sparse } : { dtype }),
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
 * an EmbeddingBag's file gives its table options). The layer's dtype is options.dtype's (float32
 * unless given; 'file': the file's). The table is a view of the mapped file where possible
 * (copy-on-write: training it never changes the file), in every dtype the file stores.
 */
export async function loadEmbedding(file: string, options?: LoadLayerOptions): Promise<Embedding> {
  return (await openEmbedding(file, options)).layer;
}

/**
 * loadEmbedding, also handing back the opened file and the tensor the table came from, for
 * callers that describe the file too (the nn-embedding command): the file is opened once, here,
 * or given already opened.
 */
export async function openEmbedding(
  file: string | SafetensorsFile,
  options?: LoadLayerOptions,
): Promise<{ layer: Embedding; safetensors: SafetensorsFile; tensor: SafetensorsTensorInfo; table: LoadedTable }> {
  const where = 'loadEmbedding';
  const opts = checkOptions<Record<string, unknown>>(where, options, ['prefix', 'freeze', 'dtype']);
  const freeze = checkBoolean(where, 'options.freeze', opts.freeze, false);
  checkReadDtype(where, opts.dtype);
  const safetensors = typeof file === 'string' ? await openSafetensors(file) : file;
  const { table, record, tensor } = readLayer(where, safetensors, opts);
  const tableOpts = tableOptions(where, safetensors.file, record, table.dtype);
  const layer = construct(safetensors.file, () => Embedding.fromPretrained(table.data, table.dim, { ...tableOpts, freeze }));
  return { layer, safetensors, tensor, table };
}

/** loadEmbedding for an EmbeddingBag: also restores mode and includeLastOffset (options override them). */
export async function loadEmbeddingBag(
  file: string,
  options?: LoadLayerOptions & Pick<EmbeddingBagOptions, 'mode' | 'includeLastOffset'>,
): Promise<EmbeddingBag> {
  const where = 'loadEmbeddingBag';
  const opts = checkOptions<Record<string, unknown>>(where, options, ['prefix', 'freeze', 'dtype', 'mode', 'includeLastOffset']);
  // The caller's options are checked here, so the layer's own errors below can only be the file's.
  const freeze = checkBoolean(where, 'options.freeze', opts.freeze, false);
  checkReadDtype(where, opts.dtype);
  if (opts.mode !== undefined && !['sum', 'mean', 'max'].includes(opts.mode as string)) {
    throw new RangeError(`${where}: options.mode must be 'sum', 'mean' or 'max', got ${describe(opts.mode)}`);
  }
  if (opts.includeLastOffset !== undefined) checkBoolean(where, 'options.includeLastOffset', opts.includeLastOffset, false);
  const { table, record } = readLayer(where, await openSafetensors(file), opts);
  const bagOptions: EmbeddingBagOptions = { ...tableOptions(where, file, record, table.dtype), freeze };
  const mode = opts.mode ?? record?.args.mode;
  const includeLastOffset = opts.includeLastOffset ?? record?.args.include_last_offset;
  if (mode !== undefined) bagOptions.mode = mode as BagMode;
  if (includeLastOffset !== undefined) bagOptions.includeLastOffset = includeLastOffset as boolean;
  return construct(file, () => EmbeddingBag.fromPretrained(table.data, table.dim, bagOptions));
}
