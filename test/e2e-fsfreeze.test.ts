/**
 * End to end with a real file-system freeze (Linux, root, loop devices): the records service
 * keeps its SQLite database on a loop-mounted ext4 image made here. The provider commit
 * freezes that file system (fsfreeze -f), copies the image, and thaws in any case; the copy is
 * then mounted read-only and checked like every snapshot: integrity_check ok, exactly the
 * writes from before the freeze. No write of the service runs while the file system is frozen
 * (a write would block there): the gate holds them, and the service keeps answering.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { copyDatabase, runCheckpoint } from '../src/demo/checkpoint.js';
import { LoadGenerator } from '../src/demo/load.js';
import { RecordsService } from '../src/demo/records.js';
import { loadSqlite } from '../src/demo/sqlite.js';
import { VssWriter } from '../src/index.js';
import { createLoopFs, loopFsUnavailable } from './helpers/loop-mount.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { skipUnlessRunnable } from './helpers/skip.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const reason = skipUnlessRunnable('real-freeze end to end', loopFsUnavailable());

describe('snapshots of a really frozen file system', () => {
  // walMb: ballast written before each checkpoint with SQLite's own checkpoints off, so the
  // preparation at prepareSnapshot has a large WAL to copy and the freeze only the rest.
  it.skipIf(reason !== null).each([
    { walMb: 0, wal: 'a small WAL' },
    { walMb: 24, wal: 'a 24 MB WAL' },
  ])(`are consistent, and the service never writes into the frozen file system, with $wal${reason ? ` (skipped: ${reason})` : ''}`, async ({ walMb }) => {
    const fs = await createLoopFs(walMb > 0 ? 256 : 64);
    cleanups.push(() => fs.cleanup());
    const { logger } = memoryLogger();
    const sqlite = await loadSqlite();
    const service = await RecordsService.start({ dir: fs.mountpoint, sqlite, logger, manualCheckpoints: walMb > 0 });
    cleanups.push(() => service.close());
    const writer = new VssWriter({ name: 'records', id: randomUUID(), usage: 'userData', sourceType: 'transactedDb', gate: service.gate, logger });
    await writer.subscribe();
    cleanups.push(() => writer.unsubscribe());
    const load = new LoadGenerator(service.url, 3);
    load.start();
    cleanups.push(() => load.stop());
    await load.passed(Date.now());

    const frozenSpans: [number, number][] = [];
    let heldWrites = 0;
    for (let index = 1; index <= 3; index++) {
      await service.fillWal(walMb * 1024 * 1024);
      const copy = join(fs.root, `snapshot-${index}.img`);
      const report = await runCheckpoint({
        index,
        service,
        load,
        sqlite,
        volume: fs.mountpoint,
        writerName: 'records',
        logger,
        takeSnapshot: async () => {
          // The service's writes are stamped on the monotonic clock (WriteRecord.ranAt).
          const before = performance.now();
          // A second freeze must fail (EBUSY): proof the file system is frozen while cp runs.
          const out = await fs.whileFrozen(
            'if fsfreeze -f "$MNT" 2>/dev/null; then echo "NOT FROZEN"; exit 3; fi; echo frozen; cp --sparse=always "$IMAGE" "$COPY"',
            { IMAGE: fs.image, COPY: copy },
          );
          frozenSpans.push([before, performance.now()]);
          expect(out.trim()).toBe('frozen');
          return copy;
        },
        openSnapshot: async (image) => {
          // Read-only: ext4 refuses a read-only mount that needs journal recovery, so this
          // also proves the frozen image was clean.
          const at = await fs.mountReadOnly(image);
          const dir = await mkdtemp(join(fs.root, 'check-'));
          cleanups.push(() => rm(dir, { recursive: true, force: true }));
          await copyDatabase(at, dir);
          return dir;
        },
      });
      expect(report.error).toBeUndefined();
      expect(report.verdict).toMatchObject({ integrity: 'ok', missing: [], unexpected: [], ok: true });
      if (walMb > 0) expect(report.wal.atPrepareSnapshot).toBeGreaterThan(walMb * 1024 * 1024);
      heldWrites += report.freeze?.heldWrites ?? 0;
    }
    await load.stop();
    // No write of the service ran while the file system was frozen...
    const inFreeze = [...service.writes.values()].filter((w) => frozenSpans.some(([a, b]) => w.ranAt >= a && w.ranAt <= b));
    expect(inFreeze).toEqual([]);
    // ...while requests kept arriving and were held rather than blocked.
    expect(heldWrites).toBeGreaterThan(0);
    const live = service.ids();
    expect(load.acks.filter((a) => !live.has(a.id))).toEqual([]);
    // Nothing stays frozen: a write to the file system succeeds.
    await promisify(execFile)('touch', [join(fs.mountpoint, 'after-the-test')]);
  });
});
