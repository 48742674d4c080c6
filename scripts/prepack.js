#!/usr/bin/env node
// npm's prepack step (npm pack, npm publish): the tarball must be the complete package or nothing.
//   1. the TypeScript build (dist/) is made fresh;
//   2. prebuilds/ must hold the prebuild for this platform (npm run prebuilds makes it), and every
//      prebuild in it must pass scripts/check-prebuilds.js; otherwise packing stops, saying so.
// NN_EMBEDDING_PACK_WITHOUT_PREBUILDS=1 packs without prebuilds on purpose (scripts/test-packed.sh
// uses it to test the source build); the tarball then serves only users who build from source.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
function fail(message) {
  console.error(`\nnn-embedding prepack: ${message}\n`);
  process.exit(1);
}

execFileSync(process.execPath, [path.join(__dirname, 'build-ts.js')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });

const prebuilds = path.join(root, 'prebuilds');
if (process.env.NN_EMBEDDING_PACK_WITHOUT_PREBUILDS === '1') {
  if (fs.existsSync(prebuilds)) fail('NN_EMBEDDING_PACK_WITHOUT_PREBUILDS=1 but prebuilds/ exists: move it away first');
  console.error('nn-embedding prepack: packing without prebuilds (NN_EMBEDDING_PACK_WITHOUT_PREBUILDS=1): users must build from source');
  process.exit(0);
}
const host = `${process.platform}-${process.arch}`;
const hostFolder = path.join(prebuilds, host);
const found = fs.existsSync(hostFolder) ? fs.readdirSync(hostFolder).filter((name) => name.endsWith('.node')) : [];
if (found.length === 0) {
  fail(
    `no prebuild for ${host} in prebuilds/${host}/: the tarball would make every ${host} user compile, or fall back to the ` +
      'slower TypeScript backend. Run `npm run prebuilds` first (linux-x64 and linux-arm64; see README, "What the package contains").',
  );
}
try {
  execFileSync(process.execPath, [path.join(__dirname, 'check-prebuilds.js'), prebuilds], { cwd: root, stdio: ['ignore', 2, 2] });
} catch {
  fail('a prebuild does not pass the glibc floor check (above); rebuild with `npm run prebuilds`');
}
const missing = ['linux-x64', 'linux-arm64'].filter((folder) => !fs.existsSync(path.join(prebuilds, folder)));
if (missing.length > 0) console.error(`nn-embedding prepack: warning: no prebuild for ${missing.join(', ')}; users there build from source`);
