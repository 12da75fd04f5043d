/**
 * The MSVC build links (issue: MSVC's default /Zc:wchar_t made writer_shim.cc reference
 * CVssWriter names vssapi.dll does not export): scripts/check-vssapi-names.sh compiles
 * writer_shim.cc as CMakeLists.txt tells MSVC to, with clang-19 in cl mode, and compares every
 * name it imports with the export table of a real vssapi.dll (test/fixtures/vssapi-exports.txt).
 * The win32-x64 prebuild's imports are checked by the same script in scripts/prebuild.sh.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from './helpers/skip.js';

const root = join(__dirname, '..');
const missing = ['clang-19', 'x86_64-w64-mingw32-nm', 'x86_64-w64-mingw32-objdump'].filter(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0,
);
const reason = skipUnlessRunnable('vssapi-names', missing.length > 0 ? `missing ${missing.join(', ')} (apt-get install clang-19 g++-mingw-w64-x86-64)` : null) ?? '';

function check(env: Record<string, string> = {}) {
  // An addon path that does not exist: this test is about writer_shim.cc alone.
  const run = spawnSync('bash', [join(root, 'scripts', 'check-vssapi-names.sh'), '/nonexistent/vss_bridge.node'], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { status: run.status, output: `${run.stdout}\n${run.stderr}` };
}

describe.skipIf(reason !== '')(`VSSAPI.DLL names of the MSVC build${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('writer_shim.cc with /Zc:wchar_t- imports only vssapi.dll exports', () => {
    const { output } = check();
    expect(output).toMatch(/\/Zc:wchar_t-/);
    expect(output).toMatch(/ok {3}VSSAPI\.DLL \?Initialize@CVssWriter@@QEAAJU_GUID@@PEBGW4VSS_USAGE_TYPE@@/);
    expect(output).toMatch(/ok {3}VSSAPI\.DLL \?GetCurrentVolumeArray@CVssWriter@@IEBAPEAPEBGXZ/);
    expect(output).not.toMatch(/FAIL .*CVssWriter/);
    // Only the missing addon fails the run.
    expect(output).toMatch(/no win32-x64 addon at \/nonexistent/);
  });

  it("without /Zc:wchar_t- (MSVC's default) the check names the two imports vssapi.dll lacks", () => {
    const { status, output } = check({ VSS_BRIDGE_SHIM_OPTIONS: '' });
    expect(status).toBe(1);
    expect(output).toMatch(/FAIL \?Initialize@CVssWriter@@QEAAJU_GUID@@PEB_W.*not a vssapi\.dll export/);
    expect(output).toMatch(/FAIL \?GetCurrentVolumeArray@CVssWriter@@IEBAPEAPEB_WXZ: not a vssapi\.dll export/);
  });
});
