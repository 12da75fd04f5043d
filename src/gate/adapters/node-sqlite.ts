/**
 * SQLite through Node's built-in node:sqlite (DatabaseSync, Node 22.5 and later) as a store of
 * a WriteGate: the same steps and guarantees as sqliteStore (sqlite-wal.ts), with no native
 * SQLite module to install. node:sqlite is never imported here: the application passes its own
 * DatabaseSync, so the library loads on Node 20 too.
 */
import { getDefaultLogger } from '../../logger.js';
import { nodeSqliteDatabaseSchema, nodeSqliteStoreOptionsSchema, parseOptions, type NodeSqliteStoreOptions } from '../../schemas.js';
import { walStore, type SqliteStore, type WalConnection } from './sqlite-wal.js';

export type { NodeSqliteStoreOptions } from '../../schemas.js';

/** The part of node:sqlite's DatabaseSync the adapter uses. */
export interface NodeSqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): { get(...parameters: never[]): unknown };
  /** Node 22.15 and later; earlier, the adapter asks the database. */
  readonly isOpen?: boolean;
  /** Node 22.16 and later; earlier, the adapter asks the database. */
  readonly isTransaction?: boolean;
  /** The file, for the store's name (Node 22.16 and later). */
  location?(): string | null;
}

function row(db: NodeSqliteDatabase, sql: string): Record<string, unknown> | undefined {
  return db.prepare(sql).get() as Record<string, unknown> | undefined;
}

function connectionOf(db: NodeSqliteDatabase): WalConnection {
  return {
    get isOpen() {
      if (typeof db.isOpen === 'boolean') return db.isOpen;
      // Before isOpen, a closed database refuses to prepare anything (ERR_INVALID_STATE).
      try {
        db.prepare('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    get inTransaction() {
      if (typeof db.isTransaction === 'boolean') return db.isTransaction;
      // Before isTransaction: BEGIN fails inside a transaction; outside, BEGIN (deferred) takes
      // no lock until a statement runs, and the ROLLBACK right after leaves nothing behind.
      try {
        db.exec('BEGIN');
      } catch {
        return true;
      }
      db.exec('ROLLBACK');
      return false;
    },
    checkpoint(mode, busyTimeoutMs) {
      const previous = Number(row(db, 'PRAGMA busy_timeout')?.['timeout'] ?? 0);
      db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      try {
        const r = row(db, `PRAGMA wal_checkpoint(${mode})`);
        return r && { busy: Number(r['busy']), log: Number(r['log']), checkpointed: Number(r['checkpointed']) };
      } finally {
        db.exec(`PRAGMA busy_timeout = ${previous}`);
      }
    },
    exec(sql) {
      db.exec(sql);
    },
    get worker() {
      // location(): Node 22.16 and later; null for an in-memory database.
      const file = typeof db.location === 'function' ? db.location() : null;
      return file ? { driver: 'node:sqlite' as const, file } : undefined;
    },
  };
}

export function nodeSqliteStore(db: NodeSqliteDatabase, options: NodeSqliteStoreOptions = {}): SqliteStore {
  parseOptions(nodeSqliteDatabaseSchema, db, 'nodeSqliteStore database');
  const o = parseOptions(nodeSqliteStoreOptionsSchema, options, 'nodeSqliteStore options');
  return walStore(connectionOf(db), {
    name: o.name ?? `sqlite ${db.location?.() || 'database'}`,
    busyTimeoutMs: o.busyTimeoutMs,
    prepareInWorker: o.prepareInWorker,
    logger: o.logger ?? getDefaultLogger(),
    lock: o.lockConnection && connectionOf(o.lockConnection),
  });
}
