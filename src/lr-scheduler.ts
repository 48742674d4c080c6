// Learning-rate schedulers with torch.optim.lr_scheduler's semantics (PyTorch 1.13), for this
// package's optimizers: the same formulas in the same order of operations (the chainable forms
// step() uses, and the closed forms SequentialLR restarts a scheduler with), the same defaults, the
// options camelCased. An optimizer here has one parameter group, so the rates are arrays of one, as
// torch's get_last_lr() returns them.
//
// torch keeps a few values on the optimizer's param group rather than on the scheduler:
// 'initial_lr' (set by the first scheduler built on an optimizer, read by every later one and by
// SequentialLR) and OneCycleLR's 'max_lr', 'min_lr', 'max_momentum', 'base_momentum'. They are kept
// per optimizer here (OPTIMIZER_GROUP), as torch shares them.
//
// A step that would give the optimizer a NaN or infinite rate (only odd options do that) throws a
// RangeError and leaves the scheduler and the optimizer as they were. A negative rate is set, as
// torch sets it: OneCycleLR's linear anneal reaches one at its last step (step totalSteps), a
// rate past the end of the cycle that a loop of totalSteps batches never trains with.
import { Adam, AdamW, Adagrad, RowWiseAdagrad, SCHEDULED, SGD, SparseAdam } from './optim.js';
import { checkBoolean, checkNumberOption, checkOptions, defineReadonly, describe } from './validate.js';

/** The optimizers a scheduler drives (each has one parameter group: one lr). */
export type ScheduledOptimizer = SGD | Adagrad | Adam | AdamW | SparseAdam | RowWiseAdagrad;

const OPTIMIZER_CLASSES: unknown[] = [SGD, Adagrad, Adam, AdamW, SparseAdam, RowWiseAdagrad];

/** torch's extra param-group entries, per optimizer. */
interface OptimizerGroup {
  initialLr?: number;
  maxLr?: number;
  minLr?: number;
  maxMomentum?: number;
  baseMomentum?: number;
}

const OPTIMIZER_GROUP = new WeakMap<object, OptimizerGroup>();

function groupOf(optimizer: ScheduledOptimizer): OptimizerGroup {
  let group = OPTIMIZER_GROUP.get(optimizer);
  if (group === undefined) {
    group = {};
    OPTIMIZER_GROUP.set(optimizer, group);
  }
  return group;
}

function checkOptimizer(where: string, optimizer: unknown): ScheduledOptimizer {
  if (optimizer === null || typeof optimizer !== 'object' || !OPTIMIZER_CLASSES.some((c) => optimizer instanceof (c as new () => object))) {
    throw new TypeError(`${where}: optimizer must be one of this package's optimizers (SGD, Adagrad, Adam, AdamW, SparseAdam, RowWiseAdagrad), got ${describe(optimizer)}`);
  }
  return optimizer as ScheduledOptimizer;
}

/** The momentum torch's schedulers cycle: SGD's momentum ('momentum'), or beta1 of the Adam family ('betas'). */
type MomentumKind = 'momentum' | 'betas' | null;

function momentumKind(optimizer: ScheduledOptimizer): MomentumKind {
  if (optimizer instanceof SGD) return 'momentum';
  if (optimizer instanceof Adam || optimizer instanceof AdamW || optimizer instanceof SparseAdam) return 'betas';
  return null;
}

function currentMomentum(optimizer: ScheduledOptimizer): number {
  return optimizer instanceof SGD ? optimizer.momentum : (optimizer as Adam).betas[0];
}

/**
 * Whether cycling momentum is possible for this optimizer: SGD with sparse layers, or applied in
 * backward, takes no momentum (its sparse form), so cycling it would fail at the first step.
 */
function checkCyclesMomentum(where: string, optimizer: ScheduledOptimizer, kinds: MomentumKind[]): void {
  const kind = momentumKind(optimizer);
  if (kind === null || !kinds.includes(kind)) {
    const wants = kinds.includes('betas') ? 'momentum or betas (SGD, Adam, AdamW, SparseAdam)' : 'momentum (SGD)';
    throw new RangeError(`${where}: cycleMomentum needs an optimizer with ${wants}, got ${optimizer.name}; pass cycleMomentum: false (as in torch)`);
  }
  if (optimizer instanceof SGD && optimizer.tables.some((table) => table.sparse || table.dtype !== 'float32')) {
    throw new RangeError(`${where}: cycleMomentum would give SGD momentum, which it does not take for sparse layers or float16/bfloat16 tables; pass cycleMomentum: false`);
  }
}


// ------------------------------------------------------------------ option checks

const finite = (x: number) => Number.isFinite(x);
const nonNegative = (x: number) => Number.isFinite(x) && x >= 0;
const positive = (x: number) => Number.isFinite(x) && x > 0;
const positiveInteger = (x: number) => Number.isSafeInteger(x) && x > 0;
const nonNegativeInteger = (x: number) => Number.isSafeInteger(x) && x >= 0;
const unit = (x: number) => x >= 0 && x <= 1;

/** A numeric option: its default (undefined: required), the test it must pass, and what that test says. */
type NumberSpec = readonly [fallback: number | undefined, valid: (x: number) => boolean, rule: string];

const POSITIVE_INTEGER: NumberSpec = [undefined, positiveInteger, 'a positive integer'];
const nonNegativeNumber = (fallback: number | undefined): NumberSpec => [fallback, nonNegative, 'a non-negative number'];

/** Options that are all numbers, each checked by its spec (any other option is refused). */
function checkNumbers<K extends string>(where: string, options: unknown, specs: Record<K, NumberSpec>): Record<K, number> {
  const o = checkOptions<Partial<Record<K, unknown>>>(where, options ?? {}, Object.keys(specs));
  const values = {} as Record<K, number>;
  for (const name of Object.keys(specs) as K[]) {
    const [fallback, valid, rule] = specs[name];
    values[name] = checkNumberOption(where, name, o[name], fallback, valid, rule);
  }
  return values;
}

function checkChoice<T extends string>(where: string, name: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  const message = `${where}: options.${name} must be ${choices.map((c) => `'${c}'`).join(' or ')}, got ${describe(value)}`;
  if (typeof value !== 'string') throw new TypeError(message);
  if (!(choices as readonly string[]).includes(value)) throw new RangeError(message);
  return value as T;
}

function checkMilestones(where: string, value: unknown): number[] {
  if (!Array.isArray(value)) throw new TypeError(`${where}: options.milestones must be an array of epochs, got ${describe(value)}`);
  value.forEach((m: unknown, i) => checkNumberOption(where, `milestones[${i}]`, m, undefined, nonNegativeInteger, 'a non-negative integer'));
  return [...(value as number[])];
}

function checkFunction<F>(where: string, name: string, value: unknown, required: boolean): F | null {
  if (value === undefined && !required) return null;
  if (typeof value !== 'function') throw new TypeError(`${where}: options.${name} must be a function, got ${describe(value)}`);
  return value as F;
}

/** A value a user's function returned, as the number torch would use. */
function checkReturned(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${where}: options.${name} must return a number, got ${describe(value)}`);
  return value;
}

// ------------------------------------------------------------------ state dicts

/** What stateDict() returns: the scheduler's name, its options (functions left out) and its progress. */
export interface SchedulerStateDict {
  scheduler: string;
  options: Record<string, unknown>;
  state: Record<string, unknown>;
}

type Progress = Record<string, number | number[] | SchedulerStateDict[]>;

/**
 * Progress as stateDict() gives it, JSON-safe: a number that is not finite (ReduceLROnPlateau's
 * best before any improvement is +-Infinity, after NaN metrics NaN) as its string.
 */
function encodeProgress(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) return value.map(encodeProgress);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeProgress(v)]));
  return value;
}

/** encodeProgress's strings back to numbers (other values as they are). */
function decodeNumbers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeNumbers);
  return value === 'Infinity' ? Infinity : value === '-Infinity' ? -Infinity : value === 'NaN' ? NaN : value;
}

/** JSON-comparable options: functions become null, as torch's state_dict() drops lambdas. */
function comparableOptions(options: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).map(([key, value]) => [key, typeof value === 'function' ? null : Array.isArray(value) ? [...value] : value]));
}

/** A numeric progress field of a state dict checked against the shape of the current one. */
function checkProgressValue(where: string, key: string, saved: unknown, current: unknown): void {
  if (typeof current === 'number') {
    if (typeof saved !== 'number') throw new TypeError(`${where}: state.${key} must be a number, got ${describe(saved)}`);
    return;
  }
  if (!Array.isArray(saved) || saved.length !== (current as unknown[]).length || saved.some((v) => typeof v !== 'number')) {
    throw new TypeError(`${where}: state.${key} must be an array of ${(current as unknown[]).length} numbers, got ${describe(saved)}`);
  }
}

/** The common part of every scheduler: the optimizer, its name, stateDict and loadStateDict. */
abstract class Scheduler {
  declare readonly name: string;
  declare readonly optimizer: ScheduledOptimizer;
  protected _lastLr: number[];

  protected constructor(name: string, optimizer: ScheduledOptimizer) {
    defineReadonly<Scheduler>(this, { name, optimizer });
    this._lastLr = [optimizer.lr];
  }

  /** The options as checked, with defaults filled in (for stateDict). */
  protected abstract readonly settings: object;

  protected get options(): Record<string, unknown> {
    return { ...this.settings };
  }

  /** Every value a step changes, for stateDict and for undoing a step that fails. */
  protected abstract progress(): Progress;

  /** Restores what progress() returned (already checked). */
  protected abstract restore(progress: Progress): void;

  /** The rates the last step set (torch's get_last_lr()): an array of one, copied. */
  getLastLr(): number[] {
    return [...this._lastLr];
  }

  /**
   * The scheduler's options and progress, to resume a run with loadStateDict (load the optimizer's
   * state dict too); JSON-safe (numbers that are not finite as strings).
   */
  stateDict(): SchedulerStateDict {
    return { scheduler: this.name, options: comparableOptions(this.options), state: encodeProgress(this.progress()) as Record<string, unknown> };
  }

  /**
   * Restores what stateDict() returned, for a scheduler built with the same options (a dict of other
   * options is a RangeError naming the first that differs); checked first, so a failed call changes
   * nothing. Load the optimizer's state dict as well: the optimizer holds the current rate.
   */
  loadStateDict(dict: SchedulerStateDict): void {
    this.prepareLoad(`${this.name}.loadStateDict`, dict)();
  }

  /** loadStateDict's checks; returns what commits it (SequentialLR and ChainedScheduler check every part first). */
  prepareLoad(where: string, dict: unknown): () => void {
    if (dict === null || typeof dict !== 'object') throw new TypeError(`${where}: expected a state dict of ${this.name}, got ${describe(dict)}`);
    const { scheduler, options, state } = dict as Partial<SchedulerStateDict>;
    if (scheduler !== this.name) throw new TypeError(`${where}: expected a state dict of ${this.name}, got one of ${describe(scheduler)}`);
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object, got ${describe(options)}`);
    if (state === null || typeof state !== 'object') throw new TypeError(`${where}: state must be an object, got ${describe(state)}`);
    const mine = comparableOptions(this.options);
    for (const key of new Set([...Object.keys(mine), ...Object.keys(options)])) {
      if (JSON.stringify(mine[key]) !== JSON.stringify((options as Record<string, unknown>)[key])) {
        throw new RangeError(`${where}: the state dict's options.${key} is ${JSON.stringify((options as Record<string, unknown>)[key])}, this ${this.name}'s is ${JSON.stringify(mine[key])}`);
      }
    }
    return this.prepareProgress(where, this.progress(), state as Record<string, unknown>);
  }

  protected prepareProgress(where: string, current: Progress, state: Record<string, unknown>): () => void {
    const decoded = Object.fromEntries(Object.keys(current).map((key) => [key, decodeNumbers(state[key])]));
    for (const key of Object.keys(current)) checkProgressValue(where, key, decoded[key], current[key]);
    const loaded = structuredClone(decoded) as Progress;
    return () => this.restore(loaded);
  }

  /** Runs a change of progress and rates; if it throws, the scheduler's progress is as it was. */
  protected undoable(change: () => void): void {
    const saved = this.progress();
    try {
      change();
    } catch (error) {
      this.restore(saved);
      throw error;
    }
  }
}

/** torch's _LRScheduler: a step count, a last epoch, base rates from the optimizer's initial_lr. */
abstract class EpochScheduler extends Scheduler {
  protected lastEpoch = -1;
  protected stepCount = 0;
  protected baseLrs: number[];
  /** The momentum (or beta1) getLr() computed for setRate() to set after the lr (CyclicLR, OneCycleLR). */
  protected nextMomentum: number | null = null;

  protected constructor(name: string, optimizer: unknown) {
    const checked = checkOptimizer(name, optimizer);
    super(name, checked);
    const group = groupOf(checked);
    group.initialLr ??= checked.lr;
    this.baseLrs = [group.initialLr];
  }

  /** torch's _initial_step(): each subclass's constructor ends with it, once its options are set. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** Advances the schedule by one (call it after optimizer.step(), as torch expects) and sets the optimizer's lr. */
  step(): void {
    this.undoable(() => {
      this.stepCount += 1;
      this.lastEpoch += 1;
      this.setRate(this.getLr());
    });
  }

  /** torch's scheduler.step(epoch) as SequentialLR uses it: the closed form at `epoch` where there is one. */
  restartAt(epoch: number): void {
    this.undoable(() => {
      this.stepCount += 1;
      this.lastEpoch = epoch;
      this.setRate(this.closedFormLr() ?? this.getLr());
    });
  }

  /** The chainable form: the next rate from the optimizer's current one. */
  protected abstract getLr(): number;

  /** The rate at lastEpoch from the base rate alone, for the schedulers torch gives one. */
  protected closedFormLr(): number | null {
    return null;
  }

  /**
   * Sets the optimizer's lr and the momentum getLr() computed, if any, together (a NaN or infinite
   * value is refused: then neither has changed).
   */
  protected setRate(lr: number): void {
    const momentum = this.nextMomentum;
    this.nextMomentum = null;
    this.optimizer[SCHEDULED](`${this.name}.step`, lr, momentum);
    this._lastLr = [lr];
  }

  protected progress(): Progress {
    return { lastEpoch: this.lastEpoch, stepCount: this.stepCount, baseLrs: [...this.baseLrs], lastLr: [...this._lastLr] };
  }

  protected restore(progress: Progress): void {
    this.lastEpoch = progress.lastEpoch as number;
    this.stepCount = progress.stepCount as number;
    this.baseLrs = [...(progress.baseLrs as number[])];
    this._lastLr = [...(progress.lastLr as number[])];
  }

  protected get lr(): number {
    return this.optimizer.lr;
  }
}

// ------------------------------------------------------------------ the schedulers

export interface LambdaLROptions {
  /** The factor of the initial lr at each epoch: lr = initial lr * lrLambda(epoch). */
  lrLambda: (epoch: number) => number;
}

/** torch.optim.lr_scheduler.LambdaLR. */
export class LambdaLR extends EpochScheduler {
  protected readonly settings: LambdaLROptions;

  constructor(optimizer: ScheduledOptimizer, options: LambdaLROptions) {
    super('LambdaLR', optimizer);
    this.settings = checkLambdaOptions('LambdaLR', options);
    this.initialStep();
  }

  protected getLr(): number {
    return this.baseLrs[0]! * checkReturned(this.name, 'lrLambda', this.settings.lrLambda(this.lastEpoch));
  }
}

function checkLambdaOptions(where: string, options: unknown): LambdaLROptions {
  const o = checkOptions<LambdaLROptions>(where, options ?? {}, ['lrLambda']);
  return { lrLambda: checkFunction<(epoch: number) => number>(where, 'lrLambda', o.lrLambda, true)! };
}

/** torch.optim.lr_scheduler.MultiplicativeLR: lr *= lrLambda(epoch) from the second epoch on. */
export class MultiplicativeLR extends EpochScheduler {
  protected readonly settings: LambdaLROptions;

  constructor(optimizer: ScheduledOptimizer, options: LambdaLROptions) {
    super('MultiplicativeLR', optimizer);
    this.settings = checkLambdaOptions('MultiplicativeLR', options);
    this.initialStep();
  }

  protected getLr(): number {
    return this.lastEpoch > 0 ? this.lr * checkReturned(this.name, 'lrLambda', this.settings.lrLambda(this.lastEpoch)) : this.lr;
  }
}

export interface StepLROptions {
  stepSize: number;
  gamma?: number;
}

/** torch.optim.lr_scheduler.StepLR: lr *= gamma every stepSize epochs. */
export class StepLR extends EpochScheduler {
  protected readonly settings: Record<'stepSize' | 'gamma', number>;

  constructor(optimizer: ScheduledOptimizer, options: StepLROptions) {
    super('StepLR', optimizer);
    this.settings = checkNumbers('StepLR', options, {
      stepSize: POSITIVE_INTEGER,
      gamma: nonNegativeNumber(0.1),
    });
    this.initialStep();
  }

  protected getLr(): number {
    return this.lastEpoch === 0 || this.lastEpoch % this.settings.stepSize !== 0 ? this.lr : this.lr * this.settings.gamma;
  }

  protected override closedFormLr(): number {
    return this.baseLrs[0]! * this.settings.gamma ** Math.floor(this.lastEpoch / this.settings.stepSize);
  }
}

export interface MultiStepLROptions {
  milestones: number[];
  gamma?: number;
}

/** torch.optim.lr_scheduler.MultiStepLR: lr *= gamma at each milestone (a repeated milestone counts each time). */
export class MultiStepLR extends EpochScheduler {
  protected readonly settings: { milestones: number[]; gamma: number };

  constructor(optimizer: ScheduledOptimizer, options: MultiStepLROptions) {
    super('MultiStepLR', optimizer);
    const o = checkOptions<MultiStepLROptions>('MultiStepLR', options ?? {}, ['milestones', 'gamma']);
    const milestones = checkMilestones('MultiStepLR', o.milestones);
    this.settings = { milestones: [...milestones].sort((a, b) => a - b), gamma: checkNumberOption('MultiStepLR', 'gamma', o.gamma, 0.1, nonNegative, 'a non-negative number') };
    this.initialStep();
  }

  protected getLr(): number {
    const count = this.settings.milestones.filter((m) => m === this.lastEpoch).length;
    return count === 0 ? this.lr : this.lr * this.settings.gamma ** count;
  }

  protected override closedFormLr(): number {
    return this.baseLrs[0]! * this.settings.gamma ** this.settings.milestones.filter((m) => m <= this.lastEpoch).length;
  }
}

export interface ConstantLROptions {
  factor?: number;
  totalIters?: number;
}

/** torch.optim.lr_scheduler.ConstantLR: lr * factor for the first totalIters epochs. */
export class ConstantLR extends EpochScheduler {
  protected readonly settings: Record<'factor' | 'totalIters', number>;

  constructor(optimizer: ScheduledOptimizer, options?: ConstantLROptions) {
    super('ConstantLR', optimizer);
    this.settings = checkNumbers('ConstantLR', options, {
      factor: [1 / 3, (x) => x > 0 && x <= 1, 'in (0, 1]'],
      totalIters: [5, nonNegativeInteger, 'a non-negative integer'],
    });
    this.initialStep();
  }

  protected getLr(): number {
    if (this.lastEpoch === 0) return this.lr * this.settings.factor;
    if (this.lastEpoch !== this.settings.totalIters) return this.lr;
    return this.lr * (1 / this.settings.factor);
  }

  protected override closedFormLr(): number {
    return this.baseLrs[0]! * (this.settings.factor + (this.lastEpoch >= this.settings.totalIters ? 1 : 0) * (1 - this.settings.factor));
  }
}

export interface LinearLROptions {
  startFactor?: number;
  endFactor?: number;
  totalIters?: number;
}

/** torch.optim.lr_scheduler.LinearLR: the factor of lr goes linearly from startFactor to endFactor over totalIters epochs. */
export class LinearLR extends EpochScheduler {
  protected readonly settings: Record<'startFactor' | 'endFactor' | 'totalIters', number>;

  constructor(optimizer: ScheduledOptimizer, options?: LinearLROptions) {
    super('LinearLR', optimizer);
    this.settings = checkNumbers('LinearLR', options, {
      startFactor: [1 / 3, (x) => x > 0 && x <= 1, 'in (0, 1]'],
      endFactor: [1, unit, 'in [0, 1]'],
      totalIters: [5, positiveInteger, 'a positive integer'],
    });
    this.initialStep();
  }

  protected getLr(): number {
    if (this.lastEpoch === 0) return this.lr * this.settings.startFactor;
    if (this.lastEpoch > this.settings.totalIters) return this.lr;
    const change = this.settings.endFactor - this.settings.startFactor;
    return this.lr * (1 + change / (this.settings.totalIters * this.settings.startFactor + (this.lastEpoch - 1) * change));
  }

  protected override closedFormLr(): number {
    return this.baseLrs[0]! * (this.settings.startFactor + ((this.settings.endFactor - this.settings.startFactor) * Math.min(this.settings.totalIters, this.lastEpoch)) / this.settings.totalIters);
  }
}

export interface ExponentialLROptions {
  gamma: number;
}

/** torch.optim.lr_scheduler.ExponentialLR: lr *= gamma every epoch. */
export class ExponentialLR extends EpochScheduler {
  protected readonly settings: Record<'gamma', number>;

  constructor(optimizer: ScheduledOptimizer, options: ExponentialLROptions) {
    super('ExponentialLR', optimizer);
    this.settings = checkNumbers('ExponentialLR', options, {
      gamma: nonNegativeNumber(undefined),
    });
    this.initialStep();
  }

  protected getLr(): number {
    return this.lastEpoch === 0 ? this.lr : this.lr * this.settings.gamma;
  }

  protected override closedFormLr(): number {
    return this.baseLrs[0]! * this.settings.gamma ** this.lastEpoch;
  }
}

export interface PolynomialLROptions {
  totalIters?: number;
  power?: number;
}

/** torch.optim.lr_scheduler.PolynomialLR: lr * (1 - epoch / totalIters) ** power, then constant. */
export class PolynomialLR extends EpochScheduler {
  protected readonly settings: Record<'totalIters' | 'power', number>;

  constructor(optimizer: ScheduledOptimizer, options?: PolynomialLROptions) {
    super('PolynomialLR', optimizer);
    this.settings = checkNumbers('PolynomialLR', options, {
      totalIters: [5, positiveInteger, 'a positive integer'],
      power: nonNegativeNumber(1),
    });
    this.initialStep();
  }

  protected getLr(): number {
    if (this.lastEpoch === 0 || this.lastEpoch > this.settings.totalIters) return this.lr;
    const decay = ((1 - this.lastEpoch / this.settings.totalIters) / (1 - (this.lastEpoch - 1) / this.settings.totalIters)) ** this.settings.power;
    return this.lr * decay;
  }

  protected override closedFormLr(): number {
    return this.baseLrs[0]! * (1 - Math.min(this.settings.totalIters, this.lastEpoch) / this.settings.totalIters) ** this.settings.power;
  }
}

export interface CosineAnnealingLROptions {
  tMax: number;
  etaMin?: number;
}

/** torch.optim.lr_scheduler.CosineAnnealingLR (SGDR without restarts; past tMax the cosine continues, as torch's). */
export class CosineAnnealingLR extends EpochScheduler {
  protected readonly settings: Record<'tMax' | 'etaMin', number>;

  constructor(optimizer: ScheduledOptimizer, options: CosineAnnealingLROptions) {
    super('CosineAnnealingLR', optimizer);
    this.settings = checkNumbers('CosineAnnealingLR', options, {
      tMax: POSITIVE_INTEGER,
      etaMin: nonNegativeNumber(0),
    });
    this.initialStep();
  }

  protected getLr(): number {
    const epoch = this.lastEpoch;
    const { tMax, etaMin } = this.settings;
    const base = this.baseLrs[0]!;
    if (epoch === 0) return this.lr;
    if (this.stepCount === 1 && epoch > 0) return etaMin + ((base - etaMin) * (1 + Math.cos((epoch * Math.PI) / tMax))) / 2;
    if ((epoch - 1 - tMax) % (2 * tMax) === 0) return this.lr + ((base - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2;
    return ((1 + Math.cos((Math.PI * epoch) / tMax)) / (1 + Math.cos((Math.PI * (epoch - 1)) / tMax))) * (this.lr - etaMin) + etaMin;
  }

  protected override closedFormLr(): number {
    return this.settings.etaMin + ((this.baseLrs[0]! - this.settings.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.settings.tMax))) / 2;
  }
}

export interface CosineAnnealingWarmRestartsOptions {
  t0: number;
  tMult?: number;
  etaMin?: number;
}

/** torch.optim.lr_scheduler.CosineAnnealingWarmRestarts (SGDR): a cosine over t0 epochs, restarted, each period tMult times the last. */
export class CosineAnnealingWarmRestarts extends EpochScheduler {
  protected readonly settings: Record<'t0' | 'tMult' | 'etaMin', number>;
  private tI: number;
  private tCur: number;

  constructor(optimizer: ScheduledOptimizer, options: CosineAnnealingWarmRestartsOptions) {
    super('CosineAnnealingWarmRestarts', optimizer);
    this.settings = checkNumbers('CosineAnnealingWarmRestarts', options, {
      t0: POSITIVE_INTEGER,
      tMult: [1, positiveInteger, 'an integer >= 1'],
      etaMin: nonNegativeNumber(0),
    });
    this.tI = this.settings.t0;
    this.tCur = -1;
    this.initialStep();
  }

  /** torch's step() without an epoch: the first call starts at epoch 0, later ones advance tCur and restart past tI. */
  override step(): void {
    if (this.lastEpoch < 0) {
      this.restartAt(0);
      return;
    }
    this.undoable(() => {
      this.lastEpoch += 1;
      this.tCur += 1;
      if (this.tCur >= this.tI) {
        this.tCur -= this.tI;
        this.tI *= this.settings.tMult;
      }
      this.setRate(this.getLr());
    });
  }

  /** torch's step(epoch) for an epoch below t0 (the only one SequentialLR asks for: 0). */
  override restartAt(epoch: number): void {
    this.undoable(() => {
      this.tI = this.settings.t0;
      this.tCur = epoch;
      this.lastEpoch = epoch;
      this.setRate(this.getLr());
    });
  }

  protected getLr(): number {
    const { etaMin } = this.settings;
    return etaMin + ((this.baseLrs[0]! - etaMin) * (1 + Math.cos((Math.PI * this.tCur) / this.tI))) / 2;
  }

  protected override progress(): Progress {
    return { ...super.progress(), tI: this.tI, tCur: this.tCur };
  }

  protected override restore(progress: Progress): void {
    super.restore(progress);
    this.tI = progress.tI as number;
    this.tCur = progress.tCur as number;
  }
}

export interface CyclicLROptions {
  baseLr: number;
  maxLr: number;
  stepSizeUp?: number;
  stepSizeDown?: number;
  mode?: 'triangular' | 'triangular2' | 'exp_range';
  gamma?: number;
  scaleFn?: (x: number) => number;
  scaleMode?: 'cycle' | 'iterations';
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
}

/**
 * torch.optim.lr_scheduler.CyclicLR: lr cycles between baseLr and maxLr (and, by default, SGD's
 * momentum inversely between maxMomentum and baseMomentum: torch 1.13 cycles only an optimizer
 * with 'momentum', so any other needs cycleMomentum: false). Step it after every batch.
 */
export class CyclicLR extends EpochScheduler {
  protected readonly settings: Required<Omit<CyclicLROptions, 'scaleFn' | 'stepSizeDown'>> & { stepSizeDown: number; scaleFn: ((x: number) => number) | null };
  private readonly totalSize: number;
  private readonly stepRatio: number;
  private readonly baseMomentums: number[];

  constructor(optimizer: ScheduledOptimizer, options: CyclicLROptions) {
    const where = 'CyclicLR';
    const checked = checkOptimizer(where, optimizer);
    const o = checkOptions<CyclicLROptions>(where, options ?? {}, ['baseLr', 'maxLr', 'stepSizeUp', 'stepSizeDown', 'mode', 'gamma', 'scaleFn', 'scaleMode', 'cycleMomentum', 'baseMomentum', 'maxMomentum']);
    const baseLr = checkNumberOption(where, 'baseLr', o.baseLr, undefined, nonNegative, 'a non-negative number');
    const maxLr = checkNumberOption(where, 'maxLr', o.maxLr, undefined, nonNegative, 'a non-negative number');
    const stepSizeUp = checkNumberOption(where, 'stepSizeUp', o.stepSizeUp, 2000, positive, 'a positive number');
    const stepSizeDown = checkNumberOption(where, 'stepSizeDown', o.stepSizeDown, stepSizeUp, positive, 'a positive number');
    const scaleFn = checkFunction<(x: number) => number>(where, 'scaleFn', o.scaleFn, false);
    const mode = checkChoice(where, 'mode', o.mode, ['triangular', 'triangular2', 'exp_range'] as const, 'triangular');
    const gamma = checkNumberOption(where, 'gamma', o.gamma, 1, nonNegative, 'a non-negative number');
    // torch: a custom scaleFn takes scaleMode (default 'cycle'); the built-in modes fix it.
    const scaleMode = scaleFn !== null ? checkChoice(where, 'scaleMode', o.scaleMode, ['cycle', 'iterations'] as const, 'cycle') : mode === 'exp_range' ? 'iterations' : 'cycle';
    const cycleMomentum = checkBoolean(where, 'options.cycleMomentum', o.cycleMomentum, true);
    const baseMomentum = checkNumberOption(where, 'baseMomentum', o.baseMomentum, 0.8, (x) => x >= 0 && x < 1, 'in [0, 1)');
    const maxMomentum = checkNumberOption(where, 'maxMomentum', o.maxMomentum, 0.9, (x) => x >= 0 && x < 1, 'in [0, 1)');
    if (cycleMomentum) checkCyclesMomentum(where, checked, ['momentum']);
    // Checked: now torch's constructor, in its order (the optimizer's lr and momentum change here).
    checked[SCHEDULED](where, baseLr, cycleMomentum ? baseMomentum : null);
    super(where, checked);
    this.settings = { baseLr, maxLr, stepSizeUp, stepSizeDown, mode, gamma, scaleFn, scaleMode, cycleMomentum, baseMomentum, maxMomentum };
    this.totalSize = stepSizeUp + stepSizeDown;
    this.stepRatio = stepSizeUp / this.totalSize;
    this.baseMomentums = cycleMomentum ? [currentMomentum(checked)] : [];
    this.initialStep();
    this.baseLrs = [baseLr];
  }

  private scale(x: number): number {
    const { scaleFn, mode, gamma } = this.settings;
    if (scaleFn !== null) return checkReturned(this.name, 'scaleFn', scaleFn(x));
    if (mode === 'triangular') return 1;
    if (mode === 'triangular2') return 1 / 2 ** (x - 1);
    return gamma ** x;
  }

  protected getLr(): number {
    const cycle = Math.floor(1 + this.lastEpoch / this.totalSize);
    const x = 1 + this.lastEpoch / this.totalSize - cycle;
    const scaleFactor = x <= this.stepRatio ? x / this.stepRatio : (x - 1) / (this.stepRatio - 1);
    const scale = this.scale(this.settings.scaleMode === 'cycle' ? cycle : this.lastEpoch);
    const lr = this.baseLrs[0]! + (this.settings.maxLr - this.baseLrs[0]!) * scaleFactor * scale;
    if (this.settings.cycleMomentum) {
      const { maxMomentum } = this.settings;
      this.nextMomentum = maxMomentum - (maxMomentum - this.baseMomentums[0]!) * scaleFactor * scale;
    }
    return lr;
  }
}

export interface OneCycleLROptions {
  maxLr: number;
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
}

interface Phase {
  endStep: number;
  startLr: 'initialLr' | 'maxLr' | 'minLr';
  endLr: 'initialLr' | 'maxLr' | 'minLr';
  startMomentum: 'maxMomentum' | 'baseMomentum';
  endMomentum: 'maxMomentum' | 'baseMomentum';
}

/**
 * torch.optim.lr_scheduler.OneCycleLR: lr from maxLr / divFactor up to maxLr and down to
 * initial / finalDivFactor over totalSteps steps (or epochs × stepsPerEpoch), momentum (SGD) or
 * beta1 (the Adam family) the other way unless cycleMomentum is false. Step it after every batch;
 * a step past totalSteps is a RangeError, as torch's ValueError.
 */
export class OneCycleLR extends EpochScheduler {
  protected readonly settings: Required<Omit<OneCycleLROptions, 'epochs' | 'stepsPerEpoch'>> & { epochs: number | null; stepsPerEpoch: number | null };
  private readonly phases: Phase[];

  constructor(optimizer: ScheduledOptimizer, options: OneCycleLROptions) {
    const where = 'OneCycleLR';
    const checked = checkOptimizer(where, optimizer);
    const o = checkOptions<OneCycleLROptions>(where, options ?? {}, ['maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum', 'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase']);
    let totalSteps: number;
    let epochs: number | null = null;
    let stepsPerEpoch: number | null = null;
    if (o.totalSteps !== undefined) {
      totalSteps = checkNumberOption(where, 'totalSteps', o.totalSteps, undefined, positiveInteger, 'a positive integer');
    } else {
      if (o.epochs === undefined && o.stepsPerEpoch === undefined) throw new TypeError(`${where}: options need totalSteps, or epochs and stepsPerEpoch`);
      epochs = checkNumberOption(where, 'epochs', o.epochs, undefined, positiveInteger, 'a positive integer');
      stepsPerEpoch = checkNumberOption(where, 'stepsPerEpoch', o.stepsPerEpoch, undefined, positiveInteger, 'a positive integer');
      totalSteps = epochs * stepsPerEpoch;
    }
    const maxLr = checkNumberOption(where, 'maxLr', o.maxLr, undefined, nonNegative, 'a non-negative number');
    const pctStart = checkNumberOption(where, 'pctStart', o.pctStart, 0.3, unit, 'in [0, 1]');
    const annealStrategy = checkChoice(where, 'annealStrategy', o.annealStrategy, ['cos', 'linear'] as const, 'cos');
    const cycleMomentum = checkBoolean(where, 'options.cycleMomentum', o.cycleMomentum, true);
    const baseMomentum = checkNumberOption(where, 'baseMomentum', o.baseMomentum, 0.85, (x) => x >= 0 && x < 1, 'in [0, 1)');
    const maxMomentum = checkNumberOption(where, 'maxMomentum', o.maxMomentum, 0.95, (x) => x >= 0 && x < 1, 'in [0, 1)');
    const divFactor = checkNumberOption(where, 'divFactor', o.divFactor, 25, positive, 'a positive number');
    const finalDivFactor = checkNumberOption(where, 'finalDivFactor', o.finalDivFactor, 1e4, positive, 'a positive number');
    const threePhase = checkBoolean(where, 'options.threePhase', o.threePhase, false);
    if (cycleMomentum) checkCyclesMomentum(where, checked, ['momentum', 'betas']);
    const phases: Phase[] = threePhase
      ? [
          { endStep: pctStart * totalSteps - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: 2 * pctStart * totalSteps - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
          { endStep: totalSteps - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
        ]
      : [
          { endStep: pctStart * totalSteps - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: totalSteps - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        ];
    // Checked: now torch's constructor (the optimizer's param group and momentum change here).
    const group = groupOf(checked);
    group.initialLr = maxLr / divFactor;
    group.maxLr = maxLr;
    group.minLr = group.initialLr / finalDivFactor;
    if (cycleMomentum) {
      checked[SCHEDULED](where, checked.lr, maxMomentum);
      group.maxMomentum = maxMomentum;
      group.baseMomentum = baseMomentum;
    }
    super(where, checked);
    this.settings = { maxLr, totalSteps, epochs, stepsPerEpoch, pctStart, annealStrategy, cycleMomentum, baseMomentum, maxMomentum, divFactor, finalDivFactor, threePhase };
    this.phases = phases;
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.settings.annealStrategy === 'linear') return (end - start) * pct + start;
    const cosOut = Math.cos(Math.PI * pct) + 1;
    return end + ((start - end) / 2) * cosOut;
  }

  protected getLr(): number {
    const step = this.lastEpoch;
    const { totalSteps } = this.settings;
    if (step > totalSteps) throw new RangeError(`${this.name}.step: stepped ${step + 1} times, past totalSteps = ${totalSteps}`);
    const group = groupOf(this.optimizer) as Required<OptimizerGroup>;
    let startStep = 0;
    for (const [i, phase] of this.phases.entries()) {
      if (step <= phase.endStep || i === this.phases.length - 1) {
        const pct = (step - startStep) / (phase.endStep - startStep);
        const lr = this.anneal(group[phase.startLr], group[phase.endLr], pct);
        if (this.settings.cycleMomentum) this.nextMomentum = this.anneal(group[phase.startMomentum], group[phase.endMomentum], pct);
        return lr;
      }
      startStep = phase.endStep;
    }
    throw new Error('unreachable: the last phase always applies');
  }
}

export interface SequentialLROptions {
  schedulers: EpochScheduler[];
  milestones: number[];
}

/** torch.optim.lr_scheduler.SequentialLR: schedulers in turn, the next one (restarted at epoch 0) from each milestone. */
export class SequentialLR extends Scheduler {
  private readonly schedulers: readonly EpochScheduler[];
  private readonly milestones: readonly number[];
  private lastEpoch: number;

  constructor(optimizer: ScheduledOptimizer, options: SequentialLROptions) {
    const where = 'SequentialLR';
    const checked = checkOptimizer(where, optimizer);
    const o = checkOptions<SequentialLROptions>(where, options ?? {}, ['schedulers', 'milestones']);
    const schedulers = checkSchedulers(where, o.schedulers, checked);
    const milestones = checkMilestones(where, o.milestones);
    if (milestones.length !== schedulers.length - 1) {
      throw new RangeError(`${where}: options.milestones must have one entry fewer than options.schedulers (${schedulers.length}), got ${milestones.length}`);
    }
    super(where, checked);
    this.schedulers = Object.freeze([...schedulers]);
    this.milestones = Object.freeze(milestones);
    this.lastEpoch = 0;
    // torch: reset the lr to the initial one, undo the schedulers' initial steps, redo the first's.
    checked[SCHEDULED](where, groupOf(checked).initialLr!, null);
    for (const scheduler of schedulers) scheduler['lastEpoch'] -= 1;
    schedulers[0]!['initialStep']();
    this._lastLr = schedulers[0]!.getLastLr();
  }

  protected get settings() {
    return { schedulers: this.schedulers.map((s) => s.name), milestones: [...this.milestones] };
  }

  /** Advances the current scheduler; at a milestone, starts the next one from epoch 0. */
  step(): void {
    const epoch = this.lastEpoch + 1;
    const index = this.milestones.filter((m) => m <= epoch).length;
    const scheduler = this.schedulers[index]!;
    if (index > 0 && this.milestones[index - 1] === epoch) scheduler.restartAt(0);
    else scheduler.step();
    this.lastEpoch = epoch;
    this._lastLr = scheduler.getLastLr();
  }

  protected progress(): Progress {
    return { lastEpoch: this.lastEpoch, lastLr: [...this._lastLr], schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  protected restore(progress: Progress): void {
    this.lastEpoch = progress.lastEpoch as number;
    this._lastLr = [...(progress.lastLr as number[])];
  }

  protected override prepareProgress(where: string, current: Progress, state: Record<string, unknown>): () => void {
    return prepareChained(where, this.schedulers, state, super.prepareProgress(where, { lastEpoch: current.lastEpoch!, lastLr: current.lastLr! }, state));
  }
}

/** torch.optim.lr_scheduler.ChainedScheduler: every scheduler's step() at each step, in order. */
export class ChainedScheduler extends Scheduler {
  private readonly schedulers: readonly EpochScheduler[];

  constructor(schedulers: EpochScheduler[]) {
    const where = 'ChainedScheduler';
    const first: unknown = Array.isArray(schedulers) ? (schedulers[0] as unknown as { optimizer?: unknown } | undefined)?.optimizer : undefined;
    const checked = checkSchedulers(where, schedulers, first, 'schedulers');
    super(where, checked[0]!.optimizer);
    this.schedulers = Object.freeze([...checked]);
  }

  protected get settings() {
    return { schedulers: this.schedulers.map((s) => s.name) };
  }

  step(): void {
    for (const scheduler of this.schedulers) scheduler.step();
    this._lastLr = [this.optimizer.lr];
  }

  protected progress(): Progress {
    return { lastLr: [...this._lastLr], schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  protected restore(progress: Progress): void {
    this._lastLr = [...(progress.lastLr as number[])];
  }

  protected override prepareProgress(where: string, current: Progress, state: Record<string, unknown>): () => void {
    return prepareChained(where, this.schedulers, state, super.prepareProgress(where, { lastLr: current.lastLr! }, state));
  }
}

function checkSchedulers(where: string, value: unknown, optimizer: unknown, name = 'options.schedulers'): EpochScheduler[] {
  if (!Array.isArray(value) || value.length === 0) throw new TypeError(`${where}: ${name} must be a non-empty array of schedulers, got ${describe(value)}`);
  value.forEach((scheduler: unknown, i) => {
    if (!(scheduler instanceof EpochScheduler)) {
      throw new TypeError(`${where}: ${name}[${i}] must be a scheduler other than ReduceLROnPlateau, SequentialLR or ChainedScheduler, got ${describe(scheduler)}`);
    }
    if (scheduler.optimizer !== optimizer) throw new RangeError(`${where}: ${name}[${i}] belongs to another optimizer (all must share one, as in torch)`);
  });
  return value as EpochScheduler[];
}

/** The wrapped schedulers' parts of a SequentialLR/ChainedScheduler state dict, each checked before any loads. */
function prepareChained(where: string, schedulers: readonly EpochScheduler[], state: Record<string, unknown>, own: () => void): () => void {
  const saved: unknown = state.schedulers;
  if (!Array.isArray(saved) || saved.length !== schedulers.length) {
    throw new TypeError(`${where}: state.schedulers must be an array of ${schedulers.length} state dicts, got ${describe(saved)}`);
  }
  const commits = schedulers.map((scheduler, i) => scheduler.prepareLoad(`${where}: state.schedulers[${i}]`, saved[i]));
  return () => {
    own();
    for (const commit of commits) commit();
  };
}

export interface ReduceLROnPlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number;
  eps?: number;
}

/**
 * torch.optim.lr_scheduler.ReduceLROnPlateau: lr *= factor (not below minLr) once the metric given
 * to step(metric) has not improved for more than `patience` steps, then waits `cooldown` steps.
 */
export class ReduceLROnPlateau extends Scheduler {
  protected readonly settings: Required<ReduceLROnPlateauOptions>;
  private lastEpoch = 0;
  private best: number;
  private numBadEpochs = 0;
  private cooldownCounter = 0;

  constructor(optimizer: ScheduledOptimizer, options?: ReduceLROnPlateauOptions) {
    const where = 'ReduceLROnPlateau';
    const checked = checkOptimizer(where, optimizer);
    const o = checkOptions<ReduceLROnPlateauOptions>(where, options, ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps']);
    const settings: Required<ReduceLROnPlateauOptions> = {
      mode: checkChoice(where, 'mode', o.mode, ['min', 'max'] as const, 'min'),
      factor: checkNumberOption(where, 'factor', o.factor, 0.1, (x) => x >= 0 && x < 1, 'in [0, 1)'),
      patience: checkNumberOption(where, 'patience', o.patience, 10, nonNegativeInteger, 'a non-negative integer'),
      threshold: checkNumberOption(where, 'threshold', o.threshold, 1e-4, finite, 'a finite number'),
      thresholdMode: checkChoice(where, 'thresholdMode', o.thresholdMode, ['rel', 'abs'] as const, 'rel'),
      cooldown: checkNumberOption(where, 'cooldown', o.cooldown, 0, nonNegativeInteger, 'a non-negative integer'),
      minLr: checkNumberOption(where, 'minLr', o.minLr, 0, nonNegative, 'a non-negative number'),
      eps: checkNumberOption(where, 'eps', o.eps, 1e-8, nonNegative, 'a non-negative number'),
    };
    super(where, checked);
    this.settings = settings;
    this.best = settings.mode === 'min' ? Infinity : -Infinity;
  }

  private isBetter(a: number, best: number): boolean {
    const { mode, threshold, thresholdMode } = this.settings;
    if (mode === 'min') return thresholdMode === 'rel' ? a < best * (1 - threshold) : a < best - threshold;
    return thresholdMode === 'rel' ? a > best * (threshold + 1) : a > best + threshold;
  }

  /** One epoch's metric (a NaN never counts as an improvement, as in torch). */
  step(metric: number): void {
    if (typeof metric !== 'number') throw new TypeError(`${this.name}.step: metric must be a number, got ${describe(metric)}`);
    this.undoable(() => {
      this.lastEpoch += 1;
      if (this.isBetter(metric, this.best)) {
        this.best = metric;
        this.numBadEpochs = 0;
      } else {
        this.numBadEpochs += 1;
      }
      if (this.cooldownCounter > 0) {
        this.cooldownCounter -= 1;
        this.numBadEpochs = 0;
      }
      if (this.numBadEpochs > this.settings.patience) {
        const oldLr = this.optimizer.lr;
        const newLr = Math.max(oldLr * this.settings.factor, this.settings.minLr);
        if (oldLr - newLr > this.settings.eps) this.optimizer[SCHEDULED](`${this.name}.step`, newLr, null);
        this.cooldownCounter = this.settings.cooldown;
        this.numBadEpochs = 0;
      }
      this._lastLr = [this.optimizer.lr];
    });
  }

  protected progress(): Progress {
    return { lastEpoch: this.lastEpoch, best: this.best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter, lastLr: [...this._lastLr] };
  }

  protected restore(progress: Progress): void {
    this.lastEpoch = progress.lastEpoch as number;
    this.best = progress.best as number;
    this.numBadEpochs = progress.numBadEpochs as number;
    this.cooldownCounter = progress.cooldownCounter as number;
    this._lastLr = [...(progress.lastLr as number[])];
  }
}
