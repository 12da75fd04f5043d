/**
 * The SQLite preparation's worker thread (src/gate/adapters/sqlite-worker.ts) on its own: a
 * signal that fired before or during the work, a file it cannot open, and where a Database
 * class was loaded from.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { checkpointInWorker, moduleOf } from '../src/gate/adapters/sqlite-worker.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function walDatabase(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vss-bridge-worker-'));
  dirs.push(dir);
  const file = join(dir, 'app.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (v TEXT)');
  db.prepare("INSERT INTO t VALUES ('x')").run();
  db.close();
  return file;
}

describe('checkpointInWorker', () => {
  it('copies the WAL on a worker with a connection of its own, and empties it', async () => {
    const file = await walDatabase();
    const module = moduleOf(Database)!;
    const result = await checkpointInWorker({ driver: 'better-sqlite3', module, file }, 4, 1000, new AbortController().signal);
    expect(result.rounds).toBe(1);
    expect(result.first.busy).toBe(0);
    expect(result.last).toEqual(result.first);
    expect(result.truncate).toMatchObject({ busy: 0 });
  });

  it('rejects with the reason of a signal that fired before it started', async () => {
    const controller = new AbortController();
    controller.abort(new Error('a freeze began'));
    await expect(checkpointInWorker({ driver: 'node:sqlite', file: '/nonexistent' }, 4, 1000, controller.signal)).rejects.toThrow('a freeze began');
  });

  it('ends the worker and rejects with the reason when the signal fires meanwhile', async () => {
    const file = await walDatabase();
    const controller = new AbortController();
    const running = checkpointInWorker({ driver: 'better-sqlite3', module: moduleOf(Database)!, file }, 4, 1000, controller.signal);
    controller.abort(new Error('a freeze began'));
    await expect(running).rejects.toThrow('a freeze began');
  });

  it('rejects when the worker cannot open the database', async () => {
    await expect(
      checkpointInWorker({ driver: 'better-sqlite3', module: moduleOf(Database)!, file: '/nonexistent/app.db' }, 4, 1000, new AbortController().signal),
    ).rejects.toThrow();
  });
});

describe('moduleOf', () => {
  it('finds the file a class was loaded from, and nothing for one loaded otherwise', () => {
    const file = moduleOf(Database);
    expect(file).toMatch(/better-sqlite3/);
    expect(require(file!)).toBe(Database);
    expect(moduleOf(class NotLoaded {})).toBeUndefined();
  });
});
