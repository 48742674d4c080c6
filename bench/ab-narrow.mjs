#!/usr/bin/env node
// Two builds' lookups (or bag sums) on large narrow tables, in one process, their calls alternated:
// the A/B behind the prefetch changes quoted in the README's narrow-tables benchmark. Each root is a
// checkout with dist/ and its addon built (as for bench/ab-builds.mjs).
//
//   node --expose-gc bench/ab-narrow.mjs <old root> <new root> [dtypes]     default int4,int8,float16
//
// Environment: MODE=bag (bag sums, 1,024 bags of 16 ids; VAR=1: lengths 1..31), ALLOC=v8 (tables
// in V8-allocated typed arrays, 16 bytes into a page, as the dtype suite's; default: the addon's
// page-aligned allocateTable), ROWS (default 4,000,000; D = 128). Tables: a 4096-row tile of
// seeded codes (valid scales and biases) repeated. 64 batches of 16,384 uniform int32 ids, rotated.
// 24 rounds, each 16 calls of each build (order swapped each round); medians of the CPU time (and
// of the wall time) per call, 1 thread.
import { createRequire } from 'node:module';
import path from 'node:path';

import { SEED, prng } from './harness.mjs';
const require = createRequire(import.meta.url);
if (process.argv.length < 4) {
  console.error('usage: node --expose-gc bench/ab-narrow.mjs <old root> <new root> [dtypes]');
  process.exit(2);
}
const roots = [process.argv[2], process.argv[3]].map((r) => path.resolve(r));
const builds = roots.map((r) => require(r + '/dist/index.js'));
const ROWS = Number(process.env.ROWS ?? 4_000_000), D = 128, B = 16384;
const dtypes = (process.argv[4] ?? 'int4,int8,float16').split(',');
const rowBytes = { int4: D / 2 + 4, int8: D + 8, float16: 2 * D, float32: 4 * D };
const { allocateTable } = require(roots[1] + '/dist/io/files.js');
function table(dtype) {
  const rb = rowBytes[dtype];
  let f;
  if (process.env.ALLOC === 'v8') { f = new Float32Array(Math.ceil((ROWS * rb) / 4)); require(roots[1] + '/dist/backends/native.js').loadAddon().adviseHugePages(f.buffer); }
  else f = allocateTable(Math.ceil((ROWS * rb) / 4));
  const u8 = new Uint8Array(f.buffer, f.byteOffset, ROWS * rb);
  let s = 12345;
  const tile = new Uint8Array(rb * 4096);
  for (let i = 0; i < tile.length; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; tile[i] = (s >>> 16) & 0x3f; }
  const dv = new DataView(tile.buffer);
  for (let r = 0; r < 4096; r++) {
    if (dtype === 'int8') { dv.setFloat32(r * rb + D, 0.01, true); dv.setFloat32(r * rb + D + 4, -0.5, true); }
    if (dtype === 'int4') { dv.setUint16(r * rb + D / 2, 0x2000, true); dv.setUint16(r * rb + D / 2 + 2, 0xb800, true); }
  }
  for (let o = 0; o < u8.length; o += tile.length) u8.set(tile.subarray(0, Math.min(tile.length, u8.length - o)), o);
  if (dtype === 'float16') return new Uint16Array(u8.buffer, u8.byteOffset, ROWS * D);
  if (dtype === 'float32') return new Float32Array(u8.buffer, u8.byteOffset, ROWS * D);
  return u8;
}
let s = 7;
// Uniform ids from the suites' generator (mulberry32): a linear congruential one's ids made int4 bag
// sums look 1.5x faster than the suite's.
const nextId = prng(SEED);
const batches = Array.from({ length: 64 }, () => { const a = new Int32Array(B); for (let i = 0; i < B; i++) a[i] = nextId() % ROWS; return a; });
const out = new Float32Array(B * D);
const BAGS = 1024;
const bagIdx = batches.map((b) => b.subarray(0, 16 * BAGS));
const offsets = new Int32Array(BAGS); if (process.env.VAR) { let o = 0; let q = 99; for (let i = 0; i < BAGS; i++) { offsets[i] = o; q = (Math.imul(q, 1103515245) + 12345) >>> 0; o += 1 + ((q >>> 8) % 31); } } else for (let i = 0; i < BAGS; i++) offsets[i] = i * 16;
const bagOut = new Float32Array(BAGS * D);
const mode = process.env.MODE ?? 'fwd';
for (const dtype of dtypes) {
  const data = table(dtype);
  const layers = builds.map((m) => mode === 'bag' ? m.EmbeddingBag.fromPretrained(data, D, dtype === 'float32' ? { mode: 'sum' } : { dtype, mode: 'sum' }) : m.Embedding.fromPretrained(data, D, dtype === 'float32' ? {} : { dtype }));
  builds.forEach((m) => m.setNumThreads(1));
  const res = [[], []]; const wall = [[], []];
  let bi = 0;
  for (let round = 0; round < 24; round++) {
    for (const k of round % 2 ? [1, 0] : [0, 1]) {
      const c0 = process.cpuUsage(); const w0 = process.hrtime.bigint();
      for (let c = 0; c < 16; c++) { if (mode === 'bag') layers[k].forward(bagIdx[bi++ % 64], offsets, null, bagOut); else layers[k].forward(batches[bi++ % 64], out); }
      const c1 = process.cpuUsage(c0);
      res[k].push((c1.user + c1.system) / 16); wall[k].push(Number(process.hrtime.bigint() - w0) / 16e3);
    }
  }
  const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  console.log(mode, dtype, 'old', med(res[0]).toFixed(0), 'us new', med(res[1]).toFixed(0), 'us new/old', (med(res[1]) / med(res[0])).toFixed(3), 'wall', med(wall[0]).toFixed(0), med(wall[1]).toFixed(0));
}
