/**
 * The Windows build, proven as far as Linux allows: scripts/windows-smoke.sh cross-builds the
 * win32-x64 addon (MinGW-w64 + clang-19) and runs scripts/win-smoke.cjs in the real Windows
 * node.exe under Wine. Skipped, saying why, where the toolchain or Wine is not installed;
 * CI installs both (see docs/WINDOWS.md).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from './helpers/skip.js';

const root = join(__dirname, '..');

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

const missing = [
  ...['x86_64-w64-mingw32-g++-posix', 'clang++-19', 'x86_64-w64-mingw32-dlltool'].filter((t) => !onPath(t)),
  ...(onPath('wine64') || existsSync('/usr/lib/wine/wine64') ? [] : ['wine64']),
];
const reason =
  skipUnlessRunnable(
    'wine-smoke',
    process.platform !== 'linux'
      ? `the Wine smoke test runs on Linux only (this is ${process.platform})`
      : missing.length > 0
        ? `missing ${missing.join(', ')} (apt-get install g++-mingw-w64-x86-64 clang-19 lld-19 wine64)`
        : null,
  ) ?? '';

describe('win32-x64 addon under Wine', () => {
  it.skipIf(reason !== '')(`cross-builds, loads in Windows node.exe and passes the smoke checks${reason ? ` (skipped: ${reason})` : ''}`, () => {
    const run = spawnSync('bash', [join(root, 'scripts', 'windows-smoke.sh')], {
      cwd: root,
      encoding: 'utf8',
      timeout: 900_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output).toBe(0);
    expect(output).toMatch(/^SMOKE PASSED \(\d+ checks\)$/m);
    expect(output).not.toMatch(/^FAIL /m);
    // Links only against Windows system DLLs, VSS, COM and node.exe.
    expect(output).toMatch(/imports:.*VSSAPI\.DLL/i);
    expect(output).toMatch(/imports:.*node\.exe/);
  }, 900_000);
});
