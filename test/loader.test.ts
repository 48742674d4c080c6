// The package as a user loads it: the built dist/ through require() and import, and the
// environment variables that choose the backend, each in a fresh Node process.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
/** Whether the addon is built here at all (whatever backend this test process was started for). */
const nativeAvailable = (() => {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
})();

function node(code: string, env: Record<string, string>, type: 'commonjs' | 'module' = 'commonjs') {
  const args = type === 'module' ? ['--input-type=module', '-e', code] : ['-e', code];
  const result = spawnSync(process.execPath, args, {
    cwd: root,
    env: { ...process.env, NN_EMBEDDING_BACKEND: '', NN_EMBEDDING_SIMD: '', ...env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}

const probe = `const m = require('nn-embedding'); const e = new m.Embedding(4, 2, { seed: 1 });
console.log(JSON.stringify({ backend: m.getBackend(), simd: m.getCapabilities().simd, out: Array.from(e.forward([3])) }));`;

describe('the built package', () => {
  it('loads with require() and with import, with types', () => {
    const cjs = node(probe, {});
    expect(cjs.stderr).toBe('');
    const esm = node(
      `import { Embedding, getBackend } from 'nn-embedding'; console.log(getBackend(), new Embedding(4, 2, { seed: 1 }).forward([3]).length);`,
      {},
      'module',
    );
    expect(esm.stderr).toBe('');
    expect(esm.stdout).toBe(`${nativeAvailable ? 'native' : 'js'} 2`);
    const types = require(path.join(root, 'package.json')).exports['.'].types as string;
    expect(execFileSync('ls', [path.join(root, types)], { encoding: 'utf8' })).toContain('index.d.ts');
  });

  it('NN_EMBEDDING_BACKEND=js forces the TypeScript backend, with the same numbers', () => {
    const js = JSON.parse(node(probe, { NN_EMBEDDING_BACKEND: 'js' }).stdout);
    expect(js.backend).toBe('js');
    expect(js.simd).toBeNull();
    const auto = JSON.parse(node(probe, {}).stdout);
    expect(auto.backend).toBe(nativeAvailable ? 'native' : 'js');
    expect(auto.out).toEqual(js.out);
  });

  it('rejects an unknown NN_EMBEDDING_BACKEND or NN_EMBEDDING_SIMD value', () => {
    const backend = node(probe, { NN_EMBEDDING_BACKEND: 'gpu' });
    expect(backend.status).not.toBe(0);
    expect(backend.stderr).toMatch(/NN_EMBEDDING_BACKEND must be 'native' or 'js', got 'gpu'/);
    const simd = node(probe, { NN_EMBEDDING_SIMD: 'sse9' });
    expect(simd.status).not.toBe(0);
    expect(simd.stderr).toMatch(/NN_EMBEDDING_SIMD must be one of scalar, avx2, avx512, neon, got 'sse9'/);
  });

  it.runIf(nativeAvailable)('NN_EMBEDDING_SIMD picks each tier the CPU runs and refuses the others', () => {
    const { tiers } = JSON.parse(node(`console.log(JSON.stringify(require('nn-embedding').getCapabilities().cpu))`, {}).stdout);
    for (const tier of ['scalar', 'avx2', 'avx512', 'neon']) {
      const result = node(probe, { NN_EMBEDDING_BACKEND: 'native', NN_EMBEDDING_SIMD: tier });
      if (tiers.includes(tier)) {
        expect(JSON.parse(result.stdout).simd).toBe(tier);
      } else {
        expect(result.status).not.toBe(0);
        expect(result.stderr).toMatch(new RegExp(`SIMD tier '${tier}' is not supported by this CPU`));
      }
    }
  });

  it('falls back to TypeScript when the addon cannot load, and says why; =native makes that an error', () => {
    // A copy of the package without its build: node-gyp-build finds no addon.
    const copy = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
    execFileSync('cp', ['-r', path.join(root, 'dist'), path.join(root, 'package.json'), copy]);
    execFileSync('ln', ['-s', path.join(root, 'node_modules'), path.join(copy, 'node_modules')]);
    // Several uses, and getCapabilities twice: still one warning.
    const code = `const m = require(${JSON.stringify(copy)});
      new m.Embedding(3, 2).forward([1]); new m.EmbeddingBag(3, 2).forward([1], [0]); m.getCapabilities();
      console.log(JSON.stringify(m.getCapabilities()));`;
    try {
      const fallback = node(code, {});
      const capabilities = JSON.parse(fallback.stdout);
      expect(capabilities.backend).toBe('js');
      expect(capabilities.nativeError).toMatch(/No native build was found/);
      const warnings = fallback.stderr.match(/\[NN_EMBEDDING_NATIVE_UNAVAILABLE\] Warning: /g) ?? [];
      expect(warnings).toHaveLength(1);
      expect(fallback.stderr).toMatch(/no addon was found/);
      expect(fallback.stderr).toMatch(/npx nn-embedding build-native/);
      expect(fallback.stderr).toMatch(/NN_EMBEDDING_BACKEND=js/);
      // The deliberate choice warns nothing; so does an ignored warning code.
      expect(node(code, { NN_EMBEDDING_BACKEND: 'js' }).stderr).toBe('');
      const strict = node(code, { NN_EMBEDDING_BACKEND: 'native' });
      expect(strict.status).not.toBe(0);
      expect(strict.stderr).toMatch(/NN_EMBEDDING_BACKEND=native but the native addon failed to load/);

      // A prebuild that is there but does not load (here: not an ELF file) says so.
      const folder = path.join(copy, 'prebuilds', `${process.platform}-${process.arch}`);
      execFileSync('mkdir', ['-p', folder]);
      fs.writeFileSync(path.join(folder, 'nn-embedding.glibc.node'), 'not a shared object');
      const broken = node(code, {});
      expect(JSON.parse(broken.stdout).backend).toBe('js');
      expect(broken.stderr.match(/\[NN_EMBEDDING_NATIVE_UNAVAILABLE\]/g) ?? []).toHaveLength(1);
      expect(broken.stderr).toMatch(/the addon failed to load: .*(invalid ELF header|too short)/);
    } finally {
      execFileSync('rm', ['-rf', copy]);
    }
  });

  it.runIf(nativeAvailable)('loads in worker threads alongside the main thread', () => {
    const code = `
      const { Worker } = require('node:worker_threads');
      const m = require('nn-embedding');
      const main = Array.from(new m.Embedding(50, 8, { seed: 5 }).forward([1, 49]));
      const source = "const m = require('nn-embedding'); const { parentPort } = require('node:worker_threads');" +
        "parentPort.postMessage([m.getBackend(), Array.from(new m.Embedding(50, 8, { seed: 5 }).forward([1, 49]))]);";
      let done = 0;
      for (let i = 0; i < 3; i++) {
        const worker = new Worker(source, { eval: true });
        worker.on('message', ([backend, out]) => {
          if (backend !== 'native' || JSON.stringify(out) !== JSON.stringify(main)) { console.log('mismatch'); process.exit(1); }
          if (++done === 3) console.log('ok');
        });
        worker.on('error', (e) => { console.log(String(e)); process.exit(1); });
      }`;
    const result = node(code, {});
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('ok');
  });
});

describe("glibc's malloc settings for outputs (native/malloc_tuning.h)", () => {
  const glibc = Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);
  const noMallocEnv = { MALLOC_MMAP_THRESHOLD_: '', MALLOC_TRIM_THRESHOLD_: '', MALLOC_TOP_PAD_: '', GLIBC_TUNABLES: '', NN_EMBEDDING_MALLOC: '' };
  // Minor page faults per forward(idx) of a 1 MB output in steady state (after 300 calls).
  const faults = `const m = require('nn-embedding'); const e = new m.Embedding(10000, 64, { seed: 1 });
const idx = new Int32Array(4096).map((_, i) => (i * 7919) % 10000);
for (let i = 0; i < 300; i++) e.forward(idx);
const f0 = process.resourceUsage().minorPageFault;
for (let i = 0; i < 300; i++) e.forward(idx);
console.log(JSON.stringify({ malloc: m.getCapabilities().malloc, faults: (process.resourceUsage().minorPageFault - f0) / 300 }));`;
  const run = (env: Record<string, string>) => {
    // An empty variable still counts as set for glibc and the addon: drop the empty ones.
    const result = spawnSync(process.execPath, ['-e', faults], {
      cwd: root,
      env: Object.fromEntries(Object.entries({ ...process.env, NN_EMBEDDING_BACKEND: '', NN_EMBEDDING_SIMD: '', ...noMallocEnv, ...env }).filter(([, v]) => v !== '')),
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    return JSON.parse(result.stdout) as { malloc: string | null; faults: number };
  };

  it.runIf(nativeAvailable && glibc)('are set when the addon loads: outputs reuse freed memory instead of faulting in fresh pages', () => {
    const tuned = run({});
    expect(tuned.malloc).toBe('tuned');
    // 1 MB is 256 pages: glibc's defaults unmap freed outputs and fault the next ones in. How
    // many depends on when V8 collects (14 to 190 faults per call measured on these machines), so
    // the control is run up to three times and its highest count is compared; tuned stays below 1.
    expect(tuned.faults).toBeLessThan(16);
    let kept = run({ NN_EMBEDDING_MALLOC: 'default' });
    expect(kept.malloc).toBe('default (NN_EMBEDDING_MALLOC=default)');
    const floor = Math.max(4, 4 * tuned.faults);
    for (let i = 0; i < 2 && kept.faults <= floor; i++) {
      const again = run({ NN_EMBEDDING_MALLOC: 'default' });
      if (again.faults > kept.faults) kept = again;
    }
    expect(kept.faults).toBeGreaterThan(floor);
  });

  it('NN_EMBEDDING_MALLOC takes only "default": anything else is an error at first use', () => {
    const result = spawnSync(process.execPath, ['-e', "require('nn-embedding').getBackend()"], {
      cwd: root,
      env: { ...process.env, NN_EMBEDDING_MALLOC: 'off' },
      encoding: 'utf8',
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/NN_EMBEDDING_MALLOC must be 'default' \(or unset\), got 'off'/);
  });

  it.runIf(nativeAvailable && glibc)("are left alone when the process sets glibc's malloc options itself", () => {
    expect(run({ MALLOC_TRIM_THRESHOLD_: '1000000' }).malloc).toBe('default (the process sets MALLOC_TRIM_THRESHOLD_)');
    expect(run({ MALLOC_MMAP_THRESHOLD_: '1000000' }).malloc).toBe('default (the process sets MALLOC_MMAP_THRESHOLD_)');
    expect(run({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1000000' }).malloc).toBe('default (the process sets glibc.malloc.* in GLIBC_TUNABLES)');
  });

  it('are not touched, and reported as null, on the TypeScript backend', () => {
    expect(run({ NN_EMBEDDING_BACKEND: 'js' }).malloc).toBeNull();
  });
});
