/**
 * The store adapters (src/gate/adapters): SQLite through better-sqlite3 (the checks every SQLite
 * adapter passes are in helpers/sqlite-store-checks.ts), and plain files.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fileStore, OptionsError, sqliteStore, WriteGate } from '../src/index.js';
import { createLoopFs, loopFsUnavailable } from './helpers/loop-mount.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { skipUnlessRunnable } from './helpers/skip.js';
import { describeSqliteStore, type SqliteDriver, type TestDatabase } from './helpers/sqlite-store-checks.js';

/** Every path whose file handle was fsynced (FileHandle.sync) here, in the order they finished. */
const synced = vi.hoisted(() => [] as string[]);
/** The flags of each open() here, in call order. */
const openFlags = vi.hoisted(() => [] as unknown[]);
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof fs.open = async (...args) => {
    openFlags.push(args[1]);
    const handle = await fs.open(...args);
    const sync = handle.sync.bind(handle);
    handle.sync = async () => {
      await sync();
      synced.push(String(args[0]));
    };
    return handle;
  };
  return { ...fs, open };
});

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vss-bridge-adapters-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** better-sqlite3 as the shared checks drive it. */
interface BetterDb extends TestDatabase {
  readonly raw: Database.Database;
}

const betterSqlite3: SqliteDriver<BetterDb> = {
  name: 'sqliteStore (better-sqlite3)',
  open(file) {
    const raw = new Database(file);
    return {
      raw,
      exec: (sql) => void raw.exec(sql),
      run: (sql, ...params) => void raw.prepare(sql).run(...params),
      get: (sql) => raw.prepare(sql).get(),
      pragma: (name) => raw.pragma(name, { simple: true }),
      get inTransaction() {
        return raw.inTransaction;
      },
      get isOpen() {
        return raw.open;
      },
      close: () => void raw.close(),
    };
  },
  preparesInWorker: true,
  store: (db, options = {}) => sqliteStore(db.raw, { ...options, lockConnection: options.lockConnection?.raw }),
};

describeSqliteStore(betterSqlite3);

const quiet = () => ({ logger: memoryLogger().logger });

describe('sqliteStore', () => {
  it('rejects what is not a database, naming it', async () => {
    expect(() => sqliteStore({} as never)).toThrow(OptionsError);
    expect(() => sqliteStore({} as never)).toThrow(/sqliteStore database: must be a better-sqlite3 Database/);
    const db = new Database(':memory:');
    cleanups.push(() => db.close());
    expect(() => sqliteStore(db, { lockConnection: 'db' as never })).toThrow(/lockConnection: must be a better-sqlite3 Database/);
  });

  it('without a Database class a worker can load, or when the worker fails, the preparation runs on the JS thread', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vss-bridge-adapters-'));
    const file = join(dir, 'app.db');
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (v TEXT)');
      db.prepare("INSERT INTO t VALUES ('x')").run();
      // A wrapper: its class was not loaded through require, so no worker can make one.
      const wrapper = {
        get name() {
          return db.name;
        },
        get open() {
          return db.open;
        },
        get inTransaction() {
          return db.inTransaction;
        },
        pragma: (source: string, options?: { simple?: boolean }) => db.pragma(source, options),
        exec: (source: string) => db.exec(source),
      };
      const wrappedLog = memoryLogger();
      const wrapped = sqliteStore(wrapper, { logger: wrappedLog.logger });
      await wrapped.prepare({ signal: new AbortController().signal });
      expect(wrapped.lastPreparation).toMatchObject({ thread: 'main', leftFrames: 0 });
      // A worker that cannot open the file: a warning, then the JS thread does the work.
      const { logger, entries } = memoryLogger();
      const failing = sqliteStore(Object.assign(Object.create(Object.getPrototypeOf(wrapper)), wrapper, { name: `${file}.missing`, constructor: Database }), { logger });
      await failing.prepare({ signal: new AbortController().signal });
      expect(failing.lastPreparation).toMatchObject({ thread: 'main' });
      expect(entries.find((e) => e.level === 'warn' && /could not run on a worker thread/.test(e.message))).toMatchObject({ store: failing.name, error: expect.any(String) });
      // The wrapper's class was not loaded through require: no worker was tried, nothing to warn of.
      expect(wrappedLog.entries.filter((e) => e.level === 'warn')).toEqual([]);
    } finally {
      db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names itself after the file; its option errors say whose they are', async () => {
    const dir = await tempDir();
    const db = new Database(join(dir, 'app.db'));
    cleanups.push(() => db.close());
    expect(sqliteStore(db, quiet()).name).toBe(`sqlite ${join(dir, 'app.db')}`);
    expect(sqliteStore(db, { ...quiet(), name: 'orders' }).name).toBe('orders');
    expect(() => sqliteStore(db, { busyTimeoutMs: -1 })).toThrow(/^Invalid sqliteStore options: busyTimeoutMs: /);
  });

  it('an in-memory or temporary database is prepared on the JS thread, without trying a worker', async () => {
    for (const name of [':memory:', '']) {
      const db = new Database(name);
      cleanups.push(() => db.close());
      const { logger, entries } = memoryLogger();
      const store = sqliteStore(db, { logger });
      await store.prepare({ signal: new AbortController().signal });
      expect(entries.filter((e) => e.level === 'warn'), name).toEqual([]);
    }
  });

  it('on the JS thread: copies a WAL and empties it; with a reader holding frames, copies what it can in a few rounds', async () => {
    const dir = await tempDir();
    const file = join(dir, 'app.db');
    const db = new Database(file);
    cleanups.push(() => db.close());
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (v TEXT)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    for (let i = 0; i < 50; i++) insert.run(`row ${i}`);
    const { logger, entries } = memoryLogger();
    const store = sqliteStore(db, { logger, prepareInWorker: false });
    await store.prepare({ signal: new AbortController().signal });
    expect(store.lastPreparation).toMatchObject({ thread: 'main', leftFrames: 0, rounds: 1, truncated: true });
    expect(store.lastPreparation!.walFrames).toBeGreaterThan(0);
    // A reader's snapshot pins the frames written after it began.
    const reader = new Database(file);
    cleanups.push(() => reader.close());
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM t').get();
    for (let i = 0; i < 50; i++) insert.run(`more ${i}`);
    await store.prepare({ signal: new AbortController().signal });
    expect(store.lastPreparation).toMatchObject({ thread: 'main', truncated: false, rounds: 4 });
    expect(store.lastPreparation!.leftFrames).toBeGreaterThan(0);
    expect(store.lastPreparation!.leftFrames).toBeLessThanOrEqual(store.lastPreparation!.walFrames);
    // Stopped by its signal: one round only.
    const stopped = new AbortController();
    stopped.abort();
    await store.prepare({ signal: stopped.signal });
    expect(store.lastPreparation).toMatchObject({ rounds: 1, truncated: false });
    reader.exec('COMMIT');
    // A freeze that copies everything says nothing.
    await store.freeze({ signal: new AbortController().signal });
    expect(entries.filter((e) => e.level === 'warn')).toEqual([]);
  });

  it('a preparation stopped while its worker runs neither warns nor falls back to the JS thread', async () => {
    const dir = await tempDir();
    const db = new Database(join(dir, 'app.db'));
    cleanups.push(() => db.close());
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (v TEXT)');
    const { logger, entries } = memoryLogger();
    const store = sqliteStore(db, { logger });
    const controller = new AbortController();
    const preparing = store.prepare({ signal: controller.signal });
    controller.abort(new Error('a freeze began'));
    await preparing;
    expect(store.lastPreparation).toBeUndefined();
    expect(entries.filter((e) => e.level === 'warn')).toEqual([]);
  });

  it('fails a freeze on a closed database naming the store; thaw without a freeze, with or without a lock connection, does nothing', async () => {
    const dir = await tempDir();
    const file = join(dir, 'app.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    const lock = new Database(file);
    cleanups.push(() => lock.close());
    const locked = sqliteStore(db, { ...quiet(), name: 'orders', lockConnection: lock });
    const plain = sqliteStore(db, { ...quiet(), name: 'plain' });
    expect(() => locked.thaw()).not.toThrow();
    expect(() => plain.thaw()).not.toThrow();
    db.close();
    expect(() => locked.freeze({ signal: new AbortController().signal })).toThrow('orders: the database is closed');
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
    synced.length = 0;
    await gate.freeze();
    expect(gate.state).toBe('frozen');
    // Each path that exists, the file and the directory that names it, once; the missing one not.
    expect([...synced].sort()).toEqual([dir, join(dir, 'log.ndjson')].sort());
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

  it('logs each owned path that does not exist yet, by the store\'s name, and fsyncs only what was reported', async () => {
    const dir = await tempDir();
    const missing = join(dir, 'later.log');
    const reported = join(dir, 'reported.log');
    await writeFile(reported, 'x');
    const { logger, entries } = memoryLogger();
    const store = fileStore({ name: 'journal', paths: [missing, dir], trackWrites: true, logger });
    expect(store.name).toBe('journal');
    const signal = new AbortController().signal;
    await store.prepare({ signal });
    expect(entries.filter((e) => e.level === 'debug').map((e) => e.message)).toEqual([`journal: ${missing} does not exist yet; nothing to flush`]);
    synced.length = 0;
    store.written(reported);
    await store.freeze({ signal });
    expect(synced).toEqual([reported]); // the path reported since the preparation, and nothing else
    expect(entries.filter((e) => e.level === 'debug')).toHaveLength(1); // the freeze opened nothing else
    synced.length = 0;
    await store.freeze({ signal });
    expect([...synced].sort()).toEqual([dir]); // no preparation before it: every owned path
    // A store with trackWrites that was never prepared fsyncs every owned path too.
    const fresh = fileStore({ name: 'fresh', paths: [reported, dir], trackWrites: true, logger });
    synced.length = 0;
    await fresh.freeze({ signal });
    expect([...synced].sort()).toEqual([dir, reported].sort());
    expect(store.thaw()).toBeUndefined();
  });

  it('written() refuses what is not an absolute path, naming the store and the argument', () => {
    const store = fileStore({ name: 'journal', paths: ['/tmp'], ...quiet() });
    expect(() => store.written('relative/path')).toThrow(OptionsError);
    expect(() => store.written('relative/path')).toThrow('Invalid journal.written() argument: path: must be an absolute path; got "relative/path"');
    expect(() => store.written(42 as never)).toThrow('Invalid journal.written() argument: path: must be an absolute path; got 42');
  });

  it('as on Windows: opens each file for writing (FlushFileBuffers needs it), skips a directory, fails on another error', async () => {
    const dir = await tempDir();
    const file = join(dir, 'f');
    await writeFile(file, 'x');
    const store = fileStore({ paths: [file, dir], ...quiet() });
    const broken = fileStore({ paths: [join(file, 'below-a-file')], ...quiet() });
    const signal = new AbortController().signal;
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    synced.length = 0;
    openFlags.length = 0;
    // Opened for writing, Linux refuses a directory with EISDIR, as Windows refuses to open one so.
    Object.defineProperty(process, 'platform', { ...platform, value: 'win32' });
    try {
      await store.freeze({ signal });
      await expect(broken.freeze({ signal })).rejects.toThrow(/ENOTDIR/);
    } finally {
      Object.defineProperty(process, 'platform', platform);
    }
    expect(openFlags).toEqual(['r+', 'r+', 'r+']);
    expect(synced).toEqual([file]);
    // Elsewhere, read-only, and the directory is fsynced too.
    synced.length = 0;
    openFlags.length = 0;
    await store.freeze({ signal });
    expect(openFlags).toEqual(['r', 'r']);
    expect([...synced].sort()).toEqual([dir, file].sort());
  });

  it('rejects relative paths and an empty list, naming the field', () => {
    expect(() => fileStore({ paths: ['data/log'] })).toThrow(/^Invalid fileStore options: paths\[0\]: must be an absolute path/);
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
