#!/usr/bin/env node
// The narrow lookups' speed over float32 (issue 14's ratios) measured in several fresh processes:
// on this VM a 4e6 x 128 table's lookups move by up to 15% with where the table lands in memory
// (one float16 table, alone in a fresh process, took 450 us a lookup in one process and 588 in
// another), so one process's ratio says little about a 1.6x goal. Each process builds the five
// layers as a user does (new Embedding(4e6, 128, { dtype }), uniform init), then times 1-thread
// lookups of B = 16,384 uniform ids (the suites' generator) into a V8-allocated out, one dtype at a
// time (200 calls, median), in the order given; the ratios are float32's median over each dtype's,
// per process, and their median over the processes.
//
//   node --expose-gc bench/narrow-processes.mjs [processes] [--json file]     default 5 processes
//
// (The dtype suite, bench/dtype.mjs, times these lookups once, in one process.)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { SEED, prng } from './harness.mjs';

const THIS_FILE = fileURLToPath(import.meta.url);
const DTYPES = ['float32', 'float16', 'bfloat16', 'int8', 'int4'];
const GOALS = { float16: 1.6, bfloat16: 1.6, int8: 2.5, int4: 3 };
const ROWS = 4_000_000;
const D = 128;
const B = 16_384;
const CALLS = 200;
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

if (process.argv[2] === '--child') {
  // One process: the five layers, then each dtype's lookups.
  const require = createRequire(import.meta.url);
  const nn = require('../dist/index.js');
  nn.setNumThreads(1);
  const nextId = prng(SEED);
  const batches = Array.from({ length: 32 }, () => {
    const ids = new Int32Array(B);
    for (let i = 0; i < B; i++) ids[i] = nextId() % ROWS;
    return ids;
  });
  const out = new Float32Array(B * D);
  const layers = Object.fromEntries(DTYPES.map((dtype) => [dtype, new nn.Embedding(ROWS, D, { dtype, init: { kind: 'uniform', a: -1, b: 1 }, seed: 1 })]));
  globalThis.gc?.();
  const us = {};
  let k = 0;
  for (const dtype of DTYPES) {
    for (let c = 0; c < 20; c++) layers[dtype].forward(batches[k++ % batches.length], out); // warm-up
    const times = [];
    for (let c = 0; c < CALLS; c++) {
      const t0 = process.hrtime.bigint();
      layers[dtype].forward(batches[k++ % batches.length], out);
      times.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
    us[dtype] = median(times);
  }
  process.stdout.write(JSON.stringify({ us, simd: nn.getCapabilities().simd }) + '\n');
} else {
  const args = process.argv.slice(2);
  const jsonAt = args.indexOf('--json');
  const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : null;
  const processes = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--json') ?? 5);
  console.log(`Narrow lookups over float32 in ${processes} fresh processes: ${ROWS.toLocaleString('en-US')} x ${D} layers (new Embedding, each dtype), B=${B}, 1 thread, ${CALLS} calls a dtype (median)`);
  const runs = [];
  for (let p = 0; p < processes; p++) {
    const result = JSON.parse(execFileSync(process.execPath, ['--expose-gc', THIS_FILE, '--child'], { encoding: 'utf8', maxBuffer: 1 << 20 }));
    runs.push(result);
    console.log(`  process ${p + 1}: ` + DTYPES.map((d) => `${d} ${result.us[d].toFixed(0)} us`).join(', ') +
      ' | ' + DTYPES.slice(1).map((d) => `${d} ${(result.us.float32 / result.us[d]).toFixed(2)}x`).join(', '));
  }
  const ratios = Object.fromEntries(DTYPES.slice(1).map((d) => [d, runs.map((r) => r.us.float32 / r.us[d])]));
  console.log('');
  console.log('| dtype | median us | ratio over float32, per process | median ratio | goal |');
  console.log('| --- | ---: | --- | ---: | --- |');
  console.log(`| float32 | ${median(runs.map((r) => r.us.float32)).toFixed(0)} | - | - | - |`);
  for (const d of DTYPES.slice(1)) {
    const m = median(ratios[d]);
    console.log(`| ${d} | ${median(runs.map((r) => r.us[d])).toFixed(0)} | ${ratios[d].map((x) => x.toFixed(2)).join(', ')} | ${m.toFixed(2)}x | >= ${GOALS[d]}x: ${m >= GOALS[d] ? 'met' : 'not met'} |`);
  }
  if (jsonFile !== null) {
    fs.writeFileSync(jsonFile, JSON.stringify({ rows: ROWS, dim: D, batch: B, calls: CALLS, simd: runs[0]?.simd, runs, ratios, medians: Object.fromEntries(Object.entries(ratios).map(([d, r]) => [d, median(r)])), goals: GOALS }, null, 2));
    console.log(`wrote ${jsonFile}`);
  }
}
