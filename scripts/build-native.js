#!/usr/bin/env node
// Builds the native addon from source, for a platform the package has no prebuild for (macOS,
// Windows, musl Linux, other architectures) or after changing native/. Run by
// `npx nn-embedding build-native` in a project that installed the package, or from a clone.
// Needs python3, make and a C++17 compiler (node-gyp's requirements). Exits 0 when the addon built
// and loads (node-gyp-build then prefers it to any prebuild), 1 with the reason otherwise.
//
// The package has no install script on purpose: npm 11 warns about every dependency's install
// script, and on linux-x64/arm64 (glibc) the prebuild makes one unnecessary.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** node-gyp: the one npm hands its scripts, else npm's bundled copy, else one on the PATH. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] }));
  } catch {
    // not installed next to the package
  }
  const found = candidates.find((file) => file && fs.existsSync(file));
  return found ? { command: process.execPath, args: [found, 'rebuild'] } : { command: 'node-gyp', args: ['rebuild'] };
}

const { command, args } = nodeGyp();
console.log(`nn-embedding: building the native addon in ${root} (${path.basename(args[0] === 'rebuild' ? command : args[0])} rebuild)`);
const build = spawnSync(command, args, { cwd: root, encoding: 'utf8', shell: command === 'node-gyp' && process.platform === 'win32' });
const output = `${build.stdout ?? ''}\n${build.stderr ?? ''}`;
if (build.error || build.status !== 0) {
  const reason =
    build.error?.code === 'ENOENT'
      ? 'node-gyp was not found (it comes with npm; or npm install -g node-gyp)'
      : (build.error?.message ?? output.split('\n').reverse().find((line) => /error/i.test(line))?.trim() ?? `node-gyp exited with ${build.status}`);
  process.stderr.write(output.split('\n').slice(-30).join('\n'));
  console.error(`\nnn-embedding: the source build failed: ${reason.slice(0, 300)}`);
  console.error('It needs python3, make and a C++17 compiler (g++ 8+, clang 7+, or MSVC 2019+ on Windows).');
  process.exit(1);
}
try {
  const addon = require('node-gyp-build')(root);
  console.log(`nn-embedding: built and loaded; SIMD tiers this CPU runs: ${JSON.stringify(addon.cpuFeatures())}`);
} catch (error) {
  console.error(`nn-embedding: the build finished but the addon does not load: ${error.message}`);
  process.exit(1);
}
