// 7. How long gate.freeze() holds writes with a store that has work waiting: SQLite with 64 MB
// of WAL at prepareSnapshot against an empty WAL, and 1,000 files written since the last set
// against 1. The gate's preparation (gate.prepare(), run at prepareSnapshot by the writer
// binding) runs first, as in a snapshot set; only the freeze is timed. The same without the
// preparation shows what it saves, and the preparation's own time is reported, with how long
// it kept the JS thread busy (its checkpoints run on a worker thread).
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { figure, library, median, scaled, silentLogger } from '../lib.mjs';

const require = createRequire(import.meta.url);
const pauseMs = 10;

/**
 * Milliseconds gate.freeze() took, after gate.prepare() when `prepare`; and the preparation's
 * time, and the part of it the JS thread was busy (event-loop utilization).
 */
async function timedFreeze(gate, prepare) {
  let prepareMs = null;
  let prepareJsMs = null;
  if (prepare) {
    const started = performance.now();
    const elu = performance.eventLoopUtilization();
    await gate.prepare();
    prepareJsMs = performance.eventLoopUtilization(elu).active;
    prepareMs = performance.now() - started;
    // VSS sends Freeze once every writer answered PrepareSnapshot: milliseconds later, not at
    // once. The pause lets the preparation's own after-effects (its I/O completions, the
    // garbage of 1,000 file handles) settle on both sides alike.
    await sleep(pauseMs);
  }
  const started = performance.now();
  await gate.freeze();
  const freezeMs = performance.now() - started;
  gate.thaw();
  return { freezeMs, prepareMs, prepareJsMs };
}

/**
 * A WAL-mode database in `dir` (SQLite's own checkpoints off) into which about `bytes` were
 * just written; with `checkpointed`, those were then checkpointed and the WAL emptied. Both
 * sides of a figure write the same data, so they differ only in the WAL the set finds.
 */
function writtenDatabase(Database, dir, bytes, checkpointed) {
  const file = join(dir, 'bench.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)');
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  const row = Buffer.alloc(4096, 7);
  const fill = db.transaction((n) => {
    for (let i = 0; i < n; i++) insert.run(row);
  });
  // A 4 KB row takes about two pages' frames; fill until the -wal file holds `bytes`.
  while (statSync(`${file}-wal`).size < bytes) fill(256);
  const walBytes = statSync(`${file}-wal`).size;
  if (checkpointed) db.pragma('wal_checkpoint(TRUNCATE)');
  return { db, walBytes };
}

async function sqliteFigures(lib, scale, root) {
  const Database = require('better-sqlite3');
  const logger = silentLogger();
  const bytes = (scale >= 1 ? 64 : Math.max(2, Math.round(64 * scale))) * 2 ** 20;
  const samples = { empty: [], full: [], emptyUnprepared: [], fullUnprepared: [], prepareFull: [], prepareJs: [] };
  let walBytes = 0;
  const sides = [
    ['empty', true, true],
    ['full', false, true],
    ['emptyUnprepared', true, false],
    ['fullUnprepared', false, false],
  ];
  const rounds = scaled(scale, 7, 1);
  // Interleaved, so that both sides see the same machine load; a fresh database each time.
  for (let round = 0; round < rounds; round++) {
    // The unprepared sides are information, and slow: three rounds are enough.
    for (const [key, checkpointed, prepare] of round < 3 ? sides : sides.slice(0, 2)) {
      const dir = mkdtempSync(join(root, 'sqlite-'));
      const made = writtenDatabase(Database, dir, bytes, checkpointed);
      walBytes = made.walBytes;
      const gate = new lib.WriteGate({ name: 'bench', logger, stores: [lib.sqliteStore(made.db, { logger })] });
      const { freezeMs, prepareMs, prepareJsMs } = await timedFreeze(gate, prepare);
      samples[key].push(freezeMs);
      if (key === 'full') {
        samples.prepareFull.push(prepareMs);
        samples.prepareJs.push(prepareJsMs);
      }
      made.db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const wal = `${(walBytes / 2 ** 20).toFixed(1)} MB of WAL`;
  return [
    figure('gate.freeze.sqliteWal64MB', median(samples.full), 'ms', median(samples.empty), {
      target: { ratioMax: 1.5 },
      note:
        `${rounds} rounds; ${wal} at prepareSnapshot, gate.prepare(), a ${pauseMs} ms pause, then gate.freeze() timed; ` +
        'baseline: the same data written and checkpointed before the set, an empty WAL',
    }),
    figure('gate.freeze.sqliteWal64MB.unprepared', median(samples.fullUnprepared), 'ms', median(samples.emptyUnprepared), {
      note: `the same without the preparation: the freeze checkpoints the whole ${wal} while writes are held (information)`,
    }),
    figure('gate.prepare.sqliteWal64MB', median(samples.prepareFull), 'ms', median(samples.fullUnprepared), {
      note: 'the preparation itself, writes not held; baseline: the unprepared freeze of the same WAL (information)',
    }),
    figure('gate.prepare.sqliteWal64MB.jsThread', median(samples.prepareJs), 'ms', median(samples.fullUnprepared), {
      note:
        "how long the preparation kept the JS thread busy (event-loop utilization): its checkpoints run on a worker thread; " +
        'baseline: the unprepared freeze, which holds the JS thread (better-sqlite3 is synchronous) as well as the writes (information)',
    }),
  ];
}

async function fileFigures(lib, scale, root) {
  const logger = silentLogger();
  const count = scaled(scale, 1_000, 20);
  // Both sides' freezes take about 0.1 ms: a median of 7 still moved by half from run to run
  // on a loaded machine.
  const rounds = scaled(scale, 21, 2);
  const dir = mkdtempSync(join(root, 'files-'));
  const many = Array.from({ length: count }, (_, i) => join(dir, 'many', `f${i}`));
  const one = [join(dir, 'one', 'f0')];
  mkdirSync(join(dir, 'many'));
  mkdirSync(join(dir, 'one'));
  const body = Buffer.alloc(4096, 1);
  const stores = (paths, trackWrites) => {
    const store = lib.fileStore({ paths: [...paths, join(paths[0], '..')], trackWrites, logger });
    return { store, gate: new lib.WriteGate({ name: 'bench', logger, stores: [store] }) };
  };
  const sides = {
    one: stores(one, true),
    many: stores(many, true),
    oneUntracked: stores(one, false),
    manyUntracked: stores(many, false),
  };
  const samples = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  for (let round = 0; round <= rounds; round++) {
    for (const [key, { store, gate }] of Object.entries(sides)) {
      // Written since the last set, and reported as the application would, inside the gate.
      const paths = key.startsWith('one') ? one : many;
      await gate.run(async () => {
        for (const path of paths) {
          writeFileSync(path, body);
          store.written(path);
        }
      });
      const { freezeMs } = await timedFreeze(gate, true);
      if (round > 0) samples[key].push(freezeMs); // round 0: warm-up (files created)
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return [
    figure('gate.freeze.files1000', median(samples.many), 'ms', median(samples.one), {
      target: { ratioMax: 1.5 },
      note: `${count} owned files written since the last set, fileStore with trackWrites, gate.prepare(), a ${pauseMs} ms pause, then gate.freeze() timed; baseline: 1 file`,
    }),
    figure('gate.freeze.files1000.untracked', median(samples.manyUntracked), 'ms', median(samples.oneUntracked), {
      note: 'the same without trackWrites: the freeze fsyncs every owned file again, clean after the preparation (information)',
    }),
  ];
}

export async function run({ scale }) {
  const lib = library();
  const root = mkdtempSync(join(tmpdir(), 'vss-bridge-bench-'));
  try {
    return [...(await sqliteFigures(lib, scale, root)), ...(await fileFigures(lib, scale, root))];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
