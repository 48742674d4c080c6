// The backend interface: the kernels the layers call, implemented once in C++ (native) and once
// in TypeScript (js). Layers hold no backend-specific code; they validate arguments, then call
// these. Every kernel that reads indices checks them first and returns the position of the first
// index outside [0, rows) without writing anything, or -1 when it did its work.

/** Index arrays the kernels take directly; `number[]` input is converted before it gets here. */
export type KernelIndices = Int32Array | Uint32Array | BigInt64Array;

export type SimdTier = 'scalar' | 'avx2' | 'avx512' | 'neon';

/** EmbeddingBag reductions, numbered as the kernels take them. */
export const BAG_MODE_CODES = { sum: 0, mean: 1, max: 2 } as const;
export type BagModeCode = (typeof BAG_MODE_CODES)[keyof typeof BAG_MODE_CODES];

/**
 * Table dtypes, numbered as the kernels take them (native/kernels.h Dtype). The narrow ones are
 * stored packed (src/dtype.ts): float16 and bfloat16 as a Uint16Array of bits, int8 and int4 as a
 * Uint8Array of rows in torch's embedding_bag_byte_prepack / embedding_bag_4bit_prepack layout.
 */
export const DTYPE_CODES = { float32: 0, float16: 1, bfloat16: 2, int8: 3, int4: 4 } as const;
export type PackedDtypeCode = Exclude<(typeof DTYPE_CODES)[keyof typeof DTYPE_CODES], 0>;

/** A narrow table's packed rows: float16/bfloat16 bits, or int8/int4 rows of bytes. */
export type PackedData = Uint16Array | Uint8Array;

/** Optimizer update rules, numbered as the kernels take them (native/kernels.h OptimizerRule). */
export const OPTIMIZER_RULES = { sgd: 0, adagrad: 1, adam: 2, sparseAdam: 3, rowwiseAdagrad: 4 } as const;

/**
 * The scalars of one optimizer update, by their position in OptimizerScalars: rule, lr (the
 * signed multiplier: -lr, -clr or -step size; row-wise Adagrad: +lr), a, b, c, 1 - a, 1 - b, eps,
 * weightDecay, decay (AdamW's 1 - lr * wd, else 1), firstStep (0/1), nesterov (0/1). The addon
 * names the same slots (native/optimizer_slots.h) and reports them; test/kernel-lists.test.ts
 * compares the two.
 */
export const OPTIMIZER_SCALARS = {
  rule: 0, lr: 1, a: 2, b: 3, c: 4, oneMinusA: 5, oneMinusB: 6, eps: 7, weightDecay: 8, decay: 9, firstStep: 10, nesterov: 11,
} as const;
export type OptimizerScalarName = keyof typeof OPTIMIZER_SCALARS;

/**
 * One optimizer update's scalars, OPTIMIZER_SCALARS' slots. Computed in double; the kernels round
 * each to float once, as torch does with scalar arguments of float32 tensors.
 */
export type OptimizerScalars = Float64Array;

/** Scalars not given: 0, except the divisor c and AdamW's decay factor, 1 (no effect). */
const SCALAR_DEFAULTS: Partial<Record<OptimizerScalarName, number>> = { c: 1, decay: 1 };

/** One update's scalars from their names, each in its slot. */
export function optimizerScalars(values: Partial<Record<OptimizerScalarName, number>> & { rule: number }): OptimizerScalars {
  const slots = new Float64Array(Object.keys(OPTIMIZER_SCALARS).length);
  for (const [name, slot] of Object.entries(OPTIMIZER_SCALARS) as [OptimizerScalarName, number][]) {
    slots[slot] = values[name] ?? SCALAR_DEFAULTS[name] ?? 0;
  }
  return slots;
}
export const SIMD_TIERS: readonly SimdTier[] = ['scalar', 'avx2', 'avx512', 'neon'];

/**
 * In an async call, in place of the output array of gather and bagForward: the backend allocates
 * the output and sets `out` when the call succeeds. Nothing else can reach the array meanwhile, so
 * the call need not pin it, and it stays transferable (see async-guard.ts).
 */
export interface OutputHolder {
  out?: Float32Array;
}

/**
 * Every kernel, listed once. The kernels' types and both backends' tables are derived from this
 * list, and the addon reports its own (native/binding.cc kKernelEntries), which
 * test/kernel-lists.test.ts compares with it: a kernel added on one side only fails that test.
 */
export const KERNEL_NAMES = [
  'firstInvalidIndex',
  'gather',
  'scatterAdd',
  'renorm',
  'bagForward',
  'bagScatterAdd',
  'bagMaxBackward',
  'bagWeightGrad',
  'optimizerUpdate',
  'initFill',
  'coalesce',
  'gatherPacked',
  'bagForwardPacked',
  'optimizerUpdatePacked',
  'narrowRows',
  'norm',
  'scaleValues',
  'clampValues',
  'nearestRows',
  'rowInverseNorms',
  'word2vecBinaryRecords',
  'parseTextLines',
  'countRecords',
  'addDistinctWords',
] as const;

/** The kernels a layer or optimizer calls; each returns -1, a bad position, or a count. */
export type KernelName = (typeof KERNEL_NAMES)[number];

/** What each kernel computes: the signatures of the names in KERNEL_NAMES. */
interface KernelSignatures {
  firstInvalidIndex(indices: KernelIndices, rows: number): number;

  /** out[i] = weight[indices[i]], rows of `dim` floats. */
  gather(weight: Float32Array, dim: number, indices: KernelIndices, out: Float32Array | OutputHolder): number;

  /**
   * grad[indices[i]] += scale[i] * gradOutput[i] in order of i (scale null: a plain add), skipping
   * entries equal to skipRow (-1: none). Multiply then add, two float roundings.
   */
  scatterAdd(grad: Float32Array, dim: number, indices: KernelIndices, gradOutput: Float32Array, scale: Float32Array | null, skipRow: number): number;

  /**
   * torch.embedding_renorm_: each distinct row of `indices` whose normType-norm exceeds maxNorm is
   * scaled by float(maxNorm / (norm + 1e-7)). `seen` is a zeroed bitmap of ceil(rows / 8) bytes,
   * zeroed again on return.
   */
  renorm(weight: Float32Array, dim: number, indices: KernelIndices, maxNorm: number, normType: number, seen: Uint8Array): number;

  // EmbeddingBag. Bag b holds entries [offsets[b], end) of indices, end being offsets[b + 1] or,
  // for the last bag when offsets has numBags entries, indices.length. The offsets are valid
  // (checked by the layer; the native binding checks them again for memory safety).

  /**
   * out[b] = sum (perSampleWeights[i] * row, multiply then add), mean (sum / entries) or max
   * (first occurrence wins ties) over bag b's entries that are not skipRow; an empty bag is zeros.
   */
  bagForward(
    weight: Float32Array, dim: number, indices: KernelIndices, offsets: Uint32Array, numBags: number,
    perSampleWeights: Float32Array | null, mode: BagModeCode, skipRow: number, out: Float32Array | OutputHolder,
  ): number;

  /** grad[indices[i]] += scale[i] * gradOutput[bag of i] in order of i (scale null: plain add). */
  bagScatterAdd(
    grad: Float32Array, dim: number, indices: KernelIndices, offsets: Uint32Array, numBags: number,
    gradOutput: Float32Array, scale: Float32Array | null, skipRow: number,
  ): number;

  /** grad[row that won feature j of bag b][j] += gradOutput[b][j], the winner found again from weight. */
  bagMaxBackward(
    weight: Float32Array, grad: Float32Array, dim: number, indices: KernelIndices, offsets: Uint32Array, numBags: number,
    gradOutput: Float32Array, skipRow: number,
  ): number;

  /** out[i] = dot(gradOutput[bag of i], weight[indices[i]]) in the eight-lane double order; 0 for skipRow. */
  bagWeightGrad(
    weight: Float32Array, dim: number, indices: KernelIndices, offsets: Uint32Array, numBags: number,
    gradOutput: Float32Array, skipRow: number, out: Float32Array,
  ): number;

  /**
   * One optimizer update (native/optimizer_body.h spells out each rule): rows null updates every
   * row from a whole-table grad; else rows[k] of weight and the table-shaped states from grad row
   * k (row-wise Adagrad: state0 has one value per table row). Returns -1, or the position of the
   * first row outside the table (nothing written).
   */
  optimizerUpdate(
    scalars: OptimizerScalars, weight: Float32Array, grad: Float32Array,
    state0: Float32Array | null, state1: Float32Array | null, state2: Float32Array | null, rows: Uint32Array | null, dim: number,
  ): number;

  /**
   * out[j] = element start + j of a seeded random stream (src/init.ts spells it out): params =
   * kind (0 normal, 1 uniform, 2 truncNormal), the seed's keys k0, k1, then six parameters
   * (rounded to float32). The same bits on every backend, tier and thread count. Returns -1.
   */
  initFill(out: Float32Array, params: Float64Array, start: number): number;

  /**
   * Sums the rows of entries with the same index, in entry order, into outRows (first-occurrence
   * order) and outValues; returns the number of distinct rows. Entry i's row is
   * scale[i] * source[i], or scale[i] * source[bag of i] with offsets; scale null means 1;
   * entries equal to skipRow are left out. slots: one int32 per table row, all -1, -1 again after.
   * Indices must be valid.
   */
  coalesce(
    indices: KernelIndices, dim: number, source: Float32Array, offsets: Uint32Array | null, numBags: number,
    scale: Float32Array | null, skipRow: number, slots: Int32Array, outRows: Uint32Array, outValues: Float32Array,
  ): number;

  /**
   * gather over a narrow table (dtype 1 float16, 2 bfloat16, 3 int8, 4 int4; `data` a Uint16Array
   * for the first two, a Uint8Array of rows for the others): out[i] = row indices[i] widened
   * exactly, or dequantized as torch's embedding_bag_*_unpack does (code * scale + bias, two roundings).
   */
  gatherPacked(data: PackedData, dtype: PackedDtypeCode, dim: number, indices: KernelIndices, out: Float32Array | OutputHolder): number;

  /** bagForward over a narrow table: bit for bit bagForward over its widened or dequantized rows. */
  bagForwardPacked(
    data: PackedData, dtype: PackedDtypeCode, dim: number, indices: KernelIndices, offsets: Uint32Array, numBags: number,
    perSampleWeights: Float32Array | null, mode: BagModeCode, skipRow: number, out: Float32Array | OutputHolder,
  ): number;

  /**
   * optimizerUpdate's sparse step on a float16 (dtype 1) or bfloat16 (2) table: for each k, row
   * rows[k] of `data` is widened to float32, updated by the float32 rule (the states
   * indexed by rows[k], as optimizerUpdate indexes them), and rounded back into `data`: to nearest
   * even when rounding is -1 (quantize()'s bits), else stochastically with `rounding` as the
   * update's key (src/rounding.ts). work: rows.length * dim floats of scratch space (its contents after are unspecified).
   * Returns -1, or the position of the first row outside the table (nothing written).
   */
  optimizerUpdatePacked(
    scalars: OptimizerScalars, data: Uint16Array, dtype: 1 | 2, dim: number, grad: Float32Array,
    state0: Float32Array | null, state1: Float32Array | null, state2: Float32Array | null, rows: Uint32Array,
    rounding: number, work: Float32Array,
  ): number;

  /**
   * Row rows[k] of a float16 (1) or bfloat16 (2) table = values row k rounded as optimizerUpdatePacked
   * rounds (rounding -1: nearest even; else stochastic with that key). Returns -1 or the first bad row's position.
   */
  narrowRows(data: Uint16Array, dtype: 1 | 2, dim: number, rows: Uint32Array, values: Float32Array, rounding: number): number;

  // Gradient clipping. norm: out[0] = the normType-norm of values (normType > 0 or Infinity): 1 and 2
  // in the eight-lane double order, other p through pow in element order, Infinity the largest |x|
  // (NaN if any is NaN). scaleValues: values[j] *= float(factor). clampValues: values[j] =
  // clamp(values[j], float(low), float(high)), NaN kept. Each returns -1.

  norm(values: Float32Array, normType: number, out: Float64Array): number;

  scaleValues(values: Float32Array, factor: number): number;

  clampValues(values: Float32Array, low: number, high: number): number;

  /**
   * The k rows of rows [0, rows) of a table (`data` of dtype code 0 float32, or a narrow table's
   * packed rows read as gatherPacked reads them) that score best against each query (queries:
   * q * dim values), best first, ties to the lower row: outIndices and outScores hold q * k values.
   * Scores are computed in double: dot = the eight-lane double dot (native/lane_dot.h's order);
   * cosine = (dot * invNorms[row]) * invQuery, invQuery being 1 / sqrt(the query's own lane dot),
   * 0 for a zero query; l2 = the eight-lane sum of (row - query)^2, lowest first. Each is rounded
   * to float once for outScores. NaN scores rank last. Query s never returns queryRows[s] (null:
   * none) nor a row of `exclude` (ascending); slots left over get row -1 and score NaN. Returns -1.
   */
  nearestRows(
    data: Float32Array | PackedData, dtype: AnyDtypeCode, dim: number, rows: number, queries: Float32Array, k: number,
    metric: MetricCode, invNorms: Float64Array | null, queryRows: Int32Array | null, exclude: Int32Array | null,
    outIndices: Int32Array, outScores: Float32Array,
  ): number;

  /** out[i] = 1 / sqrt(lane dot of row first + i with itself), 0 for a row of norm 0. Returns -1. */
  rowInverseNorms(data: Float32Array | PackedData, dtype: AnyDtypeCode, dim: number, first: number, out: Float64Array): number;

  /**
   * word2vec binary records ("word " and dim little-endian float32 values; whitespace, bytes 9 to
   * 13, before a word skipped) parsed from bytes[start..] until maxRecords are (bytes shorter than
   * 2^31): record i's values go to table[rowOffset + i * dim ..), its word is bytes[wordStarts[i],
   * wordEnds[i]). Returns how many records; out[0] = where it stopped (done: after the last record;
   * otherwise the start of the word of the record that stopped it), out[1] = the status
   * (BINARY_RECORD_STATUS: done; needMore: that record does not end inside the bytes; emptyWord: it
   * starts with a space; wordTooLong: no space within maxWordBytes + 1 bytes; notFinite: its row,
   * copied, and its offsets, entry `returned`, are set, and out[2] is the position in the row of its
   * first non-finite value), out[3] = the OR of the bytes of every word whose offsets were set.
   */
  word2vecBinaryRecords(
    bytes: Uint8Array, start: number, maxWordBytes: number, dim: number, table: Float32Array, rowOffset: number, maxRecords: number,
    wordStarts: Int32Array, wordEnds: Int32Array, out: Float64Array,
  ): number;

  /**
   * The text loaders' inner loop (native/parse_text.h): parses clean lines "word v1 ... v<dim>\n" of
   * text[start, end) in order into rows firstRow, firstRow + 1, ... of weight, and stops at the
   * first line that is not clean or after maxLines lines; returns how many it parsed. Line i's
   * '\n' is at lineEnds[i] - 1, its word (which starts the line) ends at wordEnds[i]. Clean: the
   * word (no space, tab, '\r' or '\n'; at most maxWordBytes), dim numbers after spaces or tabs,
   * optional spaces or tabs, an optional '\r', '\n'; at most maxLineBytes bytes; every number
   * of the syntax [+-] digits [. digits] [(e|E) [+-] digits] and quick to round exactly (the
   * float32 nearest, as strtof; at most 19 significant digits, a normal float32, not too near a
   * tie). Rows after the lines parsed, up to firstRow + maxLines, may have been written.
   */
  parseTextLines(
    text: Uint8Array, start: number, end: number, weight: Float32Array, firstRow: number, dim: number, maxLines: number,
    maxWordBytes: number, maxLineBytes: number, lineEnds: Int32Array, wordEnds: Int32Array,
  ): number;

  /**
   * GloVe's first pass (native/parse_text.h count_records): how many lines of text[start, end)
   * start with a byte other than space, tab, '\r' and '\n', at most `limit`. A line starts at
   * `start` when atLineStart is 1 (0: start is inside a line), and after every '\n' before end - 1.
   */
  countRecords(text: Uint8Array, start: number, end: number, atLineStart: number, limit: number): number;

  /**
   * The word loaders' vocabulary insertion (native/add_words.h; src/io/word-vectors/table-builder.ts
   * owns the table): words chunk[starts[i], ends[i]) for i < count, added in order to the table of
   * `words` words, until one equals an earlier word or does not fit; returns how many were added.
   * The table: wordBytes[0, used) holds the words, each followed by `separator`; wordEnds[i] is where
   * word i's bytes end; slots holds two int32 per slot (a power of two of them), record number + 1
   * (0: empty) and the word's hash (FNV-1a, 32 bits), a word in slot hash & (slots - 1) or the next
   * empty one. Each word added is copied in (then the separator), its end appended to wordEnds, its
   * record and hash put in its slot. out[0] = the status (ADD_WORDS_STATUS: done; duplicate: word
   * `returned` is the word of record out[1]; needSpace: word `returned` and its separator do not fit
   * in wordBytes; corrupt: a record number or word end read from the table is out of range, or no
   * slot is empty), out[1] = that earlier record (else -1), out[2] = the bytes used after, out[3] =
   * the slot of the last word added (-1: none), out[4] = the OR of the added words' bytes. Bytes
   * of wordBytes past those used may be written.
   */
  addDistinctWords(
    chunk: Uint8Array, starts: Int32Array, ends: Int32Array, count: number, wordBytes: Uint8Array, used: number,
    wordEnds: Int32Array, words: number, slots: Int32Array, separator: number, out: Float64Array,
  ): number;
}

/** How a word2vecBinaryRecords call ended (out[1]), numbered as native/word2vec_binary.h BinaryRecordStatus. */
export const BINARY_RECORD_STATUS = { done: 0, needMore: 1, emptyWord: 2, wordTooLong: 3, notFinite: 4 } as const;

/** How an addDistinctWords call ended (out[0]), numbered as native/add_words.h AddWordsStatus. */
export const ADD_WORDS_STATUS = { done: 0, duplicate: 1, needSpace: 2, corrupt: 3 } as const;

/** nearestRows' metrics, numbered as the kernels take them (native/kernels.h NearestMetric). */
export const METRIC_CODES = { dot: 0, cosine: 1, l2: 2 } as const;
export type MetricCode = (typeof METRIC_CODES)[keyof typeof METRIC_CODES];

/** A table of any dtype as the similarity kernels take it: float32 (code 0) or a narrow table's packed rows. */
export type AnyDtypeCode = 0 | PackedDtypeCode;

/**
 * The kernels of KERNEL_NAMES with their signatures. A name listed without a signature, or a
 * signature whose name is not listed (required to be `never` here), does not compile.
 */
export type Kernels = { [K in KernelName]: KernelSignatures[K] } & Record<Exclude<keyof KernelSignatures, KernelName>, never>;

export interface Backend extends Kernels {
  readonly name: 'native' | 'js';
  /** Runs a kernel call asynchronously: native on a background thread, TypeScript after the current task. */
  readonly callAsync: AsyncKernelRunner;
  /** The instruction-set tier the native kernels run with; null for the TypeScript backend. */
  readonly simd: SimdTier | null;
}

/** One kernel call: the kernel's name and its arguments. */
export type KernelCall = { [K in KernelName]: [K, Parameters<Backend[K]>] }[KernelName];

/**
 * What a layer or optimizer method does, written once for its synchronous and asynchronous forms:
 * a generator that validates, yields the kernel calls it needs (receiving each result), and
 * returns the method's result. See plan.ts.
 */
export type Plan<T> = Generator<KernelCall, T, number>;

/** Runs one kernel call off the JavaScript thread where the backend can (native), resolving its result. */
export type AsyncKernelRunner = (call: KernelCall) => Promise<number>;
