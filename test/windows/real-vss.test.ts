/**
 * Real VSS, end to end: a VssWriter subscribed to the Windows VSS service and a snapshot set
 * taken by this process's own requester. Runs only on Windows, as Administrator (the
 * windows.yml workflow); elsewhere it is skipped and says why. Creates persistent shadow
 * copies of the volume holding the temp directory and deletes them afterwards. One test mounts a
 * small VHDX of its own (diskpart) on a folder of that volume, and detaches it afterwards.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, parse } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { VssError, VssWriter, WriterFailure, createShadowCopy, deleteShadowCopy, gatherWriterMetadata, listShadowCopies, listWriters } from '../../src/index.js';
import type { WriterEventContext } from '../../src/types.js';
import { deleteShadowCopies } from '../../src/backends/vss.js';
import { seenEvent, type SeenEvent } from './apps/seen-event.cjs';

const reason =
  skipUnlessRunnable('test/windows/real-vss', process.platform !== 'win32' ? `real VSS needs Windows (this is ${process.platform})` : null, { windowsOnly: true }) ?? '';

interface Seen extends SeenEvent {
  /** ctx.isPathAffected of each of makeWriter's `probes`. */
  probed: boolean[];
}

/** diskpart with `lines` as its script, within `ms`; its output, or an error saying what failed. */
function diskpart(lines: string[], dir: string, ms = 120_000): string {
  const script = join(dir, `diskpart-${randomUUID().slice(0, 8)}.txt`);
  writeFileSync(script, `${lines.join('\r\n')}\r\n`);
  try {
    return execFileSync('diskpart', ['/s', script], { encoding: 'utf8', timeout: ms, windowsHide: true });
  } finally {
    rmSync(script, { force: true });
  }
}

describe.skipIf(reason !== '')(`real VSS writer and requester${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let dataDir = '';
  let volume = '';
  const sets: string[] = [];

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'vss-bridge-'));
    mkdirSync(join(dataDir, 'db'));
    writeFileSync(join(dataDir, 'db', 'orders.db'), 'rows');
    volume = parse(dataDir).root; // C:\
  });
  afterAll(async () => {
    for (const id of sets) await deleteShadowCopies(id, { wholeSet: true }).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  function makeWriter(seen: Seen[], failFreeze = false, probes: string[] = []): VssWriter {
    const record = (ctx: WriterEventContext): void => {
      seen.push({ ...seenEvent(ctx, dataDir), probed: probes.map((p) => ctx.isPathAffected(p)) });
    };
    return new VssWriter({
      name: `vss-bridge test writer ${randomUUID().slice(0, 8)}`,
      id: randomUUID(),
      usage: 'userData',
      sourceType: 'nonTransactedDb',
      components: [{ name: 'orders', logicalPath: 'vss-bridge', files: [{ path: join(dataDir, 'db'), filespec: '*.db' }] }],
      handlers: {
        prepareBackup: record,
        prepareSnapshot: record,
        freeze: (ctx) => {
          record(ctx);
          if (failFreeze) throw new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', 'freeze refused by the test');
        },
        thaw: record,
        postSnapshot: record,
        abort: record,
        backupComplete: record,
        backupShutdown: record,
      },
    });
  }

  // BackupShutdown reaches the writer when the requester releases its components, which may
  // be just after createShadowCopy settled.
  async function untilSeen(seen: Seen[], event: string): Promise<void> {
    for (let i = 0; i < 300 && !seen.some((s) => s.event === event); i++) await new Promise((r) => setTimeout(r, 100));
  }

  it('lists a subscribed writer as stable', async () => {
    const writer = makeWriter([]);
    await writer.subscribe();
    try {
      const listed = (await listWriters()).find((w) => w.name === writer.name);
      expect(listed, 'the writer is in the list (OnIdentify answered natively)').toBeDefined();
      expect(listed?.state).toBe('VSS_WS_STABLE');
      expect(listed?.id).toBe(writer.id);
      const described = (await gatherWriterMetadata()).find((w) => w.name === writer.name);
      expect(described).toMatchObject({ usage: 'userData', sourceType: 'nonTransactedDb' });
      expect(described?.components).toHaveLength(1);
      const [component] = described?.components ?? [];
      expect(component).toMatchObject({ logicalPath: 'vss-bridge', name: 'orders' });
      // VSS may hand the path back with a trailing backslash, in its own case.
      expect(component?.files.map((f) => [f.path.replace(/\\$/, '').toLowerCase(), f.filespec, f.recursive])).toEqual([
        [join(dataDir, 'db').toLowerCase(), '*.db', false],
      ]);
    } finally {
      await writer.unsubscribe();
    }
  });

  it('runs the writer through a backup in order, with the real context', async () => {
    const seen: Seen[] = [];
    const writer = makeWriter(seen);
    await writer.subscribe();
    try {
      const result = await createShadowCopy({ volumes: [volume] });
      sets.push(result.snapshotSetId);
      await untilSeen(seen, 'backupShutdown');
      expect(seen.map((s) => s.event)).toEqual([
        'prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown',
      ]);
      for (const s of seen) {
        expect(s.snapshotSetId).toBe(result.snapshotSetId);
        if (s.event === 'backupShutdown') continue;
        expect(s.backupType).toBe('copy'); // the default: writers' backup history is left alone
        expect(s.volumes.map((v) => v.toLowerCase())).toContain(volume.toLowerCase());
        expect(s.dataAffected).toBe(true);
        expect(s.components).toEqual(['vss-bridge\\orders']);
      }
      expect(result.snapshots).toHaveLength(1);
      expect(result.snapshots[0]?.deviceObject).toMatch(/HarddiskVolumeShadowCopy\d+/);
      const mine = result.writers.find((w) => w.name === writer.name);
      expect(mine?.state).toBe('VSS_WS_STABLE');
    } finally {
      await writer.unsubscribe();
    }
  });

  it('deletes the shadow copies of a set not asked to keep them, and keeps them until deleted when asked', async () => {
    const transient = await createShadowCopy({ volumes: [volume] });
    sets.push(transient.snapshotSetId);
    expect((await listShadowCopies()).filter((c) => c.snapshotSetId === transient.snapshotSetId)).toEqual([]);

    const kept = await createShadowCopy({ volumes: [volume], keep: true });
    sets.push(kept.snapshotSetId);
    const listed = (await listShadowCopies()).filter((c) => c.snapshotSetId === kept.snapshotSetId);
    expect(listed.map((c) => c.deviceObject)).toEqual(kept.snapshots.map((c) => c.deviceObject));
    expect((await deleteShadowCopy(kept.snapshotSetId)).map((c) => c.id)).toEqual(listed.map((c) => c.id));
    expect((await listShadowCopies()).filter((c) => c.snapshotSetId === kept.snapshotSetId)).toEqual([]);
  });

  it('fails the set when a freeze handler fails, with the writer listed as failed at freeze', async () => {
    const seen: Seen[] = [];
    const writer = makeWriter(seen, true);
    await writer.subscribe();
    try {
      const error = await createShadowCopy({ volumes: [volume] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(VssError);
      const vssError = error as VssError;
      if (vssError.result?.snapshotSetId) sets.push(vssError.result.snapshotSetId);
      expect(vssError.writer?.name).toBe(writer.name);
      expect(vssError.writer?.event).toBe('freeze');
      expect(vssError.code).toBe('VSS_E_WRITERERROR_NONRETRYABLE');
      expect(seen.map((s) => s.event)).toContain('abort');
      const listed = (await listWriters()).find((w) => w.name === writer.name);
      expect(listed?.state).toBe('VSS_WS_FAILED_AT_FREEZE');
      expect(listed?.lastError?.code).toBe('VSS_E_WRITERERROR_NONRETRYABLE');
    } finally {
      await writer.unsubscribe();
    }
  });

  it('ctx.isPathAffected resolves a nested mount: a path on a volume mounted in a folder of C: is not in a set of C: alone', async (ctx) => {
    // A 64 MB VHDX, NTFS, mounted on an empty folder: the path's string starts with C:\ but
    // its volume is another. diskpart's virtual disks need no Hyper-V module (New-VHD does, and
    // a runner may lack it); a runner that refuses them gets a skip that says so, not a pass.
    const work = mkdtempSync(join(tmpdir(), 'vss-bridge-mount-'));
    const vhd = join(work, 'nested.vhdx');
    const mount = join(work, 'mnt');
    mkdirSync(mount);
    let attached = false;
    try {
      try {
        diskpart([`create vdisk file="${vhd}" maximum=64 type=expandable`], work);
        attached = true; // from here the finally detaches it (a disk never attached: a warning)
        diskpart(
          [`select vdisk file="${vhd}"`, 'attach vdisk', 'create partition primary', 'format fs=ntfs quick label=vssbnest', `assign mount="${mount}"`],
          work,
        );
      } catch (error) {
        // diskpart says what it refused on its stdout, the error's message only its exit code.
        const said = String((error as { stdout?: unknown }).stdout ?? '').trim().split(/\r?\n/).slice(-2).join(' ');
        const why = `this runner refuses a diskpart virtual disk mounted in a folder: ${(error as Error).message.split('\n')[0]} ${said}`;
        console.warn(`test/windows: skipped: ${why}`);
        ctx.skip(why);
      }
      // Another volume has another serial number: the mount is in place before the writer asks.
      expect(statSync(mount).dev).not.toBe(statSync(dataDir).dev);
      mkdirSync(join(mount, 'SQLData'));
      const nested = join(mount, 'SQLData', 'db.mdf');
      writeFileSync(nested, 'pages');
      const elsewhere = join(dataDir, 'db', 'orders.db');

      const seen: Seen[] = [];
      const writer = makeWriter(seen, false, [nested, elsewhere]);
      await writer.subscribe();
      try {
        const result = await createShadowCopy({ volumes: [volume] });
        sets.push(result.snapshotSetId);
        await untilSeen(seen, 'backupShutdown');
        const freeze = seen.find((s) => s.event === 'freeze');
        expect(freeze, 'the writer took part (its component is on C:)').toBeDefined();
        expect(freeze?.volumes.map((v) => v.toLowerCase())).toContain(volume.toLowerCase());
        expect(freeze?.probed).toEqual([false, true]);
      } finally {
        await writer.unsubscribe();
      }
    } finally {
      if (attached) {
        // The mount point first, then the disk; each within diskpart's deadline, errors reported.
        try {
          execFileSync('mountvol', [mount, '/D'], { timeout: 60_000, windowsHide: true });
        } catch (error) {
          console.warn(`test/windows: removing the mount point ${mount}: ${(error as Error).message}`);
        }
        try {
          diskpart([`select vdisk file="${vhd}"`, 'detach vdisk'], work);
        } catch (error) {
          console.warn(`test/windows: detaching ${vhd}: ${(error as Error).message}`);
        }
      }
      rmSync(work, { recursive: true, force: true });
    }
  }, 600_000);
});
