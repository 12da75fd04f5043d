/**
 * The consistency checks every SQLite store adapter must pass, whatever its driver: run by
 * test/adapters.test.ts for sqliteStore (better-sqlite3) and test/node-sqlite.test.ts for
 * nodeSqliteStore (node:sqlite).
 */
import { statSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WriteGate, type SqliteStore } from '../../src/index.js';
import type { Logger } from '../../src/logger.js';
import { memoryLogger } from './memory-logger.js';
import { tempDir } from './temp-dir.js';

/** One connection, through whichever driver. */
export interface TestDatabase {
  exec(sql: string): void;
  run(sql: string, ...params: (string | number)[]): void;
  get(sql: string): unknown;
  /** PRAGMA `name`'s single value. */
  pragma(name: string): unknown;
  readonly inTransaction: boolean;
  readonly isOpen: boolean;
  close(): void;
}

export interface SqliteDriver<Db extends TestDatabase = TestDatabase> {
  readonly name: string;
  /** Whether a worker thread can open this driver's database (the preparation's checkpoints run there). */
  readonly preparesInWorker: boolean;
  open(file: string): Db;
  store(db: Db, options?: { lockConnection?: Db; busyTimeoutMs?: number; prepareInWorker?: boolean; logger?: Logger }): SqliteStore;
}

export function describeSqliteStore<Db extends TestDatabase>(driver: SqliteDriver<Db>): void {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** Opened with no busy timeout, closed after the test. */
  function open(file: string): Db {
    const db = driver.open(file);
    db.exec('PRAGMA busy_timeout = 0');
    cleanups.push(() => db.isOpen && db.close());
    return db;
  }

  async function walDatabase(): Promise<{ dir: string; file: string; db: Db }> {
    const dir = tempDir('vss-bridge-sqlite-');
    const file = join(dir, 'app.db');
    const db = open(file);
    db.exec('PRAGMA journal_mode = WAL');
    // Keep SQLite's own automatic checkpoint out of the way: only the freeze's counts here.
    db.exec('PRAGMA wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    for (let i = 0; i < 200; i++) db.run('INSERT INTO t (v) VALUES (?)', `row ${i}`);
    return { dir, file, db };
  }

  /** The database file alone, copied as a snapshot would hold it. */
  async function snapshotOf(dir: string, file: string): Promise<Db> {
    const copy = join(dir, `copy-${cleanups.length}.db`);
    await copyFile(file, copy);
    return open(copy);
  }

  const quiet = () => ({ logger: memoryLogger().logger });

  describe(`${driver.name}: the store's consistency checks`, () => {
    it('checkpoints the WAL into the database file at freeze: the file alone holds every row', async () => {
      const { dir, file, db } = await walDatabase();
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
      const store = driver.store(db, quiet());
      const gate = new WriteGate({ ...quiet(), stores: [store] });
      await gate.freeze();
      expect(statSync(`${file}-wal`).size).toBe(0); // TRUNCATE
      expect(store.lastCheckpoint).toMatchObject({ busy: 0 });
      // The database file copied without its -wal is complete.
      const snapshot = await snapshotOf(dir, file);
      gate.thaw();
      expect(snapshot.pragma('integrity_check')).toBe('ok');
      expect(snapshot.get('SELECT count(*) AS n FROM t')).toEqual({ n: 200 });
    });

    it('with a large WAL, the preparation copies and empties it; the freeze copies only what was written since', async () => {
      const { dir, file, db } = await walDatabase();
      db.exec('BEGIN');
      for (let i = 0; i < 4000; i++) db.run('INSERT INTO t (v) VALUES (?)', 'x'.repeat(4000));
      db.exec('COMMIT'); // about 16 MB of WAL
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(16_000_000);
      const store = driver.store(db, quiet());
      const gate = new WriteGate({ ...quiet(), stores: [store] });
      await gate.prepare();
      expect(store.lastPreparation).toMatchObject({ leftFrames: 0, rounds: 1, truncated: true, thread: driver.preparesInWorker ? 'worker' : 'main' });
      expect(store.lastPreparation!.walFrames).toBeGreaterThan(4000);
      expect(statSync(`${file}-wal`).size).toBe(0);
      // Writes go on between the preparation and the freeze; the snapshot must hold them too.
      await gate.run(() => db.run('INSERT INTO t (v) VALUES (?)', 'after the preparation'));
      await gate.freeze();
      expect(store.walFramesAtFreeze).toBeGreaterThan(0);
      expect(store.walFramesAtFreeze).toBeLessThan(10);
      expect(statSync(`${file}-wal`).size).toBe(0);
      const snapshot = await snapshotOf(dir, file);
      gate.thaw();
      expect(snapshot.pragma('integrity_check')).toBe('ok');
      expect(snapshot.get('SELECT count(*) AS n FROM t')).toEqual({ n: 4201 });
      expect(snapshot.get('SELECT v FROM t ORDER BY id DESC LIMIT 1')).toEqual({ v: 'after the preparation' });
    });

    const where = driver.preparesInWorker
      ? 'on a worker thread, the event loop turning meanwhile; with prepareInWorker false, on the JS thread'
      : 'on the JS thread (a worker could not open this database)';
    it(`the preparation's checkpoints run ${where}`, async () => {
      const turnsWhilePreparing = async (prepareInWorker: boolean): Promise<{ turns: number; thread: string | undefined }> => {
        const { db } = await walDatabase();
        db.exec('BEGIN');
        for (let i = 0; i < 1000; i++) db.run('INSERT INTO t (v) VALUES (?)', 'x'.repeat(4000));
        db.exec('COMMIT');
        const store = driver.store(db, { prepareInWorker, ...quiet() });
        let turns = 0;
        let preparing = true;
        const count = (): void => {
          turns++;
          if (preparing) setImmediate(count);
        };
        setImmediate(count);
        await store.prepare({ signal: new AbortController().signal });
        preparing = false;
        return { turns, thread: store.lastPreparation?.thread };
      };
      if (driver.preparesInWorker) {
        const inWorker = await turnsWhilePreparing(true);
        expect(inWorker.thread).toBe('worker');
        expect(inWorker.turns).toBeGreaterThan(0);
      }
      // On the JS thread the checkpoints and the rest of prepare() run without giving the loop a turn.
      expect(await turnsWhilePreparing(false)).toEqual({ turns: 0, thread: 'main' });
    });

    it('a reader on another connection keeps the preparation from finishing; the freeze still copies everything', async () => {
      const { dir, file, db } = await walDatabase();
      const reader = open(file);
      reader.exec('BEGIN');
      reader.get('SELECT count(*) FROM t'); // holds its view of the WAL as it is now
      for (let i = 0; i < 100; i++) db.run('INSERT INTO t (v) VALUES (?)', `row after the reader ${i}`);
      const store = driver.store(db, quiet());
      const gate = new WriteGate({ ...quiet(), stores: [store] });
      await gate.prepare();
      // PASSIVE copies only up to the reader's view; it tried again, as the rows could still move.
      expect(store.lastPreparation).toMatchObject({ truncated: false, rounds: 4 });
      expect(store.lastPreparation!.leftFrames).toBeGreaterThan(0);
      reader.exec('COMMIT');
      await gate.freeze();
      expect(store.lastCheckpoint).toMatchObject({ busy: 0 });
      const snapshot = await snapshotOf(dir, file);
      gate.thaw();
      expect(snapshot.get('SELECT count(*) AS n FROM t')).toEqual({ n: 300 });
    });

    it('a preparation has nothing to do on a closed database, out of WAL mode, or inside a transaction', async () => {
      const { db } = await walDatabase();
      const store = driver.store(db, quiet());
      db.exec('BEGIN');
      await store.prepare({ signal: new AbortController().signal });
      expect(store.lastPreparation).toBeUndefined();
      db.exec('ROLLBACK');
      const rollback = open(join(tempDir('vss-bridge-sqlite-'), 'journal.db'));
      const plain = driver.store(rollback, quiet());
      await plain.prepare({ signal: new AbortController().signal });
      expect(plain.lastPreparation).toBeUndefined();
      db.close();
      await store.prepare({ signal: new AbortController().signal });
      expect(store.lastPreparation).toBeUndefined();
    });

    it('with a lock connection, holds writers the gate cannot see until thaw', async () => {
      const { file, db } = await walDatabase();
      const lock = open(file);
      const other = open(file); // another process, say
      const gate = new WriteGate({ ...quiet(), stores: [driver.store(db, { lockConnection: lock, ...quiet() })] });
      await gate.freeze();
      expect(() => other.run("INSERT INTO t (v) VALUES ('outside')")).toThrow(/database is locked/);
      // Readers go on.
      expect(other.get('SELECT count(*) AS n FROM t')).toEqual({ n: 200 });
      gate.thaw();
      expect(lock.inTransaction).toBe(false);
      other.run("INSERT INTO t (v) VALUES ('outside')");
      expect(db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 201 });
    });

    it('fails the freeze, and reopens the gate, when a transaction is open outside the gate', async () => {
      const { db } = await walDatabase();
      const gate = new WriteGate({ ...quiet(), stores: [driver.store(db, quiet())] });
      db.exec('BEGIN');
      const error = await gate.freeze().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'VSS_E_WRITERERROR_RETRYABLE' });
      expect((error as Error).message).toMatch(/a transaction is open on the database at freeze; every write must pass the gate/);
      expect(gate.state).toBe('open');
      db.exec('ROLLBACK');
    });

    it('fails the freeze on a closed database, as not retryable', async () => {
      const { db } = await walDatabase();
      const gate = new WriteGate({ ...quiet(), stores: [driver.store(db, quiet())] });
      db.close();
      await expect(gate.freeze()).rejects.toMatchObject({ code: 'VSS_E_WRITERERROR_NONRETRYABLE' });
      expect(gate.state).toBe('open');
    });

    it('a lock held by another writer: the checkpoint gives up at busyTimeoutMs, says so, the freeze fails and the gate reopens', async () => {
      const { file, db } = await walDatabase();
      db.exec('PRAGMA busy_timeout = 60000'); // the application's own setting, restored afterwards
      const other = open(file);
      other.exec('BEGIN IMMEDIATE');
      const { logger, entries } = memoryLogger();
      const store = driver.store(db, { lockConnection: open(file), busyTimeoutMs: 20, logger });
      const gate = new WriteGate({ logger, stores: [store] });
      await expect(gate.freeze()).rejects.toThrow(/database is locked|busy/i);
      expect(store.lastCheckpoint?.busy).toBe(1);
      expect(entries.find((e) => e.level === 'warn' && /the WAL checkpoint could not finish/.test(e.message))).toMatchObject({ store: store.name, busy: 1 });
      expect(db.pragma('busy_timeout')).toBe(60000);
      expect(gate.state).toBe('open');
      other.exec('ROLLBACK');
    });
  });
}
