/**
 * The SQLite preparation's checkpoints on a worker thread, through a connection of its own, so
 * that copying a large WAL does not hold the application's event loop: better-sqlite3 and
 * node:sqlite run every statement on the calling thread, and a PASSIVE checkpoint of 64 MB
 * takes hundreds of milliseconds. Any connection may checkpoint a database; PASSIVE takes no
 * lock that writers wait for.
 *
 * For better-sqlite3 the worker loads the very module the application's Database class came
 * from (found in the CommonJS module cache), so it needs nothing installed or configured of
 * its own; node:sqlite is built in.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CheckpointResult } from './sqlite-wal.js';

/** How a worker opens its own connection to the application's database file. */
export type WorkerConnection =
  | { readonly driver: 'better-sqlite3'; readonly module: string; readonly file: string }
  | { readonly driver: 'node:sqlite'; readonly file: string };

/**
 * What the checkpoints found: the first and last PASSIVE answers, how many ran, and the
 * TRUNCATE's answer if everything was copied and it was tried.
 */
export interface WorkerCheckpoints {
  readonly first: CheckpointResult;
  readonly last: CheckpointResult;
  readonly rounds: number;
  readonly truncate?: CheckpointResult;
}

// CommonJS, run by the worker: open the file, PASSIVE checkpoints while frames are left (at
// most `rounds`), then, if all was copied, a TRUNCATE: freeing a large -wal file's blocks takes
// tens of milliseconds, better spent here than in the freeze. TRUNCATE needs the write lock:
// this thread waits for a write in progress to end (busyTimeoutMs), the application's writes
// then wait for it as they would for any writer. Answer, close. The connection is never the
// last one (the application's stays open), so closing it neither checkpoints nor removes the
// WAL.
const workerSource = `
const { parentPort, workerData: w } = require('node:worker_threads');
let db;
let checkpoint;
if (w.driver === 'node:sqlite') {
  if (!require('node:fs').existsSync(w.file)) throw new Error('no database at ' + w.file);
  const { DatabaseSync } = require('node:sqlite');
  db = new DatabaseSync(w.file);
  db.exec('PRAGMA busy_timeout = ' + w.busyTimeoutMs);
  checkpoint = (mode) => {
    const r = db.prepare('PRAGMA wal_checkpoint(' + mode + ')').get();
    return { busy: Number(r.busy), log: Number(r.log), checkpointed: Number(r.checkpointed) };
  };
} else {
  const Database = require(w.module);
  db = new Database(w.file, { fileMustExist: true, timeout: w.busyTimeoutMs });
  checkpoint = (mode) => db.pragma('wal_checkpoint(' + mode + ')')[0];
}
try {
  const first = checkpoint('PASSIVE');
  let last = first;
  let rounds = 1;
  while (last.log - last.checkpointed > 0 && rounds < w.rounds) {
    last = checkpoint('PASSIVE');
    rounds++;
  }
  const truncate = last.log >= 0 && last.log === last.checkpointed ? checkpoint('TRUNCATE') : undefined;
  parentPort.postMessage({ first, last, rounds, truncate });
} finally {
  db.close();
}
`;

/**
 * The file that exports `constructor`, as the CommonJS loader loaded it; undefined when the
 * class did not come through it (a bundle, a built-in module). The cache is one for the process,
 * whichever require reads it.
 */
export function moduleOf(constructor: unknown): string | undefined {
  const cache = createRequire(join(process.cwd(), 'noop.js')).cache;
  for (const entry of Object.values(cache)) {
    if (entry !== undefined && entry.exports === constructor && entry.filename) return entry.filename;
  }
  return undefined;
}

/**
 * Runs up to `rounds` PASSIVE checkpoints of the database, then a TRUNCATE if they copied
 * everything (waiting at most `busyTimeoutMs` for a writer), on a worker thread with a
 * connection `target` says how to open. Rejects if the
 * worker cannot load, open or checkpoint; a fired `signal` ends the worker and rejects with its
 * reason.
 */
export function checkpointInWorker(
  target: WorkerConnection,
  rounds: number,
  busyTimeoutMs: number,
  signal: AbortSignal,
): Promise<WorkerCheckpoints> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const worker = new Worker(workerSource, { eval: true, workerData: { ...target, rounds, busyTimeoutMs } });
    let answer: WorkerCheckpoints | undefined;
    const onAbort = (): void => void worker.terminate();
    signal.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: WorkerCheckpoints) => (answer = m));
    worker.on('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      reject(error);
    });
    worker.on('exit', (code) => {
      signal.removeEventListener('abort', onAbort);
      if (answer !== undefined) resolve(answer);
      else if (signal.aborted) reject(signal.reason);
      else reject(new Error(`the checkpoint worker ended (exit code ${code}) without an answer`));
    });
  });
}
