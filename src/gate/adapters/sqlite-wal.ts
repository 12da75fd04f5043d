/**
 * SQLite as a store of a WriteGate, whatever the driver: the steps on the database's WAL that
 * sqliteStore (better-sqlite3) and nodeSqliteStore (node:sqlite) share. Each driver's adapter
 * hands this a WalConnection.
 *
 * Who holds the writers: the gate. Both drivers are synchronous, so a write that met a lock
 * would wait in its busy handler on the JS thread and stall the whole process; the gate instead
 * queues the application's writes as promises and the event loop goes on. A second connection
 * holding BEGIN IMMEDIATE (the `lockConnection` option) is only for writers the gate cannot see:
 * other processes, or other connections of this one that bypass the gate.
 *
 * Prepare (at prepareSnapshot, writes still flowing): PASSIVE checkpoints copy the WAL into the
 * database file without taking the write lock, repeated while other connections add to it,
 * then a TRUNCATE checkpoint that does not wait empties the -wal file if nobody holds it. This
 * is the slow part, done before the freeze window: the freeze's checkpoint then copies only
 * what was written since. The PASSIVE checkpoints and that TRUNCATE run on a worker thread with
 * a connection of its own (sqlite-worker.ts), so that the event loop goes on meanwhile; where
 * that cannot work (an in-memory database, a Database class not loaded through require, a
 * node:sqlite without location(), a worker that fails) they run on the application's
 * connection, on the JS thread.
 *
 * Freeze (the application's writes have drained): PRAGMA wal_checkpoint(TRUNCATE) moves every
 * committed page into the database file and empties the -wal file, so the file alone is a
 * complete database; then, with lockConnection, BEGIN IMMEDIATE takes the write lock. Thaw
 * rolls that transaction back (it wrote nothing). Readers go on throughout.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WriterFailure } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { StoreAdapter, StorePrepareContext } from '../write-gate.js';
import { checkpointInWorker, type WorkerCheckpoints, type WorkerConnection } from './sqlite-worker.js';

/** PRAGMA wal_checkpoint's answer: busy 1 means it could not finish (another connection). */
export interface CheckpointResult {
  readonly busy: number;
  /** Frames in the WAL (-1: the database is not in WAL mode). */
  readonly log: number;
  readonly checkpointed: number;
}

/** What the last preparation found and did. */
export interface SqlitePreparation {
  /** Frames in the WAL when it began. */
  readonly walFrames: number;
  /** Frames it left for the freeze to copy (0: the WAL was fully copied). */
  readonly leftFrames: number;
  /** PASSIVE checkpoints it ran. */
  readonly rounds: number;
  /** Whether it also emptied the -wal file. */
  readonly truncated: boolean;
  /** Where its checkpoints ran: a worker thread, or the JS thread. */
  readonly thread: 'worker' | 'main';
}

export interface SqliteStore extends StoreAdapter {
  prepare(ctx: StorePrepareContext): Promise<void>;
  /** The result of the last freeze's checkpoint. */
  readonly lastCheckpoint: CheckpointResult | undefined;
  /** The last preparation; undefined before the first, or if it could not run (closed, in a transaction). */
  readonly lastPreparation: SqlitePreparation | undefined;
  /**
   * Frames in the WAL when the last freeze began, before its checkpoint: what it had to copy at
   * most (frames the preparation copied are not copied again, but count here until the WAL is
   * emptied or restarts).
   */
  readonly walFramesAtFreeze: number | undefined;
}

/** One connection, as the steps below use it; each driver's adapter makes one of its database. */
export interface WalConnection {
  readonly isOpen: boolean;
  readonly inTransaction: boolean;
  /** PRAGMA wal_checkpoint(mode), waiting at most `busyTimeoutMs` for other connections. */
  checkpoint(mode: 'PASSIVE' | 'TRUNCATE', busyTimeoutMs: number): CheckpointResult | undefined;
  exec(sql: string): void;
  /** How a worker thread opens a connection of its own to the file; undefined if it cannot. */
  readonly worker: WorkerConnection | undefined;
}

export interface WalStoreOptions {
  readonly name: string;
  readonly busyTimeoutMs: number;
  /** Run the preparation's checkpoints on a worker thread where the connection allows it. */
  readonly prepareInWorker: boolean;
  readonly logger: Logger;
  readonly lock: WalConnection | undefined;
}

/** PASSIVE checkpoints a preparation runs at most, while other connections keep adding frames. */
const preparationRounds = 4;

export function walStore(db: WalConnection, o: WalStoreOptions): SqliteStore {
  const { name, lock } = o;
  let lastCheckpoint: CheckpointResult | undefined;
  let lastPreparation: SqlitePreparation | undefined;
  let walFramesAtFreeze: number | undefined;

  /** PASSIVE checkpoints on the application's connection, a turn of the event loop apart. */
  async function passiveOnThisThread(signal: AbortSignal): Promise<WorkerCheckpoints | undefined> {
    // PASSIVE never waits and never takes the write lock: other connections keep writing.
    const first = db.checkpoint('PASSIVE', 0);
    if (first === undefined) return undefined;
    let last = first;
    let rounds = 1;
    while (last.log - last.checkpointed > 0 && rounds < preparationRounds && !signal.aborted) {
      // Let the writes waiting on the JS thread run, then copy what they and others added.
      await nextTurn();
      if (!db.isOpen || db.inTransaction || signal.aborted) break;
      last = db.checkpoint('PASSIVE', 0) ?? last;
      rounds++;
    }
    return { first, last, rounds };
  }

  return {
    name,
    get lastCheckpoint() {
      return lastCheckpoint;
    },
    get lastPreparation() {
      return lastPreparation;
    },
    get walFramesAtFreeze() {
      return walFramesAtFreeze;
    },
    async prepare({ signal }) {
      lastPreparation = undefined;
      // The freeze reports these; a preparation has nothing to do then.
      if (!db.isOpen || db.inTransaction) return;
      let passes: WorkerCheckpoints | undefined;
      const target = o.prepareInWorker ? db.worker : undefined;
      if (target !== undefined) {
        try {
          passes = await checkpointInWorker(target, preparationRounds, o.busyTimeoutMs, signal);
        } catch (error) {
          if (signal.aborted) return;
          o.logger.warn(`${name}: the preparation's checkpoint could not run on a worker thread; it runs on the JS thread`, {
            store: name,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
      const thread = passes !== undefined ? 'worker' : 'main';
      passes ??= await passiveOnThisThread(signal);
      if (passes === undefined || passes.first.log < 0) return; // not in WAL mode: nothing to prepare
      // Everything copied: empty the -wal file now rather than at freeze, if nobody needs it
      // (no waiting: a reader or writer on another connection makes it a no-op). The worker
      // tried already; on this thread it is tried here.
      let truncate = passes.truncate;
      const copied = passes.last.log === passes.last.checkpointed;
      if (thread === 'main' && copied && db.isOpen && !db.inTransaction && !signal.aborted) truncate = db.checkpoint('TRUNCATE', 0);
      const truncated = truncate !== undefined && truncate.busy === 0;
      const result = truncated ? truncate! : passes.last;
      lastPreparation = {
        walFrames: passes.first.log,
        leftFrames: Math.max(0, result.log - result.checkpointed),
        rounds: passes.rounds,
        truncated,
        thread,
      };
    },
    freeze() {
      if (!db.isOpen) throw new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', `${name}: the database is closed`);
      if (db.inTransaction) {
        // Half a transaction would be in the snapshot's view of the application, and the
        // checkpoint cannot pass it: some write runs outside the gate.
        throw new WriterFailure(
          'VSS_E_WRITERERROR_RETRYABLE',
          `${name}: a transaction is open on the database at freeze; every write must pass the gate (gate.run)`,
        );
      }
      // A PASSIVE pass first copies what was written since the preparation and says how much
      // that was (the TRUNCATE's own answer is 0 frames once it emptied the file).
      walFramesAtFreeze = db.checkpoint('PASSIVE', 0)?.log;
      lastCheckpoint = db.checkpoint('TRUNCATE', o.busyTimeoutMs);
      if (lastCheckpoint !== undefined && lastCheckpoint.busy !== 0) {
        o.logger.warn(
          `${name}: the WAL checkpoint could not finish (another connection reads or writes); the -wal file must be part of the snapshot`,
          { store: name, ...lastCheckpoint },
        );
      }
      if (lock) {
        // Throws SQLITE_BUSY after the lock connection's busy timeout if another writer holds on.
        lock.exec('BEGIN IMMEDIATE');
      }
    },
    thaw() {
      if (lock?.isOpen && lock.inTransaction) lock.exec('ROLLBACK');
    },
  };
}
