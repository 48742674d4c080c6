// Optimizers with torch.optim's update rules (SGD, Adagrad, Adam, AdamW, SparseAdam) and
// FBGEMM/TorchRec's row-wise Adagrad, for Embedding and EmbeddingBag tables.
//
// Each optimizer keeps per-table state (step count, state buffers) and, at step(), updates every
// non-frozen table that has a gradient: a dense gradient through one pass over the table; a sparse
// gradient by first summing duplicate rows (deterministically, in entry order) and then updating
// only the touched rows, so a sparse step costs rows touched × dimension, never the table size.
// The arithmetic is in the backend's optimizer kernels (native/optimizer_body.h and its TypeScript
// twin); the scalars each rule needs per step (bias corrections, decayed learning rates) are
// computed here, in double, as torch computes them in Python.
import { heldArray, heldIndices } from './async-guard.js';
import { DTYPE_CODES, OPTIMIZER_RULES, type Plan, optimizerScalars as scalars } from './backend.js';
import { AsyncAccess, runPlan, runPlanAsync } from './plan.js';
import type { Embedding } from './embedding.js';
import type { EmbeddingBag } from './embedding-bag.js';
import { type EmbeddingTable, type EntryRows, type SparseGrad, accessOf, backendOf, forEachEntry, isEmbeddingTable, keptGradients, rowReader, setInBackwardUpdate } from './table.js';
import { ROUND_NEAREST_EVEN, roundingKey } from './rounding.js';
import { checkBoolean, checkInteger, checkNumberOption, checkOptions, defineReadonly, describe } from './validate.js';

export type Trainable = Embedding | EmbeddingBag;

/** The method through which lr-scheduler.ts sets an optimizer's lr and momentum (not part of the public API). */
export const SCHEDULED = Symbol('nn-embedding.scheduled');

export interface Optimizer {
  step(): void;
  stepAsync(): Promise<void>;
  zeroGrad(): void;
}

/** An optimizer's state: per table (in the order given), its step count and state buffers (copies). */
export interface OptimizerStateDict {
  optimizer: string;
  options: Record<string, unknown>;
  /**
   * Per table: the step count, the state buffers, and (with stochastic rounding of a 16-bit table)
   * roundingStep, the count of updates the rounding's random bits are keyed by.
   */
  tables: { step: number; buffers: Record<string, Float32Array>; roundingStep?: number }[];
}

/** Per-table state: the step count and named buffers (table-shaped, or one value per row). */
interface TableState {
  step: number;
  buffers: Record<string, Float32Array | null>;
}

/** A table's gradient as an async step holds it. */
interface HeldGradient {
  dense: Float32Array | null;
  sparse: SparseGrad | null;
}

/** Per-table work buffers, kept between steps, for summing duplicate rows. */
class Scratch {
  /** Row -> its slot among the distinct rows of the current step; -1 between steps. */
  private _slots: Int32Array | null = null;
  rows = new Uint32Array(0);
  values = new Float32Array(0);

  constructor(readonly numRows: number, readonly dim: number) {}

  get slots(): Int32Array {
    this._slots ??= new Int32Array(this.numRows).fill(-1);
    return this._slots;
  }

  /** `length` copies of float(value), kept between steps (refilled when the value changes). */
  constantScale(length: number, value: number): Float32Array {
    if (this._constant.length < length || this._constantValue !== value) {
      this._constant = new Float32Array(Math.max(length, this._constant.length)).fill(value);
      this._constantValue = value;
    }
    return this._constant.subarray(0, length);
  }
  private _constant = new Float32Array(0);
  private _constantValue = Number.NaN;

  reserve(entries: number): void {
    if (this.rows.length >= entries) return;
    const capacity = Math.max(entries, this.rows.length * 2);
    this.rows = new Uint32Array(capacity);
    this.values = new Float32Array(capacity * this.dim);
  }

  // A narrow table's step (see TableOptimizer._applyRowsNarrow): its distinct rows and each entry's
  // position among them (per-entry rules), and the float32 rows it updates.
  narrowRows = new Uint32Array(0);
  entrySlots = new Uint32Array(0);
  private _work = new Float32Array(0);

  /** Room for the distinct rows of `entries` entries. */
  reserveNarrow(entries: number): void {
    if (this.entrySlots.length >= entries) return;
    const capacity = Math.max(entries, this.entrySlots.length * 2);
    this.entrySlots = new Uint32Array(capacity);
    this.narrowRows = new Uint32Array(capacity);
  }

  /** `rows` float32 rows of work space, kept between steps. */
  work(rows: number): Float32Array {
    if (this._work.length < rows * this.dim) this._work = new Float32Array(Math.max(rows, (2 * this._work.length) / this.dim) * this.dim);
    return this._work.subarray(0, rows * this.dim);
  }
}

/**
 * The distinct rows of the entries (skipRow left out) into scratch.narrowRows, in order of first
 * occurrence, and each entry's position among them into scratch.entrySlots (skipRow entries: the
 * count of distinct rows, one past them). Returns that count.
 */
function distinctRows(indices: EntryRows['indices'], skipRow: number, scratch: Scratch): number {
  scratch.reserveNarrow(indices.length);
  const slots = scratch.slots;
  const rows = scratch.narrowRows;
  const entrySlots = scratch.entrySlots;
  const rowAt = rowReader(indices);
  let distinct = 0;
  for (let i = 0; i < indices.length; i++) {
    const row = rowAt(i);
    if (row === skipRow) continue;
    let slot = slots[row]!;
    if (slot < 0) {
      slot = distinct++;
      slots[row] = slot;
      rows[slot] = row;
    }
    entrySlots[i] = slot;
  }
  for (let i = 0; i < indices.length; i++) if (rowAt(i) === skipRow) entrySlots[i] = distinct;
  for (let k = 0; k < distinct; k++) slots[rows[k]!] = -1;
  return distinct;
}

/**
 * Entries with a scale as the rows a sparse backward appends: row indices[i] with values
 * f(scale[i] * source[i or bag of i]), skipRow entries left out; written to the scratch buffers.
 */
function scaledEntries(entries: EntryRows, dim: number, scratch: Scratch): EntryRows {
  const { indices, source, offsets, numBags, scale, skipRow } = entries;
  scratch.reserve(indices.length);
  const rowAt = rowReader(indices);
  const rows = scratch.rows;
  const values = scratch.values;
  let count = 0;
  const append = (i: number, sourceRow: number) => {
    const row = rowAt(i);
    if (row === skipRow) return;
    const from = sourceRow * dim;
    const to = count * dim;
    const factor = scale![i]!;
    for (let j = 0; j < dim; j++) values[to + j] = factor * source[from + j]!;
    rows[count++] = row;
  };
  if (offsets === null) {
    for (let i = 0; i < indices.length; i++) append(i, i);
  } else {
    forEachEntry({ offsets, numBags }, indices.length, append);
  }
  return { indices: rows.subarray(0, count), source: values.subarray(0, count * dim), offsets: null, numBags: 0, scale: null, skipRow: -1 };
}

const nonNegative = (x: number) => x >= 0 && Number.isFinite(x);

/** Options every optimizer takes besides its rule's: how float16/bfloat16 tables are rounded. */
const ROUNDING_OPTIONS = ['stochasticRounding', 'seed'] as const;

export interface RoundingOptions {
  /**
   * Round the updated rows of float16/bfloat16 tables stochastically (src/rounding.ts) instead of
   * to nearest even; needs `seed`. Only tables of those dtypes are rounded.
   */
  stochasticRounding?: boolean;
  /** The seed of stochastic rounding's random bits: an integer in [0, 2^53). */
  seed?: number;
}

/** The rounding options checked: the seed when stochastic, else null. */
function checkRounding(where: string, options: Partial<RoundingOptions>, tables: readonly EmbeddingTable[]): number | null {
  const stochastic = checkBoolean(where, 'options.stochasticRounding', options.stochasticRounding, false);
  if (!stochastic) {
    if (options.seed !== undefined) throw new TypeError(`${where}: options.seed has no effect without options.stochasticRounding: true`);
    return null;
  }
  if (options.seed === undefined) throw new RangeError(`${where}: options.stochasticRounding needs options.seed (an integer in [0, 2^53)), so that the rounding is reproducible`);
  const seed = checkInteger(where, 'options.seed', options.seed, 0);
  if (!tables.some((table) => isHalfTable(table))) {
    throw new RangeError(`${where}: options.stochasticRounding rounds float16/bfloat16 tables; params has none (its tables are ${[...new Set(tables.map((t) => t.dtype))].join(', ')})`);
  }
  return seed;
}

/** A float16/bfloat16 table's dtype code, as the kernels take it. */
function halfCode(table: EmbeddingTable): 1 | 2 {
  return DTYPE_CODES[table.dtype as 'float16' | 'bfloat16'];
}

/** Whether a table is float16 or bfloat16: trained through float32 rows rounded back. */
function isHalfTable(table: EmbeddingTable): boolean {
  return table.dtype === 'float16' || table.dtype === 'bfloat16';
}

/**
 * Options that are all non-negative numbers: those named in `defaults` (any other is refused),
 * each given or its default, checked in that order.
 */
function nonNegativeOptions<K extends string>(where: string, options: unknown, defaults: Record<K, number>): Record<K, number> {
  const o = checkOptions<Partial<Record<K, unknown>>>(where, options, [...Object.keys(defaults), ...ROUNDING_OPTIONS]);
  const values = {} as Record<K, number>;
  for (const name of Object.keys(defaults) as K[]) {
    values[name] = checkNumberOption(where, name, o[name], defaults[name], nonNegative, 'a non-negative number');
  }
  return values;
}

/** A betas pair checked, as a frozen copy (so that changing it goes through the betas setter). */
function checkBetas(
  where: string,
  value: unknown,
  name = 'options.betas',
  valid = (beta: number) => beta >= 0 && beta < 1,
  rule = 'in [0, 1)',
): readonly [number, number] {
  if (value === undefined) return Object.freeze([0.9, 0.999] as const);
  if (!Array.isArray(value) || value.length !== 2 || value.some((b) => typeof b !== 'number')) {
    throw new TypeError(`${where}: ${name} must be a pair of numbers, got ${describe(value)}`);
  }
  value.forEach((beta: number, i) => {
    if (!valid(beta)) throw new RangeError(`${where}: ${name}[${i}] must be ${rule}, got ${describe(beta)}`);
  });
  return Object.freeze([value[0], value[1]] as const);
}

/** A hyperparameter assigned after construction (optimizer.lr = x): a number that passes `valid`. */
function checkSetting(where: string, name: string, value: unknown, valid: (x: number) => boolean, rule: string): number {
  if (typeof value !== 'number') throw new TypeError(`${where}: ${name} must be a number, got ${describe(value)}`);
  if (!valid(value)) throw new RangeError(`${where}: ${name} must be ${rule}, got ${describe(value)}`);
  return value;
}

abstract class TableOptimizer implements Optimizer {
  // This class's and its subclasses' public properties are read-only at run time too (defineReadonly),
  // except the hyperparameters a learning-rate scheduler changes, as torch's param_groups[0] holds
  // them: lr, SGD's momentum, the Adam family's betas (accessors that check what they are given).
  declare readonly name: string;
  /** The layers given, in order (a frozen copy of the params array). */
  declare readonly tables: readonly EmbeddingTable[];
  private readonly _states: TableState[];
  private readonly _scratch = new Map<EmbeddingTable, Scratch>();
  private readonly _access = new AsyncAccess('optimizer');
  /** Updates applied in a layer's backward now running (async ones span awaits). */
  private _updatesInBackward = 0;
  /** Whether applyOptimizerInBackward attached this optimizer to its tables' backward. */
  protected appliedInBackward = false;
  protected _lr = 0;
  /** Whether float16/bfloat16 tables are rounded stochastically (options.stochasticRounding). */
  declare readonly stochasticRounding: boolean;
  /** The seed of stochastic rounding; null when rounding to nearest even. */
  declare readonly seed: number | null;
  /** Per table: how many updates of a float16/bfloat16 table this optimizer applied (stochastic rounding's step). */
  private readonly _narrowUpdates: number[];

  protected constructor(name: string, params: unknown, stateNames: readonly string[]) {
    const tables = checkParams(name, params);
    defineReadonly<TableOptimizer>(this, { name, tables: Object.freeze([...tables]) });
    this._states = tables.map(() => ({ step: 0, buffers: Object.fromEntries(stateNames.map((n) => [n, null])) }));
    this._narrowUpdates = tables.map(() => 0);
  }

  /** Reads options.stochasticRounding and options.seed (each subclass's constructor, after its own options). */
  protected setRounding(options: unknown): void {
    const o = checkOptions<RoundingOptions>(this.name, options, Object.keys(options ?? {}));
    const seed = checkRounding(this.name, o, this.tables);
    defineReadonly<TableOptimizer>(this, { stochasticRounding: seed !== null, seed });
  }

  /** The rounding argument of a narrow table's next update (advancing its count). */
  private _nextRounding(index: number): number {
    const step = this._narrowUpdates[index]!;
    this._narrowUpdates[index] = step + 1;
    return this.seed === null ? ROUND_NEAREST_EVEN : roundingKey(this.seed, step);
  }

  /**
   * The learning rate: torch's param_groups[0]['lr'], read-write, as a scheduler sets it
   * (lrScheduler.*). The next step, or the next update applied in backward, uses the new value. A
   * negative, infinite or NaN value is a RangeError; it cannot change during a stepAsync().
   */
  get lr(): number {
    return this._lr;
  }

  set lr(value: number) {
    const where = `${this.name}.lr`;
    this.checkIdle(where);
    this._lr = checkSetting(where, 'lr', value, nonNegative, 'a non-negative number');
  }

  /**
   * How a learning-rate scheduler sets lr, and the momentum it cycles (SGD's momentum, the Adam
   * family's beta1) unless null: any finite values, because torch's schedulers can compute values
   * out of the usual ranges (OneCycleLR's linear anneal overshoots at its last step: a negative
   * rate, a beta1 above 1) and torch's param groups take them. Both are checked before either is
   * set. A user's assignment goes through the checked setters instead.
   */
  [SCHEDULED](where: string, lr: number, momentum: number | null): void {
    this.checkIdle(where);
    checkSetting(where, 'the scheduled lr', lr, Number.isFinite, 'a finite number');
    if (momentum !== null) this.checkScheduledMomentum(where, checkSetting(where, 'the scheduled momentum', momentum, Number.isFinite, 'a finite number'));
    this._lr = lr;
    if (momentum !== null) this.setScheduledMomentum(momentum);
  }

  /** Throws unless this optimizer has a momentum a scheduler may set to `momentum` (SGD, the Adam family). */
  protected checkScheduledMomentum(where: string, _momentum: number): void {
    throw new TypeError(`${where}: ${this.name} has no momentum to schedule`);
  }

  protected setScheduledMomentum(_momentum: number): void {}

  /** Throws while a step or an update applied in backward is running (hyperparameters must not change under it). */
  protected checkIdle(where: string): void {
    this._access.check(where, 'write');
    this._checkNoUpdateInBackward(where);
  }

  /**
   * The settable hyperparameters (see lr) of a state dict's options, checked; returns what sets
   * them, run once everything else is checked. Absent ones keep their current values.
   */
  protected loadSettings(where: string, options: Record<string, unknown>): () => void {
    // Any finite rate: a scheduler may have set a negative one (see [SCHEDULED]).
    const lr = options.lr === undefined ? this._lr : checkSetting(where, 'options.lr', options.lr, Number.isFinite, 'a finite number');
    return () => {
      this._lr = lr;
    };
  }

  /** The options with defaults filled in, as they are now (for stateDict). */
  protected abstract get options(): Record<string, unknown>;

  /** The scalars of this table's next update (its step count already advanced when the rule counts steps). */
  protected abstract scalars(state: TableState, sparse: boolean): Float64Array;

  /** The state buffers an update reads and writes, allocated on first use. */
  protected abstract buffers(table: EmbeddingTable, state: TableState): [Float32Array | null, Float32Array | null, Float32Array | null];

  /** Whether the rule advances the step count (torch's state['step']). */
  protected readonly countsSteps: boolean = true;

  /** Whether the rule takes only sparse gradients (SparseAdam); checked at step(). */
  protected readonly sparseOnly: boolean = false;

  /** Throws for a table this optimizer cannot update (checked at construction). */
  protected checkTable(_table: EmbeddingTable, _index: number): void {}

  protected checkTables(): void {
    this.tables.forEach((table, index) => this.checkTable(table, index));
  }

  /**
   * Whether a table's gradients are sparse rows: a sparse layer's, or a float16/bfloat16 table's
   * (trained only through sparse rows: sparse: true, or applied in backward).
   */
  protected takesSparseRows(table: EmbeddingTable): boolean {
    return table.sparse || isHalfTable(table);
  }

  /** Updates every non-frozen table that has a gradient. */
  step(): void {
    const where = `${this.name}.step`;
    this._checkStep(where);
    this.tables.forEach((table, index) => runPlan(backendOf(table), this._stepTable(table, index)));
  }

  /**
   * step() with the updates on a background thread (native backend). Until it settles, calls that
   * would change this optimizer or its tables throw.
   */
  async stepAsync(): Promise<void> {
    const where = `${this.name}.stepAsync`;
    this._checkStep(where);
    const held = this.tables.map((table): HeldGradient => {
      const { dense, sparse } = keptGradients(table);
      heldArray(where, table.dtype === 'float32' ? 'weight' : 'data', table.data);
      return {
        dense: heldArray(where, 'grad', dense),
        sparse: sparse === null ? null : { indices: heldIndices(sparse.indices), values: heldArray(where, 'sparseGrad.values', sparse.values) },
      };
    });
    const releases = [this._access.acquire('write'), ...this.tables.map((table) => accessOf(table).acquire('write'))];
    try {
      for (const [index, table] of this.tables.entries()) await runPlanAsync(backendOf(table), this._stepTable(table, index, held[index]));
    } finally {
      for (const release of releases) release();
    }
  }

  /** Clears the gradients of the optimizer's non-frozen tables. */
  zeroGrad(): void {
    for (const table of this.tables) if (!table.freeze) table.zeroGrad();
  }

  /** Everything that can make a step fail, checked before any table changes. */
  private _checkStep(where: string): void {
    this._access.check(where, 'write');
    this._checkNoUpdateInBackward(where);
    this.tables.forEach((table, index) => {
      accessOf(table).check(where, 'write');
      table.checkKept(where);
      if (this.sparseOnly && !table.freeze && !table.sparse && keptGradients(table).dense !== null) {
        throw new TypeError(`${this.name}: params[${index}] has a dense gradient; ${this.name} takes only sparse layers (sparse: true), as in torch`);
      }
    });
  }

  /**
   * A table's update. `held`: its gradient as stepAsync took hold of it when called (sparse
   * indices copied, arrays pinned), since JavaScript runs between the updates of the tables.
   */
  private *_stepTable(table: EmbeddingTable, index: number, held?: HeldGradient): Plan<void> {
    if (table.freeze) return;
    if (table.sparse) {
      const grad = held === undefined ? keptGradients(table).sparse : held.sparse;
      if (grad !== null) {
        yield* this._applyRows(table, index, { indices: grad.indices, source: grad.values, offsets: null, numBags: 0, scale: null, skipRow: -1 });
      }
      return;
    }
    const grad = held === undefined ? keptGradients(table).dense : held.dense;
    if (grad === null) return;
    const state = this._states[index]!;
    if (this.countsSteps) state.step += 1;
    const scalars = this.scalars(state, false); // before buffers(): SGD reads whether its buffer exists
    const [s0, s1, s2] = this.buffers(table, state);
    yield ['optimizerUpdate', [scalars, table.weight, grad, s0, s1, s2, null, table.embeddingDim]];
  }

  /**
   * The multiplier of a rule that adds each sparse entry to its row on its own, in entry order,
   * with no state and no summing of duplicates first (torch's sparse SGD: param.add_(grad,
   * alpha=-lr) walks the entries); null for the rules that sum duplicate rows first.
   */
  protected perEntryMultiplier(): number | null {
    return null;
  }

  /**
   * One sparse update: sum duplicate rows of the entries, then update those rows only. A
   * float16/bfloat16 table gets the same float32 update on its touched rows widened, each rounded
   * back once (to nearest even, or stochastically): optimizerUpdatePacked widens, updates and
   * rounds each row in one kernel call.
   */
  private *_applyRows(table: EmbeddingTable, index: number, entries: EntryRows): Plan<void> {
    const dim = table.embeddingDim;
    const scratch = this._scratchOf(table);
    const half = isHalfTable(table);
    const multiplier = this.perEntryMultiplier();
    if (multiplier !== null) {
      // The scatter-add kernel, straight into the table: w[row] += f(multiplier) * g per entry.
      // Scaled entries are first rounded to the rows a sparse backward records (f(scale * g)).
      const scaled = entries.scale === null ? null : scaledEntries(entries, dim, scratch);
      const { indices, source, offsets, numBags, skipRow } = scaled ?? entries;
      const scale = scratch.constantScale(indices.length, multiplier);
      if (this.countsSteps) this._states[index]!.step += 1;
      if (half) {
        yield* this._addEntriesToHalfTable(table, index, { indices, source, offsets, numBags, scale, skipRow }, scratch);
        return;
      }
      yield offsets === null
        ? ['scatterAdd', [table.weight, dim, indices, source, scale, skipRow]]
        : ['bagScatterAdd', [table.weight, dim, indices, offsets, numBags, source, scale, skipRow]];
      return;
    }
    scratch.reserve(Math.max(entries.indices.length, 1));
    const { indices, source, offsets, numBags, scale, skipRow } = entries;
    const distinct = yield ['coalesce', [indices, dim, source, offsets, numBags, scale, skipRow, scratch.slots, scratch.rows, scratch.values]];
    const state = this._states[index]!;
    if (this.countsSteps) state.step += 1;
    const scalars = this.scalars(state, true);
    const [s0, s1, s2] = this.buffers(table, state);
    const rows = scratch.rows.subarray(0, distinct);
    const grad = scratch.values.subarray(0, distinct * dim);
    yield half
      ? ['optimizerUpdatePacked', [scalars, table.data as Uint16Array, halfCode(table), dim, grad, s0, s1, s2, rows, this._nextRounding(index), scratch.work(distinct)]]
      : ['optimizerUpdate', [scalars, table.weight, grad, s0, s1, s2, rows, dim]];
  }

  /**
   * The per-entry rule (SGD) on a float16/bfloat16 table: its distinct rows widened into work
   * rows, the entries added there in entry order by the scatter-add kernel (as into a float32
   * table, scale[i] * g per entry), then each row rounded back once.
   */
  private *_addEntriesToHalfTable(table: EmbeddingTable, index: number, entries: EntryRows, scratch: Scratch): Plan<void> {
    const { indices, source, offsets, numBags, scale, skipRow } = entries;
    const dim = table.embeddingDim;
    const data = table.data as Uint16Array;
    const code = halfCode(table);
    const distinct = distinctRows(indices, skipRow, scratch);
    const rows = scratch.narrowRows.subarray(0, distinct);
    const work = scratch.work(distinct + 1); // one row more: the slot of skipped entries
    const slots = scratch.entrySlots.subarray(0, indices.length);
    const widened = work.subarray(0, distinct * dim);
    yield ['gatherPacked', [data, code, dim, rows, widened]];
    yield offsets === null
      ? ['scatterAdd', [work, dim, slots, source, scale, distinct]]
      : ['bagScatterAdd', [work, dim, slots, offsets, numBags, source, scale, distinct]];
    yield ['narrowRows', [data, code, dim, rows, widened, this._nextRounding(index)]];
  }

  private _scratchOf(table: EmbeddingTable): Scratch {
    let scratch = this._scratch.get(table);
    if (scratch === undefined) {
      scratch = new Scratch(table.numEmbeddings, table.embeddingDim);
      this._scratch.set(table, scratch);
    }
    return scratch;
  }

  /** Applies this optimizer in each table's backward (see applyOptimizerInBackward). */
  attachToBackward(): void {
    this.appliedInBackward = true;
    this.tables.forEach((table, index) => {
      setInBackwardUpdate(table, (entries) => this._applyRowsHeld(table, index, entries));
    });
  }

  /**
   * An update applied in a layer's backward counts as in flight for its duration: meanwhile (an
   * async backward) step(), stepAsync(), stateDict() and loadStateDict() throw instead of reading
   * or replacing state that a kernel is updating. Updates of different tables may overlap (each
   * layer admits one writer at a time).
   */
  private *_applyRowsHeld(table: EmbeddingTable, index: number, entries: EntryRows): Plan<void> {
    this._access.check(`${table.constructor.name}.backward (${this.name} applied in backward)`, 'write');
    this._updatesInBackward += 1;
    try {
      yield* this._applyRows(table, index, entries);
    } finally {
      this._updatesInBackward -= 1;
    }
  }

  /** Throws while an update applied in a layer's backward is in flight (see _applyRowsHeld). */
  private _checkNoUpdateInBackward(where: string): void {
    if (this._updatesInBackward > 0) {
      throw new Error(`${where}: this optimizer is in use by an unfinished async backward that applies it; await it first`);
    }
  }

  /** Step counts and state buffers, copied, so training can stop and resume bit-identically. */
  stateDict(): OptimizerStateDict {
    this._access.check(`${this.name}.stateDict`, 'read');
    this._checkNoUpdateInBackward(`${this.name}.stateDict`);
    return {
      optimizer: this.name,
      options: { ...this.options, ...(this.seed === null ? {} : { stochasticRounding: true, seed: this.seed }) },
      tables: this._states.map((state, index) => ({
        step: state.step,
        buffers: Object.fromEntries(
          Object.entries(state.buffers)
            .filter((entry): entry is [string, Float32Array] => entry[1] !== null)
            .map(([name, buffer]) => [name, buffer.slice()]),
        ),
        ...(this.seed === null ? {} : { roundingStep: this._narrowUpdates[index]! }),
      })),
    };
  }

  /**
   * Restores what stateDict() returned (for the same tables, in the same order). Everything is
   * checked and copied first and the state changes only after, so a failed call changes nothing.
   * Each field of `dict` is read once. Of the dict's options, the settable ones are restored (lr,
   * SGD's momentum, the Adam family's betas: what a scheduler changes, as torch's param_groups are);
   * the others are the constructor's and are not read.
   */
  loadStateDict(dict: OptimizerStateDict): void {
    const where = `${this.name}.loadStateDict`;
    this._access.check(where, 'write');
    this._checkNoUpdateInBackward(where);
    if (dict === null || typeof dict !== 'object') throw new TypeError(`${where}: expected a state dict of ${this.name}, got ${describe(dict)}`);
    const optimizer: unknown = dict.optimizer;
    const tables: unknown = dict.tables;
    const options: unknown = dict.options;
    if (optimizer !== this.name) throw new TypeError(`${where}: expected a state dict of ${this.name}, got ${describe(optimizer ?? dict)}`);
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError(`${where}: options must be an object (or absent), got ${describe(options)}`);
    }
    const setSettings = this.loadSettings(where, { ...(options as Record<string, unknown> | undefined) });
    if (!Array.isArray(tables)) throw new TypeError(`${where}: tables must be an array, got ${describe(tables)}`);
    if (tables.length !== this.tables.length) {
      throw new RangeError(`${where}: the state dict has ${tables.length} tables, this optimizer ${this.tables.length}`);
    }
    const roundingSteps: number[] = [];
    const loaded = this.tables.map((table, index): TableState => {
      const at = `${where}: tables[${index}]`;
      const saved: unknown = tables[index];
      if (saved === null || typeof saved !== 'object') throw new TypeError(`${at} must be an object { step, buffers }, got ${describe(saved)}`);
      const { step, buffers: savedBuffers, roundingStep } = saved as { step?: unknown; buffers?: unknown; roundingStep?: unknown };
      if (typeof step !== 'number') throw new TypeError(`${at}.step must be a non-negative integer, got ${describe(step)}`);
      if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`${at}.step must be a non-negative integer, got ${describe(step)}`);
      // Absent (a dict without stochastic rounding): stochastic rounding counts from 0.
      roundingSteps.push(roundingStep === undefined ? 0 : checkInteger(`${at}`, 'roundingStep', roundingStep, 0));
      const prototype = savedBuffers === null || typeof savedBuffers !== 'object' ? undefined : (Object.getPrototypeOf(savedBuffers) as unknown);
      if (savedBuffers !== undefined && prototype !== Object.prototype && prototype !== null) {
        throw new TypeError(`${at}.buffers must be a plain object of Float32Arrays (or absent), got ${describe(savedBuffers)}`);
      }
      const known = this._states[index]!.buffers;
      const buffers: Record<string, Float32Array | null> = Object.fromEntries(Object.keys(known).map((name) => [name, null]));
      for (const [name, buffer] of Object.entries(savedBuffers ?? {})) {
        if (!Object.prototype.hasOwnProperty.call(known, name)) throw new TypeError(`${at} has an unknown buffer '${name}'`);
        const expected = this.bufferLength(table, name);
        if (!(buffer instanceof Float32Array)) throw new TypeError(`${at}.buffers.${name} must be a Float32Array of ${expected} values, got ${describe(buffer)}`);
        if (buffer.length !== expected) {
          const detached = buffer.length === 0 ? ' (its buffer is detached or shrunk)' : '';
          throw new RangeError(`${at}.buffers.${name} must be a Float32Array of ${expected} values, got ${buffer.length}${detached}`);
        }
        buffers[name] = buffer.slice(); // a copy: whatever happens to the dict's arrays later
      }
      return { step, buffers };
    });
    // Commit: assignments only, nothing here can throw.
    loaded.forEach((next, index) => {
      this._states[index] = next;
      this._narrowUpdates[index] = roundingSteps[index]!;
    });
    setSettings();
  }

  /** The length of a named buffer for a table: table-shaped unless the rule keeps one value per row. */
  protected bufferLength(table: EmbeddingTable, _name: string): number {
    return table.numEmbeddings * table.embeddingDim;
  }

  protected buffer(table: EmbeddingTable, state: TableState, name: string, fill = 0): Float32Array {
    let buffer = state.buffers[name] ?? null;
    if (buffer === null) {
      buffer = new Float32Array(this.bufferLength(table, name));
      if (fill !== 0) buffer.fill(fill);
      state.buffers[name] = buffer;
    }
    return buffer;
  }
}

/** Why a table's gradients are sparse rows (takesSparseRows), for messages. */
function sparseRowsReason(table: EmbeddingTable): string {
  return table.sparse ? 'has sparse gradients' : `is ${table.dtype} (trained through sparse rows only)`;
}

function checkParams(where: string, params: unknown): EmbeddingTable[] {
  if (!Array.isArray(params) || params.length === 0) {
    throw new TypeError(`${where}: params must be a non-empty array of Embedding or EmbeddingBag layers, got ${describe(params)}`);
  }
  params.forEach((param, i) => {
    if (!isEmbeddingTable(param)) throw new TypeError(`${where}: params[${i}] must be an Embedding or EmbeddingBag, got ${describe(param)}`);
    if (params.indexOf(param) !== i) throw new RangeError(`${where}: params[${i}] appears more than once`);
    param.checkTrainable(`${where}: params[${i}]`);
  });
  return params as EmbeddingTable[];
}


export interface SGDOptions extends RoundingOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** torch.optim.SGD. Sparse gradients are accepted without momentum and weight decay, as in torch. */
export class SGD extends TableOptimizer {
  protected override readonly countsSteps = false;
  private _momentum = 0;
  declare readonly dampening: number;
  declare readonly weightDecay: number;
  declare readonly nesterov: boolean;

  constructor(params: Trainable[], options: SGDOptions) {
    super('SGD', params, ['momentumBuffer']);
    const where = 'SGD';
    if (options === undefined) throw new TypeError(`${where}: options.lr is required`);
    const o = checkOptions<SGDOptions>(where, options, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', ...ROUNDING_OPTIONS]);
    const lr = checkNumberOption(where, 'lr', o.lr, undefined, nonNegative, 'a non-negative number');
    const momentum = checkNumberOption(where, 'momentum', o.momentum, 0, nonNegative, 'a non-negative number');
    const dampening = checkNumberOption(where, 'dampening', o.dampening, 0, Number.isFinite, 'a finite number');
    const weightDecay = checkNumberOption(where, 'weightDecay', o.weightDecay, 0, nonNegative, 'a non-negative number');
    const nesterov = checkBoolean(where, 'options.nesterov', o.nesterov, false);
    if (nesterov && (momentum <= 0 || dampening !== 0)) {
      throw new RangeError(`${where}: nesterov needs a positive momentum and zero dampening (as in torch)`);
    }
    this._lr = lr;
    this._momentum = momentum;
    defineReadonly<SGD>(this, { dampening, weightDecay, nesterov });
    this.checkTables();
    this.setRounding(options);
  }

  /**
   * torch's param_groups[0]['momentum'], read-write (OneCycleLR and CyclicLR cycle it). From zero
   * to non-zero, the momentum buffer starts at the next step as a copy of the gradient, as in
   * torch; back to zero, it is not used. Not for sparse tables or SGD applied in backward.
   */
  get momentum(): number {
    return this._momentum;
  }

  set momentum(value: number) {
    const where = 'SGD.momentum';
    this.checkIdle(where);
    this._momentum = this.checkMomentum(where, checkSetting(where, 'momentum', value, nonNegative, 'a non-negative number'));
  }

  protected override checkScheduledMomentum(where: string, momentum: number): void {
    this.checkMomentum(where, momentum);
  }

  protected override setScheduledMomentum(momentum: number): void {
    this._momentum = momentum;
  }

  private checkMomentum(where: string, momentum: number): number {
    if (momentum !== 0 && this.appliedInBackward) throw new RangeError(`${where}: SGD applied in backward takes no momentum (its sparse form), got ${momentum}`);
    if (momentum !== 0) {
      this.tables.forEach((table, index) => {
        if (this.takesSparseRows(table)) throw new RangeError(`${where}: params[${index}] ${sparseRowsReason(table)}, which SGD takes only without momentum (as in torch), got ${momentum}`);
      });
    }
    return momentum;
  }

  protected override loadSettings(where: string, options: Record<string, unknown>): () => void {
    const setLr = super.loadSettings(where, options);
    const momentum = options.momentum === undefined ? this._momentum
      : this.checkMomentum(where, checkSetting(where, 'options.momentum', options.momentum, Number.isFinite, 'a finite number'));
    return () => {
      setLr();
      this._momentum = momentum;
    };
  }

  protected override checkTable(table: EmbeddingTable, index: number): void {
    if (this.takesSparseRows(table) && (this.momentum !== 0 || this.weightDecay !== 0)) {
      throw new RangeError(`SGD: params[${index}] ${sparseRowsReason(table)}, which SGD takes only without momentum and weightDecay (as in torch)`);
    }
  }

  protected get options() {
    return { lr: this.lr, momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  /** Sparse gradients (taken without momentum and weight decay) as torch adds them: entry by entry. */
  protected override perEntryMultiplier(): number {
    return -this.lr;
  }

  protected scalars(state: TableState, sparse: boolean): Float64Array {
    return scalars({
      rule: OPTIMIZER_RULES.sgd,
      lr: -this.lr,
      a: this.momentum,
      b: 1 - this.dampening,
      weightDecay: sparse ? 0 : this.weightDecay,
      firstStep: state.buffers.momentumBuffer === null ? 1 : 0,
      nesterov: this.nesterov ? 1 : 0,
    });
  }

  protected buffers(table: EmbeddingTable, state: TableState): [Float32Array | null, null, null] {
    // torch starts the momentum buffer as a copy of the first gradient: the kernel writes it.
    return [this.momentum !== 0 ? this.buffer(table, state, 'momentumBuffer') : null, null, null];
  }
}

export interface AdagradOptions extends RoundingOptions {
  lr?: number;
  lrDecay?: number;
  weightDecay?: number;
  initialAccumulatorValue?: number;
  eps?: number;
}

/** torch.optim.Adagrad. Sparse gradients are accepted without weight decay, as in torch. */
export class Adagrad extends TableOptimizer {
  declare readonly lrDecay: number;
  declare readonly weightDecay: number;
  declare readonly initialAccumulatorValue: number;
  declare readonly eps: number;

  constructor(params: Trainable[], options?: AdagradOptions) {
    super('Adagrad', params, ['sum']);
    const defaults = { lr: 0.01, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 };
    const { lr, ...fixed } = nonNegativeOptions('Adagrad', options, defaults);
    this._lr = lr;
    defineReadonly<Adagrad>(this, fixed);
    this.checkTables();
    this.setRounding(options);
  }

  protected override checkTable(table: EmbeddingTable, index: number): void {
    if (this.takesSparseRows(table) && this.weightDecay !== 0) {
      throw new RangeError(`Adagrad: params[${index}] ${sparseRowsReason(table)}, which Adagrad takes only without weightDecay (as in torch)`);
    }
  }

  protected get options() {
    return { lr: this.lr, lrDecay: this.lrDecay, weightDecay: this.weightDecay, initialAccumulatorValue: this.initialAccumulatorValue, eps: this.eps };
  }

  protected scalars(state: TableState, sparse: boolean): Float64Array {
    const clr = this.lr / (1 + (state.step - 1) * this.lrDecay);
    return scalars({ rule: OPTIMIZER_RULES.adagrad, lr: -clr, eps: this.eps, weightDecay: sparse ? 0 : this.weightDecay });
  }

  protected buffers(table: EmbeddingTable, state: TableState): [Float32Array, null, null] {
    return [this.buffer(table, state, 'sum', this.initialAccumulatorValue), null, null];
  }
}

export interface AdamOptions extends RoundingOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

/** The optimizers with Adam's betas (Adam, AdamW, SparseAdam): betas read-write, as torch's param_groups[0]['betas']. */
abstract class BetasOptimizer extends TableOptimizer {
  protected _betas: readonly [number, number] = [0.9, 0.999];

  /** The pair (beta1, beta2), a frozen array; assign a new pair to change it (OneCycleLR cycles beta1). */
  get betas(): readonly [number, number] {
    return this._betas;
  }

  set betas(value: readonly [number, number]) {
    const where = `${this.name}.betas`;
    this.checkIdle(where);
    this._betas = checkBetas(where, value, 'betas');
  }

  protected override checkScheduledMomentum(): void {}

  protected override setScheduledMomentum(beta1: number): void {
    this._betas = Object.freeze([beta1, this._betas[1]] as const);
  }

  protected override loadSettings(where: string, options: Record<string, unknown>): () => void {
    const setLr = super.loadSettings(where, options);
    // Any finite pair: a scheduler may have set beta1 out of [0, 1) (see [SCHEDULED]).
    const betas = options.betas === undefined ? this._betas : checkBetas(where, options.betas, 'options.betas', Number.isFinite, 'a finite number');
    return () => {
      setLr();
      this._betas = betas;
    };
  }
}

abstract class AdamFamily extends BetasOptimizer {
  declare readonly eps: number;
  declare readonly weightDecay: number;
  declare readonly amsgrad: boolean;

  protected constructor(name: string, params: Trainable[], options: AdamOptions | undefined, defaultWeightDecay: number) {
    super(name, params, ['expAvg', 'expAvgSq', 'maxExpAvgSq']);
    const o = checkOptions<AdamOptions>(name, options, ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', ...ROUNDING_OPTIONS]);
    this._lr = checkNumberOption(name, 'lr', o.lr, 0.001, nonNegative, 'a non-negative number');
    this._betas = checkBetas(name, o.betas);
    defineReadonly<AdamFamily>(this, {
      eps: checkNumberOption(name, 'eps', o.eps, 1e-8, nonNegative, 'a non-negative number'),
      weightDecay: checkNumberOption(name, 'weightDecay', o.weightDecay, defaultWeightDecay, nonNegative, 'a non-negative number'),
      amsgrad: checkBoolean(name, 'options.amsgrad', o.amsgrad, false),
    });
    this.checkTables();
    this.setRounding(options);
  }

  protected override checkTable(table: EmbeddingTable, index: number): void {
    if (this.takesSparseRows(table)) {
      throw new RangeError(`${this.name}: params[${index}] ${sparseRowsReason(table)}, which ${this.name} does not support; use SparseAdam (as torch suggests)`);
    }
  }

  protected get options() {
    return { lr: this.lr, betas: [...this.betas], eps: this.eps, weightDecay: this.weightDecay, amsgrad: this.amsgrad };
  }

  protected adamScalars(state: TableState, weightDecay: number, decay: number): Float64Array {
    const [beta1, beta2] = this.betas;
    const biasCorrection1 = 1 - beta1 ** state.step;
    const biasCorrection2 = 1 - beta2 ** state.step;
    return scalars({
      rule: OPTIMIZER_RULES.adam,
      lr: -(this.lr / biasCorrection1),
      a: beta1,
      b: beta2,
      c: Math.sqrt(biasCorrection2),
      oneMinusA: 1 - beta1,
      oneMinusB: 1 - beta2,
      eps: this.eps,
      weightDecay,
      decay,
    });
  }

  protected buffers(table: EmbeddingTable, state: TableState): [Float32Array, Float32Array, Float32Array | null] {
    return [
      this.buffer(table, state, 'expAvg'),
      this.buffer(table, state, 'expAvgSq'),
      this.amsgrad ? this.buffer(table, state, 'maxExpAvgSq') : null,
    ];
  }
}

/** torch.optim.Adam (dense gradients only). */
export class Adam extends AdamFamily {
  constructor(params: Trainable[], options?: AdamOptions) {
    super('Adam', params, options, 0);
  }

  protected scalars(state: TableState): Float64Array {
    return this.adamScalars(state, this.weightDecay, 1);
  }
}

/** torch.optim.AdamW: decoupled weight decay, default 0.01 (dense gradients only). */
export class AdamW extends AdamFamily {
  constructor(params: Trainable[], options?: AdamOptions) {
    super('AdamW', params, options, 0.01);
  }

  protected scalars(state: TableState): Float64Array {
    return this.adamScalars(state, 0, 1 - this.lr * this.weightDecay);
  }
}

export interface SparseAdamOptions extends RoundingOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
}

/** torch.optim.SparseAdam: lazy moments, updated only for the rows a step touches (sparse gradients only). */
export class SparseAdam extends BetasOptimizer {
  protected override readonly sparseOnly = true;
  declare readonly eps: number;

  constructor(params: Trainable[], options?: SparseAdamOptions) {
    super('SparseAdam', params, ['expAvg', 'expAvgSq']);
    const where = 'SparseAdam';
    const o = checkOptions<SparseAdamOptions>(where, options, ['lr', 'betas', 'eps', ...ROUNDING_OPTIONS]);
    this._lr = checkNumberOption(where, 'lr', o.lr, 0.001, nonNegative, 'a non-negative number');
    this._betas = checkBetas(where, o.betas);
    defineReadonly<SparseAdam>(this, { eps: checkNumberOption(where, 'eps', o.eps, 1e-8, nonNegative, 'a non-negative number') });
    this.checkTables();
    this.setRounding(options);
  }

  protected get options() {
    return { lr: this.lr, betas: [...this.betas], eps: this.eps };
  }

  protected scalars(state: TableState): Float64Array {
    const [beta1, beta2] = this.betas;
    const biasCorrection1 = 1 - beta1 ** state.step;
    const biasCorrection2 = 1 - beta2 ** state.step;
    return scalars({
      rule: OPTIMIZER_RULES.sparseAdam,
      lr: -((this.lr * Math.sqrt(biasCorrection2)) / biasCorrection1),
      oneMinusA: 1 - beta1,
      oneMinusB: 1 - beta2,
      eps: this.eps,
    });
  }

  protected buffers(table: EmbeddingTable, state: TableState): [Float32Array, Float32Array, null] {
    return [this.buffer(table, state, 'expAvg'), this.buffer(table, state, 'expAvgSq'), null];
  }
}

export interface RowWiseAdagradOptions extends RoundingOptions {
  lr?: number;
  eps?: number;
  weightDecay?: number;
}

/**
 * FBGEMM/TorchRec's row-wise Adagrad: one accumulator per row, h[row] += mean over the row of g²,
 * w -= lr * g / (sqrt(h[row]) + eps), with optional L2 weight decay folded into g. Dense and
 * sparse gradients. Defaults as TorchRec's: lr 0.01, eps 1e-10.
 */
export class RowWiseAdagrad extends TableOptimizer {
  declare readonly eps: number;
  declare readonly weightDecay: number;

  constructor(params: Trainable[], options?: RowWiseAdagradOptions) {
    super('RowWiseAdagrad', params, ['sum']);
    const { lr, ...fixed } = nonNegativeOptions('RowWiseAdagrad', options, { lr: 0.01, eps: 1e-10, weightDecay: 0 });
    this._lr = lr;
    defineReadonly<RowWiseAdagrad>(this, fixed);
    this.checkTables();
    this.setRounding(options);
  }

  protected get options() {
    return { lr: this.lr, eps: this.eps, weightDecay: this.weightDecay };
  }

  protected override bufferLength(table: EmbeddingTable): number {
    return table.numEmbeddings;
  }

  protected scalars(): Float64Array {
    return scalars({ rule: OPTIMIZER_RULES.rowwiseAdagrad, lr: this.lr, eps: this.eps, weightDecay: this.weightDecay });
  }

  protected buffers(table: EmbeddingTable, state: TableState): [Float32Array, null, null] {
    return [this.buffer(table, state, 'sum'), null, null];
  }
}

export type SparseCapableOptimizer = SGD | Adagrad | SparseAdam | RowWiseAdagrad;

/**
 * TorchRec's apply_optimizer_in_backward: fuses the optimizer into the layers' backward, so that
 * each backward() sums its rows' gradients and updates the touched rows at once — no dense
 * gradient, no sparseGrad list, no step() to call. The training loop is forward, backward:
 *
 *   const opt = applyOptimizerInBackward(RowWiseAdagrad, [users, items], { lr: 0.05 });
 *   const out = users.forward(ids); ...; users.backward(ids, gradOut); // updated in place
 *
 * Each backward is one optimizer step, with exactly the numbers of a sparse layer's backward
 * followed by step(). Supported: SGD (without momentum and weight decay), Adagrad (without weight
 * decay), SparseAdam and RowWiseAdagrad; an EmbeddingBag in mode 'max' cannot be fused. Returns the
 * optimizer, for stateDict() and loadStateDict().
 */
export function applyOptimizerInBackward<O extends SparseCapableOptimizer, Options>(
  optimizerClass: new (params: Trainable[], options: Options) => O,
  params: Trainable[],
  options: Options,
): O {
  const where = 'applyOptimizerInBackward';
  const supported: unknown[] = [SGD, Adagrad, SparseAdam, RowWiseAdagrad];
  if (!supported.includes(optimizerClass)) {
    throw new TypeError(`${where}: the optimizer must be SGD, Adagrad, SparseAdam or RowWiseAdagrad, got ${describe((optimizerClass as { name?: string })?.name ?? optimizerClass)}`);
  }
  checkParams(where, params);
  params.forEach((param, i) => {
    if ((param as EmbeddingBag).mode === 'max') throw new RangeError(`${where}: params[${i}] is an EmbeddingBag in mode 'max', whose gradient is not per row`);
  });
  const optimizer = new optimizerClass(params, options);
  if (optimizer instanceof SGD && (optimizer.momentum !== 0 || optimizer.weightDecay !== 0)) {
    throw new RangeError(`${where}: SGD applies in backward only without momentum and weightDecay (its sparse form)`);
  }
  if (optimizer instanceof Adagrad && optimizer.weightDecay !== 0) {
    throw new RangeError(`${where}: Adagrad applies in backward only without weightDecay (its sparse form)`);
  }
  optimizer.attachToBackward();
  return optimizer;
}
