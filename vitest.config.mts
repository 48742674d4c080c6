// The whole suite runs once per backend: the TypeScript backend, and the native backend once per
// SIMD tier this CPU runs (each project sets NN_EMBEDDING_BACKEND / NN_EMBEDDING_SIMD for its
// test processes). The native tiers are read from the built addon; if it does not load, the run
// fails unless NN_EMBEDDING_BACKEND=js asks for the TypeScript backend alone.
import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

function nativeTiers(): string[] {
  if (process.env.NN_EMBEDDING_BACKEND === 'js') return [];
  try {
    const addon = require('node-gyp-build')(import.meta.dirname ?? process.cwd());
    return addon.cpuFeatures().tiers;
  } catch (error) {
    throw new Error(
      `the native addon did not load (${(error as Error).message}); build it with 'npm run build:native', ` +
        `or run the TypeScript backend alone with NN_EMBEDDING_BACKEND=js npm test`,
    );
  }
}

// File formats (test/io) do not depend on the SIMD tier, only on the backend (the native one maps
// files, the TypeScript one reads them): they run in the js project and the widest native tier.
// So does test/no-crash.test.ts: what it proves (nothing JavaScript passes crashes the process) is
// the binding's argument checks and buffer guards, which run before any tier's kernel; the kernels
// of every tier are checked by the parity tests here and by the C++ tests under ASan and UBSan.
// (It is the slowest file, ~100 s a project on CI's 2 cores.)
const tiers = nativeTiers();
const projects = [
  { extends: true as const, test: { name: 'js', env: { NN_EMBEDDING_BACKEND: 'js', NN_EMBEDDING_SIMD: '' } } },
  ...tiers.map((tier, k) => ({
    extends: true as const,
    test: {
      name: `native-${tier}`,
      env: { NN_EMBEDDING_BACKEND: 'native', NN_EMBEDDING_SIMD: tier },
      ...(k === tiers.length - 1 ? {} : { exclude: ['test/io/**', 'test/no-crash.test.ts', 'node_modules/**'] }),
    },
  })),
];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // global.gc for the test that drops an async call's buffers mid-call.
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    projects,
  },
});
