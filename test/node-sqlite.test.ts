/**
 * nodeSqliteStore: Node's built-in node:sqlite (Node 22.5 and later) as a store, through the
 * same consistency checks as sqliteStore. On an older Node this file runs itself under a Node 22
 * that scripts/fetch-node.sh fetched from the npm registry (.ci/run does), and is skipped with
 * the reason when there is none.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeSqliteStore, OptionsError, type NodeSqliteDatabase } from '../src/index.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { skipUnlessRunnable } from './helpers/skip.js';
import { describeSqliteStore, type SqliteDriver, type TestDatabase } from './helpers/sqlite-store-checks.js';

interface DatabaseSyncLike extends NodeSqliteDatabase {
  prepare(sql: string): { get(...params: unknown[]): unknown; run(...params: unknown[]): unknown };
  close(): void;
}
type DatabaseSyncClass = new (file: string) => DatabaseSyncLike;


/** node:sqlite's DatabaseSync, or undefined before Node 22.5. */
function load(): DatabaseSyncClass | undefined {
  try {
    // Through require: a static import would fail to load this file on Node 20.
    return (createRequire(__filename)('node:sqlite') as { DatabaseSync: DatabaseSyncClass }).DatabaseSync;
  } catch {
    return undefined;
  }
}

/**
 * A Node with node:sqlite to run this file under: VSS_BRIDGE_NODE22, else the newest Node 22
 * scripts/fetch-node.sh unpacked (scripts/lib/node-binary.sh: <cache>/node-<platform>-<arch>-<version>).
 */
function node22(): string | undefined {
  const cache = process.env['VSS_BRIDGE_NODE_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'vss-bridge', 'node');
  const prefix = `node-${process.platform}-${process.arch}-22.`;
  const fetched = existsSync(cache)
    ? readdirSync(cache)
        .filter((d) => d.startsWith(prefix) && existsSync(join(cache, d, '.complete')))
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .map((d) => join(cache, d, 'bin', 'node'))
    : [];
  return [process.env['VSS_BRIDGE_NODE22'], fetched.at(-1)].find((p) => p && existsSync(p));
}

const DatabaseSync = load();
const otherNode = DatabaseSync === undefined ? node22() : undefined;
const skipReason =
  DatabaseSync === undefined && otherNode === undefined
    ? skipUnlessRunnable(
        'node:sqlite store tests',
        `node:sqlite needs Node 22.5 or later (this is ${process.versions.node}) and no Node 22 was fetched: run scripts/fetch-node.sh 22`,
      )
    : null;

interface NodeDb extends TestDatabase {
  readonly raw: NodeSqliteDatabase;
}

function driverOf(DatabaseSync: DatabaseSyncClass, wrap?: (raw: DatabaseSyncLike) => NodeSqliteDatabase): SqliteDriver<NodeDb> {
  return {
    name: 'nodeSqliteStore (node:sqlite)',
    // A worker opens the file DatabaseSync.location() names; the early DatabaseSync has none.
    preparesInWorker: wrap === undefined,
    open(file) {
      const raw = new DatabaseSync(file);
      let open = true;
      return {
        raw: wrap ? wrap(raw) : raw,
        exec: (sql) => raw.exec(sql),
        run: (sql, ...params) => void raw.prepare(sql).run(...params),
        // node:sqlite's rows have no prototype: copied, they compare as plain objects.
        get: (sql) => ({ ...(raw.prepare(sql).get() as object) }),
        pragma: (name) => Object.values(raw.prepare(`PRAGMA ${name}`).get() as object)[0],
        get inTransaction() {
          return raw.isTransaction ?? false;
        },
        get isOpen() {
          return open;
        },
        close: () => {
          open = false;
          raw.close();
        },
      };
    },
    store: (db, options = {}) => nodeSqliteStore(db.raw, { ...options, lockConnection: options.lockConnection?.raw }),
  };
}

// Only the suites that can run here are declared: the run under Node 22 must show no skip.
if (DatabaseSync !== undefined) describe('nodeSqliteStore', () => {
  const Db = DatabaseSync;
  describeSqliteStore(driverOf(Db));

  describe('on Node 22.5 to 22.15 (no isOpen, no isTransaction): asks the database', () => {
    // Only what the early DatabaseSync had: exec and prepare.
    describeSqliteStore(driverOf(Db, (raw) => ({ exec: (sql) => raw.exec(sql), prepare: (sql) => raw.prepare(sql) })));
  });

  it('names itself after the file, and rejects what is not a DatabaseSync', () => {
    const db = new Db(':memory:');
    expect(nodeSqliteStore(db, { logger: memoryLogger().logger }).name).toBe('sqlite database');
    expect(() => nodeSqliteStore({} as never)).toThrow(OptionsError);
    expect(() => nodeSqliteStore({ exec() {}, prepare() {}, pragma() {} } as never)).toThrow(/nodeSqliteStore database: must be a node:sqlite DatabaseSync.*use sqliteStore/);
    expect(() => nodeSqliteStore(db, { lockConnection: 'db' as never })).toThrow(/^Invalid nodeSqliteStore options: lockConnection: must be a node:sqlite DatabaseSync/);
    db.close();
  });
});

if (otherNode !== undefined) describe(`nodeSqliteStore under another Node (this is ${process.versions.node})`, () => {
  it('passes every check of this file under Node 22', () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'FORCE_COLOR'));
    const r = spawnSync(otherNode!, [join(__dirname, '..', 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/node-sqlite.test.ts'], {
      cwd: join(__dirname, '..'),
      encoding: 'utf8',
      env: { ...env, NODE_NO_WARNINGS: '1', NO_COLOR: '1' },
      timeout: 240_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out).toBe(0);
    // Every check ran there, none skipped.
    expect(out, out).toMatch(/Tests\s+\d+ passed \(\d+\)/);
    expect(out).not.toMatch(/skipped/);
  }, 300_000);
});

if (skipReason !== null) describe('nodeSqliteStore', () => {
  it.skip(`skipped: ${skipReason}`, () => undefined);
});
