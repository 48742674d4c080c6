// Table initializers with torch.nn.init's choices (normal_, uniform_, trunc_normal_, xavier_uniform_,
// xavier_normal_, zeros_, constant_), the `init` option of the layers, and initFillJs: the
// TypeScript twin of the native kernel (native/init_body.h), which gives the same bits.
//
// The generator is counter-based: element i of a table depends only on the seed and i, so a table
// is the same whatever backend, SIMD tier, thread count or split of the work made it. From the
// seed (a safe integer) come two 32-bit keys k0, k1 (seedKeys); element i's 32 random bits are
//   h = mix32(lo32(i) + k0); h = mix32(h ^ hi32(i) ^ k1)     (mix32: the "lowbias32" mixer)
// and every transform below is float32 arithmetic, one correctly rounded operation at a time
// (Math.fround after each; the kernels compile without fused multiply-add), with polynomials for
// log, sin, cos and erfinv instead of a math library's functions:
//   uniform      u = (h >>> 8) * 2^-24 in [0, 1); value = low + range * u
//   normal       Box-Muller on the pair (2k, 2k + 1): u1 = ((h(2k) >>> 8) + 1) * 2^-24 in (0, 1],
//                r = sqrt(-2 log u1) (Cephes' logf), angle = 2 pi * (h(2k + 1) >>> 8) * 2^-24 as a
//                quadrant (its top 2 bits) and a fraction f of it (sin and cos of pi/2 f by Taylor
//                polynomials); values mean + std * (r cos), mean + std * (r sin)
//   truncNormal  torch's method: p = low + range * u with low = 2 cdf(a') - 1, range = 2 cdf(b') -
//                2 cdf(a') (a' = (a - mean) / std, and so b'), then erfinv(p) (Giles' single-precision
//                polynomials), * std * sqrt(2) + mean, clamped to [a, b]
// Tables made from a seed before this generator (xoshiro128** + Math.log/cos/sin) differ.
import { noteWritten } from './table-writes.js';
import { currentBackend } from './loader.js';
import { randomSeed } from './random.js';
import { checkFloat32Array, checkInteger, checkOptions, describe } from './validate.js';

/** What the layers' `init` option and the init.* functions accept (torch.nn.init's defaults). */
export type InitSpec =
  | { kind: 'normal'; mean?: number; std?: number }
  | { kind: 'uniform'; a?: number; b?: number }
  | { kind: 'truncNormal'; mean?: number; std?: number; a?: number; b?: number }
  | { kind: 'xavierUniform'; gain?: number }
  | { kind: 'xavierNormal'; gain?: number }
  | { kind: 'constant'; value: number }
  | { kind: 'zeros' };

export type InitKind = InitSpec['kind'];

/** The kernel's kinds (native/kernels.h InitKind). */
export const INIT_KERNEL_KINDS = { normal: 0, uniform: 1, truncNormal: 2 } as const;

/**
 * How a table is filled: by the initFill kernel with params (kind, k0, k1, six floats), or with
 * a constant (0 for zeros: a fresh table is zero already).
 */
export type InitPlan = { fill: 'kernel'; params: Float64Array } | { fill: 'constant'; value: number };

const FIELDS: Record<InitKind, readonly string[]> = {
  normal: ['kind', 'mean', 'std'],
  uniform: ['kind', 'a', 'b'],
  truncNormal: ['kind', 'mean', 'std', 'a', 'b'],
  xavierUniform: ['kind', 'gain'],
  xavierNormal: ['kind', 'gain'],
  constant: ['kind', 'value'],
  zeros: ['kind'],
};

function finite(where: string, name: string, value: unknown, fallback: number | undefined): number {
  if (value === undefined) {
    if (fallback === undefined) throw new TypeError(`${where}: ${name} is required`);
    return fallback;
  }
  if (typeof value !== 'number') throw new TypeError(`${where}: ${name} must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`${where}: ${name} must be finite, got ${describe(value)}`);
  return value;
}

function positive(where: string, name: string, value: unknown, fallback: number): number {
  const x = finite(where, name, value, fallback);
  if (!(x > 0)) throw new RangeError(`${where}: ${name} must be > 0, got ${describe(x)}`);
  return x;
}

function ordered(where: string, prefix: string, a: number, b: number): void {
  if (!(a < b)) throw new RangeError(`${where}: ${prefix}a must be < ${prefix}b, got a = ${a}, b = ${b}`);
}

/**
 * The spec checked, and what fills a [rows, cols] table with it: the kernel's parameters (seed
 * keys included) or a constant. Fans as torch computes them for a 2-D weight [rows, cols]:
 * fan_in = cols, fan_out = rows.
 */
export function planInit(where: string, name: string, spec: unknown, rows: number, cols: number, seed: number): InitPlan {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new TypeError(`${where}: ${name} must be an object like { kind: 'normal', std: 0.01 }, got ${describe(spec)}`);
  }
  const s = spec as Record<string, unknown>;
  const kind = s.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(FIELDS, kind)) {
    throw new RangeError(`${where}: ${name}.kind must be one of ${Object.keys(FIELDS).map((k) => `'${k}'`).join(', ')}, got ${describe(kind)}`);
  }
  checkOptions(`${where}: ${name} of kind '${kind}'`, s, FIELDS[kind as InitKind]);
  const field = (f: string) => `${name}.${f}`;
  const [k0, k1] = seedKeys(seed);
  const kernel = (k: number, ...p: number[]): InitPlan => {
    // The kernels compute in float32: a parameter beyond its range would fill the table with infinities.
    if (!p.every((x) => Number.isFinite(Math.fround(x)))) {
      throw new RangeError(`${where}: ${name} of kind '${String(kind)}' needs parameters within float32's range (|x| < 3.4e38, and b - a too), got ${JSON.stringify(spec)}`);
    }
    const params = new Float64Array(9);
    params[0] = k;
    params[1] = k0;
    params[2] = k1;
    params.set(p, 3);
    return { fill: 'kernel', params };
  };
  switch (kind as InitKind) {
    case 'normal':
      return kernel(INIT_KERNEL_KINDS.normal, finite(where, field('mean'), s.mean, 0), positive(where, field('std'), s.std, 1));
    case 'uniform': {
      const a = finite(where, field('a'), s.a, 0);
      const b = finite(where, field('b'), s.b, 1);
      ordered(where, `${name}.`, a, b);
      return kernel(INIT_KERNEL_KINDS.uniform, a, b - a);
    }
    case 'truncNormal': {
      const mean = finite(where, field('mean'), s.mean, 0);
      const std = positive(where, field('std'), s.std, 1);
      const a = finite(where, field('a'), s.a, -2);
      const b = finite(where, field('b'), s.b, 2);
      ordered(where, `${name}.`, a, b);
      const l = normalCdf((a - mean) / std);
      const u = normalCdf((b - mean) / std);
      return kernel(INIT_KERNEL_KINDS.truncNormal, 2 * l - 1, 2 * u - 2 * l, std * Math.SQRT2, mean, a, b);
    }
    case 'xavierUniform':
    case 'xavierNormal': {
      const gain = positive(where, field('gain'), s.gain, 1);
      if (rows + cols === 0) throw new RangeError(`${where}: ${name}: Xavier needs fan_in + fan_out > 0 (the table is empty)`);
      const std = gain * Math.sqrt(2 / (cols + rows));
      if (kind === 'xavierNormal') return kernel(INIT_KERNEL_KINDS.normal, 0, std);
      const bound = Math.sqrt(3) * std;
      return kernel(INIT_KERNEL_KINDS.uniform, -bound, 2 * bound);
    }
    case 'constant':
      return { fill: 'constant', value: finite(where, field('value'), s.value, undefined) };
    case 'zeros':
      return { fill: 'constant', value: 0 };
  }
}

/** Fills `array` (its elements start, start + 1, ... of the stream) as `plan` says, on the backend in use. */
export function fillWithPlan(array: Float32Array, plan: InitPlan, fresh: boolean): void {
  if (plan.fill === 'constant') {
    if (!(fresh && Object.is(plan.value, 0))) array.fill(plan.value); // a fresh table is +0 already
    return;
  }
  currentBackend().initFill(array, plan.params, 0);
}

/** The seed's two 32-bit keys (seed: a safe integer >= 0; all 53 bits matter). */
export function seedKeys(seed: number): [number, number] {
  const lo = seed % 0x100000000;
  const hi = Math.floor(seed / 0x100000000);
  const k0 = mix32((lo ^ 0x9e3779b9) >>> 0);
  const k1 = mix32(((hi + 0x7f4a7c15) ^ k0) >>> 0);
  return [k0, k1];
}

/** mix32 on int32 values (the same bits, signed): what the fill loops use, free of doubles. */
function mix32i(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b | 0);
  return x ^ (x >>> 16);
}

/** lowbias32 (Chris Wellons' integer hash): a bijection of 32-bit words, as an unsigned value. */
export function mix32(x: number): number {
  return mix32i(x) >>> 0;
}

/** Phi(x), the standard normal CDF, in double (erf by its Taylor series or erfc's continued fraction). */
export function normalCdf(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  if (ax > 10) return x < 0 ? -1 : 1;
  // erfc(x) = exp(-x^2) / sqrt(pi) * 1 / (x + (1/2) / (x + 1 / (x + (3/2) / (x + 2 / (x + ...)))))
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

// ---- initFillJs: the kernel's twin --------------------------------------------------------------

const F = Math.fround;
const SQRTHF = F(0.707106781186547524);
const L0 = F(7.0376836292e-2), L1 = F(-1.1514610310e-1), L2 = F(1.1676998740e-1), L3 = F(-1.2420140846e-1);
const L4 = F(1.4249322787e-1), L5 = F(-1.6668057665e-1), L6 = F(2.0000714765e-1), L7 = F(-2.4999993993e-1);
const L8 = F(3.3333331174e-1);
const LE1 = F(-2.12194440e-4);
const LE2 = 0.693359375;
const HP = 1.5707963267948966;
/** HP^k as native/init_body.h writes it: HP * HP * ... left to right, in double (not Math.pow). */
function hp(k: number): number {
  let r = HP;
  for (let i = 1; i < k; i++) r = r * HP;
  return r;
}
const S11 = F(-hp(11) / 39916800), S9 = F(hp(9) / 362880), S7 = F(-hp(7) / 5040), S5 = F(hp(5) / 120);
const S3 = F(-hp(3) / 6), S1 = F(HP);
const C12 = F(hp(12) / 479001600), C10 = F(-hp(10) / 3628800), C8 = F(hp(8) / 40320), C6 = F(-hp(6) / 720);
const C4 = F(hp(4) / 24), C2 = F(-hp(2) / 2);
const TWO_M22 = 2 ** -22;
const TWO_M24 = 2 ** -24;
const TINY = 2 ** -126;
/** 2^-e for e in [0, 32]. */
const POW2_NEG = Array.from({ length: 33 }, (_, e) => 2 ** -e);
const bitsF32 = new Float32Array(1);
const bitsI32 = new Int32Array(bitsF32.buffer);

/** log(m * 2^e), m in [0.5, 1) (Cephes logf), every step rounded to float32. */
function logParts(m: number, e: number): number {
  let x: number;
  if (m < SQRTHF) {
    e = e - 1;
    x = F(F(m + m) - 1);
  } else {
    x = F(m - 1);
  }
  const z = F(x * x);
  let p = L0;
  p = F(F(p * x) + L1);
  p = F(F(p * x) + L2);
  p = F(F(p * x) + L3);
  p = F(F(p * x) + L4);
  p = F(F(p * x) + L5);
  p = F(F(p * x) + L6);
  p = F(F(p * x) + L7);
  p = F(F(p * x) + L8);
  let y = F(F(p * x) * z);
  y = F(y + F(LE1 * e));
  y = F(y + F(-0.5 * z));
  const r = F(x + y);
  return F(r + F(LE2 * e));
}

function erfinv(x: number): number {
  let t = F(F(1 - x) * F(1 + x));
  if (!(t > TINY)) t = TINY;
  bitsF32[0] = t;
  const bits = bitsI32[0]!;
  bitsI32[0] = (bits & 0x007fffff) | 0x3f000000;
  const w = -logParts(bitsF32[0]!, (bits >>> 23) - 126);
  let p: number;
  if (w < 5) {
    const v = F(w - 2.5);
    p = F(2.81022636e-8);
    p = F(F(3.43273939e-7) + F(p * v));
    p = F(F(-3.5233877e-6) + F(p * v));
    p = F(F(-4.39150654e-6) + F(p * v));
    p = F(F(0.00021858087) + F(p * v));
    p = F(F(-0.00125372503) + F(p * v));
    p = F(F(-0.00417768164) + F(p * v));
    p = F(F(0.246640727) + F(p * v));
    p = F(F(1.50140941) + F(p * v));
  } else {
    const v = F(F(Math.sqrt(w)) - 3);
    p = F(-0.000200214257);
    p = F(F(0.000100950558) + F(p * v));
    p = F(F(0.00134934322) + F(p * v));
    p = F(F(-0.00367342844) + F(p * v));
    p = F(F(0.00573950773) + F(p * v));
    p = F(F(-0.0076224613) + F(p * v));
    p = F(F(0.00943887047) + F(p * v));
    p = F(F(1.00167406) + F(p * v));
    p = F(F(2.83297682) + F(p * v));
  }
  return F(p * x);
}

/**
 * Two pairs of the normal stream, (2k, 2k + 1) at low word loA and the pair at loB (same high
 * word): result = [r cos, r sin] of each, before mean and std; a single pair (the ends of a range)
 * is asked for as loB = loA. The one place a pair is computed, as two independent chains in one
 * body: each step is a float32 rounding (Math.fround) whose latency one chain alone waits for,
 * and V8 does not inline a function this large, so one pair per call loses the overlap (1.01-1.47x
 * the time of this form for Embedding(1e6, 128), issue 13's A/B).
 */
function normalPairs(loA: number, loB: number, hiKey: number, k0: number, result: Float64Array): void {
  loA |= 0;
  loB |= 0;
  hiKey |= 0;
  k0 |= 0;
  const aA = mix32i(mix32i((loA + k0) | 0) ^ hiKey);
  const bA = mix32i(mix32i((loA + 1 + k0) | 0) ^ hiKey);
  const vA = (aA >>> 8) + 1;
  const eA = 32 - Math.clz32(vA);
  const mA = vA * POW2_NEG[eA]!;
  let xA: number, gA: number;
  if (mA < SQRTHF) {
    gA = eA - 25;
    xA = F(F(mA + mA) - 1);
  } else {
    gA = eA - 24;
    xA = F(mA - 1);
  }
  const zA = F(xA * xA);
  let pA = F(F(L0 * xA) + L1);
  const wA = bA >>> 8;
  const fA = (wA & 0x3fffff) * TWO_M22;
  const f2A = F(fA * fA);
  let sA = F(F(S11 * f2A) + S9);
  let cA = F(F(C12 * f2A) + C10);
  pA = F(F(pA * xA) + L2);
  sA = F(F(sA * f2A) + S7);
  cA = F(F(cA * f2A) + C8);
  pA = F(F(pA * xA) + L3);
  sA = F(F(sA * f2A) + S5);
  cA = F(F(cA * f2A) + C6);
  pA = F(F(pA * xA) + L4);
  sA = F(F(sA * f2A) + S3);
  cA = F(F(cA * f2A) + C4);
  pA = F(F(pA * xA) + L5);
  sA = F(F(sA * f2A) + S1);
  cA = F(F(cA * f2A) + C2);
  pA = F(F(pA * xA) + L6);
  sA = F(sA * fA);
  cA = F(F(cA * f2A) + 1);
  pA = F(F(pA * xA) + L7);
  pA = F(F(pA * xA) + L8);
  let yA = F(F(pA * xA) * zA);
  yA = F(yA + F(LE1 * gA));
  yA = F(yA + F(-0.5 * zA));
  const lnA = F(F(xA + yA) + F(LE2 * gA));
  const rA = F(Math.sqrt(F(-2 * lnA)));
  const qA = wA >>> 22;
  let csA = qA & 1 ? sA : cA;
  let snA = qA & 1 ? cA : sA;
  if ((qA + 1) & 2) csA = -csA;
  if (qA & 2) snA = -snA;
  const aB = mix32i(mix32i((loB + k0) | 0) ^ hiKey);
  const bB = mix32i(mix32i((loB + 1 + k0) | 0) ^ hiKey);
  const vB = (aB >>> 8) + 1;
  const eB = 32 - Math.clz32(vB);
  const mB = vB * POW2_NEG[eB]!;
  let xB: number, gB: number;
  if (mB < SQRTHF) {
    gB = eB - 25;
    xB = F(F(mB + mB) - 1);
  } else {
    gB = eB - 24;
    xB = F(mB - 1);
  }
  const zB = F(xB * xB);
  let pB = F(F(L0 * xB) + L1);
  const wB = bB >>> 8;
  const fB = (wB & 0x3fffff) * TWO_M22;
  const f2B = F(fB * fB);
  let sB = F(F(S11 * f2B) + S9);
  let cB = F(F(C12 * f2B) + C10);
  pB = F(F(pB * xB) + L2);
  sB = F(F(sB * f2B) + S7);
  cB = F(F(cB * f2B) + C8);
  pB = F(F(pB * xB) + L3);
  sB = F(F(sB * f2B) + S5);
  cB = F(F(cB * f2B) + C6);
  pB = F(F(pB * xB) + L4);
  sB = F(F(sB * f2B) + S3);
  cB = F(F(cB * f2B) + C4);
  pB = F(F(pB * xB) + L5);
  sB = F(F(sB * f2B) + S1);
  cB = F(F(cB * f2B) + C2);
  pB = F(F(pB * xB) + L6);
  sB = F(sB * fB);
  cB = F(F(cB * f2B) + 1);
  pB = F(F(pB * xB) + L7);
  pB = F(F(pB * xB) + L8);
  let yB = F(F(pB * xB) * zB);
  yB = F(yB + F(LE1 * gB));
  yB = F(yB + F(-0.5 * zB));
  const lnB = F(F(xB + yB) + F(LE2 * gB));
  const rB = F(Math.sqrt(F(-2 * lnB)));
  const qB = wB >>> 22;
  let csB = qB & 1 ? sB : cB;
  let snB = qB & 1 ? cB : sB;
  if ((qB + 1) & 2) csB = -csB;
  if (qB & 2) snB = -snB;
  result[0] = F(rA * csA);
  result[1] = F(rA * snA);
  result[2] = F(rB * csB);
  result[3] = F(rB * snB);
}

const pairResult = new Float64Array(4);

/**
 * out[j] = element start + j of the stream params describes (kind, k0, k1, six floats: see
 * native/kernels.h InitParams). The same bits as every native tier. The normal stream's pairs are
 * computed two at a time (normalPairs).
 */
export function initFillJs(out: Float32Array, params: Float64Array, start: number): void {
  if (!(Number.isInteger(start) && start >= 0 && start <= 2 ** 53 - out.length)) {
    throw new RangeError(`initFill: start must be an integer >= 0 with start + out.length at most 2^53, got ${start}`);
  }
  const kind = params[0]!;
  const k0 = params[1]! | 0; // int32 from here: the same low 32 bits
  const k1 = params[2]! | 0;
  const p0 = F(params[3]!), p1 = F(params[4]!), p2 = F(params[5]!), p3 = F(params[6]!), p4 = F(params[7]!), p5 = F(params[8]!);
  const n = out.length;
  const end = start + n;
  if (kind === INIT_KERNEL_KINDS.normal) {
    let c = start - (start % 2); // the first pair's even counter
    if (c < start && n > 0) {
      normalPairs(c % 0x100000000, c % 0x100000000, Math.floor(c / 0x100000000) ^ k1, k0, pairResult);
      out[0] = F(p0 + F(p1 * pairResult[1]!));
      c += 2;
    }
    while (c + 1 < end) {
      // A block of counters with one high word.
      const hi = Math.floor(c / 0x100000000);
      const hiKey = hi ^ k1;
      const blockEnd = Math.min(end, (hi + 1) * 0x100000000);
      let lo = (c - hi * 0x100000000) | 0; // int32 bits of the low word
      let j = c - start;
      for (; c + 3 < blockEnd; c += 4, lo = (lo + 4) | 0, j += 4) {
        normalPairs(lo, lo + 2, hiKey, k0, pairResult);
        out[j] = F(p0 + F(p1 * pairResult[0]!));
        out[j + 1] = F(p0 + F(p1 * pairResult[1]!));
        out[j + 2] = F(p0 + F(p1 * pairResult[2]!));
        out[j + 3] = F(p0 + F(p1 * pairResult[3]!));
      }
      for (; c + 1 < blockEnd; c += 2, lo = (lo + 2) | 0, j += 2) {
        normalPairs(lo, lo, hiKey, k0, pairResult);
        out[j] = F(p0 + F(p1 * pairResult[0]!));
        out[j + 1] = F(p0 + F(p1 * pairResult[1]!));
      }
    }
    if (c < end) {
      normalPairs(c % 0x100000000, c % 0x100000000, Math.floor(c / 0x100000000) ^ k1, k0, pairResult);
      out[c - start] = F(p0 + F(p1 * pairResult[0]!));
    }
    return;
  }
  const truncated = kind === INIT_KERNEL_KINDS.truncNormal;
  let c = start;
  let j = 0;
  while (c < end) {
    const hi = Math.floor(c / 0x100000000);
    const hiKey = hi ^ k1;
    const blockEnd = Math.min(end, (hi + 1) * 0x100000000);
    let lo = (c - hi * 0x100000000) | 0;
    for (; c < blockEnd; c++, lo = (lo + 1) | 0, j++) {
      const h = mix32i(mix32i((lo + k0) | 0) ^ hiKey);
      const x = F(p0 + F(p1 * ((h >>> 8) * TWO_M24)));
      if (!truncated) {
        out[j] = x;
        continue;
      }
      const y = F(F(erfinv(x) * p2) + p3);
      const clamped = y > p4 ? y : p4;
      out[j] = clamped > p5 ? p5 : clamped;
    }
  }
}

// ---- init.*: the initializers as functions on any Float32Array ----------------------------------

type Seeded = { seed?: number };

function seedOf(where: string, options: Seeded | undefined): number {
  return options?.seed === undefined ? randomSeed() : checkInteger(where, 'options.seed', options.seed, 0);
}

function run(where: string, array: unknown, spec: Record<string, unknown>, options: Seeded | undefined, shape?: readonly [number, number]): Float32Array {
  const out = checkFloat32Array(where, 'array', array);
  const [rows, cols] = shape ?? [out.length, 1];
  const plan = planInit(where, 'options', spec, rows, cols, spec.kind === 'constant' || spec.kind === 'zeros' ? 0 : seedOf(where, options));
  fillWithPlan(out, plan, false);
  noteWritten(out); // the array may be a layer's weight: what is cached about it is dropped
  return out;
}

function shapeOf(where: string, array: Float32Array, shape: unknown): [number, number] {
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError(`${where}: options.shape must be [rows, cols] of non-negative integers, got ${describe(shape)}`);
  }
  if (shape[0] * shape[1] !== array.length) {
    throw new RangeError(`${where}: options.shape [${shape[0]}, ${shape[1]}] holds ${shape[0] * shape[1]} values, the array has ${array.length}`);
  }
  return [shape[0], shape[1]];
}

const pick = (options: object | undefined, names: readonly string[]): Record<string, unknown> => {
  const o = (options ?? {}) as Record<string, unknown>;
  return Object.fromEntries(names.filter((n) => o[n] !== undefined).map((n) => [n, o[n]]));
};

function checked(where: string, options: unknown, allowed: readonly string[]): Record<string, unknown> | undefined {
  if (options === undefined) return undefined;
  checkOptions(where, options, allowed);
  return options as Record<string, unknown>;
}

/**
 * torch.nn.init's initializers, in place on a Float32Array, returning it. Seeded ones take
 * `seed` (a safe integer >= 0; without one, a random seed): the same seed gives the same bits on
 * every backend and machine, and the same values as a layer's `init` of that kind and seed
 * (xavier*: for the same shape).
 */
export const init = {
  /** N(mean, std²); defaults mean 0, std 1. */
  normal_(array: Float32Array, options?: { mean?: number; std?: number; seed?: number }): Float32Array {
    const where = 'init.normal_';
    const o = checked(where, options, ['mean', 'std', 'seed']);
    return run(where, array, { kind: 'normal', ...pick(o, ['mean', 'std']) }, o as Seeded);
  },
  /** U(a, b); defaults a 0, b 1. */
  uniform_(array: Float32Array, options?: { a?: number; b?: number; seed?: number }): Float32Array {
    const where = 'init.uniform_';
    const o = checked(where, options, ['a', 'b', 'seed']);
    return run(where, array, { kind: 'uniform', ...pick(o, ['a', 'b']) }, o as Seeded);
  },
  /** N(mean, std²) truncated to [a, b], as torch's trunc_normal_; defaults mean 0, std 1, a -2, b 2. */
  truncNormal_(array: Float32Array, options?: { mean?: number; std?: number; a?: number; b?: number; seed?: number }): Float32Array {
    const where = 'init.truncNormal_';
    const o = checked(where, options, ['mean', 'std', 'a', 'b', 'seed']);
    return run(where, array, { kind: 'truncNormal', ...pick(o, ['mean', 'std', 'a', 'b']) }, o as Seeded);
  },
  /** U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)), for a [rows, cols] weight (fan_in = cols). */
  xavierUniform_(array: Float32Array, options: { shape: readonly [number, number]; gain?: number; seed?: number }): Float32Array {
    const where = 'init.xavierUniform_';
    const o = checked(where, options ?? {}, ['shape', 'gain', 'seed'])!;
    const shape = shapeOf(where, checkFloat32Array(where, 'array', array), o.shape);
    return run(where, array, { kind: 'xavierUniform', ...pick(o, ['gain']) }, o as Seeded, shape);
  },
  /** N(0, std²), std = gain * sqrt(2 / (fan_in + fan_out)), for a [rows, cols] weight (fan_in = cols). */
  xavierNormal_(array: Float32Array, options: { shape: readonly [number, number]; gain?: number; seed?: number }): Float32Array {
    const where = 'init.xavierNormal_';
    const o = checked(where, options ?? {}, ['shape', 'gain', 'seed'])!;
    const shape = shapeOf(where, checkFloat32Array(where, 'array', array), o.shape);
    return run(where, array, { kind: 'xavierNormal', ...pick(o, ['gain']) }, o as Seeded, shape);
  },
  /** Every element = value. */
  constant_(array: Float32Array, value: number): Float32Array {
    return run('init.constant_', array, { kind: 'constant', value }, undefined);
  },
  /** Every element = 0. */
  zeros_(array: Float32Array): Float32Array {
    return run('init.zeros_', array, { kind: 'zeros' }, undefined);
  },
};
