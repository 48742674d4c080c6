#!/usr/bin/env node
// npm's install step for nn-embedding. It never fails the install because of the addon:
//   1. a prebuild for this platform (prebuilds/) or an existing build that loads: done;
//   2. else build from source with node-gyp (needs python3, make and a C++17 compiler);
//   3. else print one line and carry on: the pure-TypeScript backend serves.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function loads() {
  try {
    require('node-gyp-build')(root);
    return null;
  } catch (error) {
    return error;
  }
}

if (loads() === null) process.exit(0);

// npm tells lifecycle scripts where its bundled node-gyp is; otherwise use one on the PATH.
const nodeGyp = process.env.npm_config_node_gyp;
const command = nodeGyp ? process.execPath : 'node-gyp';
const args = nodeGyp ? [nodeGyp, 'rebuild'] : ['rebuild'];
const build = spawnSync(command, args, { cwd: root, encoding: 'utf8', shell: !nodeGyp && process.platform === 'win32' });
const loadError = build.status === 0 ? loads() : null;
if (build.status === 0 && loadError === null) process.exit(0);

const output = `${build.stdout ?? ''}\n${build.stderr ?? ''}`;
const reason =
  build.error?.message ??
  (build.status !== 0
    ? (output.split('\n').reverse().find((line) => /error/i.test(line)) ?? `node-gyp exited with ${build.status}`).trim()
    : loadError.message);
console.log(`nn-embedding: native addon unavailable (${reason.slice(0, 200)}); using the pure-TypeScript backend`);
