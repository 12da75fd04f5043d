/**
 * The Windows build, proven as far as Linux allows: scripts/windows-smoke.sh cross-builds the
 * win32-x64 addon (MinGW-w64 + clang-19) and runs scripts/win-smoke.cjs in the real Windows
 * node.exe under Wine. Skipped, saying why, where the toolchain or Wine is not installed;
 * CI installs both (see docs/WINDOWS.md).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from './helpers/skip.js';
import { wineMissing } from './windows/windows-node.js';

const root = join(__dirname, '..');

const reason = skipUnlessRunnable('wine-smoke', wineMissing() || null) ?? '';

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
