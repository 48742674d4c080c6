// scripts/check-prebuilds.js, the glibc-floor check CI runs on every prebuild (the prebuilds
// themselves are made and checked in scripts/test-packed.sh): here it must reject the development
// build, which links libstdc++ dynamically and uses this machine's newest glibc symbols.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const script = path.join(root, 'scripts', 'check-prebuilds.js');
const devBuild = path.join(root, 'build', 'Release', 'nn_embedding.node');

function check(...args: string[]) {
  const result = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

describe('check-prebuilds (the glibc floor of the shipped addons)', () => {
  it.runIf(process.platform === 'linux' && fs.existsSync(devBuild))('fails on a development build, naming libstdc++ and each symbol above the floor', () => {
    const result = check(devBuild);
    expect(result.status).toBe(1);
    expect(result.out).toMatch(/needs libstdc\+\+\.so\.6 \(link it statically/);
    expect(result.out).toMatch(/@GLIBCXX_3\.4[.\d]* needs libstdc\+\+\.so\.6/);
    // This machine's glibc (2.36) gives the thread functions GLIBC_2.34 versions.
    const glibc = /highest GLIBC_(\d+)\.(\d+)/.exec(result.out);
    expect(glibc).not.toBeNull();
    if (Number(glibc![1]) === 2 && Number(glibc![2]) > 28) expect(result.out).toMatch(/\w+@GLIBC_2\.(29|3\d) is above the floor GLIBC_2\.28/);
    // With a floor above every glibc version, only the libstdc++ problems remain.
    const high = check('--floor', '2.99', devBuild);
    expect(high.status).toBe(1);
    expect(high.out).not.toMatch(/is above the floor/);
    expect(high.out).toMatch(/libstdc\+\+/);
  });

  it('refuses files that are not 64-bit ELF, a missing folder, and a bad floor', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nne-elf-'));
    try {
      const folder = path.join(dir, 'linux-x64');
      fs.mkdirSync(folder);
      fs.writeFileSync(path.join(folder, 'nn-embedding.glibc.node'), 'not an ELF file at all, just text......................................');
      const notElf = check(dir);
      expect(notElf.status).toBe(1);
      expect(notElf.out).toMatch(/nn-embedding\.glibc\.node: not an ELF file/);
      const empty = check(path.join(dir, 'nothing-here'));
      expect(empty.status).toBe(1);
      expect(empty.out).toMatch(/no \.node files in/);
      expect(check('--floor', 'new', dir).status).toBe(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
