#!/usr/bin/env node
// Lookups on several large tables, interleaved or one table at a time: what a table's rows cost
// when other tables' lookups run between its calls. The dtype suite times one dtype at a time
// because of what this shows (bench/dtype.mjs header).
//
//   node --expose-gc bench/narrow-interleave.mjs [dtype ...]     default: int8 int4 float16 bfloat16
//
// A float32 table of ROWS x 128 (2 GB) and one table per dtype named, each a 4096-row tile of
// quantize(sin) repeated, huge pages requested before the first write (as the dtype suite's
// tables); 128 batches of 16,384 uniform int32 ids; Embedding.forward(idx, out) at 1 thread.
// "interleaved": 20 rounds, each 12 calls of every table's layer in turn; "alone": 20 rounds of
// 12 calls of one layer, then the next. Median µs per call.
import { createRequire } from 'node:module';

import { SEED, prng } from './harness.mjs';

const require = createRequire(import.meta.url);
const M = require('../dist/index.js');
const { loadAddon } = require('../dist/backends/native.js');

const TILE = 4096;
const ROWS = TILE * 977;
const D = 128;
const B = 16384;
const dtypes = process.argv.length > 2 ? process.argv.slice(2) : ['int8', 'int4', 'float16', 'bfloat16'];

function tableOf(dtype) {
  const tile = dtype === 'float32' ? null : M.quantize(Float32Array.from({ length: TILE * D }, (_, i) => Math.sin(i)), D, dtype);
  const Type = tile === null ? Float32Array : tile.constructor;
  const perTile = tile === null ? TILE * D : tile.length;
  const data = new Type(perTile * (ROWS / TILE));
  loadAddon().adviseHugePages(data.buffer);
  if (tile === null) for (let i = 0; i < data.length; i += 4096) data.fill(Math.sin(i), i, i + 4096);
  else for (let o = 0; o < data.length; o += perTile) data.set(tile, o);
  return data;
}

const layers = { float32: M.Embedding.fromPretrained(tableOf('float32'), D) };
for (const dtype of dtypes) layers[dtype] = M.Embedding.fromPretrained(tableOf(dtype), D, { dtype });
const nextId = prng(SEED); // the suites' generator (a linear congruential one's ids are not uniform enough)
const batches = Array.from({ length: 128 }, () => {
  const ids = new Int32Array(B);
  for (let i = 0; i < B; i++) ids[i] = nextId() % ROWS;
  return ids;
});
const out = new Float32Array(B * D);
let next = 0;
M.setNumThreads(1);
const time = (layer, calls) => {
  const t0 = process.hrtime.bigint();
  for (let c = 0; c < calls; c++) layer.forward(batches[next++ % batches.length], out);
  return Number(process.hrtime.bigint() - t0) / calls / 1e3;
};
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const report = (name, samples) => console.log(`${name.padEnd(12)} ` + Object.entries(samples).map(([k, v]) => `${k} ${median(v).toFixed(0)} µs`).join('  '));
const interleaved = Object.fromEntries(Object.keys(layers).map((k) => [k, []]));
for (let round = 0; round < 20; round++) for (const k in layers) interleaved[k].push(time(layers[k], 12));
const alone = Object.fromEntries(Object.keys(layers).map((k) => [k, []]));
for (const k in layers) for (let round = 0; round < 20; round++) alone[k].push(time(layers[k], 12));
report('interleaved', interleaved);
report('alone', alone);
