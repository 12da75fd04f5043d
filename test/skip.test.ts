/** CI's switch against hidden skips (test/helpers/skip.ts), and the report check .ci/run runs. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { noSkipVariable, skipUnlessRunnable } from './helpers/skip.js';

afterEach(() => vi.unstubAllEnvs());

describe('skipUnlessRunnable', () => {
  it('passes a reason through, and null when the suite can run', () => {
    vi.stubEnv(noSkipVariable, '');
    expect(skipUnlessRunnable('suite', 'needs root')).toBe('needs root');
    expect(skipUnlessRunnable('suite', null)).toBeNull();
  });

  it(`under ${noSkipVariable}=1 a skip fails, naming the suite and the reason; a Windows-only one may still skip`, () => {
    vi.stubEnv(noSkipVariable, '1');
    expect(() => skipUnlessRunnable('loop suite', 'no loop devices')).toThrow(/loop suite would be skipped \(no loop devices\)/);
    expect(skipUnlessRunnable('suite', null)).toBeNull();
    expect(skipUnlessRunnable('real VSS', 'needs Windows', { windowsOnly: true })).toBe('needs Windows');
  });
});

describe('scripts/check-no-skips.mjs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vss-bridge-skips-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const check = (results: { file: string; status: string }[]): { status: number | null; stderr: string } => {
    const report = join(dir, 'report.json');
    const testResults = results.map((r) => ({ name: join(process.cwd(), r.file), assertionResults: [{ fullName: `a test in ${r.file}`, status: r.status }] }));
    writeFileSync(report, JSON.stringify({ testResults }));
    const run = spawnSync(process.execPath, [join(__dirname, '..', 'scripts', 'check-no-skips.mjs'), report], { encoding: 'utf8' });
    return { status: run.status, stderr: run.stderr };
  };

  it('fails on a skipped or todo test outside test/windows/, and passes skips inside it', () => {
    expect(check([{ file: 'test/windows/cli.test.ts', status: 'skipped' }, { file: 'test/gate.test.ts', status: 'passed' }]).status).toBe(0);
    const skipped = check([{ file: 'test/e2e-fsfreeze.test.ts', status: 'skipped' }]);
    expect(skipped.status).toBe(1);
    expect(skipped.stderr).toMatch(/test\/e2e-fsfreeze\.test\.ts: a test in test\/e2e-fsfreeze\.test\.ts \(skipped\)/);
    expect(check([{ file: 'test/gate.test.ts', status: 'todo' }]).status).toBe(1);
  });
});
