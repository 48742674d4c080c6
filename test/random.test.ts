// randomSeed: the seed of a layer or init function given none (src/init.ts and test/init.test.ts
// cover the generator itself).
import { describe, expect, it } from 'vitest';

import { randomSeed } from '../src/random.js';

describe('randomSeed', () => {
  it('randomSeed gives safe integers that differ', () => {
    const seeds = Array.from({ length: 5 }, randomSeed);
    for (const seed of seeds) expect(Number.isSafeInteger(seed) && seed >= 0).toBe(true);
    expect(new Set(seeds).size).toBe(5);
  });
});
