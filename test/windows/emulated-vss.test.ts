/**
 * The Windows writer and requester end to end, in Windows node.exe: under Wine on the emulated
 * VSS (test/emulator) here and in CI, on the real VSS service in windows.yml. Each test runs
 * test/windows/apps/writer-app.cjs (and the CLI for the other side of a cross-process set)
 * and checks what the library reported and what it left behind.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { EmulatedMachine, emulated, emulatorReason, prepareWindowsNode, resultOf, root, runEmulatorProgram, runNode, startNode, windowsReason } from './windows-node.js';

const reason = skipUnlessRunnable('test/windows/emulated-vss', windowsReason || null) ?? '';
// The tests that read what only the emulator shows (its record, its faults, a probe of it).
const emulatorOnly = emulated ? '' : (skipUnlessRunnable('test/windows/emulated-vss: the emulator\'s own checks', emulatorReason) ?? '');

const app = join(root, 'test', 'windows', 'apps', 'writer-app.cjs');
const cli = join(root, 'dist', 'cli', 'main.js');
// Under Wine the data lives on the prefix's C: (a volume the emulated VSS supports).
const volume = 'C:\\';
const dataDir = emulated ? 'C:\\vss-bridge-test\\db' : join(tmpdir(), 'vss-bridge-test', 'db');
const BACKUP_EVENTS = ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown'];

let machine: EmulatedMachine | undefined;
afterEach(() => {
  machine?.remove();
  machine = undefined;
});

function newMachine(): EmulatedMachine {
  machine = new EmulatedMachine();
  return machine;
}

function writerConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: `vss-bridge test writer ${randomUUID().slice(0, 8)}`, id: randomUUID(), dataDir, ...extra };
}

/** What the requesters added with AddComponent, as "logical path\\name". */
function added(m: EmulatedMachine): string[] {
  const call = 'IVssBackupComponents::AddComponent ';
  return m.calls().filter((c) => c.startsWith(call)).map((c) => c.slice(call.length));
}

/** The required components the emulator saw left out of a writer that was taken part of. */
function requiredLeftOut(m: EmulatedMachine): string[] {
  return m.calls().filter((c) => c.startsWith('required-left-out '));
}

/**
 * A set a writer failed during `step` (a requester step: prepareBackup or doSnapshotSet): that
 * step ends as the writer did, with its code and a message naming it and the event, in
 * result.phases and in the step's 'end' progress report; the gatherWriterStatus that found it
 * succeeded and nests inside the step; the phases are in the order they started.
 */
function expectStepFailedByWriter(set: any, step: string, writer: string, event: string, code: string, steps: string[]): void {
  const phases = set.error.phases;
  expect(phases.map((p: any) => p.event)).toEqual(steps);
  const starts = phases.map((p: any) => p.startMs);
  expect(starts).toEqual([...starts].sort((a: number, b: number) => a - b));
  expect(phases.find((p: any) => p.event === step)).toMatchObject({
    outcome: 'failed',
    error: { code, message: expect.stringContaining(`writer "${writer}" failed at ${event}`) },
  });
  expect(phases.filter((p: any) => p.event === 'gatherWriterStatus').map((p: any) => p.outcome)).toEqual(
    steps.filter((e) => e === 'gatherWriterStatus').map(() => 'succeeded'),
  );
  const reports = set.progress.map((p: any) => `${p.phase} ${p.status}${p.outcome ? ` ${p.outcome}` : ''}`);
  const start = reports.indexOf(`${step} start`);
  const end = reports.indexOf(`${step} end failed`);
  expect(start, reports.join('\n')).toBeGreaterThanOrEqual(0);
  expect(end, reports.join('\n')).toBeGreaterThan(start);
  expect(reports.slice(start + 1, end)).toEqual(['gatherWriterStatus start', 'gatherWriterStatus end succeeded']);
}

function runApp(config: Record<string, unknown>, env: Record<string, string> = {}): any {
  return resultOf(runNode([app, JSON.stringify(config)], { env: { VSS_BRIDGE_LOG_LEVEL: 'error', ...env } }));
}

describe.skipIf(reason !== '')(`VSS end to end in Windows node.exe${reason ? ` (skipped: ${reason})` : ''}`, () => {
  beforeAll(prepareWindowsNode, 900_000);

  it('delivers a set requested in the same process to the writer in VSS order, with its context', () => {
    const m = newMachine();
    const r = runApp(writerConfig({ backups: [{ volumes: [volume], keep: true }] }), m.env);
    expect(r.backups).toHaveLength(1);
    const [backup] = r.backups;
    expect(backup.ok, JSON.stringify(backup)).toBe(true);
    expect(r.seen.map((s: any) => s.event)).toEqual(BACKUP_EVENTS);
    for (const s of r.seen) {
      expect(s.snapshotSetId).toBe(backup.snapshotSetId);
      if (s.event === 'backupShutdown') continue;
      expect(s.volumes.map((v: string) => v.toLowerCase())).toContain(volume.toLowerCase());
      expect(s.components).toEqual(['app\\orders']);
      expect(s.dataAffected).toBe(true);
      // The default backup type leaves the writers' backup history alone.
      expect(s.backupType).toBe('copy');
    }
    expect(backup.snapshots).toHaveLength(1);
    expect(backup.snapshots[0].deviceObject).toMatch(/HarddiskVolumeShadowCopy\d+$/);
    expect(r.listed.state).toBe('VSS_WS_STABLE');
    expect(r.shadowCopies.map((c: any) => c.id)).toContain(backup.snapshots[0].id);
    if (emulated) {
      expect(m.copies().map((c) => c.id)).toEqual([backup.snapshots[0].id]);
      expect(m.calls().filter((c) => c.startsWith('abandoned'))).toEqual([]);
      expect(m.calls().filter((c) => c.includes('VSS_E_BAD_STATE'))).toEqual([]);
      expect(m.calls()).toContain('IVssBackupComponents::SetBackupState 5'); // VSS_BT_COPY
      // The default restore method lets a requester restore over files still on disk.
      expect(m.calls()).toContain(`identify ${r.listed.name} restore-method 2`); // VSS_RME_RESTORE_IF_CAN_REPLACE
    }
  }, 180_000);

  it.skipIf(emulatorOnly !== '')('turns COM exception handling off in a writer and requester process (Wine: its IGlobalOptions::Set)', () => {
    // Wine's IGlobalOptions::Set is a stub that reports each call: the call itself is what can
    // be seen here (COMGLB_EXCEPTION_HANDLING = 1, COMGLB_EXCEPTION_DONOT_HANDLE = 1).
    const m = newMachine();
    const config = writerConfig({ backups: [{ volumes: [volume] }] });
    const run = runNode([app, JSON.stringify(config)], { env: { ...m.env, VSS_BRIDGE_LOG_LEVEL: 'error', WINEDEBUG: '-all,fixme+ole' } });
    expect(resultOf(run).backups[0].ok).toBe(true);
    expect(run.stderr).toMatch(/global_options_Set \w+, 1, 1\./);
  }, 180_000);

  it.skipIf(emulatorOnly !== '')('selects components automatically as VSS\'s selectability rules say', () => {
    // A third-party writer's components: explicitly includable are the selectable ones and
    // the non-selectable top-level ones (files or not), each only if its files are all on the
    // set's volumes; a component under an included one comes with it. The emulator refuses
    // an explicit AddComponent of a component-set member (tools\part), so adding it would fail the set.
    const m = newMachine();
    m.setFaults(
      'writer-component Db - db 0 -',
      'writer-component Db db logs 1 C:\\dbdata\\logs',
      'writer-component Db - cache 0 C:\\cache',
      'writer-component Db - tools 1 C:\\tools',
      'writer-component Db tools part 0 C:\\tools\\part',
      'writer-component Db - reports 1 Z:\\reports',
    );
    const r = runApp(writerConfig({ backups: [{ volumes: [volume] }] }), m.env);
    expect(r.backups[0].ok, JSON.stringify(r.backups[0])).toBe(true);
    expect(added(m).sort()).toEqual(['\\cache', '\\db', '\\tools', 'app\\orders']);
    expect(m.calls()).toContain('selection Db: \\db, \\cache, \\tools');
    expect(requiredLeftOut(m)).toEqual([]);
  }, 180_000);

  it.skipIf(emulatorOnly !== '')('adds every required component of a writer it takes part of, or leaves that writer out', () => {
    // A requester that includes any of a writer's components must add all its required ones
    // (non-selectable, no selectable ancestor: "Overview of the Backup Discovery Phase"). VSS
    // documents no error when it does not, so the emulator records the selection at
    // PrepareForBackup and what it left out, and this checks the library against that record.
    // Cfg's required component lies off the set: Cfg is left out whole (VShadow's selection),
    // not taken without it. Sets' "tools" has a member off the set: its component set would be
    // incomplete, so "tools" is left out and "reports" taken.
    const m = newMachine();
    m.setFaults(
      'writer-component Cfg - config 0 Z:\\config',
      'writer-component Cfg - logs 1 C:\\logs',
      'writer-component Sets - tools 1 C:\\tools',
      'writer-component Sets tools part 0 Z:\\part',
      'writer-component Sets - reports 1 C:\\reports',
    );
    const r = runApp(writerConfig({ backups: [{ volumes: [volume] }] }), m.env);
    expect(r.backups[0].ok, JSON.stringify(r.backups[0])).toBe(true);
    expect(added(m).sort()).toEqual(['\\reports', 'app\\orders']);
    expect(m.calls()).toContain('selection Cfg: -');
    expect(m.calls()).toContain('selection Sets: \\reports');
    expect(requiredLeftOut(m)).toEqual([]);
  }, 180_000);

  it.skipIf(emulatorOnly !== '')('with components named, adds their writers\' required components too, and refuses a component-set member', () => {
    const m = newMachine();
    m.setFaults(
      'writer-component Cfg - config 0 -',
      'writer-component Cfg - logs 1 C:\\logs',
      'writer-component Cfg logs old 0 C:\\logs\\old',
    );
    const r = runApp(writerConfig({ backups: [{ volumes: [volume], components: ['logs'] }, { volumes: [volume], components: ['logs\\old'] }] }), m.env);
    const [named, member] = r.backups;
    expect(named.ok, JSON.stringify(named)).toBe(true);
    expect(m.calls()).toContain('selection Cfg: \\logs, \\config');
    expect(requiredLeftOut(m)).toEqual([]);
    // The app's own writer had nothing added: in component mode it takes no part in the set.
    expect(m.calls()).toContain(`selection ${r.listed.name}: -`);
    expect(r.seen).toEqual([]);
    // The member is refused by the library before VSS sees it (AddComponent: "undefined").
    expect(member.ok).toBe(false);
    expect(member.error).toMatchObject({ name: 'VssError', code: 'E_INVALIDARG' });
    expect(member.error.message).toMatch(/components: "logs\\old" is not selectable for backup and comes with "logs"/);
    expect(added(m)).not.toContain('logs\\old');
    expect(m.calls().filter((c) => c.startsWith('abandoned'))).toEqual([]);
  }, 180_000);

  it.skipIf(emulatorOnly !== '')('the emulated AddComponent refuses a component-set member with E_INVALIDARG and takes what VSS allows', () => {
    // The library never adds a member, so a probe requester of the tests' own
    // (test/emulator/add_component_probe.cc) drives the emulator's AddComponent directly.
    const m = newMachine();
    m.setFaults(
      'writer-component Db - tools 1 C:\\tools',
      'writer-component Db tools part 0 C:\\tools\\part',
      'writer-component Db tools sub 1 C:\\tools\\sub',
      'writer-component Db - cfg 0 -',
    );
    const run = runEmulatorProgram('add-component-probe.exe', ['Db', 'tools\\part', 'tools\\sub', '\\tools', '\\cfg', '\\tools', '\\none'], { env: m.env });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout.trim().split(/\r?\n/)).toEqual([
      'AddComponent tools\\part 0x80070057', // E_INVALIDARG: a non-selectable member of \tools's set
      'AddComponent tools\\sub 0x00000000', // a selectable subcomponent may be added explicitly
      'AddComponent \\tools 0x00000000',
      'AddComponent \\cfg 0x00000000', // required: non-selectable, no selectable ancestor
      'AddComponent \\tools 0x8004230D', // VSS_E_OBJECT_ALREADY_EXISTS
      'AddComponent \\none 0x80042308', // VSS_E_OBJECT_NOT_FOUND
    ]);
    expect(m.calls()).toContain('IVssBackupComponents::AddComponent E_INVALIDARG (tools\\part is in the component set of \\tools)');
  }, 180_000);

  it('a veto at freeze sends Abort and leaves the writer failed at freeze until the next set', () => {
    const m = newMachine();
    const r = runApp(
      writerConfig({
        failAt: { event: 'freeze', code: 'VSS_E_WRITERERROR_NONRETRYABLE', times: 1 },
        backups: [{ volumes: [volume] }, { volumes: [volume] }],
        reportAfterFirst: true,
        progress: true,
      }),
      m.env,
    );
    const [vetoed, next] = r.backups;
    expect(vetoed.ok).toBe(false);
    expect(vetoed.error).toMatchObject({ name: 'VssError', code: 'VSS_E_WRITERERROR_NONRETRYABLE' });
    expect(vetoed.error.writer).toMatchObject({ event: 'freeze' });
    expectStepFailedByWriter(vetoed, 'doSnapshotSet', r.listed.name, 'freeze', 'VSS_E_WRITERERROR_NONRETRYABLE', [
      'identify', 'prepareBackup', 'gatherWriterStatus', 'doSnapshotSet', 'gatherWriterStatus', 'backupShutdown',
    ]);
    const firstSet = r.seen.filter((s: any) => s.snapshotSetId === vetoed.error.snapshotSetId).map((s: any) => s.event);
    expect(firstSet).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
    expect(r.afterFirst.state).toBe('VSS_WS_FAILED_AT_FREEZE');
    expect(r.afterFirst.lastError.code).toBe('VSS_E_WRITERERROR_NONRETRYABLE');
    expect(next.ok, JSON.stringify(next)).toBe(true);
    expect(r.listed.state).toBe('VSS_WS_STABLE');
    if (emulated) expect(m.calls()).toContain('IVssBackupComponents::AbortBackup');
  }, 180_000);

  // The emulator, as VSS may, fails PrepareForBackup itself (VSS_E_UNEXPECTED_WRITER_ERROR)
  // when a writer vetoes it, and reports DoSnapshotSet succeeded when a writer fails Thaw.
  it.each([
    { event: 'prepareBackup', step: 'prepareBackup', steps: ['identify', 'prepareBackup', 'gatherWriterStatus', 'backupShutdown'] },
    {
      event: 'thaw',
      step: 'doSnapshotSet',
      steps: ['identify', 'prepareBackup', 'gatherWriterStatus', 'doSnapshotSet', 'gatherWriterStatus', 'backupShutdown'],
    },
  ])('a writer failing $event ends the $step step as the writer failed', ({ event, step, steps }) => {
    const m = newMachine();
    const r = runApp(writerConfig({ failAt: { event, code: 'VSS_E_WRITERERROR_RETRYABLE' }, backups: [{ volumes: [volume] }], progress: true }), m.env);
    const [vetoed] = r.backups;
    expect(vetoed.ok).toBe(false);
    expect(vetoed.error).toMatchObject({ name: 'VssError', code: 'VSS_E_WRITERERROR_RETRYABLE', writer: { event } });
    expectStepFailedByWriter(vetoed, step, r.listed.name, event, 'VSS_E_WRITERERROR_RETRYABLE', steps);
  }, 180_000);

  it('a writer in one node.exe takes part in sets that the CLI in another node.exe lists and runs', async () => {
    const m = newMachine();
    const dir = mkdtempSync(join(tmpdir(), 'vss-bridge-xproc-'));
    try {
      const ready = join(dir, 'ready');
      const stop = join(dir, 'stop');
      const config = writerConfig({ readyFile: ready, stopFile: stop });
      const writerApp = startNode([app, JSON.stringify(config)], { env: { ...m.env, VSS_BRIDGE_LOG_LEVEL: 'error' } });
      for (let i = 0; i < 600 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(ready), 'the writer app subscribed').toBe(true);

      const env = { ...m.env, VSS_BRIDGE_BACKEND: 'vss', NO_COLOR: '1' };
      const writers = runNode([cli, 'writers', '--json'], { env });
      expect(writers.status, writers.stderr).toBe(0);
      const listed = JSON.parse(writers.stdout).writers.find((w: any) => w.name === config['name']);
      expect(listed).toMatchObject({ state: 'VSS_WS_STABLE', id: config['id'] });

      const checkpoint = runNode([cli, 'checkpoint', volume, '--quiet', '--json'], { env });
      expect(checkpoint.status, checkpoint.stdout + checkpoint.stderr).toBe(0);
      const out = JSON.parse(checkpoint.stdout);
      expect(out.verdict).toBe('succeeded');
      expect(out.result.writers.map((w: any) => w.name)).toContain(config['name']);

      writeFileSync(stop, '');
      const r = resultOf(await writerApp);
      expect(r.seen.map((s: any) => s.event)).toEqual(BACKUP_EVENTS);
      expect(r.seen[0].snapshotSetId).toBe(out.result.snapshotSetId);
      expect(r.seen[0].components).toEqual(['app\\orders']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
