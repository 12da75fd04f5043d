/**
 * The command line against real VSS: spawned `node dist/cli/main.js` processes, as an operator
 * runs them on a Windows guest. Runs only on Windows, as Administrator (the windows.yml
 * workflow); elsewhere it is skipped and says why. Shadow copies it keeps are deleted again.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, parse } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from '../helpers/skip.js';

const reason =
  skipUnlessRunnable('test/windows/cli', process.platform !== 'win32' ? `real VSS needs Windows (this is ${process.platform})` : null, { windowsOnly: true }) ?? '';

const root = join(__dirname, '..', '..');
const main = join(root, 'dist', 'cli', 'main.js');

function cliJson(args: string[], env: Record<string, string> = {}): { code: number | null; out: Record<string, any> } {
  const r = spawnSync(process.execPath, [main, ...args, '--json'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, VSS_BRIDGE_BACKEND: 'vss', NO_COLOR: '1', ...env },
  });
  try {
    return { code: r.status, out: JSON.parse(r.stdout) as Record<string, any> };
  } catch {
    throw new Error(`not JSON (exit ${r.status}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

describe.skipIf(reason !== '')(`vss-bridge CLI on real VSS${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let dir = '';
  let volume = '';
  let module = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vss-bridge-cli-'));
    volume = parse(dir).root;
    module = join(dir, 'app-writers.cjs');
    // An app module as --writer-module loads it: one writer, whose freeze fails on request.
    writeFileSync(
      module,
      `module.exports = async function subscribe(vss) {
        const writer = new vss.VssWriter({
          name: 'vss-bridge CLI test writer', id: '3c1d6a52-3c41-4f0e-9b8a-2c5d7e9f0a1b',
          usage: 'userData', sourceType: 'nonTransactedDb',
          components: [{ name: 'data', files: [{ path: ${JSON.stringify(dir)}, filespec: '*' }] }],
          handlers: { freeze: () => { if (process.env.FAIL_FREEZE) throw new vss.WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', 'refused by the test'); } },
        });
        await writer.subscribe();
        return () => writer.unsubscribe();
      };\n`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the machine\'s writers, with the System Writer among them', () => {
    const { code, out } = cliJson(['writers']);
    expect(code).toBe(0);
    expect(out['writers'].map((w: any) => w.name)).toContain('System Writer');
  });

  it('shows a writer\'s components as it reports them', () => {
    const { code, out } = cliJson(['metadata', 'vss-bridge CLI test writer', '--writer-module', module]);
    expect(code).toBe(0);
    expect(out['writers'][0].components[0].files[0].path.replace(/\\$/, '').toLowerCase()).toBe(dir.toLowerCase());
  });

  it('runs a checkpoint, keeps its shadow copy when asked, and deletes it', () => {
    const run = cliJson(['checkpoint', volume, '--keep', '--quiet', '--writer-module', module]);
    expect(run.code).toBe(0);
    expect(run.out['verdict']).toBe('succeeded');
    const mine = run.out['result'].writers.find((w: any) => w.name === 'vss-bridge CLI test writer');
    expect(mine.state).toBe('VSS_WS_STABLE');
    const [kept] = run.out['kept'];
    expect(kept.deviceObject).toMatch(/HarddiskVolumeShadowCopy\d+/);
    expect(cliJson(['snapshots', 'list']).out['shadowCopies'].map((c: any) => c.id)).toContain(kept.id);
    expect(cliJson(['snapshots', 'delete', kept.id]).code).toBe(0);
    expect(cliJson(['snapshots', 'list']).out['shadowCopies'].map((c: any) => c.id)).not.toContain(kept.id);
  });

  it('exits 3 when a writer vetoes the checkpoint, naming it', () => {
    const { code, out } = cliJson(['checkpoint', volume, '--quiet', '--writer-module', module], { FAIL_FREEZE: '1' });
    expect(code).toBe(3);
    expect(out['verdict']).toBe('writerVeto');
    expect(out['error']).toMatchObject({ code: 'VSS_E_WRITERERROR_NONRETRYABLE', writer: { name: 'vss-bridge CLI test writer', event: 'freeze' } });
  });

  it('doctor checks elevation and the VSS service', () => {
    const { out } = cliJson(['doctor']);
    const byName = Object.fromEntries(out['checks'].map((c: any) => [c.name, c]));
    expect(byName['elevation'].status).toBe('ok');
    expect(['ok', 'warn']).toContain(byName['VSS service'].status);
  });
});
