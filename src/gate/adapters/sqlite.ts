/**
 * SQLite (better-sqlite3) as a store of a WriteGate. better-sqlite3 is never imported here: the
 * application passes its own Database, so the library works without it installed.
 *
 * Who holds the writers: the gate. better-sqlite3 is synchronous, so a write that met a lock
 * would wait in its busy handler on the JS thread and stall the whole process; the gate instead
 * queues the application's writes as promises and the event loop goes on. A second connection
 * holding BEGIN IMMEDIATE (the `lockConnection` option) is only for writers the gate cannot see:
 * other processes, or other connections of this one that bypass the gate.
 *
 * Freeze (the application's writes have drained): PRAGMA wal_checkpoint(TRUNCATE) moves every
 * committed page into the database file and empties the -wal file, so the file alone is a
 * complete database; then, with lockConnection, BEGIN IMMEDIATE takes the write lock. Thaw
 * rolls that transaction back (it wrote nothing). Readers go on throughout.
 */
import { WriterFailure } from '../../errors.js';
import type { StoreAdapter } from '../write-gate.js';
import { getDefaultLogger } from '../../logger.js';
import { parseOptions, sqliteDatabaseSchema, sqliteStoreOptionsSchema, type SqliteStoreOptions } from '../../schemas.js';

export type { SqliteStoreOptions } from '../../schemas.js';

/** The part of better-sqlite3's Database the adapter uses. */
export interface SqliteDatabase {
  readonly name: string;
  readonly open: boolean;
  readonly inTransaction: boolean;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  exec(source: string): unknown;
}

/** PRAGMA wal_checkpoint's answer: busy 1 means it could not finish (another connection). */
export interface CheckpointResult {
  readonly busy: number;
  /** Frames in the WAL (-1: the database is not in WAL mode). */
  readonly log: number;
  readonly checkpointed: number;
}

export interface SqliteStore extends StoreAdapter {
  /** The result of the last freeze's checkpoint. */
  readonly lastCheckpoint: CheckpointResult | undefined;
}

export function sqliteStore(db: SqliteDatabase, options: SqliteStoreOptions = {}): SqliteStore {
  parseOptions(sqliteDatabaseSchema, db, 'sqliteStore database');
  const o = parseOptions(sqliteStoreOptionsSchema, options, 'sqliteStore options');
  const name = o.name ?? `sqlite ${db.name}`;
  const logger = o.logger ?? getDefaultLogger();
  const lock = o.lockConnection;
  let lastCheckpoint: CheckpointResult | undefined;

  return {
    name,
    get lastCheckpoint() {
      return lastCheckpoint;
    },
    freeze() {
      if (!db.open) throw new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', `${name}: the database is closed`);
      if (db.inTransaction) {
        // Half a transaction would be in the snapshot's view of the application, and the
        // checkpoint cannot pass it: some write runs outside the gate.
        throw new WriterFailure(
          'VSS_E_WRITERERROR_RETRYABLE',
          `${name}: a transaction is open on the database at freeze; every write must pass the gate (gate.run)`,
        );
      }
      const previous = db.pragma('busy_timeout', { simple: true }) as number;
      db.pragma(`busy_timeout = ${o.busyTimeoutMs}`);
      try {
        lastCheckpoint = (db.pragma('wal_checkpoint(TRUNCATE)') as CheckpointResult[])[0];
      } finally {
        db.pragma(`busy_timeout = ${previous}`);
      }
      if (lastCheckpoint !== undefined && lastCheckpoint.busy !== 0) {
        logger.warn(
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
      if (lock?.open && lock.inTransaction) lock.exec('ROLLBACK');
    },
  };
}
