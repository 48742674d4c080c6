#!/usr/bin/env node
// Checks that binding.gyp (node-gyp, prebuildify) and CMakeLists.txt (cmake-js, the C++ kernel
// tests) compile the same sources with the same flags, by reading what both tools generated:
// node-gyp's build/nn_embedding.target.mk and CMake's compile_commands.json. Also checks that
// every C++ file in native/ (tests aside) is built. Needs `npm run build:native` first; configures
// CMake itself. Exits 1 and prints the difference when they drift.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const problems = [];

// Flags that change what the compiler produces or accepts; include paths and defines differ by
// nature (Node's headers and defines only concern binding.cc).
const relevant = (flag) => /^-(O|f|m|std=|pthread$|W)/.test(flag);

const makefile = fs.readFileSync(path.join(root, 'build', 'nn_embedding.target.mk'), 'utf8');
function makeVariable(name) {
  const match = makefile.match(new RegExp(`^${name} := \\\\\\n((?:\\t.*\\n)*)`, 'm'));
  if (!match) throw new Error(`${name} not found in build/nn_embedding.target.mk`);
  return match[1].split('\n').map((line) => line.replace(/\\$/, '').trim()).filter(Boolean);
}
const gypFlags = [...makeVariable('CFLAGS_Release'), ...makeVariable('CFLAGS_CC_Release')].filter(relevant);
const gypSources = [...makefile.matchAll(/\$\(obj\)\.target\/\$\(TARGET\)\/(native\/[\w/]+)\.o/g)].map((m) => `${m[1]}.cc`);

const cmakeDir = path.join(root, 'build-cmake');
execFileSync('cmake', ['-S', root, '-B', cmakeDir], { stdio: 'ignore' });
const commands = JSON.parse(fs.readFileSync(path.join(cmakeDir, 'compile_commands.json'), 'utf8'));
// native/tests/ by its full path: the checkout's own path may hold 'tests' (a worktree named wt-tests).
const kernelCommands = commands.filter((c) => c.file.includes(`${path.sep}native${path.sep}`) && !c.file.includes(`${path.sep}native${path.sep}tests${path.sep}`));
const cmakeSources = kernelCommands.map((c) => path.relative(root, c.file));

function sameList(what, a, aName, b, bName) {
  const missingInB = a.filter((x) => !b.includes(x));
  const missingInA = b.filter((x) => !a.includes(x));
  if (missingInB.length) problems.push(`${what} in ${aName} but not ${bName}: ${missingInB.join(' ')}`);
  if (missingInA.length) problems.push(`${what} in ${bName} but not ${aName}: ${missingInA.join(' ')}`);
}

for (const command of kernelCommands) {
  const flags = (command.command ?? command.arguments.join(' ')).split(/\s+/).filter(relevant);
  sameList(`flags for ${path.relative(root, command.file)}`, [...new Set(gypFlags)], 'node-gyp', [...new Set(flags)], 'CMake');
}
const onDisk = fs.readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.cc')).map((f) => `native/${f}`);
sameList('sources', gypSources.filter((s) => s !== 'native/binding.cc'), 'node-gyp', cmakeSources, 'CMake');
sameList('sources', onDisk.filter((s) => s !== 'native/binding.cc'), 'native/', cmakeSources, 'CMake');
if (!gypSources.includes('native/binding.cc')) problems.push('native/binding.cc is not built by node-gyp');

if (problems.length > 0) {
  console.error(`binding.gyp and CMakeLists.txt have drifted:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`build descriptions agree: ${cmakeSources.length} kernel sources, flags ${[...new Set(gypFlags)].join(' ')}`);
