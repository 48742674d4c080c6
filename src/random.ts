// The default initialization: N(0, 1) from a seeded generator, in TypeScript for every backend,
// so the same seed gives a bit-identical table on every backend and machine. The generator is
// xoshiro128** seeded through splitmix32; normals come from the Box-Muller transform on 53-bit
// uniforms. Math.log, Math.sqrt, Math.cos and Math.sin are V8's own software implementations,
// the same on every platform.

function splitmix32(state: { value: number }): number {
  state.value = (state.value + 0x9e3779b9) | 0;
  let z = state.value;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class NormalGenerator {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /** seed: a non-negative safe integer; all 53 bits matter. */
  constructor(seed: number) {
    const state = { value: (seed % 0x100000000) ^ Math.imul(Math.floor(seed / 0x100000000), 0x27d4eb2d) };
    this.#s0 = splitmix32(state);
    this.#s1 = splitmix32(state);
    this.#s2 = splitmix32(state);
    this.#s3 = splitmix32(state);
  }

  /** xoshiro128**: the next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Fills target with float32-rounded samples of N(0, 1). */
  fillNormal(target: Float32Array): void {
    const n = target.length;
    for (let i = 0; i < n; i += 2) {
      const radius = Math.sqrt(-2 * Math.log(1 - this.nextDouble())); // 1 - u is in (0, 1]
      const angle = 2 * Math.PI * this.nextDouble();
      target[i] = radius * Math.cos(angle);
      if (i + 1 < n) target[i + 1] = radius * Math.sin(angle);
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A seed for layers constructed without one (like torch's default generator, not reproducible). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x100000000) * 0x200000 + Math.floor(Math.random() * 0x200000);
}
