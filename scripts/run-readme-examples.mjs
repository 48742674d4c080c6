#!/usr/bin/env node
// Runs every ```js block of README.md, unchanged, as an ES module in a project where nn-embedding is
// installed, so that the README's examples cannot drift from the package (issue 12). API listings
// use another fence (```ts) and are not run.
//
//   node scripts/run-readme-examples.mjs <projectDir> [readmePath]
//
// Each block is written to <projectDir>/readme-example-<n>.mjs and run with this Node
// (process.execPath) in projectDir, so `import ... from 'nn-embedding'` resolves from
// projectDir/node_modules, with this process's environment (NN_EMBEDDING_BACKEND and the like
// apply). Blocks may write files into projectDir. Prints each block's README line, pass/fail and
// time; exits 1 if any block fails (after printing its output) or if the README has no js block.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TIMEOUT_MS = 60_000;

const [projectArg, readmeArg] = process.argv.slice(2);
if (!projectArg || process.argv.length > 4) {
  console.error('usage: node scripts/run-readme-examples.mjs <projectDir> [readmePath]');
  process.exit(2);
}
const projectDir = resolve(projectArg);
const readmePath = resolve(readmeArg ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md'));
if (!statSync(projectDir, { throwIfNoEntry: false })?.isDirectory()) {
  console.error(`run-readme-examples: ${projectDir} is not a directory`);
  process.exit(2);
}

/** The ```js blocks of a Markdown text, in order, with the line number of their opening fence. */
function jsBlocks(markdown) {
  const lines = markdown.split(/\r?\n/);
  const blocks = [];
  let fence = null; // the open fence: { marker, info, line, body }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (fence === null) {
      const open = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/.exec(line);
      if (open) fence = { marker: open[1], info: open[2].toLowerCase(), line: i + 1, body: [] };
    } else if (new RegExp(`^ {0,3}${fence.marker[0]}{${fence.marker.length},}\\s*$`).test(line)) {
      if (fence.info === 'js' || fence.info === 'javascript') {
        blocks.push({ line: fence.line, code: fence.body.join('\n') + '\n' });
      }
      fence = null;
    } else {
      fence.body.push(line);
    }
  }
  if (fence !== null) throw new Error(`${readmePath}:${fence.line}: code block never closed`);
  return blocks;
}

/** Which backend the installed package uses in projectDir, for the log (the blocks do not depend on it). */
function installedBackend() {
  const probe = spawnSync(process.execPath, ['--input-type=module', '-e',
    "import { getCapabilities } from 'nn-embedding'; const c = getCapabilities();" +
    " console.log(c.backend + (c.simd ? ' (' + c.simd + ')' : '') + (c.nativeError ? '; addon: ' + c.nativeError.split('\\n')[0] : ''));"],
  { cwd: projectDir, env: process.env, encoding: 'utf8', timeout: TIMEOUT_MS });
  return probe.status === 0 ? probe.stdout.trim() : `unknown (importing nn-embedding failed: ${(probe.stderr ?? '').trim().split('\n').pop()})`;
}

const blocks = jsBlocks(readFileSync(readmePath, 'utf8'));
console.log(`${readmePath}: ${blocks.length} js block(s), run in ${projectDir} with node ${process.version}` +
  (process.env.NN_EMBEDDING_BACKEND ? `, NN_EMBEDDING_BACKEND=${process.env.NN_EMBEDDING_BACKEND}` : ''));
console.log(`backend: ${installedBackend()}`);
if (blocks.length === 0) {
  console.error('run-readme-examples: no ```js block found; the README examples would not be checked');
  process.exit(1);
}

const failures = [];
for (const [k, block] of blocks.entries()) {
  const n = k + 1;
  const file = `readme-example-${n}.mjs`;
  writeFileSync(join(projectDir, file), block.code);
  const start = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [file], {
    cwd: projectDir,
    env: process.env,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  let why = null;
  if (run.error?.code === 'ETIMEDOUT') why = `timed out after ${TIMEOUT_MS / 1000} s`;
  else if (run.error) why = `could not run: ${run.error.message}`;
  else if (run.signal) why = `killed by ${run.signal}`;
  else if (run.status !== 0) why = `exit status ${run.status}`;
  const label = `block ${n} (${basename(readmePath)} line ${block.line}, ${file})`;
  console.log(`${why ? 'FAIL' : 'pass'}  ${label}  ${seconds.toFixed(2)} s${why ? `: ${why}` : ''}`);
  if (why) {
    failures.push(label);
    if (run.stdout) console.log(`--- stdout of block ${n}\n${run.stdout.trimEnd()}`);
    console.log(`--- stderr of block ${n}\n${(run.stderr ?? '').trimEnd()}\n---`);
  }
}

if (failures.length > 0) {
  console.error(`${failures.length} of ${blocks.length} README example(s) failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log(`all ${blocks.length} README examples passed`);
