/**
 * End to end, in the simulator: the demo's records service (SQLite behind a WriteGate, a VSS
 * writer) under continuous load while snapshot sets run; the provider's commit copies the
 * database files. Every snapshot must pass PRAGMA integrity_check and hold exactly the writes
 * from before the freeze; with faults injected, no acknowledged write is lost and the service
 * always resumes.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyDatabase, runCheckpoint, verifySnapshot, type CheckpointOptions } from '../src/demo/checkpoint.js';
import { runDemo } from '../src/demo/index.js';
import { LoadGenerator } from '../src/demo/load.js';
import { RecordsService } from '../src/demo/records.js';
import { loadSqlite } from '../src/demo/sqlite.js';
import { listWriters, VssError, VssWriter, WriterFailure, type FreezeReport } from '../src/index.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { tempDir } from './helpers/temp-dir.js';
import { recordingWriter } from './helpers/writers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const writerName = 'records';

/** The service, its writer and the load, running; `checkpoint` runs one snapshot set. */
async function runningService(options: { maxFrozenMs?: number; manualCheckpoints?: boolean } = {}) {
  const { logger, entries } = memoryLogger();
  const sqlite = await loadSqlite();
  const root = tempDir('vss-bridge-e2e-');
  const dataDir = join(root, 'data');
  await mkdir(dataDir);
  const service = await RecordsService.start({ dir: dataDir, sqlite, logger, ...options });
  cleanups.push(() => service.close());
  const writer = new VssWriter({ name: writerName, id: randomUUID(), usage: 'userData', sourceType: 'transactedDb', gate: service.gate, logger });
  await writer.subscribe();
  cleanups.push(() => writer.unsubscribe());
  const load = new LoadGenerator(service.url, 3);
  load.start();
  cleanups.push(() => load.stop());
  // Some acknowledged writes before the first checkpoint.
  await load.passed(Date.now());
  let n = 0;
  const checkpoint = (extra: Partial<CheckpointOptions> = {}) => {
    const index = ++n;
    return runCheckpoint({
      index,
      service,
      load,
      sqlite,
      volume: dataDir,
      writerName,
      logger,
      takeSnapshot: async () => {
        const to = join(root, `snapshot-${index}`);
        await copyDatabase(dataDir, to);
        return to;
      },
      ...extra,
    });
  };
  /** Whether writes sent from now on get acknowledged. */
  const resumes = async (): Promise<boolean> => {
    const t = Date.now();
    await load.passed(t);
    await load.passed(Date.now());
    return load.acks.some((a) => a.sentAt > t);
  };
  /** Stops the load; the acknowledged writes missing from the live database. */
  const lost = async (): Promise<number[]> => {
    await load.stop();
    const live = service.ids();
    return load.acks.filter((a) => !live.has(a.id)).map((a) => a.id);
  };
  return { service, load, checkpoint, resumes, lost, logger, entries };
}

describe('consistent snapshots under load (simulator)', () => {
  it('every checkpoint is consistent and no acknowledged write is lost', async () => {
    const app = await runningService();
    for (let i = 0; i < 4; i++) {
      const report = await app.checkpoint();
      expect(report.error).toBeUndefined();
      expect(report.verdict).toMatchObject({ integrity: 'ok', missing: [], unexpected: [], ok: true });
      expect(report.verdict!.expected).toBeGreaterThan(0);
      expect(report.freeze).toMatchObject({ endedBy: 'thaw', reachedFrozen: true });
      expect(report.timeline.map((e) => e.event)).toEqual([
        'identify', 'prepareBackup', 'prepareSnapshot', 'freeze', 'commit', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown',
      ]);
    }
    expect(app.service.gate.stats().freezes).toBe(4);
    expect(await app.lost()).toEqual([]);
    expect(app.load.acks.length).toBeGreaterThan(0);
  });

  it('abort at freeze (another writer vetoes): the set fails, the gate reopens, nothing is lost, the service resumes', async () => {
    const app = await runningService();
    await recordingWriter('veto', [], { freeze: () => Promise.reject(new WriterFailure('VSS_E_WRITERERROR_RETRYABLE', 'veto')) });
    const failed = await app.checkpoint();
    expect(failed.succeeded).toBe(false);
    expect(failed.error?.code).toBe('VSS_E_WRITERERROR_RETRYABLE');
    expect(failed.timeline.map((e) => e.event)).toContain('abort');
    expect(failed.verdict).toBeNull();
    expect(app.service.gate.state).toBe('open');
    expect(failed.freeze?.endedBy).toBe('abort');
    // The service resumed: writes are acknowledged after the failed set.
    expect(await app.resumes()).toBe(true);
    expect(await app.lost()).toEqual([]);
  });

  it('provider failure: the set fails with the provider code, the gate reopens, nothing is lost', async () => {
    const app = await runningService();
    const failed = await app.checkpoint({ simulation: { failWith: 'VSS_E_UNEXPECTED_PROVIDER_ERROR' } });
    expect(failed.error?.code).toBe('VSS_E_UNEXPECTED_PROVIDER_ERROR');
    expect(app.service.gate.state).toBe('open');
    expect(await app.resumes()).toBe(true);
    const good = await app.checkpoint();
    expect(good.verdict?.ok).toBe(true);
    expect(await app.lost()).toEqual([]);
  });

  it('lost thaw: the watchdog reopens the gate during a commit that outlasts it; the service resumes, thaw reports the broken freeze', async () => {
    const app = await runningService({ maxFrozenMs: 60 });
    let ackedDuringCommit = 0;
    const failed = await app.checkpoint({
      simulation: { holdLimitMs: 20_000 },
      takeSnapshot: async () => {
        // The commit waits until the gate's watchdog fired, then until every client got a
        // write through: the service runs while the freeze window is still open.
        const gate = app.service.gate;
        const until = performance.now() + 10_000;
        while (gate.state !== 'open' && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
        // Acknowledgements are appended as they arrive: those after this index came after the reopening.
        const reopened = app.load.acks.length;
        if (await app.resumes()) ackedDuringCommit = app.load.acks.length - reopened;
        return '';
      },
    });
    expect(app.service.gate.lastFreeze?.endedBy).toBe('watchdog');
    expect(ackedDuringCommit).toBeGreaterThan(0);
    expect(failed.succeeded).toBe(false);
    expect(failed.error?.code).toBe('VSS_E_WRITERERROR_TIMEOUT');
    expect(failed.error?.message).toMatch(/reopened by its watchdog/);
    expect(app.entries.some((e) => e.level === 'error' && /neither thaw nor abort came/.test(e.message))).toBe(true);
    expect(await app.lost()).toEqual([]);
  });
});

// The same with a large WAL at prepareSnapshot: the preparation copies it into the database
// while the load goes on, and the freeze's checkpoint only what came since. The guarantee
// must not change: every write from before the freeze in the snapshot, none from after.
describe('consistent snapshots with a large WAL (simulator)', () => {
  const walBytes = 24 * 1024 * 1024;

  it('every checkpoint is consistent; the freeze finds only what was written after the preparation', async () => {
    const app = await runningService({ manualCheckpoints: true });
    for (let i = 0; i < 2; i++) {
      await app.service.fillWal(walBytes);
      const report = await app.checkpoint();
      expect(report.error).toBeUndefined();
      expect(report.verdict).toMatchObject({ integrity: 'ok', missing: [], unexpected: [], ok: true });
      expect(report.verdict!.expected).toBeGreaterThan(0);
      expect(report.wal.atPrepareSnapshot).toBeGreaterThan(walBytes);
      expect(report.wal.atFreeze).not.toBeNull();
      expect(report.wal.atFreeze!).toBeLessThan(walBytes / 10);
    }
    expect(await app.lost()).toEqual([]);
  });

  it('abort at freeze and a provider failure: the gate reopens, nothing is lost, the next set is consistent', async () => {
    const app = await runningService({ manualCheckpoints: true });
    await app.service.fillWal(walBytes);
    const veto = await recordingWriter('veto', [], { freeze: () => Promise.reject(new WriterFailure('VSS_E_WRITERERROR_RETRYABLE', 'veto')) });
    const vetoed = await app.checkpoint();
    expect(vetoed.error?.code).toBe('VSS_E_WRITERERROR_RETRYABLE');
    expect(vetoed.wal.atPrepareSnapshot).toBeGreaterThan(walBytes); // prepared, then aborted
    expect(app.service.gate.state).toBe('open');
    await veto.unsubscribe();
    await app.service.fillWal(walBytes);
    const failed = await app.checkpoint({ simulation: { failWith: 'VSS_E_UNEXPECTED_PROVIDER_ERROR' } });
    expect(failed.error?.code).toBe('VSS_E_UNEXPECTED_PROVIDER_ERROR');
    expect(app.service.gate.state).toBe('open');
    expect(await app.resumes()).toBe(true);
    await app.service.fillWal(walBytes);
    const good = await app.checkpoint();
    expect(good.verdict).toMatchObject({ integrity: 'ok', missing: [], unexpected: [], ok: true });
    expect(await app.lost()).toEqual([]);
  });
});

describe('verifySnapshot', () => {
  // The freeze began at 100 on the service's monotonic clock and held writes for 50 ms; the
  // wall clock runs 7 s ahead of it (drift, or a step since the process started), and the
  // acknowledgements, on the wall clock, say nothing about which side a write ran on.
  const freeze: FreezeReport = {
    id: 1, startedAt: 7_100, endedAt: 7_150, startedAtMonotonic: 100, drainMs: 1, heldMs: 50,
    heldWrites: 1, longestHoldMs: 50, reachedFrozen: true, endedBy: 'thaw',
  };
  const writes = new Map([
    [1, { id: 1, ranAt: 90, held: false }],
    // Read the clock in the same tick as the gate's freeze, before it: in flight, drained.
    [2, { id: 2, ranAt: 100, held: false }],
    // Held, run when the gate reopened.
    [3, { id: 3, ranAt: 150, held: true }],
  ]);
  const acks = [
    { id: 1, sentAt: 7_085, ackedAt: 7_095, latencyMs: 10, held: false },
    { id: 2, sentAt: 7_099, ackedAt: 7_101, latencyMs: 2, held: false },
    { id: 3, sentAt: 7_120, ackedAt: 7_151, latencyMs: 31, held: true },
  ];
  const service = { writes } as unknown as RecordsService;
  const snapshot = async (ids: number[]): Promise<string> => {
    const Sqlite = await loadSqlite();
    const file = join(tempDir('vss-bridge-verify-'), 'records.db');
    const db = new Sqlite(file);
    db.exec('CREATE TABLE records (id INTEGER PRIMARY KEY, value TEXT NOT NULL, ran_at REAL NOT NULL)');
    for (const id of ids) db.prepare('INSERT INTO records (id, value, ran_at) VALUES (?, ?, ?)').run(id, `record ${id}`, writes.get(id)!.ranAt);
    db.close();
    return file;
  };

  it("judges which side of the freeze a write ran on by the gate's monotonic clock; a tie with its start is from before", async () => {
    const sqlite = await loadSqlite();
    expect(verifySnapshot(sqlite, await snapshot([1, 2]), service, acks, freeze)).toEqual({
      integrity: 'ok', acknowledgedBeforeFreeze: 1, expected: 2, afterFreeze: 1, missing: [], unexpected: [], ok: true,
    });
    expect(verifySnapshot(sqlite, await snapshot([1]), service, acks, freeze)).toMatchObject({ missing: [2], unexpected: [], ok: false });
    expect(verifySnapshot(sqlite, await snapshot([1, 2, 3]), service, acks, freeze)).toMatchObject({ missing: [], unexpected: [3], ok: false });
  });
});

describe('runDemo', () => {
  it('prints each checkpoint with its timeline and verdict, and zero lost writes', async () => {
    const output = new PassThrough();
    let text = '';
    output.on('data', (c: Buffer) => (text += c.toString()));
    const report = await runDemo({ checkpoints: 2, intervalMs: 50, output, logger: memoryLogger().logger });
    expect(report.ok).toBe(true);
    expect(report.lostWrites).toBe(0);
    expect(report.checkpoints).toHaveLength(2);
    expect(text).toMatch(/checkpoint 1\/2 .* succeeded/);
    expect(text).toMatch(/timeline +identify .* freeze .* commit .* thaw/);
    expect(text).toMatch(/integrity_check ok; \d+ writes from before the freeze .* all present; \d+ from after: none present +consistent/);
    expect(text).toMatch(/lost writes: 0, held-write latency p50/);
  });

  it('with --wal-mb, reports the WAL at prepareSnapshot and at freeze, and stays consistent', async () => {
    const output = new PassThrough();
    let text = '';
    output.on('data', (c: Buffer) => (text += c.toString()));
    const report = await runDemo({ checkpoints: 1, intervalMs: 0, walMb: 16, output, logger: memoryLogger().logger });
    expect(report.ok).toBe(true);
    expect(report.checkpoints[0]!.wal.atPrepareSnapshot).toBeGreaterThan(16 * 1024 * 1024);
    expect(text).toMatch(/wal +at prepareSnapshot \d+\.\d MB, at freeze \d+\.\d+ MB/);
  });

  it('json output is one document', async () => {
    const output = new PassThrough();
    let text = '';
    output.on('data', (c: Buffer) => (text += c.toString()));
    await runDemo({ checkpoints: 1, intervalMs: 0, json: true, output, logger: memoryLogger().logger });
    expect(JSON.parse(text)).toMatchObject({ ok: true, lostWrites: 0, checkpoints: [{ index: 1, succeeded: true }] });
  });

  it('rejects bad options naming the field', async () => {
    await expect(runDemo({ checkpoints: 0 })).rejects.toThrow(/demo options: checkpoints/);
    await expect(runDemo({ dir: 'relative' })).rejects.toThrow(/dir: must be an absolute path/);
  });
});

describe('runDemo that fails midway', () => {
  const demoWriter = { name: 'vss-bridge records demo', id: '5e1f0c2a-7b3d-4c8e-9a6f-2d4b8c0e1f3a' };

  // The demo's temporary directory goes into os.tmpdir(): a folder of the test's own, so that
  // what is left in it can be seen.
  let previousTmpdir: string | undefined;
  let tmp: string;
  beforeEach(() => {
    previousTmpdir = process.env['TMPDIR'];
    tmp = tempDir('vss-bridge-demo-tmpdir-');
    process.env['TMPDIR'] = tmp;
  });
  afterEach(() => {
    if (previousTmpdir === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previousTmpdir;
  });

  /** What keeps the event loop alive (servers, sockets, timers, file requests), counted by kind. */
  const resources = (): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
    return counts;
  };
  /**
   * The resources there are more of now than `before`: what the demo left behind. A handle closed
   * (a server, a socket) leaves the list in the event loop's close phase, which follows the check
   * phase an immediate runs in: after a second immediate, only what is still open is listed.
   */
  const leftSince = async (before: Record<string, number>): Promise<Record<string, number>> => {
    await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
    return Object.fromEntries(Object.entries(resources()).filter(([kind, n]) => n > (before[kind] ?? 0)));
  };
  /** Files under `dir` this process holds open (the database, its WAL): Linux's /proc tells. */
  const openFilesUnder = (dir: string): string[] =>
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = readlinkSync(join('/proc/self/fd', fd));
        return target.startsWith(dir) ? [target] : [];
      } catch {
        return []; // closed while listed (the listing's own descriptor)
      }
    });
  const connectError = (url: string): Promise<string | undefined> =>
    new Promise((resolve) => {
      const socket = connect(Number(new URL(url).port), '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    });
  const demoWriterSubscribed = async (): Promise<boolean> => (await listWriters()).some((w) => w.id === demoWriter.id);
  const onLinux = process.platform === 'linux';

  it("a writer that cannot subscribe: the caller gets VSS's error; the service is closed, the temporary directory removed", async () => {
    const { logger } = memoryLogger();
    // The demo's writer already subscribed in this process (another demo running in it).
    const twin = new VssWriter({ ...demoWriter, usage: 'userData', sourceType: 'transactedDb', logger });
    await twin.subscribe();
    cleanups.push(() => twin.unsubscribe());
    const before = resources();
    const error = await runDemo({ checkpoints: 1, intervalMs: 0, output: new PassThrough(), logger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VssError);
    expect((error as VssError).code).toBe('VSS_E_WRITER_ALREADY_SUBSCRIBED');
    expect(await leftSince(before)).toEqual({});
    expect(readdirSync(tmp)).toEqual([]);
    if (onLinux) expect(openFilesUnder(tmp)).toEqual([]);
  });

  it('a report that cannot be written after a checkpoint: the caller gets that error; load, writer, service and directory are released', async () => {
    const { logger, entries } = memoryLogger();
    const broken = new Error('the report could not be written');
    let url: string | undefined;
    // Takes the first line (the service's address), fails on the first checkpoint's.
    const output = {
      write(text: string): boolean {
        const service = /^records service on (\S+) /.exec(text);
        if (service === null) throw broken;
        url = service[1];
        return true;
      },
    };
    const before = resources();
    const error = await runDemo({ checkpoints: 2, intervalMs: 0, output, logger }).catch((e: unknown) => e);
    expect(error).toBe(broken);
    expect(await leftSince(before)).toEqual({});
    expect(url).toBeDefined();
    expect(await connectError(url!)).toBe('ECONNREFUSED');
    expect(await demoWriterSubscribed()).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
    if (onLinux) expect(openFilesUnder(tmp)).toEqual([]);
    expect(entries.filter((e) => e.level === 'error')).toEqual([]);
  });

  it('a consistency check that throws (its snapshot gone): the caller gets its error; everything is released, the --dir kept', async () => {
    const { logger } = memoryLogger();
    const dir = join(tempDir('vss-bridge-demo-dir-'), 'demo');
    // Another writer in the process deletes the snapshot's database after the set made it.
    const remover = await recordingWriter('snapshot remover', [], { postSnapshot: () => rm(join(dir, 'snapshots', 'checkpoint-1', 'records.db')) });
    let url: string | undefined;
    const output = { write: (text: string) => (url ??= /^records service on (\S+) /.exec(text)?.[1]) };
    const before = resources();
    const error = await runDemo({ checkpoints: 1, intervalMs: 0, dir, output, logger }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SQLITE_CANTOPEN' });
    await remover.unsubscribe(); // its deadline timer is the test's, not the demo's
    expect(await leftSince(before)).toEqual({});
    expect(await connectError(url!)).toBe('ECONNREFUSED');
    expect(await demoWriterSubscribed()).toBe(false);
    if (onLinux) expect(openFilesUnder(dir)).toEqual([]);
    // The caller's directory is the caller's: the database stays.
    expect(existsSync(join(dir, 'data', 'records.db'))).toBe(true);
  });

  it('a --dir holding a file that is not a database: the caller gets SQLite\'s error; the file is closed and left as it was', async () => {
    const dir = tempDir('vss-bridge-demo-dir-');
    await mkdir(join(dir, 'data'));
    const notADatabase = 'notes, not a database '.repeat(20);
    await writeFile(join(dir, 'data', 'records.db'), notADatabase);
    const error = await runDemo({ checkpoints: 1, intervalMs: 0, dir, output: new PassThrough(), logger: memoryLogger().logger }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SQLITE_NOTADB' });
    if (onLinux) expect(openFilesUnder(dir)).toEqual([]);
    expect(readFileSync(join(dir, 'data', 'records.db'), 'utf8')).toBe(notADatabase);
  });
});
