// What the TypeScript side and the addon must agree on, each listed once per side: the kernels
// (src/backend.ts KERNEL_NAMES, native/binding.cc kKernelEntries) and the optimizer scalars' slots
// (src/backend.ts OPTIMIZER_SCALARS, native/optimizer_slots.h). A kernel or slot added on one side
// only fails here.
import { describe, expect, it } from 'vitest';

import { KERNEL_NAMES, OPTIMIZER_SCALARS, optimizerScalars } from '../src/backend.js';
import { jsBackend } from '../src/backends/js.js';
import { loadAddon } from '../src/backends/native.js';
import { getBackend } from '../src/index.js';

describe('the TypeScript backend', () => {
  it('has every kernel of KERNEL_NAMES', () => {
    for (const name of KERNEL_NAMES) expect(typeof jsBackend[name], name).toBe('function');
  });

  it('fills each optimizer scalar into its slot, 0 or the neutral 1 when not given', () => {
    const slots = Object.values(OPTIMIZER_SCALARS).sort((a, b) => a - b);
    expect(slots).toEqual(slots.map((_, k) => k)); // positions 0..n-1, each once
    expect(Array.from(optimizerScalars({ rule: 2, lr: -0.5, nesterov: 1 }))).toEqual(
      Object.keys(OPTIMIZER_SCALARS).map((name) => ({ rule: 2, lr: -0.5, nesterov: 1, c: 1, decay: 1 })[name] ?? 0),
    );
  });
});

describe.runIf(getBackend() === 'native')('the addon agrees with the TypeScript lists', () => {
  const addon = loadAddon();

  it('reports the kernels of KERNEL_NAMES, in order, and hands out exactly those', () => {
    expect(addon.kernelNames).toEqual(KERNEL_NAMES);
    const kernels = addon.kernels('');
    expect(Object.keys(kernels).filter((key) => key !== 'tier' && key !== 'async')).toEqual(KERNEL_NAMES);
    expect(Object.keys(kernels.async)).toEqual(KERNEL_NAMES);
  });

  it('names the optimizer scalar slots as OPTIMIZER_SCALARS does', () => {
    expect(addon.optimizerScalarSlots).toEqual(OPTIMIZER_SCALARS);
  });

  it('reads the scalars by those slots: the same update on both backends', () => {
    const weight = () => Float32Array.of(1, -2, 3, -4);
    const grad = Float32Array.of(0.5, 0.25, -1, 2);
    const scalars = optimizerScalars({ rule: 0, lr: -0.1, weightDecay: 0.01 });
    const [native, js] = [weight(), weight()];
    expect(addon.kernels('').optimizerUpdate(scalars, native, grad, null, null, null, null, 2)).toBe(-1);
    expect(jsBackend.optimizerUpdate(scalars, js, grad, null, null, null, null, 2)).toBe(-1);
    expect(native).toEqual(js);
    expect(native).not.toEqual(weight());
  });
});
