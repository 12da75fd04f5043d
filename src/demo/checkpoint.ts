/**
 * One checkpoint of the demo: a snapshot set whose provider commit (inside the freeze window)
 * takes the snapshot, then the verdict on that snapshot: SQLite's integrity check, and exactly
 * the writes that ran before the freeze began, every acknowledged one of them included.
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VssError } from '../errors.js';
import type { FreezeReport } from '../gate/write-gate.js';
import type { Logger } from '../logger.js';
import { createShadowCopy } from '../requester.js';
import type { ShadowCopyOptions } from '../schemas.js';
import type { CommitContext, EventRecord, ShadowCopyResult } from '../types.js';
import type { Ack, LoadGenerator } from './load.js';
import { databaseFile, type RecordsService } from './records.js';
import { inspectDatabase, type DatabaseConstructor } from './sqlite.js';

export interface TimelineEntry {
  readonly event: string;
  readonly startMs: number;
  readonly durationMs: number;
  readonly outcome: string;
  readonly error?: string;
}

export interface SnapshotVerdict {
  /** PRAGMA integrity_check of the snapshot's database: "ok" or SQLite's complaints. */
  readonly integrity: string;
  /**
   * Acknowledged writes that were acknowledged before the freeze began, by the wall clock
   * (ackedAt < startedAt: one in the freeze's own millisecond is not counted): all must be
   * there. Counted only: each of them ran before the freeze, so `expected` judges it.
   */
  readonly acknowledgedBeforeFreeze: number;
  /** Acknowledged writes that ran before the freeze began (also those the drain waited for). */
  readonly expected: number;
  /** Acknowledged writes that ran after the freeze began (held by the gate, or later): none may be there. */
  readonly afterFreeze: number;
  readonly missing: readonly number[];
  readonly unexpected: readonly number[];
  readonly ok: boolean;
}

export interface CheckpointReport {
  readonly index: number;
  readonly snapshotSetId: string | null;
  /** The snapshot set succeeded. */
  readonly succeeded: boolean;
  readonly error?: { readonly code: string; readonly message: string };
  /** The writer's events and the provider's commit, in order, from the set's result. */
  readonly timeline: readonly TimelineEntry[];
  readonly freeze: FreezeReport | null;
  /**
   * The WAL in bytes when prepareSnapshot began (before the store's preparation) and when the
   * freeze began (what the freeze's checkpoint had to copy, at most); null where that step did not run.
   */
  readonly wal: { readonly atPrepareSnapshot: number | null; readonly atFreeze: number | null };
  /** Latency of the writes the gate held in this freeze, milliseconds. */
  readonly heldLatency: { readonly count: number; readonly p50: number | null; readonly p99: number | null };
  /** Null when the set failed: a failed set leaves no snapshot to check. */
  readonly verdict: SnapshotVerdict | null;
}

/** Copies the database's files (not -shm: SQLite rebuilds it) into `dir`. */
export async function copyDatabase(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const suffix of ['', '-wal', '-journal']) {
    const name = databaseFile + suffix;
    const exists = await stat(join(from, name)).then(
      () => true,
      () => false,
    );
    if (exists) await copyFile(join(from, name), join(to, name));
  }
}

export interface CheckpointOptions {
  readonly index: number;
  readonly service: RecordsService;
  readonly load: LoadGenerator;
  readonly sqlite: DatabaseConstructor;
  /** The volume in the snapshot set: the service's data directory, or its mount point. */
  readonly volume: string;
  /** Takes the snapshot inside the freeze window; returns the directory holding the database's copy. */
  readonly takeSnapshot: (ctx: CommitContext) => Promise<string>;
  /** Reads the snapshot back for checking; returns the directory of a database copy SQLite can open. */
  readonly openSnapshot?: (dir: string) => Promise<string>;
  readonly simulation?: ShadowCopyOptions['simulation'];
  readonly writerName: string;
  readonly logger: Logger;
}

export async function runCheckpoint(o: CheckpointOptions): Promise<CheckpointReport> {
  const before = o.service.gate.lastFreeze;
  const store = o.service.store;
  const preparedBefore = store.lastPreparation;
  let snapshotDir: string | undefined;
  let result: ShadowCopyResult | undefined;
  let error: CheckpointReport['error'];
  try {
    result = await createShadowCopy({
      volumes: [o.volume],
      logger: o.logger,
      ...(o.simulation && { simulation: o.simulation }),
      onCommit: async (ctx) => {
        snapshotDir = await o.takeSnapshot(ctx);
      },
    });
  } catch (e) {
    if (!(e instanceof VssError)) throw e;
    result = e.result;
    error = { code: e.code, message: e.message };
  }
  const last = o.service.gate.lastFreeze;
  const freeze = last !== undefined && last !== before ? last : null;
  // The writes held by this freeze are answered after thaw: wait for them before judging.
  if (freeze) await o.load.passed(freeze.endedAt);
  const acks = o.load.acks;
  const heldLatency = latencyOf(freeze ? acks.filter((a) => a.held && a.ackedAt >= freeze.startedAt && a.sentAt <= freeze.endedAt) : []);
  let verdict: SnapshotVerdict | null = null;
  if (error === undefined && snapshotDir !== undefined && freeze !== null) {
    const dir = o.openSnapshot ? await o.openSnapshot(snapshotDir) : snapshotDir;
    verdict = verifySnapshot(o.sqlite, join(dir, databaseFile), o.service, acks, freeze);
  }
  // A preparation records a new object; the store's freeze ran if this freeze reached frozen.
  const prepared = store.lastPreparation !== preparedBefore ? store.lastPreparation : undefined;
  const walAtFreeze = freeze?.reachedFrozen ? store.walFramesAtFreeze : undefined;
  return {
    index: o.index,
    snapshotSetId: result?.snapshotSetId ?? null,
    succeeded: error === undefined,
    ...(error && { error }),
    timeline: timelineOf(result, o.writerName),
    wal: {
      atPrepareSnapshot: prepared ? o.service.walBytes(prepared.walFrames) : null,
      atFreeze: walAtFreeze !== undefined ? o.service.walBytes(walAtFreeze) : null,
    },
    freeze,
    heldLatency,
    verdict,
  };
}

/**
 * The snapshot must hold every acknowledged write that started to run before the freeze
 * began (the drain finishes those in flight) and none that ran after (the gate held those).
 *
 * Which side of the freeze a write ran on is decided on one clock, the service's monotonic
 * one: the write's ranAt and the report's startedAtMonotonic are both performance.now() in
 * the process that owns the gate. The wall clock (the acknowledgements, startedAt) may be
 * stepped between any two reads, so it only counts acknowledgedBeforeFreeze. A write that
 * started before the gate closed read the clock before the gate did: ranAt <= start (equal
 * when both reads fell in one tick of the clock). No write starts while the gate is closed:
 * the ones it held start after it reopened, at start + heldMs or later. So a tie with the
 * start is a write from before the freeze.
 */
export function verifySnapshot(
  sqlite: DatabaseConstructor,
  file: string,
  service: RecordsService,
  acks: readonly Ack[],
  freeze: FreezeReport,
): SnapshotVerdict {
  const { integrity, ids } = inspectDatabase(sqlite, file);
  const missing: number[] = [];
  const unexpected: number[] = [];
  let expected = 0;
  let afterFreeze = 0;
  let acknowledgedBeforeFreeze = 0;
  for (const ack of acks) {
    const write = service.writes.get(ack.id);
    if (write === undefined) {
      missing.push(ack.id); // acknowledged but unknown to the service: lost
      continue;
    }
    if (ack.ackedAt < freeze.startedAt) acknowledgedBeforeFreeze++;
    if (write.ranAt <= freeze.startedAtMonotonic) {
      expected++;
      if (!ids.has(ack.id)) missing.push(ack.id);
    } else {
      afterFreeze++;
      if (ids.has(ack.id)) unexpected.push(ack.id);
    }
  }
  return {
    integrity,
    acknowledgedBeforeFreeze,
    expected,
    afterFreeze,
    missing,
    unexpected,
    ok: integrity === 'ok' && missing.length === 0 && unexpected.length === 0,
  };
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function latencyOf(acks: readonly Ack[]): CheckpointReport['heldLatency'] {
  const sorted = acks.map((a) => a.latencyMs).sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

function timelineOf(result: ShadowCopyResult | undefined, writerName: string): TimelineEntry[] {
  if (result === undefined) return [];
  const writer = result.writers.find((w) => w.name === writerName);
  const commit = result.phases.filter((p) => p.event === 'commit');
  const entries = [...(writer?.events ?? []), ...commit].map((r: EventRecord) => ({
    event: r.event,
    startMs: r.startMs,
    durationMs: r.durationMs,
    outcome: r.outcome,
    ...(r.error && { error: `${r.error.code}: ${r.error.message}` }),
  }));
  return entries.sort((a, b) => a.startMs - b.startMs);
}
