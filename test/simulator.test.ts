/**
 * The simulated VSS runs the real sequence and the real failure rules (see
 * /work/shared/reference/vss.md and native/snapshot_set.h).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createShadowCopy, listWriters, OptionsError, VssError, WriterFailure, type Progress, type ShadowCopyResult, type WriterEventContext } from '../src/index.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { tempDir } from './helpers/temp-dir.js';
import { scaled } from './helpers/timing.js';
import { eventsOf, recordingWriter, sleep, type Calls } from './helpers/writers.js';

const quiet = { logger: memoryLogger().logger };
// Volumes must exist, as VSS's must: two directories stand in for two volumes.
const data = tempDir('vss-bridge-data-');
const logs = tempDir('vss-bridge-logs-');
const backupSequence = ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown'];

async function failingSet(options: Parameters<typeof createShadowCopy>[0]): Promise<VssError> {
  const error = await createShadowCopy(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VssError);
  return error as VssError;
}

/**
 * A cancelled or timed-out set answers before its writers' Abort and BackupShutdown; until
 * they are done a new set is refused (VSS_E_SNAPSHOT_SET_IN_PROGRESS), so such tests wait.
 */
function cleanupDone(): { done: () => void; seen: Promise<void> } {
  let done!: () => void;
  const seen = new Promise<void>((resolve) => (done = resolve));
  return { done: () => setImmediate(done), seen };
}

function writerOf(result: ShadowCopyResult | undefined, name: string) {
  const writer = result?.writers.find((w) => w.name === name);
  expect(writer).toBeDefined();
  return writer!;
}

describe('simulated snapshot set', () => {
  it('runs the backup sequence in order, with one snapshot set id and the commit inside the freeze window', async () => {
    const calls: Calls = [];
    await recordingWriter('app', calls);
    const order: string[] = [];
    const result = await createShadowCopy({
      volumes: [data, logs],
      backupType: 'copy',
      onCommit: () => {
        order.push(...eventsOf(calls, 'app'));
      },
      ...quiet,
    });
    expect(eventsOf(calls, 'app')).toEqual(backupSequence);
    expect(order).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    expect(new Set(calls.map((c) => c.snapshotSetId))).toEqual(new Set([result.snapshotSetId]));
    expect(result.backupType).toBe('copy');
    expect(result.snapshots.map((s) => s.volume)).toEqual([data, logs]);
    expect(result.snapshots[0]?.deviceObject).toMatch(/^\\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy\d+$/);
    expect(result.phases.map((p) => p.event)).toEqual([
      'identify', 'prepareBackup', 'prepareSnapshot', 'freeze', 'commit', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown',
    ]);
    const app = writerOf(result, 'app');
    expect(app.state).toBe('VSS_WS_STABLE');
    expect(app.events.map((e) => e.event)).toEqual(['identify', ...backupSequence]);
    expect(app.events.every((e) => e.outcome === 'succeeded')).toBe(true);
  });

  it('moves each writer through the VSS writer states as the set runs', async () => {
    const seen: Record<string, string> = {};
    const writer = await recordingWriter('states', [], Object.fromEntries(
      ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown'].map((event) => [
        event,
        () => {
          seen[event] = writer.state;
        },
      ]),
    ));
    await createShadowCopy({ volumes: [data], ...quiet });
    // The state while a handler runs is the one the previous event left.
    expect(seen).toEqual({
      prepareBackup: 'VSS_WS_STABLE',
      prepareSnapshot: 'VSS_WS_STABLE',
      freeze: 'VSS_WS_WAITING_FOR_FREEZE',
      thaw: 'VSS_WS_WAITING_FOR_THAW',
      postSnapshot: 'VSS_WS_WAITING_FOR_POST_SNAPSHOT',
      backupComplete: 'VSS_WS_WAITING_FOR_BACKUP_COMPLETE',
      backupShutdown: 'VSS_WS_STABLE',
    });
    expect(writer.state).toBe('VSS_WS_STABLE');
  });

  it('gives handlers the context of the set', async () => {
    const seen: unknown[] = [];
    const calls: Calls = [];
    await recordingWriter('ctx', calls, {
      freeze: (ctx) => {
        seen.push({
          event: ctx.event,
          backupType: ctx.backupType,
          volumes: ctx.volumes,
          components: ctx.components,
          onSet: ctx.isPathAffected(join(data, 'db', 'app.sqlite')),
          offSet: ctx.isPathAffected('/other/file'),
          prefixOnly: ctx.isPathAffected(`${data}base`),
          hasSignal: ctx.signal instanceof AbortSignal,
        });
      },
    }, { components: [{ name: 'db', files: [{ path: join(data, 'db') }] }] });
    await createShadowCopy({ volumes: [data], backupType: 'incremental', components: ['db'], ...quiet });
    expect(seen).toEqual([
      { event: 'freeze', backupType: 'incremental', volumes: [data], components: ['db'], onSet: true, offSet: false, prefixOnly: false, hasSignal: true },
    ]);
  });

  it('gives each writer lists of its own: what one handler changes, no other sees', async () => {
    // VSS tells every writer of a phase the same context; each handler gets its own copy.
    const seen: { volumes: string[]; components: string[] }[] = [];
    const changing = (ctx: WriterEventContext): void => {
      seen.push({ volumes: [...ctx.volumes], components: [...ctx.components] });
      // Read-only in their type, but plain arrays a JavaScript handler can change.
      (ctx.volumes as string[]).push('/elsewhere');
      (ctx.components as string[]).push('another');
    };
    for (const name of ['first', 'second', 'third']) await recordingWriter(name, [], { freeze: changing, thaw: changing });
    await createShadowCopy({ volumes: [data], ...quiet });
    expect(seen).toHaveLength(6);
    for (const s of seen) expect(s).toEqual({ volumes: [data], components: [] });
  });

  it('sends each event to every writer at once and ends the phase when all answered', async () => {
    const calls: Calls = [];
    const log: string[] = [];
    await recordingWriter('slow', calls, {
      prepareSnapshot: async () => {
        log.push('slow:start');
        await sleep(100);
        log.push('slow:end');
      },
    });
    await recordingWriter('fast', calls, {
      prepareSnapshot: () => {
        log.push('fast');
      },
      freeze: () => {
        log.push('fast:freeze');
      },
    });
    const result = await createShadowCopy({ volumes: [data], ...quiet });
    // fast ran while slow was still in prepareSnapshot, and froze only after slow finished.
    expect(log.indexOf('fast')).toBeLessThan(log.indexOf('slow:end'));
    expect(log.indexOf('slow:start')).toBeLessThan(log.indexOf('slow:end'));
    expect(log.at(-1)).toBe('fast:freeze');
    expect(eventsOf(calls, 'slow')).toEqual(backupSequence);
    expect(eventsOf(calls, 'fast')).toEqual(backupSequence);
    expect(result.writers).toHaveLength(2);
    // Each phase's record spans its writers' events: it ends once the last answer is in.
    for (const phase of result.phases) {
      for (const e of result.writers.flatMap((w) => w.events.filter((x) => x.event === phase.event))) {
        expect(e.startMs).toBeGreaterThanOrEqual(phase.startMs);
        expect(e.startMs + e.durationMs).toBeLessThanOrEqual(phase.startMs + phase.durationMs + 1e-9);
      }
    }
    expect(result.phases.find((p) => p.event === 'prepareSnapshot')!.durationMs).toBeGreaterThanOrEqual(
      Math.max(...result.writers.map((w) => w.events.find((e) => e.event === 'prepareSnapshot')!.durationMs)),
    );
  });

  it('aborts every writer after a failure in prepareBackup', async () => {
    const calls: Calls = [];
    await recordingWriter('bad', calls, {
      prepareBackup: () => {
        throw new WriterFailure('VSS_E_WRITERERROR_OUTOFRESOURCES', 'no memory');
      },
    });
    await recordingWriter('good', calls);
    const error = await failingSet({ volumes: [data], ...quiet });
    expect(error.code).toBe('VSS_E_WRITERERROR_OUTOFRESOURCES');
    expect(error.retryable).toBe(true);
    expect(error.writer).toMatchObject({ name: 'bad', event: 'prepareBackup' });
    expect(eventsOf(calls, 'bad')).toEqual(['prepareBackup', 'abort', 'backupShutdown']);
    expect(eventsOf(calls, 'good')).toEqual(['prepareBackup', 'abort', 'backupShutdown']);
    expect(writerOf(error.result, 'bad').state).toBe('VSS_WS_FAILED_AT_PREPARE_BACKUP');
    expect(writerOf(error.result, 'bad').lastError).toMatchObject({ code: 'VSS_E_WRITERERROR_OUTOFRESOURCES', message: 'no memory' });
    expect(writerOf(error.result, 'good').state).toBe('VSS_WS_STABLE');
  });

  it('does not abort after a failure in prepareSnapshot', async () => {
    const calls: Calls = [];
    await recordingWriter('bad', calls, {
      prepareSnapshot: () => {
        throw new Error('not ready');
      },
    });
    await recordingWriter('good', calls);
    const error = await failingSet({ volumes: [data], ...quiet });
    expect(error.code).toBe('VSS_E_WRITERERROR_RETRYABLE');
    expect(eventsOf(calls, 'bad')).toEqual(['prepareBackup', 'prepareSnapshot', 'backupShutdown']);
    expect(eventsOf(calls, 'good')).toEqual(['prepareBackup', 'prepareSnapshot', 'backupShutdown']);
    expect(writerOf(error.result, 'bad').state).toBe('VSS_WS_FAILED_AT_PREPARE_SNAPSHOT');
    // No Abort came, but BackupShutdown ended the backup: the healthy writer is not left waiting.
    expect(writerOf(error.result, 'good').state).toBe('VSS_WS_STABLE');
  });

  it('aborts every writer after a failure in freeze, and never thaws', async () => {
    const calls: Calls = [];
    let committed = false;
    await recordingWriter('bad', calls, {
      freeze: () => {
        throw new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', 'cannot quiesce');
      },
    });
    await recordingWriter('good', calls);
    const error = await failingSet({ volumes: [data], onCommit: () => void (committed = true), ...quiet });
    expect(error.code).toBe('VSS_E_WRITERERROR_NONRETRYABLE');
    expect(error.retryable).toBe(false);
    expect(committed).toBe(false);
    expect(eventsOf(calls, 'good')).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
    expect(writerOf(error.result, 'bad').state).toBe('VSS_WS_FAILED_AT_FREEZE');
    expect(error.result?.snapshots).toEqual([]);
  });

  it('aborts every writer after a failure in thaw', async () => {
    const calls: Calls = [];
    await recordingWriter('bad', calls, {
      thaw: () => {
        throw new Error('cannot resume');
      },
    });
    const error = await failingSet({ volumes: [data], ...quiet });
    expect(eventsOf(calls, 'bad')).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'abort', 'backupShutdown']);
    expect(writerOf(error.result, 'bad').state).toBe('VSS_WS_FAILED_AT_THAW');
  });

  it('does not abort after a failure in postSnapshot', async () => {
    const calls: Calls = [];
    await recordingWriter('bad', calls, {
      postSnapshot: () => {
        throw new Error('post failed');
      },
    });
    const error = await failingSet({ volumes: [data], ...quiet });
    expect(eventsOf(calls, 'bad')).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupShutdown']);
    expect(writerOf(error.result, 'bad').state).toBe('VSS_WS_FAILED_AT_POST_SNAPSHOT');
  });

  it('aborts every writer when the provider fails its commit', async () => {
    const calls: Calls = [];
    await recordingWriter('app', calls);
    const error = await failingSet({ volumes: [data], simulation: { failWith: 'VSS_E_PROVIDER_VETO' }, ...quiet });
    expect(error.code).toBe('VSS_E_PROVIDER_VETO');
    expect(error.writer).toBeUndefined();
    expect(eventsOf(calls, 'app')).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
    expect(writerOf(error.result, 'app').state).toBe('VSS_WS_STABLE');
  });

  it('fails the commit with VSS_E_UNEXPECTED_PROVIDER_ERROR when the commit callback throws', async () => {
    const calls: Calls = [];
    await recordingWriter('app', calls);
    const error = await failingSet({
      volumes: [data],
      onCommit: () => {
        throw new Error('copy failed');
      },
      ...quiet,
    });
    expect(error.code).toBe('VSS_E_UNEXPECTED_PROVIDER_ERROR');
    expect(error.message).toMatch(/copy failed/);
    expect(eventsOf(calls, 'app')).toContain('abort');
  });

  it('enforces the hold limit on the commit', async () => {
    const calls: Calls = [];
    await recordingWriter('app', calls);
    const error = await failingSet({ volumes: [data], simulation: { commitDelayMs: 2000, holdLimitMs: 50 }, ...quiet });
    expect(error.code).toBe('VSS_E_HOLD_WRITES_TIMEOUT');
    expect(error.result?.phases.find((p) => p.event === 'commit')?.outcome).toBe('timedOut');
    expect(eventsOf(calls, 'app')).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
  });

  it("aborts a writer whose freeze window runs out before thaw", async () => {
    const calls: Calls = [];
    await recordingWriter('short', calls, {}, { freezeTimeoutMs: 50 });
    await recordingWriter('long', calls);
    const error = await failingSet({ volumes: [data], simulation: { commitDelayMs: 1000 }, ...quiet });
    expect(error.code).toBe('VSS_E_WRITERERROR_TIMEOUT');
    expect(error.writer?.name).toBe('short');
    expect(writerOf(error.result, 'short').state).toBe('VSS_WS_FAILED_AT_FREEZE');
    expect(writerOf(error.result, 'long').state).toBe('VSS_WS_STABLE');
    expect(eventsOf(calls, 'short')).not.toContain('thaw');
    expect(eventsOf(calls, 'long')).toContain('abort');
  });

  it('times out a freeze handler at the end of its freeze window', async () => {
    const calls: Calls = [];
    await recordingWriter('stuck', calls, { freeze: () => new Promise(() => undefined) }, { freezeTimeoutMs: 100 });
    const error = await failingSet({ volumes: [data], ...quiet });
    expect(error.code).toBe('VSS_E_WRITERERROR_TIMEOUT');
    expect(writerOf(error.result, 'stuck').events.find((e) => e.event === 'freeze')?.outcome).toBe('timedOut');
    expect(eventsOf(calls, 'stuck')).toContain('abort');
  });

  it('refuses a second snapshot set while one is in progress', async () => {
    const calls: Calls = [];
    // The first set stays in PrepareForSnapshot until the second one has been refused.
    let started!: () => void;
    const inPrepareSnapshot = new Promise<void>((resolve) => (started = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await recordingWriter('app', calls, {
      prepareSnapshot: () => {
        started();
        return released;
      },
    });
    const first = createShadowCopy({ volumes: [data], ...quiet });
    await inPrepareSnapshot;
    const error = await failingSet({ volumes: [data], ...quiet });
    expect(error.code).toBe('VSS_E_SNAPSHOT_SET_IN_PROGRESS');
    expect(error.retryable).toBe(true);
    release();
    expect(await first).toMatchObject({ snapshotSetId: expect.any(String) });
    expect(eventsOf(calls, 'app')).toContain('backupShutdown');
  });

  it('answers at its own deadline when a handler hangs, then still aborts the writers', async () => {
    const calls: Calls = [];
    const shutdown = cleanupDone();
    await recordingWriter('stuck', calls, { prepareSnapshot: () => new Promise(() => undefined), backupShutdown: shutdown.done });
    const error = await failingSet({ volumes: [data], timeoutMs: 300, ...quiet });
    // The set's own deadline answered (ERROR_TIMEOUT), not the handler's 30 s one
    // (which would be VSS_E_WRITERERROR_TIMEOUT).
    expect(error.code).toBe('ERROR_TIMEOUT');
    await shutdown.seen;
    expect(eventsOf(calls, 'stuck')).toEqual(['prepareBackup', 'prepareSnapshot', 'abort', 'backupShutdown']);
  });

  it('stops at once when cancelled, and still aborts the writers', async () => {
    const calls: Calls = [];
    const controller = new AbortController();
    const shutdown = cleanupDone();
    await recordingWriter('app', calls, {
      freeze: () => {
        controller.abort();
        return sleep(100);
      },
      backupShutdown: shutdown.done,
    });
    const error = await failingSet({ volumes: [data], signal: controller.signal, ...quiet });
    expect(error.code).toBe('E_ABORT');
    await shutdown.seen;
    expect(eventsOf(calls, 'app')).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
  });

  it('refuses to start with an already aborted signal', async () => {
    const error = await failingSet({ volumes: [data], signal: AbortSignal.abort(), ...quiet });
    expect(error.code).toBe('E_ABORT');
  });

  it('fails the set when a writer unsubscribes while its event is in flight', async () => {
    const calls: Calls = [];
    const writer = await recordingWriter('leaving', calls, {
      freeze: async () => {
        void writer.unsubscribe();
        await sleep(5_000);
      },
    });
    const error = await failingSet({ volumes: [data], ...quiet });
    expect(error.writer?.name).toBe('leaving');
    expect(error.message).toMatch(/unsubscribed/);
  });

  it('refuses a second writer with the same id and instance name', async () => {
    const calls: Calls = [];
    const first = await recordingWriter('one', calls, {}, { id: '9a1b2c3d-0000-4000-8000-000000000001', instanceName: 'a' });
    await expect(recordingWriter('two', calls, {}, { id: first.id, instanceName: 'a' })).rejects.toMatchObject({
      code: 'VSS_E_WRITER_ALREADY_SUBSCRIBED',
    });
    // Another instance of the same writer class is fine.
    await recordingWriter('three', calls, {}, { id: first.id, instanceName: 'b' });
    expect((await listWriters()).map((w) => w.instanceName).sort()).toEqual(['a', 'b']);
  });

  it('lists subscribed writers with their states and last errors', async () => {
    const calls: Calls = [];
    // What the writer's status is when each set reaches it.
    const atPrepareBackup: unknown[] = [];
    const writer = await recordingWriter('listed', calls, {
      prepareBackup: () => void atPrepareBackup.push(writer.info()),
      freeze: () => {
        throw new Error('nope');
      },
    });
    expect(writer.state).toBe('VSS_WS_STABLE');
    await failingSet({ volumes: [data], ...quiet });
    const [info] = await listWriters();
    expect(info).toMatchObject({ name: 'listed', id: writer.id, state: 'VSS_WS_FAILED_AT_FREEZE' });
    expect(info?.lastError).toMatchObject({ code: 'VSS_E_WRITERERROR_RETRYABLE', message: 'nope' });
    expect(writer.state).toBe('VSS_WS_FAILED_AT_FREEZE');
    expect(writer.info()).toEqual(info);
    // A new set starts from a clean state: stable, the last set's error gone.
    const again = await failingSet({ volumes: [data], ...quiet });
    expect(again.code).toBe('VSS_E_WRITERERROR_RETRYABLE');
    expect(atPrepareBackup).toHaveLength(2);
    expect(atPrepareBackup[1]).toMatchObject({ state: 'VSS_WS_STABLE', lastError: null });
    await writer.unsubscribe();
    expect(writer.state).toBe('VSS_WS_UNKNOWN');
    expect(writer.info()).toBeNull();
    expect(await listWriters()).toEqual([]);
  });

  it('reports progress of phases and writers', async () => {
    await recordingWriter('app', []);
    const progress: string[] = [];
    await createShadowCopy({
      volumes: [data],
      onProgress: (p) => progress.push(`${p.phase}:${p.status}${p.writer ? `:${p.writer.name}:${p.outcome}` : ''}`),
      ...quiet,
    });
    expect(progress).toContain('freeze:start');
    expect(progress).toContain('freeze:writer:app:succeeded');
    expect(progress).toContain('commit:end');
    expect(progress.at(-1)).toBe('backupShutdown:end');
  });

  it('reports a writer that timed out as timed out, in its progress and its phase', async () => {
    // Only Freeze may time out: every other event has no handler and answers at once, and the
    // deadline is long enough for that on a busy machine.
    const untilAbandoned = (ctx: WriterEventContext) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    await recordingWriter('slow', [], { freeze: untilAbandoned }, { handlerTimeoutMs: scaled(500) });
    const progress: string[] = [];
    const onProgress = (p: Progress) => progress.push(`${p.phase}:${p.status}${p.writer ? `:${p.writer.name}` : ''}:${p.outcome ?? ''}`);
    const error = await failingSet({ volumes: [data], onProgress, ...quiet });
    expect(error.code).toBe('VSS_E_WRITERERROR_TIMEOUT');
    expect(progress).toContain('freeze:writer:slow:timedOut');
    expect(progress).toContain('freeze:end:timedOut');
    expect(progress).not.toContain('freeze:end:succeeded');
    expect(error.result?.phases.find((p) => p.event === 'freeze')).toMatchObject({ outcome: 'timedOut', error: { code: 'VSS_E_WRITERERROR_TIMEOUT' } });
  });

  it('reports a writer whose freeze window ran out during the commit as timed out', async () => {
    await recordingWriter('held', []);
    const progress: string[] = [];
    const onProgress = (p: Progress) => progress.push(`${p.phase}:${p.status}${p.writer ? `:${p.writer.name}` : ''}:${p.outcome ?? ''}`);
    const error = await failingSet({ volumes: [data], onProgress, simulation: { freezeWindowMs: scaled(500), commitDelayMs: scaled(3_000) }, ...quiet });
    expect(error.code).toBe('VSS_E_WRITERERROR_TIMEOUT');
    // Its freeze succeeded, then its window ran out: the last word on it says so.
    const about = progress.filter((p) => p.startsWith('freeze:writer:held'));
    expect(about).toEqual(['freeze:writer:held:succeeded', 'freeze:writer:held:timedOut']);
    expect(progress.indexOf('freeze:writer:held:timedOut')).toBeGreaterThan(progress.indexOf('commit:start'));
  });

  it('runs a snapshot set with no writers', async () => {
    const result = await createShadowCopy({ volumes: [data], ...quiet });
    expect(result.writers).toEqual([]);
    expect(result.snapshots).toHaveLength(1);
  });
});

describe('what the simulator refuses, as VSS does (AddToSnapshotSet, AddComponent)', () => {
  async function refusal(options: Parameters<typeof createShadowCopy>[0]): Promise<{ code: string; message: string }> {
    const error = await failingSet(options);
    return { code: error.code, message: error.message };
  }

  it('a relative volume: VSS_E_OBJECT_NOT_FOUND, naming it', async () => {
    const r = await refusal({ volumes: ['data'], ...quiet });
    expect(r.code).toBe('VSS_E_OBJECT_NOT_FOUND');
    expect(r.message).toContain('AddToSnapshotSet("data"): a relative path names no volume');
  });

  it('a volume that does not exist, or is a file: VSS_E_OBJECT_NOT_FOUND, naming it', async () => {
    const missing = join(data, 'no-such-volume');
    expect(await refusal({ volumes: [missing], ...quiet })).toMatchObject({ code: 'VSS_E_OBJECT_NOT_FOUND', message: expect.stringContaining(`AddToSnapshotSet("${missing}"): no such volume (ENOENT)`) });
    const file = join(data, 'a-file');
    writeFileSync(file, '');
    expect(await refusal({ volumes: [file], ...quiet })).toMatchObject({ code: 'VSS_E_OBJECT_NOT_FOUND', message: expect.stringContaining('a file, not a volume') });
  });

  it('the same volume twice, under any of its names: VSS_E_OBJECT_ALREADY_EXISTS', async () => {
    expect(await refusal({ volumes: ['/', '/'], ...quiet })).toMatchObject({ code: 'VSS_E_OBJECT_ALREADY_EXISTS', message: expect.stringContaining('AddToSnapshotSet("/"): the volume is already in the snapshot set') });
    const r = await refusal({ volumes: [data, `${data}/`, logs], ...quiet });
    expect(r.code).toBe('VSS_E_OBJECT_ALREADY_EXISTS');
    expect(r.message).toContain(`AddToSnapshotSet("${data}/"): the volume is already in the snapshot set as "${data}"`);
  });

  it.runIf(process.platform !== 'win32')('a Windows volume name off Windows: VSS_E_VOLUME_NOT_SUPPORTED', async () => {
    for (const volume of ['C:\\', 'd:', '\\\\server\\share\\']) {
      const r = await refusal({ volumes: [volume], ...quiet });
      expect(r.code).toBe('VSS_E_VOLUME_NOT_SUPPORTED');
      expect(r.message).toContain(`AddToSnapshotSet("${volume}"): a Windows volume name`);
    }
  });

  it('refuses before any writer hears of the set', async () => {
    const calls: Calls = [];
    await recordingWriter('app', calls);
    await refusal({ volumes: ['/', 'relative'], ...quiet });
    expect(calls).toEqual([]);
  });

  it('a component no writer has: VSS_E_OBJECT_NOT_FOUND, listing the ones there are', async () => {
    await recordingWriter('app', [], {}, { components: [{ name: 'db', logicalPath: 'orders', files: [{ path: data }] }] });
    const r = await refusal({ volumes: [data], components: ['db'], ...quiet });
    expect(r.code).toBe('VSS_E_OBJECT_NOT_FOUND');
    expect(r.message).toContain('no writer has a component named "db"; components: "orders\\db"');
    // Named as VShadow names it, in any letter case.
    await expect(createShadowCopy({ volumes: [data], components: ['ORDERS\\db'], ...quiet })).resolves.toBeDefined();
  });

  it('an injected fault naming no writer that takes part: an OptionsError naming the field', async () => {
    await recordingWriter('orders-service', []);
    const error = await createShadowCopy({ volumes: [data], simulation: { writerFailures: [{ writer: 'Orders-Service', event: 'freeze' }] }, ...quiet }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OptionsError);
    expect((error as OptionsError).message).toBe(
      'Invalid createShadowCopy options: simulation.writerFailures[0].writer: names no writer taking part ("Orders-Service"); subscribed: "orders-service"',
    );
  });
});
