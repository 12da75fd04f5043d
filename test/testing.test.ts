/** vss-bridge/testing: rehearsals against this process's writers, with chosen faults. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OptionsError, VssError } from '../src/index.js';
import { rehearseCheckpoint, rehearseRestore } from '../src/testing.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { recordingWriter, sleep, type Calls } from './helpers/writers.js';

const quiet = { logger: memoryLogger().logger };
const fullSequence = ['identify', 'prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown'];

describe('rehearseCheckpoint', () => {
  it('refuses to rehearse with no writer subscribed', async () => {
    await expect(rehearseCheckpoint(quiet)).rejects.toThrow(/no writer is subscribed in this process/);
  });

  it('returns the timeline of a checkpoint that succeeds', async () => {
    const calls: Calls = [];
    await recordingWriter('App', calls);
    const r = await rehearseCheckpoint(quiet);
    expect(r.succeeded).toBe(true);
    expect(r.error).toBeNull();
    expect(r.eventsOf('App')).toEqual(fullSequence);
    expect(r.result.snapshots.map((s) => s.volume)).toEqual([process.platform === 'win32' ? 'C:\\' : '/']);
    expect(r.timeline.map((e) => `${e.writer}:${e.event}:${e.outcome}`)).toEqual(fullSequence.map((e) => `App:${e}:succeeded`));
    expect(r.writer('App').state).toBe('VSS_WS_STABLE');
    expect(() => r.eventsOf('Nobody')).toThrow('no writer named "Nobody" took part; writers: App');
  });

  it('injects a handler failure at a given event for a given writer: the handler runs, then every writer is aborted', async () => {
    const calls: Calls = [];
    await recordingWriter('App', calls);
    await recordingWriter('Other', calls);
    const r = await rehearseCheckpoint({
      ...quiet,
      faults: { writerFailures: [{ writer: 'App', event: 'freeze', code: 'VSS_E_WRITERERROR_NONRETRYABLE' }] },
    });
    expect(r.succeeded).toBe(false);
    expect(r.error).toBeInstanceOf(VssError);
    expect(r.error?.code).toBe('VSS_E_WRITERERROR_NONRETRYABLE');
    expect(r.error?.writer).toMatchObject({ name: 'App', event: 'freeze' });
    const aborted = ['identify', 'prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown'];
    expect(r.eventsOf('App')).toEqual(aborted);
    expect(r.eventsOf('Other')).toEqual(aborted);
    expect(r.writer('App').state).toBe('VSS_WS_FAILED_AT_FREEZE');
    expect(r.timeline.find((e) => e.writer === 'App' && e.event === 'freeze')).toMatchObject({ outcome: 'failed', code: 'VSS_E_WRITERERROR_NONRETRYABLE' });
    // The app's own freeze handler did run: the rehearsal exercises its abort path for real.
    expect(calls.filter((c) => c.writer === 'App').map((c) => c.event)).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
  });

  it('injects a failure the rules do not abort for (PostSnapshot)', async () => {
    await recordingWriter('App', []);
    const r = await rehearseCheckpoint({ ...quiet, faults: { writerFailures: [{ writer: 'App', event: 'postSnapshot' }] } });
    expect(r.error?.code).toBe('VSS_E_WRITERERROR_RETRYABLE');
    expect(r.eventsOf('App')).toEqual(['identify', 'prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupShutdown']);
  });

  it('rehearses a failing provider', async () => {
    await recordingWriter('App', []);
    const r = await rehearseCheckpoint({ ...quiet, faults: { failWith: 'VSS_E_PROVIDER_VETO' } });
    expect(r.error?.code).toBe('VSS_E_PROVIDER_VETO');
    expect(r.error?.writer).toBeUndefined();
    expect(r.result.phases.find((p) => p.event === 'commit')?.outcome).toBe('failed');
    expect(r.eventsOf('App')).toEqual(['identify', 'prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
  });

  it('rehearses a freeze window that runs out before thaw', async () => {
    await recordingWriter('App', []);
    const r = await rehearseCheckpoint({ ...quiet, faults: { freezeWindowMs: 20, commitDelayMs: 5_000 } });
    expect(r.error?.code).toBe('VSS_E_WRITERERROR_TIMEOUT');
    expect(r.error?.message).toContain('the freeze window of 20 ms ran out before thaw');
    expect(r.writer('App').state).toBe('VSS_WS_FAILED_AT_FREEZE');
    expect(r.eventsOf('App')).toContain('abort');
    expect(r.eventsOf('App')).not.toContain('thaw');
  });

  it('lets a handler that really is slow time out against a short handler deadline', async () => {
    await recordingWriter('App', [], { prepareSnapshot: () => sleep(2_000) }, { handlerTimeoutMs: 20 });
    const r = await rehearseCheckpoint(quiet);
    expect(r.error?.code).toBe('VSS_E_WRITERERROR_TIMEOUT');
    expect(r.timeline.find((e) => e.event === 'prepareSnapshot')?.outcome).toBe('timedOut');
  });

  it('names the bad field of its options', async () => {
    await recordingWriter('App', []);
    const error = await rehearseCheckpoint({ faults: { writerFailures: [{ writer: 'App', event: 'snapshot' as never }] } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OptionsError);
    expect((error as OptionsError).issues[0]?.path).toBe('faults.writerFailures[0].event');
  });
});

describe('rehearseRestore', () => {
  it('runs PreRestore and PostRestore, and injected failures there', async () => {
    await recordingWriter('App', []);
    const ok = await rehearseRestore(quiet);
    expect(ok.succeeded).toBe(true);
    expect(ok.eventsOf('App')).toEqual(['identify', 'preRestore', 'postRestore', 'backupShutdown']);
    const failed = await rehearseRestore({ ...quiet, faults: { writerFailures: [{ writer: 'App', event: 'preRestore' }] } });
    expect(failed.error?.writer).toMatchObject({ name: 'App', event: 'preRestore' });
    expect(failed.writer('App').state).toBe('VSS_WS_FAILED_AT_PRE_RESTORE');
  });
});

describe('faults that name no writer', () => {
  it('throw, naming the field and the writers there are', async () => {
    await recordingWriter('orders-service', []);
    const error = await rehearseCheckpoint({ ...quiet, faults: { writerFailures: [{ writer: 'Orders-Service', event: 'freeze' }] } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OptionsError);
    expect((error as OptionsError).issues).toEqual([
      { path: 'faults.writerFailures[0].writer', message: 'names no writer taking part ("Orders-Service"); subscribed: "orders-service"' },
    ]);
    const instance = await rehearseCheckpoint({ ...quiet, faults: { writerFailures: [{ writer: 'orders-service', instanceName: 'b', event: 'freeze' }] } }).catch((e: unknown) => e);
    expect((instance as OptionsError).issues[0]?.path).toBe('faults.writerFailures[0].instanceName');
  });
});

describe('cleanup under node --test', () => {
  const fixture = join(__dirname, 'fixtures', 'node-test-rehearsal.mjs');
  // Run as `node file`: node:test runs it in this one process, which the deadline can end
  // without leaving a child of `node --test` behind.
  const run = (cleanup: boolean) =>
    spawnSync(process.execPath, [fixture], {
      encoding: 'utf8',
      // Without cleanup the process would never end: the deadline ends it, and says so.
      timeout: cleanup ? 20_000 : 8_000,
      env: { ...process.env, VSS_BRIDGE_BACKEND: 'simulated', VSS_BRIDGE_COORDINATOR: 'off', REHEARSAL_CLEANUP: cleanup ? 'yes' : 'no' },
    });

  it('after(unsubscribeAll) lets the test process end by itself', () => {
    const r = run(true);
    expect(r.error, r.stderr).toBeUndefined();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('ok 1 - the app writer freezes and thaws');
  });

  it('without it, a subscribed writer keeps the process alive (why the cleanup is needed)', () => {
    const r = run(false);
    // The test passed, and then the process stayed.
    expect(r.stdout).toContain('ok 1 - the app writer freezes and thaws');
    expect((r.error as NodeJS.ErrnoException | undefined)?.code).toBe('ETIMEDOUT');
  }, 30_000);
});
