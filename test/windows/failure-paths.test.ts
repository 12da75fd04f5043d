/**
 * The Windows requester and writer on their failure paths, on the emulated VSS under Wine
 * (faults injected through the emulator's `faults` file; see test/emulator). Each test checks
 * what the library reported (a VssError with the right code) and what it left behind: the
 * writer's state, the persistent shadow copies, and the emulator's record of the requester's
 * calls (AbortBackup when VSS requires it, no abandoned backup, no call out of order).
 * Needs the emulator, so it does not run on real Windows.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { EmulatedMachine, prepareWindowsNode, emulatorReason, resultOf, root, runNode, startNode } from './windows-node.js';

const reason = skipUnlessRunnable('test/windows/failure-paths', emulatorReason || null) ?? '';

const app = join(root, 'test', 'windows', 'apps', 'writer-app.cjs');
const volume = 'C:\\';
const dataDir = 'C:\\vss-bridge-test\\db';

let machine: EmulatedMachine | undefined;
afterEach(() => {
  machine?.remove();
  machine = undefined;
});

interface Run {
  m: EmulatedMachine;
  r: any;
  error: any;
  events: string[];
}

/** One writer app on a fresh emulated machine with `faults`, taking the sets `backups`. */
function run(faults: string[], config: Record<string, unknown>, backups: Record<string, unknown>[] = [{ volumes: [volume] }]): Run {
  const m = new EmulatedMachine();
  machine = m;
  m.setFaults(...faults);
  const full = { name: `failure-path writer ${randomUUID().slice(0, 8)}`, id: randomUUID(), dataDir, backups, ...config };
  const r = resultOf(runNode([app, JSON.stringify(full)], { env: { ...m.env, VSS_BRIDGE_LOG_LEVEL: 'error' } }));
  return { m, r, error: r.backups[0]?.error, events: r.seen.map((s: any) => s.event) };
}

/** After any failure: no abandoned backup and no call refused as out of order. */
function expectCleanRequester(m: EmulatedMachine): void {
  const calls = m.calls();
  expect(calls.filter((c) => c.startsWith('abandoned'))).toEqual([]);
  expect(calls.filter((c) => c.includes('VSS_E_BAD_STATE'))).toEqual([]);
}

/**
 * A set that failed after its copies existed: the error names the set and the copies, and they
 * are the ones the emulator records making for that set and then deleting, one by one.
 */
function expectCopiesReportedDeleted(m: EmulatedMachine, error: any): void {
  const calls = m.calls();
  const made = calls.filter((c) => c.startsWith('copy-made ')).map((c) => c.split(' '));
  expect(made.length).toBeGreaterThan(0);
  expect(made.map(([, , set]) => set)).toEqual(made.map(() => error.snapshotSetId));
  const ids = made.map(([, id]) => id);
  expect(error.shadowCopies).toEqual({ snapshotSetId: error.snapshotSetId, created: ids, deleted: ids });
  for (const id of ids) expect(calls).toContain(`IVssBackupComponents::DeleteSnapshots ${id} 1`);
  expect(m.copies()).toEqual([]);
}

/** A writer timed out at freeze: aborted once, no Thaw, failed at freeze, the set failed, no copy left. */
function expectTimedOutAtFreeze({ m, r, error, events }: Run): void {
  expect(error).toMatchObject({ name: 'VssError', code: 'VSS_E_WRITERERROR_TIMEOUT' });
  expect(events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
  expect(r.listed.state).toBe('VSS_WS_FAILED_AT_FREEZE');
  expect(r.listed.lastError.code).toBe('VSS_E_WRITERERROR_TIMEOUT');
  expect(m.copies()).toEqual([]);
  expectCleanRequester(m);
}

const T = 180_000;

describe.skipIf(reason !== '')(`failure paths on the emulated VSS${reason ? ` (skipped: ${reason})` : ''}`, () => {
  beforeAll(prepareWindowsNode, 900_000);

  it('a writer failing PrepareForSnapshot fails the set without Abort', () => {
    const { m, r, error, events } = run([], { failAt: { event: 'prepareSnapshot', code: 'VSS_E_WRITERERROR_RETRYABLE' } });
    expect(error).toMatchObject({ name: 'VssError', code: 'VSS_E_WRITERERROR_RETRYABLE', writer: { event: 'prepareSnapshot' } });
    expect(events).toEqual(['prepareBackup', 'prepareSnapshot', 'backupShutdown']);
    expect(r.listed.state).toBe('VSS_WS_FAILED_AT_PREPARE_SNAPSHOT');
    expect(m.copies()).toEqual([]);
    expectCleanRequester(m);
  }, T);

  it('a writer whose freeze handler hangs times out, is aborted, and is failed at freeze', () => {
    const failed = run([], { hangAt: 'freeze', handlerTimeoutMs: 1500 });
    expect(failed.error).toMatchObject({ writer: { event: 'freeze' } });
    // The step it timed out in ends as it did, as the simulator's phases end.
    expect(failed.error.phases.find((p: any) => p.event === 'doSnapshotSet')).toMatchObject({
      outcome: 'timedOut',
      error: { code: 'VSS_E_WRITERERROR_TIMEOUT' },
    });
    expectTimedOutAtFreeze(failed);
  }, T);

  it('one snapshot set at a time on the machine: a second requester meets VSS_E_SNAPSHOT_SET_IN_PROGRESS', async () => {
    // The first set waits 20 s for a third-party writer that never answers Freeze; the second
    // requester, another node.exe, starts its set meanwhile.
    const m = new EmulatedMachine();
    machine = m;
    m.setFaults('writer-hangs SlowThirdParty freeze', 'writer-timeout 20000');
    const cli = join(root, 'dist', 'cli', 'main.js');
    const env = { ...m.env, VSS_BRIDGE_BACKEND: 'vss', NO_COLOR: '1' };
    const first = startNode([cli, 'checkpoint', volume, '--quiet', '--json'], { env });
    for (let i = 0; i < 600 && !m.calls().some((c) => c.startsWith('event prepareSnapshot')); i++) await new Promise((r) => setTimeout(r, 100));
    const second = runNode([cli, 'checkpoint', volume, '--quiet', '--json'], { env });
    const out = JSON.parse(second.stdout);
    expect(out.error).toMatchObject({ code: 'VSS_E_SNAPSHOT_SET_IN_PROGRESS' });
    expect(m.calls()).toContain('IVssBackupComponents::StartSnapshotSet VSS_E_SNAPSHOT_SET_IN_PROGRESS');
    const firstOut = JSON.parse((await first).stdout);
    expect(firstOut.error).toMatchObject({ code: 'VSS_E_WRITERERROR_TIMEOUT', writer: { name: 'SlowThirdParty' } });
    expectCleanRequester(m);
  }, T);

  it('a third-party writer that never answers Freeze fails the set with a timeout, and every writer is aborted', () => {
    const { m, error, events } = run(['writer-hangs SlowThirdParty freeze', 'writer-timeout 2000'], {});
    expect(error).toMatchObject({ name: 'VssError', code: 'VSS_E_WRITERERROR_TIMEOUT', writer: { name: 'SlowThirdParty', event: 'freeze' } });
    expect(events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
    expect(m.calls()).toContain('writer-timed-out SlowThirdParty freeze');
    expect(m.copies()).toEqual([]);
    expectCleanRequester(m);
  }, T);

  it('a provider veto fails the set with VSS_E_PROVIDER_VETO after Abort, leaving no copy', () => {
    const { m, r, error, events } = run(['provider-veto'], {});
    expect(error).toMatchObject({ name: 'VssError', code: 'VSS_E_PROVIDER_VETO' });
    // Vetoed before any copy existed: nothing made, nothing to report.
    expect(m.calls().filter((c) => c.startsWith('copy-made'))).toEqual([]);
    expect(error.shadowCopies).toBeUndefined();
    expect(events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
    expect(r.listed.state).toBe('VSS_WS_STABLE');
    expect(m.copies()).toEqual([]);
    expectCleanRequester(m);
  }, T);

  it('a volume VSS does not support fails with VSS_E_VOLUME_NOT_SUPPORTED, and the backup is aborted', () => {
    const { m, error, events } = run(['unsupported-volume C:\\'], {});
    expect(error).toMatchObject({ name: 'VssError', code: 'VSS_E_VOLUME_NOT_SUPPORTED' });
    expect(events).toEqual([]);
    expect(m.calls()).toContain('IVssBackupComponents::AbortBackup');
    expectCleanRequester(m);
  }, T);

  it('a volume holding 64 shadow copies fails with VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED, and the backup is aborted', () => {
    const m = new EmulatedMachine();
    machine = m;
    const lines = Array.from({ length: 64 }, (_, i) => [randomUUID(), randomUUID(), 'c:\\', 'c:\\', `\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy${i + 1}`, '0', '9'].join('\t'));
    writeFileSync(join(m.dir, 'copies.txt'), `${lines.join('\n')}\n`);
    const config = { name: `full volume ${randomUUID().slice(0, 8)}`, id: randomUUID(), dataDir, backups: [{ volumes: [volume] }] };
    const r = resultOf(runNode([app, JSON.stringify(config)], { env: { ...m.env, VSS_BRIDGE_LOG_LEVEL: 'error' } }));
    expect(r.backups[0].error).toMatchObject({ name: 'VssError', code: 'VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED' });
    expect(m.copies()).toHaveLength(64);
    expect(m.calls()).toContain('IVssBackupComponents::AbortBackup');
    expectCleanRequester(m);
  }, T);

  it('an unrelated writer stuck in a failed state, with nothing selected, does not fail the set', () => {
    const { m, r } = run(['stuck-writer BrokenThirdParty VSS_WS_FAILED_AT_POST_SNAPSHOT 0x800423F3'], {});
    expect(r.backups[0].ok, JSON.stringify(r.backups[0])).toBe(true);
    const stuck = r.backups[0].writers.find((w: any) => w.name === 'BrokenThirdParty');
    expect(stuck.state).toBe('VSS_WS_FAILED_AT_POST_SNAPSHOT');
    expect(m.copies()).toEqual([]);
    expectCleanRequester(m);
  }, T);

  it('a writer failing Thaw after the copies exist: the set fails, Abort is sent, and no copy is left', () => {
    const { m, error, events } = run([], { failAt: { event: 'thaw', code: 'VSS_E_WRITERERROR_RETRYABLE' } }, [{ volumes: [volume], keep: true }]);
    expect(error).toMatchObject({ name: 'VssError', code: 'VSS_E_WRITERERROR_RETRYABLE', writer: { event: 'thaw' } });
    expect(events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'abort', 'backupShutdown']);
    expect(m.calls()).toContain('copies-made ' + error.snapshotSetId + ' 1');
    expectCopiesReportedDeleted(m, error);
    expect(m.copies()).toEqual([]);
    expectCleanRequester(m);
  }, T);

  it('a writer failing PostSnapshot after the copies exist: the set fails without Abort, and no copy is left', () => {
    const { m, error, events } = run([], { failAt: { event: 'postSnapshot', code: 'VSS_E_WRITERERROR_NONRETRYABLE' } });
    expect(error).toMatchObject({ name: 'VssError', code: 'VSS_E_WRITERERROR_NONRETRYABLE', writer: { event: 'postSnapshot' } });
    expect(events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupShutdown']);
    expectCopiesReportedDeleted(m, error);
    expect(m.copies()).toEqual([]);
    expectCleanRequester(m);
  }, T);

  it('a provider failure after the copies exist fails the set with its code, and no copy is left', () => {
    const { m, error, events } = run(['fail-after-commit 0x8004230F'], {});
    expect(error).toMatchObject({ name: 'VssError', code: 'VSS_E_UNEXPECTED_PROVIDER_ERROR' });
    expectCopiesReportedDeleted(m, error);
    expect(events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
    expect(m.copies()).toEqual([]);
    expectCleanRequester(m);
  }, T);

  it('BackupComplete failing: the set fails, and no copy is left', () => {
    const { m, error } = run(['backup-complete-fails 0x80042301'], {}, [{ volumes: [volume], keep: true }]);
    expect(error).toMatchObject({ name: 'VssError', code: 'VSS_E_BAD_STATE' });
    expectCopiesReportedDeleted(m, error);
    expect(m.copies()).toEqual([]);
    expect(m.calls().filter((c) => c.startsWith('abandoned'))).toEqual([]);
  }, T);

  it('a timeout during DoSnapshotSet: Cancel is waited for before anything else is called, and no copy is left', () => {
    const { m, error, events } = run(['commit-delay 6000'], {}, [{ volumes: [volume], timeoutMs: 2500 }]);
    expect(error).toMatchObject({ name: 'VssError', code: 'ERROR_TIMEOUT' });
    expect(events).toContain('abort');
    expect(m.calls()).toContain('IVssAsync::Cancel DoSnapshotSet 0x00000000');
    expect(m.copies()).toEqual([]);
    expectCleanRequester(m);
  }, T);

  it('a Thaw arriving late in the freeze window still reaches the thaw handler', () => {
    // Freeze takes 2 s of a 3 s window and the commit 1 s more: Thaw comes after the writer's own
    // freeze deadline (window less a margin), which must not stop its handler.
    const { m, r, events } = run(['commit-delay 1000'], { freezeTimeoutMs: 3000, slowAt: { event: 'freeze', ms: 2000 } });
    expect(r.backups[0].ok, JSON.stringify(r.backups[0])).toBe(true);
    expect(events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown']);
    expect(r.listed.state).toBe('VSS_WS_STABLE');
    expectCleanRequester(m);
  }, T);

  it('a writer whose freeze window runs out before Thaw is aborted, failed at freeze with a timeout, and the set fails', () => {
    // A 1.5 s freeze window; the commit waits until the emulator has recorded the window's end
    // (a signal, not a race against a fixed delay), so Thaw can only come after it.
    const expired = run(['commit-waits-for writer-window-expired'], { freezeTimeoutMs: 1500 });
    expect(expired.m.calls().some((c) => c.startsWith('writer-window-expired '))).toBe(true);
    // Abort once, from the expired window; no Thaw after it (OnThaw or OnAbort follows OnFreeze).
    expectTimedOutAtFreeze(expired);
  }, T);

  it('process.exit() while subscribed still unsubscribes the writer', () => {
    const m = new EmulatedMachine();
    machine = m;
    const name = `exiting writer ${randomUUID().slice(0, 8)}`;
    runNode([app, JSON.stringify({ name, id: randomUUID(), dataDir, exitAfterSubscribe: true })], { env: { ...m.env, VSS_BRIDGE_LOG_LEVEL: 'error' } });
    expect(m.calls().some((c) => c.startsWith(`CVssWriter::Subscribe ${name} 0x00000000`))).toBe(true);
    expect(m.calls()).toContain(`CVssWriter::Unsubscribe ${name}`);
  }, T);

  it('Cancel finding DoSnapshotSet finished (VSS_S_ASYNC_FINISHED): the copies that exist are deleted', () => {
    const { m, error } = run(['commit-delay 6000', 'cancel-finishes'], {}, [{ volumes: [volume], timeoutMs: 2500, keep: true }]);
    expect(error).toMatchObject({ name: 'VssError', code: 'ERROR_TIMEOUT' });
    expect(m.calls()).toContain('IVssAsync::Cancel DoSnapshotSet 0x0004230A');
    expect(m.calls().some((c) => c.startsWith('copies-made'))).toBe(true);
    expectCopiesReportedDeleted(m, error);
    expect(m.copies()).toEqual([]);
    expectCleanRequester(m);
  }, T);
});
