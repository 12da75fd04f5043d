/**
 * A small ext4 file system in an image file, loop-mounted in a temp directory, for tests that
 * need a real fsfreeze. Only file systems made here are ever frozen; every freeze is undone in
 * a finally, and by the freezing shell itself if this process dies. No mount outlives its test:
 * a busy one is detached (umount -l), and one whose test process died before its cleanup (killed
 * on a timeout, say) is thawed, detached and removed by the next createLoopFs.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ownerIsGone, ownerTag } from './owner.js';

const run = promisify(execFile);
const tools = ['truncate', 'mkfs.ext4', 'mount', 'umount', 'fsfreeze', 'losetup'];
const rootPrefix = 'vss-bridge-loopfs-';
/** In each root: the tag of the process that made it (owner.ts). */
export const ownerFile = 'owner';

export interface LoopFs {
  readonly root: string;
  readonly image: string;
  readonly mountpoint: string;
  /** Freezes the file system, runs `bash -c script` with $MNT set, thaws (also if the script fails). */
  whileFrozen(script: string, env?: Record<string, string>): Promise<string>;
  /** Mounts another image read-only; returns its mount point. */
  mountReadOnly(image: string): Promise<string>;
  cleanup(): Promise<void>;
}

const env = { ...process.env, PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` };

function succeeds(command: string, args: string[]): boolean {
  return spawnSync(command, args, { env, stdio: 'ignore' }).status === 0;
}

/**
 * Why a loop-mounted file system cannot be made here, or null if it can. Synchronous, so a
 * test can skip with the reason in its name.
 */
export function loopFsUnavailable(): string | null {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (mount, losetup and fsfreeze)';
  if (!existsSync('/dev/loop-control')) return 'no loop devices (/dev/loop-control is missing)';
  for (const tool of tools) {
    if (!succeeds('sh', ['-c', `command -v ${tool}`])) return `${tool} is not installed (apt-get install util-linux mount e2fsprogs)`;
  }
  if (!succeeds('losetup', ['-f'])) return 'no free loop device (losetup -f failed)';
  return null;
}

/** Every mount point, in mount order. /proc/mounts writes a space and the like as \ooo. */
export function mountPoints(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

/** The mount points at or below `dir`, deepest (latest mounted) first. */
export function mountsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const real = realpathSync(dir);
  return mountPoints()
    .filter((at) => at === real || at.startsWith(`${real}/`))
    .reverse();
}

const isMounted = (at: string): boolean => existsSync(at) && mountPoints().includes(realpathSync(at));

/**
 * Unmounts `at`. A busy file system (a process still has a file open or its working directory
 * there) is retried for a moment, then detached lazily: gone from the tree at once, released by
 * the kernel when its last user lets go. Thaw it first: an unmount of a frozen file system waits
 * for the thaw.
 */
export async function unmount(at: string): Promise<void> {
  for (let attempt = 0; attempt < 5 && isMounted(at); attempt++) {
    if (attempt > 0) await sleep(200);
    await run('umount', [at], { env, timeout: 5_000 }).catch(() => undefined);
  }
  if (isMounted(at)) await run('umount', ['-l', at], { env, timeout: 5_000 });
}

/** Thaws and unmounts every file system mounted below `root`, then removes it; never removes through a mount. */
async function release(root: string): Promise<void> {
  const mounts = mountsUnder(root);
  for (const m of mounts) await run('fsfreeze', ['-u', m], { env, timeout: 5_000 }).catch(() => undefined); // not frozen: EINVAL, fine
  for (const m of mounts) await unmount(m);
  const left = mountsUnder(root);
  if (left.length > 0) throw new Error(`${left.join(', ')} still mounted: ${root} left in place`);
  await rm(root, { recursive: true, force: true });
}

/**
 * Whether the process that made `root` is gone. False when in doubt: no owner file (not made
 * here, or still being made), or ownerIsGone in doubt.
 */
function makerIsGone(root: string): boolean {
  try {
    return ownerIsGone(readFileSync(join(root, ownerFile), 'utf8'));
  } catch {
    return false;
  }
}

/** Releases the loop file systems left by test processes that died before their cleanup. */
async function sweepOrphans(): Promise<void> {
  const base = tmpdir();
  for (const name of readdirSync(base)) {
    const root = join(base, name);
    // Best effort: another test process may be sweeping the same root.
    if (name.startsWith(rootPrefix) && makerIsGone(root)) await release(root).catch(() => undefined);
  }
}

export async function createLoopFs(sizeMiB = 32): Promise<LoopFs> {
  await sweepOrphans();
  const root = await mkdtemp(join(tmpdir(), rootPrefix));
  const image = join(root, 'fs.img');
  const mountpoint = join(root, 'mnt');
  const cleanup = (): Promise<void> => release(root);
  try {
    await writeFile(join(root, ownerFile), ownerTag() ?? '');
    await mkdir(mountpoint);
    await run('truncate', ['-s', `${sizeMiB}M`, image], { env });
    await run('mkfs.ext4', ['-q', '-F', image], { env });
    await run('mount', ['-o', 'loop', image, mountpoint], { env });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    root,
    image,
    mountpoint,
    async whileFrozen(script, extra = {}) {
      // The shell thaws on any exit, so the thaw never depends on this process's event loop.
      const wrapped = `set -e; fsfreeze -f "$MNT"; trap 'fsfreeze -u "$MNT"' EXIT INT TERM; ${script}`;
      try {
        const { stdout } = await run('bash', ['-c', wrapped], { env: { ...env, ...extra, MNT: mountpoint }, timeout: 20_000, killSignal: 'SIGTERM' });
        return stdout;
      } finally {
        await run('fsfreeze', ['-u', mountpoint], { env }).catch(() => undefined); // not frozen: EINVAL, fine
      }
    },
    async mountReadOnly(other) {
      const at = await mkdtemp(join(root, 'ro-'));
      await run('mount', ['-o', 'loop,ro', other, at], { env });
      return at;
    },
    cleanup,
  };
}
