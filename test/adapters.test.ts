/**
 * The store adapters (src/gate/adapters): SQLite through better-sqlite3, and plain files.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { fileStore, OptionsError, sqliteStore, WriteGate } from '../src/index.js';
import { createLoopFs, loopFsUnavailable } from './helpers/loop-mount.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { skipUnlessRunnable } from './helpers/skip.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vss-bridge-adapters-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function open(file: string, options?: Database.Options): Database.Database {
  const db = new Database(file, options);
  cleanups.push(() => db.open && db.close());
  return db;
}

async function walDatabase(): Promise<{ dir: string; file: string; db: Database.Database }> {
  const dir = await tempDir();
  const file = join(dir, 'app.db');
  const db = open(file);
  db.pragma('journal_mode = WAL');
  // Keep SQLite's own automatic checkpoint out of the way: only the freeze's counts here.
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < 200; i++) insert.run(`row ${i}`);
  return { dir, file, db };
}

const quiet = () => ({ logger: memoryLogger().logger });

describe('sqliteStore', () => {
  it('checkpoints the WAL into the database file at freeze: the file alone holds every row', async () => {
    const { dir, file, db } = await walDatabase();
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
    const store = sqliteStore(db, quiet());
    const gate = new WriteGate({ ...quiet(), stores: [store] });
    await gate.freeze();
    expect(statSync(`${file}-wal`).size).toBe(0); // TRUNCATE
    expect(store.lastCheckpoint).toMatchObject({ busy: 0 });
    // The database file copied without its -wal is complete.
    const copy = join(dir, 'copy.db');
    await copyFile(file, copy);
    const snapshot = open(copy, { readonly: true });
    expect(snapshot.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(snapshot.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 200 });
    gate.thaw();
  });

  it('with a large WAL, the preparation copies and empties it; the freeze copies only what was written since', async () => {
    const { dir, file, db } = await walDatabase();
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const fill = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) insert.run('x'.repeat(4000));
    });
    fill(4000); // about 16 MB of WAL
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(16_000_000);
    const store = sqliteStore(db, quiet());
    const gate = new WriteGate({ ...quiet(), stores: [store] });
    await gate.prepare();
    expect(store.lastPreparation).toMatchObject({ leftFrames: 0, rounds: 1, truncated: true });
    expect(store.lastPreparation!.walFrames).toBeGreaterThan(4000);
    expect(statSync(`${file}-wal`).size).toBe(0);
    // Writes go on between the preparation and the freeze; the snapshot must hold them too.
    await gate.run(() => insert.run('after the preparation'));
    await gate.freeze();
    expect(store.walFramesAtFreeze).toBeGreaterThan(0);
    expect(store.walFramesAtFreeze).toBeLessThan(10);
    expect(statSync(`${file}-wal`).size).toBe(0);
    const copy = join(dir, 'copy.db');
    await copyFile(file, copy);
    gate.thaw();
    const snapshot = open(copy, { readonly: true });
    expect(snapshot.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(snapshot.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 4201 });
    expect(snapshot.prepare('SELECT v FROM t ORDER BY id DESC LIMIT 1').get()).toEqual({ v: 'after the preparation' });
  });

  it('a reader on another connection keeps the preparation from finishing; the freeze still copies everything', async () => {
    const { dir, file, db } = await walDatabase();
    const reader = open(file);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM t').get(); // holds its view of the WAL as it is now
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    for (let i = 0; i < 100; i++) insert.run(`row after the reader ${i}`);
    const store = sqliteStore(db, quiet());
    const gate = new WriteGate({ ...quiet(), stores: [store] });
    await gate.prepare();
    // PASSIVE copies only up to the reader's view; it tried again, as the rows could still move.
    expect(store.lastPreparation).toMatchObject({ truncated: false, rounds: 4 });
    expect(store.lastPreparation!.leftFrames).toBeGreaterThan(0);
    reader.exec('COMMIT');
    await gate.freeze();
    expect(store.lastCheckpoint).toMatchObject({ busy: 0 });
    const copy = join(dir, 'copy.db');
    await copyFile(file, copy);
    gate.thaw();
    expect(open(copy, { readonly: true }).prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 300 });
  });

  it('a preparation has nothing to do on a closed database, out of WAL mode, or inside a transaction', async () => {
    const { db } = await walDatabase();
    const store = sqliteStore(db, quiet());
    db.exec('BEGIN');
    await store.prepare({ signal: new AbortController().signal });
    expect(store.lastPreparation).toBeUndefined();
    db.exec('ROLLBACK');
    const rollback = open(join(await tempDir(), 'journal.db'));
    const plain = sqliteStore(rollback, quiet());
    await plain.prepare({ signal: new AbortController().signal });
    expect(plain.lastPreparation).toBeUndefined();
    db.close();
    await store.prepare({ signal: new AbortController().signal });
    expect(store.lastPreparation).toBeUndefined();
  });

  it('with a lock connection, holds writers the gate cannot see until thaw', async () => {
    const { file, db } = await walDatabase();
    const lock = open(file, { timeout: 0 });
    const other = open(file, { timeout: 0 }); // another process, say
    const gate = new WriteGate({ ...quiet(), stores: [sqliteStore(db, { lockConnection: lock, ...quiet() })] });
    await gate.freeze();
    expect(() => other.prepare("INSERT INTO t (v) VALUES ('outside')").run()).toThrow(/database is locked/);
    // Readers go on.
    expect(other.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 200 });
    gate.thaw();
    expect(lock.inTransaction).toBe(false);
    other.prepare("INSERT INTO t (v) VALUES ('outside')").run();
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 201 });
  });

  it('fails the freeze, and reopens the gate, when a transaction is open outside the gate', async () => {
    const { db } = await walDatabase();
    const gate = new WriteGate({ ...quiet(), stores: [sqliteStore(db, quiet())] });
    db.exec('BEGIN');
    const error = await gate.freeze().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VSS_E_WRITERERROR_RETRYABLE' });
    expect((error as Error).message).toMatch(/a transaction is open on the database at freeze; every write must pass the gate/);
    expect(gate.state).toBe('open');
    db.exec('ROLLBACK');
  });

  it('a lock held by another writer: the checkpoint gives up at busyTimeoutMs, says so, the freeze fails and the gate reopens', async () => {
    const { file, db } = await walDatabase();
    db.pragma('busy_timeout = 60000'); // the application's own setting, restored afterwards
    const other = open(file);
    other.exec('BEGIN IMMEDIATE');
    const { logger, entries } = memoryLogger();
    const store = sqliteStore(db, { lockConnection: open(file, { timeout: 0 }), busyTimeoutMs: 20, logger });
    const gate = new WriteGate({ logger, stores: [store] });
    await expect(gate.freeze()).rejects.toThrow(/database is locked|busy/i);
    expect(store.lastCheckpoint?.busy).toBe(1);
    expect(entries.some((e) => e.level === 'warn' && /the WAL checkpoint could not finish/.test(e.message))).toBe(true);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(60000);
    expect(gate.state).toBe('open');
    other.exec('ROLLBACK');
  });

  it('rejects what is not a database, naming it', async () => {
    expect(() => sqliteStore({} as never)).toThrow(OptionsError);
    expect(() => sqliteStore({} as never)).toThrow(/sqliteStore database: must be a better-sqlite3 Database/);
    const { db } = await walDatabase();
    expect(() => sqliteStore(db, { lockConnection: 'db' as never })).toThrow(/lockConnection: must be a better-sqlite3 Database/);
  });

  it('the package loads without better-sqlite3', () => {
    // Make any attempt to load better-sqlite3 fail, then load the built package.
    const script = `
      const Module = require('node:module');
      const load = Module._load;
      Module._load = function (request, ...rest) {
        if (request === 'better-sqlite3') throw new Error('better-sqlite3 was loaded');
        return load.call(this, request, ...rest);
      };
      const lib = require(${JSON.stringify(join(process.cwd(), 'dist', 'index.js'))});
      console.log(typeof lib.sqliteStore, typeof lib.WriteGate);
    `;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function function');
  });
});

describe('fileStore', () => {
  it('fsyncs files and directories it owns and skips files not made yet', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.ndjson'), '{"n":1}\n');
    const store = fileStore({ paths: [join(dir, 'log.ndjson'), dir, join(dir, 'later.ndjson')], ...quiet() });
    const gate = new WriteGate({ ...quiet(), stores: [store] });
    await gate.freeze();
    expect(gate.state).toBe('frozen');
    gate.thaw();
  });

  it('prepares by fsyncing every path; with trackWrites the freeze after it fsyncs only the paths reported since', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'sub'));
    const quietFile = join(dir, 'sub', 'f');
    const reported = join(dir, 'reported.log');
    await writeFile(quietFile, 'x');
    await writeFile(reported, 'y');
    const tracked = fileStore({ paths: [quietFile, reported, dir], trackWrites: true, ...quiet() });
    const untracked = fileStore({ paths: [quietFile, reported, dir], ...quiet() });
    await tracked.prepare({ signal: new AbortController().signal });
    await untracked.prepare({ signal: new AbortController().signal });
    // Make one owned path fail to open (ENOTDIR): a freeze that fsyncs it fails.
    await rm(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'sub'), 'now a file');
    const signal = new AbortController().signal;
    await expect(untracked.freeze({ signal })).rejects.toThrow(/ENOTDIR/); // every path, as before
    await tracked.freeze({ signal }); // nothing reported since the preparation: nothing to fsync
    await tracked.prepare({ signal }).catch(() => undefined); // fails on the same path
    await expect(tracked.freeze({ signal })).rejects.toThrow(/ENOTDIR/); // no complete preparation: every path
    tracked.written(quietFile);
    await expect(tracked.freeze({ signal })).rejects.toThrow(/ENOTDIR/); // still failing, and still reported
    await rm(join(dir, 'sub'));
    await tracked.prepare({ signal });
    tracked.written(reported);
    await tracked.freeze({ signal });
    expect(() => tracked.written('relative/path')).toThrow(/path: must be an absolute path/);
  });

  it('rejects relative paths and an empty list, naming the field', () => {
    expect(() => fileStore({ paths: ['data/log'] })).toThrow(/paths\[0\]: must be an absolute path/);
    expect(() => fileStore({ paths: [] })).toThrow(/paths: name at least one file or directory/);
  });

  it('a file it cannot open fails the freeze', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'locked'));
    await writeFile(join(dir, 'locked', 'f'), 'x');
    const gate = new WriteGate({ ...quiet(), stores: [fileStore({ paths: [join(dir, 'locked', 'f', 'below-a-file')], ...quiet() })] });
    await expect(gate.freeze()).rejects.toThrow(/ENOTDIR/);
    expect(gate.state).toBe('open');
  });
});

const loopReason = skipUnlessRunnable('fileStore on a real file system', loopFsUnavailable());

describe('fileStore on a real file system', () => {
  it.skipIf(loopReason !== null)(
    `puts written data on the device, not only in the page cache${loopReason ? ` (skipped: ${loopReason})` : ''}`,
    async () => {
      const fs = await createLoopFs();
      cleanups.push(() => fs.cleanup());
      const file = join(fs.mountpoint, 'journal.log');
      const marker = `acknowledged-${Date.now()}`;
      await writeFile(file, `${marker}\n`); // page cache only: ext4 writes it back within ~30 s
      const gate = new WriteGate({ ...quiet(), stores: [fileStore({ paths: [file, fs.mountpoint], ...quiet() })] });
      await gate.freeze();
      // Copy the device's image as it is now (not frozen: what a crash would leave).
      const copy = join(fs.root, 'copy.img');
      await copyFile(fs.image, copy);
      gate.thaw();
      // A writable mount of the copy replays its journal, as after a crash.
      const at = join(fs.root, 'copy-mnt');
      await mkdir(at);
      spawnSync('mount', ['-o', 'loop', copy, at]);
      cleanups.push(() => spawnSync('umount', [at]));
      expect(readFileSync(join(at, 'journal.log'), 'utf8')).toBe(`${marker}\n`);
    },
  );
});
