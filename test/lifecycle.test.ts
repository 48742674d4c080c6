// The native lifecycle, classic-level's way: each case runs in its own Node process, against the
// built package in dist/, so that a crash fails the test and not the runner. A process that ends
// (process.exit, or its event loop running out) while an async call is still on the thread pool
// ends cleanly; a buffer an async call is using, sent to a worker or detached while the call runs,
// is refused (Node 20: copied instead; Node >= 21: a DataCloneError), and the call completes with
// the right result. (test/no-crash.test.ts covers transfers through MessageChannel ports and
// worker threads that end with calls pending.)
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { getBackend } from '../src/index.js';

const dist = path.resolve(__dirname, '..', 'dist', 'index.js');
const native = getBackend() === 'native';

/**
 * What each child starts with: a bag layer whose sum over 4,000,000 indices takes hundreds of
 * milliseconds on the native backend (a tenth of that on the TypeScript backend, whose async call
 * runs in one later task anyway), its expected output (computed synchronously on copies), and
 * `run`, the async call.
 */
const PRELUDE = `
'use strict';
const nn = require(${JSON.stringify(dist)});
const { writeSync } = require('node:fs');
const say = (text) => writeSync(1, text + '\\n');
const rows = 100_000, dim = 64, numBags = 1000;
const weight = new Float32Array(rows * dim).map((_, i) => ((i * 2654435761) % 1000) / 250 - 2);
const indices = Int32Array.from({ length: ${native ? 4_000_000 : 400_000} }, (_, i) => (i * 2654435761) % rows);
const bagLength = indices.length / numBags;
const bag = nn.EmbeddingBag.fromPretrained(weight, dim, { mode: 'sum' });
const expected = nn.EmbeddingBag.fromPretrained(weight.slice(), dim, { mode: 'sum' }).forward(indices.slice(), bagLength);
const same = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
let settled = false;
const run = (out) => {
  const call = bag.forwardAsync(indices, bagLength, null, out);
  call.then(() => (settled = true), () => (settled = true));
  return call;
};
`;

interface Ended {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runChild(body: string, threads: number): Ended {
  const run = spawnSync(process.execPath, ['--expose-gc', '-e', PRELUDE + body], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NN_EMBEDDING_THREADS: String(threads) },
  });
  return { status: run.status, signal: run.signal, stdout: run.stdout ?? '', stderr: run.stderr ?? '' };
}

/** The child ended with `status`, by no signal, and wrote nothing to stderr. */
function expectCleanEnd(ended: Ended, status: number): void {
  const context = `\nstdout: ${ended.stdout}\nstderr: ${ended.stderr}`;
  expect(ended.signal, `the child died by a signal${context}`).toBeNull();
  expect(ended.status, `the child's exit status${context}`).toBe(status);
  expect(ended.stderr, 'the child wrote to stderr').toBe('');
}

describe('a process that ends while an async call is on the thread pool', () => {
  for (const threads of [1, 2]) {
    it(`process.exit(7) mid-call (${threads} thread${threads > 1 ? 's' : ''}): exits with 7, no crash`, () => {
      const ended = runChild(
        `
run();
setTimeout(() => {
  say(settled ? 'settled' : 'pending');
  process.exit(7);
}, 20);
`,
        threads,
      );
      expectCleanEnd(ended, 7);
      // On the native backend the call is still running when the process exits; the TypeScript
      // backend runs it in a task before the timer's.
      expect(ended.stdout.trim()).toBe(native ? 'pending' : 'settled');
    });

    it(`the event loop runs out with the call's promise ignored (${threads} thread${threads > 1 ? 's' : ''}): the call finishes first, exit 0`, () => {
      const ended = runChild(
        `
run();
process.on('exit', (code) => say('exit ' + code + ' ' + (settled ? 'settled' : 'pending')));
`,
        threads,
      );
      expectCleanEnd(ended, 0);
      expect(ended.stdout.trim()).toBe('exit 0 settled');
    });
  }
});

/** A transfer's outcome: 'copied' (the buffer stayed attached: Node 20), the error's name, or 'detached'. */
const TRANSFER_HELPER = `
function attempt(buffer, move) {
  const before = buffer.byteLength;
  try {
    move(buffer);
  } catch (error) {
    return error.name;
  }
  return buffer.byteLength === before ? 'copied' : 'detached';
}
`;

describe('a buffer an async call is using, moved away while it runs', () => {
  const expectRefused = (ended: Ended, refusals = ['copied', 'DataCloneError']): void => {
    expectCleanEnd(ended, 0);
    const [outcome, correct] = ended.stdout.trim().split(' ');
    expect(refusals, `the transfer's outcome: ${ended.stdout}`).toContain(outcome);
    expect(correct, 'the call completed with the right result').toBe('correct');
  };

  it("the output's buffer posted to a worker with a transfer list: refused, and the worker gets a copy", () => {
    const ended = runChild(
      `${TRANSFER_HELPER}
const { Worker } = require('node:worker_threads');
const worker = new Worker(
  "require('node:worker_threads').parentPort.once('message', (a) => { a.fill(-1); require('node:worker_threads').parentPort.postMessage(a.length); });",
  { eval: true },
);
const out = new Float32Array(numBags * dim);
const call = run(out);
const outcome = attempt(out.buffer, (buffer) => worker.postMessage(new Float32Array(buffer), [buffer]));
globalThis.gc();
(async () => {
  // A worker writing its copy must not reach the call's output.
  if (outcome === 'copied') await new Promise((resolve) => worker.once('message', resolve));
  await worker.terminate();
  const result = await call;
  say(outcome + ' ' + (result === out && same(out, expected) ? 'correct' : 'wrong'));
})();
`,
      2,
    );
    expectRefused(ended);
  });

  it("the table's buffer detached by structuredClone with transfer: refused, the call's result is right", () => {
    const ended = runChild(
      `${TRANSFER_HELPER}
const call = run();
const outcome = attempt(bag.weight.buffer, (buffer) => structuredClone(buffer, { transfer: [buffer] }));
globalThis.gc();
call.then((result) => say(outcome + ' ' + (same(result, expected) ? 'correct' : 'wrong')));
`,
      2,
    );
    expectRefused(ended);
  });

  const transferMethod = (ArrayBuffer.prototype as { transfer?: unknown }).transfer;
  // Node 20 has no ArrayBuffer.prototype.transfer (Node >= 21 does); on a buffer that cannot be
  // detached it throws a TypeError.
  it.runIf(typeof transferMethod === 'function')("the table's buffer detached by ArrayBuffer.prototype.transfer: refused", () => {
    const ended = runChild(
      `${TRANSFER_HELPER}
const call = run();
const outcome = attempt(bag.weight.buffer, (buffer) => buffer.transfer());
call.then((result) => say(outcome + ' ' + (same(result, expected) ? 'correct' : 'wrong')));
`,
      2,
    );
    expectRefused(ended, ['TypeError']);
  });
});
