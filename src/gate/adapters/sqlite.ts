/**
 * SQLite through better-sqlite3 as a store of a WriteGate (the steps are in sqlite-wal.ts).
 * better-sqlite3 is never imported here: the application passes its own Database, so the
 * library works without it installed.
 */
import { getDefaultLogger } from '../../logger.js';
import { parseOptions, sqliteDatabaseSchema, sqliteStoreOptionsSchema, type SqliteStoreOptions } from '../../schemas.js';
import { walStore, type CheckpointResult, type SqliteStore, type WalConnection } from './sqlite-wal.js';
import { moduleOf } from './sqlite-worker.js';

export type { SqliteStoreOptions } from '../../schemas.js';
export type { CheckpointResult, SqlitePreparation, SqliteStore } from './sqlite-wal.js';

/** The part of better-sqlite3's Database the adapter uses. */
export interface SqliteDatabase {
  readonly name: string;
  readonly open: boolean;
  readonly inTransaction: boolean;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  exec(source: string): unknown;
}

function connectionOf(db: SqliteDatabase): WalConnection {
  return {
    get isOpen() {
      return db.open;
    },
    get inTransaction() {
      return db.inTransaction;
    },
    checkpoint(mode, busyTimeoutMs) {
      const previous = db.pragma('busy_timeout', { simple: true }) as number;
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      try {
        return (db.pragma(`wal_checkpoint(${mode})`) as CheckpointResult[])[0];
      } finally {
        db.pragma(`busy_timeout = ${previous}`);
      }
    },
    exec(sql) {
      db.exec(sql);
    },
    get worker() {
      // better-sqlite3 names an in-memory or temporary database ':memory:' or ''.
      if (db.name === '' || db.name === ':memory:') return undefined;
      const module = moduleOf(db.constructor);
      return module === undefined ? undefined : { driver: 'better-sqlite3' as const, module, file: db.name };
    },
  };
}

export function sqliteStore(db: SqliteDatabase, options: SqliteStoreOptions = {}): SqliteStore {
  parseOptions(sqliteDatabaseSchema, db, 'sqliteStore database');
  const o = parseOptions(sqliteStoreOptionsSchema, options, 'sqliteStore options');
  return walStore(connectionOf(db), {
    name: o.name ?? `sqlite ${db.name}`,
    busyTimeoutMs: o.busyTimeoutMs,
    prepareInWorker: o.prepareInWorker,
    logger: o.logger ?? getDefaultLogger(),
    lock: o.lockConnection && connectionOf(o.lockConnection),
  });
}
