/**
 * A small ext4 file system in an image file, loop-mounted in a temp directory, for tests that
 * need a real fsfreeze. Only file systems made here are ever frozen; every freeze is undone in
 * a finally, and by the freezing shell itself if this process dies.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const tools = ['truncate', 'mkfs.ext4', 'mount', 'umount', 'fsfreeze', 'losetup'];

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

export async function createLoopFs(sizeMiB = 32): Promise<LoopFs> {
  const root = await mkdtemp(join(tmpdir(), 'vss-bridge-loopfs-'));
  const image = join(root, 'fs.img');
  const mountpoint = join(root, 'mnt');
  const mounts: string[] = [];
  const cleanup = async (): Promise<void> => {
    // Thaw first: an unmount of a frozen file system waits for the thaw.
    for (const m of mounts) await run('fsfreeze', ['-u', m], { env }).catch(() => undefined);
    for (const m of mounts.reverse()) await run('umount', [m], { env }).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };
  try {
    await mkdir(mountpoint);
    await run('truncate', ['-s', `${sizeMiB}M`, image], { env });
    await run('mkfs.ext4', ['-q', '-F', image], { env });
    await run('mount', ['-o', 'loop', image, mountpoint], { env });
    mounts.push(mountpoint);
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
      mounts.push(at);
      return at;
    },
    cleanup,
  };
}
