/**
 * The command line as a user drives it: spawned `node dist/cli/main.js` processes (dist/ is
 * built by test/global-setup.ts), exit codes, stdout parsed as JSON.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');
const main = join(root, 'dist', 'cli', 'main.js');
const appWriters = join(__dirname, 'fixtures', 'app-writers.cjs');
const vetoingWriter = join(__dirname, 'fixtures', 'vetoing-writer.cjs');
const stateDir = mkdtempSync(join(tmpdir(), 'vss-bridge-cli-'));
const fullSequence = ['identify', 'prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown'];

afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [main, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, VSS_BRIDGE_BACKEND: 'simulated', VSS_BRIDGE_STATE_DIR: stateDir, NO_COLOR: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cliJson<T = Record<string, any>>(args: string[], env: Record<string, string> = {}): { code: number | null; out: T; stderr: string } {
  const r = cli([...args, '--json'], env);
  let out: T;
  try {
    out = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  return { code: r.code, out, stderr: r.stderr };
}

const eventsOf = (result: any, writer: string): string[] =>
  result.writers.find((w: any) => w.name === writer).events.map((e: any) => e.event);

describe('vss-bridge CLI', () => {
  it('is the package bin, with a node shebang', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.bin).toEqual({ 'vss-bridge': 'dist/cli/main.js' });
    expect(readFileSync(main, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('explains itself with --help, and each command with <command> --help', () => {
    const top = cli(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['writers', 'metadata', 'checkpoint', 'snapshots', 'doctor', 'demo', 'hook', 'hv-vss-daemon', 'install-hooks']) {
      expect(top.stdout).toContain(`  ${command} `);
    }
    const checkpoint = cli(['checkpoint', '--help']);
    expect(checkpoint.code).toBe(0);
    expect(checkpoint.stdout).toMatch(/--backup-type <type>/);
    expect(checkpoint.stdout).toMatch(/--keep/);
    expect(checkpoint.stdout).toMatch(/3 writer veto, 4 timeout/);
    expect(cli(['help', 'snapshots']).stdout).toMatch(/^Usage: vss-bridge snapshots list/);
  });

  it('rejects a bad command line with exit code 2, naming the option and its rule', () => {
    const timeout = cli(['checkpoint', '--timeout', 'soon']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain('--timeout: must be a duration such as 500ms, 30s or 2m (a bare number is milliseconds)');
    const type = cli(['checkpoint', '--backup-type', 'nightly']);
    expect(type.code).toBe(2);
    expect(type.stderr).toContain('--backup-type: must be one of full, copy, incremental, differential, log');
    const unknown = cli(['writers', '--colour']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--colour'");
    expect(cli(['freeze-everything']).code).toBe(2);
    expect(cli(['snapshots', 'purge']).stderr).toContain('arguments: say "list" or "delete"');
  });

  it('says so when no writers are registered: the simulator is per process', () => {
    const text = cli(['writers']);
    expect(text.code).toBe(0);
    expect(text.stderr).toContain('no writers are subscribed in this process');
    const { out } = cliJson(['writers']);
    expect(out['writers']).toEqual([]);
    expect(out['note']).toMatch(/--writer-module/);
  });

  it('lists the writers an app module subscribes, as JSON and as a table without colours off a terminal', () => {
    const { code, out } = cliJson(['writers', '--writer-module', appWriters]);
    expect(code).toBe(0);
    expect(out['writers'].map((w: any) => [w.name, w.instanceName, w.state, w.lastError])).toEqual([
      ['Fixture DB', 'main', 'VSS_WS_STABLE', null],
      ['Fixture Cache', '', 'VSS_WS_STABLE', null],
    ]);
    const table = cli(['writers', '--writer-module', appWriters, '--with-demo-writer']);
    expect(table.stdout.split('\n')[0]).toMatch(/^WRITER\s+INSTANCE\s+STATE\s+LAST ERROR\s+WRITER ID$/);
    expect(table.stdout).toMatch(/Fixture DB\s+main\s+stable\s+no error/);
    expect(table.stdout).toMatch(/vss-bridge demo writer/);
    expect(table.stdout).not.toContain('\u001b[');
  });

  it('shows the components and file groups a writer reports', () => {
    const { code, out } = cliJson(['metadata', 'Fixture DB', '--writer-module', appWriters]);
    expect(code).toBe(0);
    expect(out['writers']).toHaveLength(1);
    expect(out['writers'][0]).toMatchObject({
      name: 'Fixture DB',
      usage: 'userData',
      sourceType: 'transactedDb',
      components: [
        {
          name: 'orders',
          logicalPath: 'fixture',
          caption: 'order database',
          files: [
            { path: '/var/lib/fixture', filespec: '*.db', recursive: false },
            { path: '/var/lib/fixture/wal', filespec: '*', recursive: true },
          ],
        },
      ],
    });
    const text = cli(['metadata', '--writer-module', appWriters]);
    expect(text.stdout).toContain('component fixture\\orders - order database');
    expect(text.stdout).toContain('files: /var/lib/fixture/wal * (recursive)');
    const missing = cli(['metadata', 'Nobody', '--writer-module', appWriters]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no writer named "Nobody"; writers: Fixture DB, Fixture Cache');
  });

  it('runs a checkpoint: progress on stderr, timeline and verdict on stdout, exit code 0', () => {
    const text = cli(['checkpoint', '/', '--writer-module', appWriters]);
    expect(text.code).toBe(0);
    expect(text.stderr).toMatch(/\] freeze\n.*Fixture DB: ok/);
    expect(text.stdout).toMatch(/^WRITER\s+identify\s+prepareBackup\s+prepareSnapshot\s+freeze\s+commit\s+thaw\s+postSnapshot\s+backupComplete\s+backupShutdown\s+FINAL STATE$/m);
    expect(text.stdout).toMatch(/^Fixture DB \(main\)\s+ok /m);
    expect(text.stdout).toMatch(/^\(provider\)\s+-.*ok /m);
    expect(text.stdout).toMatch(/verdict: succeeded - snapshot set [0-9a-f-]{36}: 1 shadow copy in /);

    const { code, out } = cliJson(['checkpoint', '/', tmpdir(), '--backup-type', 'copy', '--quiet', '--writer-module', appWriters]);
    expect(code).toBe(0);
    expect(out).toMatchObject({ verdict: 'succeeded', exitCode: 0, backend: 'simulated', backupType: 'copy', error: null, kept: [] });
    expect(eventsOf(out['result'], 'Fixture DB')).toEqual(fullSequence);
    expect(out['result'].snapshots.map((s: any) => s.volume)).toEqual(['/', tmpdir()]);
  });

  it('exits 3 on a writer veto, naming the writer and the event', () => {
    const { code, out } = cliJson(['checkpoint', '/', '--writer-module', appWriters], { FIXTURE_FAIL_AT: 'freeze' });
    expect(code).toBe(3);
    expect(out['verdict']).toBe('writerVeto');
    expect(out['error']).toMatchObject({ code: 'VSS_E_WRITERERROR_NONRETRYABLE', writer: { name: 'Fixture DB', event: 'freeze' } });
    expect(eventsOf(out['result'], 'Fixture Cache')).toEqual(['identify', 'prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
    const text = cli(['checkpoint', '/', '--writer-module', appWriters], { FIXTURE_FAIL_AT: 'freeze' });
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/^Fixture DB \(main\)\s.*failed /m);
    expect(text.stdout).toMatch(/verdict: writer veto - writer 'Fixture DB' failed at freeze/);
  });

  it('exits 4 when the snapshot set runs out of time', () => {
    const { code, out } = cliJson(['checkpoint', '/', '--timeout', '300ms', '--writer-module', appWriters], { FIXTURE_HANG_AT: 'prepareSnapshot' });
    expect(code).toBe(4);
    expect(out['verdict']).toBe('timeout');
    expect(out['error'].code).toBe('ERROR_TIMEOUT');
  });

  it('exits 5 when the provider fails the commit', () => {
    const { code, out } = cliJson(['checkpoint', '/', '--fail-provider', 'VSS_E_PROVIDER_VETO', '--with-demo-writer']);
    expect(code).toBe(5);
    expect(out['verdict']).toBe('providerFailure');
    expect(eventsOf(out['result'], 'vss-bridge demo writer')).toContain('abort');
  });

  it('says when the checkpoint ran with no writers', () => {
    const r = cli(['checkpoint', '/', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('no writers are subscribed in this process');
  });

  it('keeps shadow copies with --keep; snapshots list and delete manage them across processes', () => {
    const first = cliJson(['checkpoint', '/', '--keep', '--quiet', '--with-demo-writer']);
    expect(first.code).toBe(0);
    const [kept] = first.out['kept'];
    expect(kept.deviceObject).toMatch(/^\\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy\d+$/);
    expect(first.out['notes']).toContain('simulated shadow copies are records: no data lies behind their device paths');
    const second = cliJson(['checkpoint', tmpdir(), '--keep', '--quiet', '--with-demo-writer']);
    const number = (device: string): number => Number(/(\d+)$/.exec(device)?.[1]);
    // A new process numbers its shadow copies above the kept ones.
    expect(number(second.out['kept'][0].deviceObject)).toBeGreaterThan(number(kept.deviceObject));

    const listed = cliJson(['snapshots', 'list']);
    expect(listed.out['shadowCopies'].map((c: any) => c.id)).toEqual([kept.id, second.out['kept'][0].id]);
    const table = cli(['snapshots', 'list']);
    expect(table.stdout).toContain(kept.deviceObject);

    const deleted = cliJson(['snapshots', 'delete', kept.id]);
    expect(deleted.code).toBe(0);
    expect(deleted.out['deleted'].map((c: any) => c.id)).toEqual([kept.id]);
    const again = cli(['snapshots', 'delete', kept.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no shadow copy or snapshot set with id ${kept.id}`);
    expect(cli(['snapshots', 'delete', 'not-a-guid']).code).toBe(2);
    expect(cli(['snapshots', 'delete', '--all']).code).toBe(0);
    expect(cliJson(['snapshots', 'list']).out['shadowCopies']).toEqual([]);
  });

  it('doctor reports its checks and passes on this machine', () => {
    const { code, out } = cliJson(['doctor', '--writer-module', appWriters]);
    expect(code).toBe(0);
    const byName = Object.fromEntries(out['checks'].map((c: any) => [c.name, c]));
    expect(byName['node'].status).toBe('ok');
    expect(byName['addon'].status).toBe('ok');
    expect(byName['writers']).toMatchObject({ status: 'ok', detail: '2 writer(s), none failed' });
    expect(byName['elevation'].status).toBe(process.platform === 'win32' ? expect.any(String) : 'skip');
    const text = cli(['doctor']);
    expect(text.stdout).toMatch(/^ok\s+node\s+Node /m);
  });

  it('hands the Linux-guest commands to the Linux-guest module', () => {
    const r = cli(['hook', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('vss-bridge hook freeze|thaw|freezeFail');
  });

  it('exits 6 when the machine cannot run the command (no addon), saying why', () => {
    const r = cli(['writers'], { VSS_BRIDGE_ADDON: join(stateDir, 'no-such-addon.node') });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/no native addon for .*no-such-addon\.node/s);
  });

  it('runs the consistent-snapshot demo: exit 0 when every snapshot is consistent', () => {
    const { code, out } = cliJson(['demo', '--checkpoints', '1', '--clients', '2', '--interval', '50ms']);
    expect(out['checkpoints']).toHaveLength(1);
    expect(out['checkpoints'][0]).toMatchObject({ succeeded: true, verdict: { ok: true } });
    expect(out['lostWrites']).toBe(0);
    expect(out['ok']).toBe(true);
    expect(code).toBe(0);
    expect(cli(['demo', '--checkpoints', 'many']).stderr).toContain('--checkpoints: must be a whole number');
    expect(cli(['demo', '--wal-mb', 'lots']).stderr).toContain('--wal-mb: must be a whole number');
  });

  it('demo --wal-mb: a large WAL at prepareSnapshot, reported with the WAL at freeze', () => {
    const { code, out } = cliJson(['demo', '--checkpoints', '1', '--clients', '2', '--interval', '1ms', '--wal-mb', '8']);
    const [checkpoint] = out['checkpoints'] as { wal: { atPrepareSnapshot: number; atFreeze: number } }[];
    expect(checkpoint!.wal.atPrepareSnapshot).toBeGreaterThan(8 * 1024 * 1024);
    expect(checkpoint!.wal.atFreeze).toBeLessThan(checkpoint!.wal.atPrepareSnapshot / 10);
    expect(out['lostWrites']).toBe(0);
    expect(code).toBe(0);
  });

  it('a demo whose snapshot set fails says so and exits 1', () => {
    // One more writer in the demo's process, which vetoes every freeze.
    const { code, out } = cliJson(['demo', '--checkpoints', '1', '--clients', '2', '--interval', '50ms'], { NODE_OPTIONS: `--require ${JSON.stringify(vetoingWriter)}` });
    expect(out['checkpoints']).toHaveLength(1);
    expect(out['checkpoints'][0]).toMatchObject({ succeeded: false, error: { code: 'VSS_E_WRITERERROR_NONRETRYABLE' } });
    expect(out['ok']).toBe(false);
    expect(code).toBe(1);
  });
});
