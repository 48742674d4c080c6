#!/usr/bin/env node
// Reads each prebuild's ELF file and fails if it would not load on every glibc Linux that Node 20
// supports: glibc 2.28 and later (RHEL 8, Debian 10, Ubuntu 20.04, Amazon Linux 2023...).
//   - the machine must be the one its folder names (linux-x64: x86-64, linux-arm64: AArch64);
//   - the file name must carry the libc tag (`.glibc.node`), so node-gyp-build never offers it to
//     a musl system;
//   - NEEDED may name only the C library's own parts (libc, libm, libpthread, libdl, librt, the
//     dynamic loader): no libstdc++.so.6 or libgcc_s.so.1, whose versions vary by distribution;
//   - no symbol may need a GLIBC_ version above the floor (2.28), nor any GLIBCXX_, CXXABI_ or
//     GCC_ version; each offending symbol is named.
//   - the N-API entry point must be exported.
//
//   node scripts/check-prebuilds.js [--floor 2.28] [file.node | folder ...]   (default: prebuilds/)
// Exits 1, naming every problem, when a file breaks a rule. Reads the ELF itself: no binutils.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const MACHINES = { 62: 'x64', 183: 'arm64' };
const ALLOWED_NEEDED = /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$/;

/** The dynamic-linking facts of a 64-bit little-endian ELF shared object. */
function readElf(file) {
  const b = fs.readFileSync(file);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (b[4] !== 2 || b[5] !== 1) throw new Error(`not a 64-bit little-endian ELF file (class ${b[4]}, data ${b[5]})`);
  const machine = b.readUInt16LE(18);
  const shoff = Number(b.readBigUInt64LE(40));
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 24)),
      size: Number(b.readBigUInt64LE(o + 32)),
      link: b.readUInt32LE(o + 40),
      entsize: Number(b.readBigUInt64LE(o + 56)),
    });
  }
  const SHT_DYNSYM = 11;
  const SHT_DYNAMIC = 6;
  const SHT_GNU_VERNEED = 0x6ffffffe;
  const SHT_GNU_VERSYM = 0x6fffffff;
  const one = (type) => sections.find((s) => s.type === type);
  const dynsym = one(SHT_DYNSYM);
  if (dynsym === undefined) throw new Error('no dynamic symbol table');
  const strtab = sections[dynsym.link];
  const str = (offset) => {
    const start = strtab.offset + offset;
    return b.toString('latin1', start, b.indexOf(0, start));
  };

  const needed = [];
  const dynamic = one(SHT_DYNAMIC);
  if (dynamic !== undefined) {
    for (let o = dynamic.offset; o < dynamic.offset + dynamic.size; o += 16) {
      const tag = Number(b.readBigInt64LE(o));
      if (tag === 0) break;
      if (tag === 1) needed.push(str(Number(b.readBigUInt64LE(o + 8)))); // DT_NEEDED
    }
  }

  // Version index -> { file, version } from the version-needs section.
  const versions = new Map();
  const verneed = one(SHT_GNU_VERNEED);
  if (verneed !== undefined) {
    let o = verneed.offset;
    for (;;) {
      const count = b.readUInt16LE(o + 2);
      const fileName = str(b.readUInt32LE(o + 4));
      let a = o + b.readUInt32LE(o + 8);
      for (let i = 0; i < count; i++) {
        versions.set(b.readUInt16LE(a + 6), { file: fileName, version: str(b.readUInt32LE(a + 8)) });
        const next = b.readUInt32LE(a + 12);
        if (next === 0) break;
        a += next;
      }
      const next = b.readUInt32LE(o + 12);
      if (next === 0) break;
      o += next;
    }
  }

  const versym = one(SHT_GNU_VERSYM);
  const symbols = [];
  const count = dynsym.size / dynsym.entsize;
  for (let i = 1; i < count; i++) {
    const o = dynsym.offset + i * dynsym.entsize;
    const name = str(b.readUInt32LE(o));
    const shndx = b.readUInt16LE(o + 6);
    const index = versym === undefined ? 0 : b.readUInt16LE(versym.offset + i * 2) & 0x7fff;
    symbols.push({ name, defined: shndx !== 0, need: versions.get(index) ?? null });
  }
  return { machine, needed, versions: [...versions.values()], symbols };
}

function versionAbove(version, floor) {
  const a = version.split('.').map(Number);
  const f = floor.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, f.length); i++) {
    if ((a[i] ?? 0) !== (f[i] ?? 0)) return (a[i] ?? 0) > (f[i] ?? 0);
  }
  return false;
}

/** The problems of one prebuild, and a one-line summary of it. */
function checkFile(file, floor) {
  const problems = [];
  let elf;
  try {
    elf = readElf(file);
  } catch (error) {
    return { problems: [`${file}: ${error.message}`], summary: '' };
  }
  const folder = path.basename(path.dirname(file)); // linux-x64, linux-arm64
  const arch = MACHINES[elf.machine] ?? `e_machine ${elf.machine}`;
  if (folder.startsWith('linux-') && folder !== `linux-${arch}`) problems.push(`${file}: built for ${arch}, but it sits in ${folder}/`);
  if (folder.startsWith('linux-') && !/\.glibc\.node$/.test(file)) problems.push(`${file}: the name lacks the libc tag (.glibc.node): a musl system would try it`);
  for (const library of elf.needed) {
    if (!ALLOWED_NEEDED.test(library)) problems.push(`${file}: needs ${library} (link it statically: only the C library's own parts may be NEEDED)`);
  }
  let highest = '0';
  for (const symbol of elf.symbols) {
    if (symbol.defined || symbol.need === null) continue;
    const { version } = symbol.need;
    const glibc = /^GLIBC_(\d+(?:\.\d+)*)$/.exec(version);
    if (glibc !== null) {
      if (versionAbove(glibc[1], highest)) highest = glibc[1];
      if (versionAbove(glibc[1], floor)) problems.push(`${file}: ${symbol.name}@${version} is above the floor GLIBC_${floor}`);
    } else if (/^(GLIBCXX|CXXABI|GCC)_/.test(version)) {
      problems.push(`${file}: ${symbol.name}@${version} needs ${symbol.need.file} (link libstdc++ and libgcc statically)`);
    }
  }
  if (!elf.symbols.some((s) => s.defined && s.name === 'napi_register_module_v1')) problems.push(`${file}: napi_register_module_v1 is not exported`);
  const summary = `${path.relative(process.cwd(), file)}: ${arch}, needs ${elf.needed.join(' ')}, highest GLIBC_${highest}`;
  return { problems, summary };
}

function prebuildFiles(target) {
  if (!fs.existsSync(target)) return [];
  if (fs.statSync(target).isFile()) return [target];
  return fs.readdirSync(target, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(target, entry.name);
    if (entry.isDirectory()) return prebuildFiles(full);
    return entry.name.endsWith('.node') ? [full] : [];
  });
}

function main(argv) {
  let floor = '2.28';
  const targets = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--floor') floor = argv[++i];
    else targets.push(argv[i]);
  }
  if (!/^\d+\.\d+$/.test(floor ?? '')) {
    console.error(`check-prebuilds: --floor must be a glibc version such as 2.28, got '${floor}'`);
    return 2;
  }
  if (targets.length === 0) targets.push(path.resolve(__dirname, '..', 'prebuilds'));
  const files = targets.flatMap(prebuildFiles);
  if (files.length === 0) {
    console.error(`check-prebuilds: no .node files in ${targets.join(', ')} (npm run prebuilds makes them)`);
    return 1;
  }
  const problems = [];
  for (const file of files) {
    const result = checkFile(file, floor);
    if (result.summary) console.log(result.summary);
    problems.push(...result.problems);
  }
  if (problems.length > 0) {
    console.error(`check-prebuilds: ${problems.length} problem(s), floor GLIBC_${floor}:\n  ${problems.join('\n  ')}`);
    return 1;
  }
  console.log(`check-prebuilds: ${files.length} prebuild(s) load on glibc ${floor} and later`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
module.exports = { readElf, checkFile };
