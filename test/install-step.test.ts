/**
 * The install step (scripts/install.js, package.json "install"): uses a prebuild that matches
 * and loads, and otherwise says why it compiles, or why it cannot. Run in a scratch copy of the
 * package with a PATH that holds only node, so no compiler or cmake is ever found.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from './helpers/skip.js';
import { tempDir } from './helpers/temp-dir.js';

const root = join(__dirname, '..');
const target = `${process.platform}-${process.arch}`;
const builtAddon = join(root, 'build', 'Release', 'vss_bridge.node');

const reason = skipUnlessRunnable(
  'install step',
  process.platform === 'win32' ? 'it runs install.js on a PATH of symlinks to node and sh alone, which Windows has not' : null,
);
// A prebuild that loads: the addon this checkout built.
const prebuildReason =
  reason ?? skipUnlessRunnable('install step with a prebuild', existsSync(builtAddon) ? null : `no built addon to stand in for a prebuild (${builtAddon}): npm run build:native`);
const muslReason =
  prebuildReason ?? skipUnlessRunnable('install step on musl', process.platform === 'linux' ? null : `LIBC=musl is read on Linux only (this is ${process.platform})`);

function scratchPackage(prebuild?: string): string {
  const dir = tempDir('vss-bridge-install-');
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(root, 'scripts', 'install.js'), join(dir, 'scripts', 'install.js'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'vss-bridge', version: '0.0.0' }));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  if (prebuild !== undefined) {
    mkdirSync(join(dir, 'prebuilds', target), { recursive: true });
    const file = join(dir, 'prebuilds', target, 'vss_bridge.glibc.node');
    if (prebuild === 'garbage') writeFileSync(file, 'not a shared object');
    else copyFileSync(prebuild, file);
  }
  return dir;
}

function install(dir: string, env: Record<string, string> = {}) {
  const bin = join(dir, '.bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  // `sh` for the tool lookups, and nothing else: no cmake, make or compiler.
  symlinkSync('/bin/sh', join(bin, 'sh'));
  const run = spawnSync(process.execPath, [join(dir, 'scripts', 'install.js')], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: bin, HOME: dir, ...env },
  });
  return { status: run.status, stderr: run.stderr };
}

describe.skipIf(reason !== null)(`install step${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('without a prebuild or a compiler: fails naming vss-bridge, the platform, what is missing and how to get it', () => {
    const { status, stderr } = install(scratchPackage());
    expect(status).toBe(1);
    expect(stderr).toContain(`vss-bridge: compiling the addon: no prebuilt addon for ${target} is in this package`);
    expect(stderr).toContain(`vss-bridge: cannot install on ${target}: compiling needs cmake, make, a C++17 compiler`);
    expect(stderr).toMatch(/apt-get install cmake make g\+\+/);
    expect(stderr).toMatch(/dnf install cmake make gcc-c\+\+/);
    expect(stderr).toContain('Or install on a platform with a prebuilt addon: linux-x64 and linux-arm64 (glibc 2.28 or newer) and win32-x64');
  });

  it('a prebuild that does not load here is named, with the loader error, and the install compiles instead', () => {
    const { status, stderr } = install(scratchPackage('garbage'));
    expect(status).toBe(1);
    expect(stderr).toMatch(new RegExp(`the prebuilt addon prebuilds/${target}/vss_bridge\\.glibc\\.node does not load here \\(.*(invalid ELF|too short|Error).*\\)`));
    expect(stderr).toContain('compiling needs cmake');
  });

  it.skipIf(prebuildReason !== null)('a prebuild that loads is used and nothing is compiled', () => {
    const dir = scratchPackage(builtAddon);
    const { status, stderr } = install(dir);
    expect(stderr).toContain(`vss-bridge: using the prebuilt addon prebuilds/${target}/vss_bridge.glibc.node`);
    expect(status).toBe(0);
    expect(existsSync(join(dir, 'build'))).toBe(false);
  });

  it.skipIf(muslReason !== null)('a glibc prebuild is not taken on a musl system (LIBC=musl, as node-gyp-build reads it)', () => {
    const { status, stderr } = install(scratchPackage(builtAddon), { LIBC: 'musl' });
    expect(stderr).toContain(`vss-bridge: compiling the addon: no prebuilt addon in prebuilds/${target} matches this C library or CPU`);
    expect(status).toBe(1);
  });

  it.skipIf(prebuildReason !== null)('npm_config_build_from_source or VSS_BRIDGE_BUILD_FROM_SOURCE=1 forces a compile even with a prebuild', () => {
    const { status, stderr } = install(scratchPackage(builtAddon), { npm_config_build_from_source: 'true' });
    expect(stderr).toContain('vss-bridge: compiling the addon: npm_config_build_from_source asks for a compile');
    expect(status).toBe(1);
    const own = install(scratchPackage(builtAddon), { VSS_BRIDGE_BUILD_FROM_SOURCE: '1' });
    expect(own.stderr).toContain('vss-bridge: compiling the addon: VSS_BRIDGE_BUILD_FROM_SOURCE=1 asks for a compile');
    expect(own.status).toBe(1);
  });
});
