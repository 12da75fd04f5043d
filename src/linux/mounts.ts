/**
 * The file systems a Hyper-V FREEZE freezes, chosen exactly as the kernel's hv_vss_daemon
 * chooses them (tools/hv/hv_vss_daemon.c, vss_operate): every /proc/mounts entry whose
 * device is under /dev/, except loop devices (or devices built on one), read-only mounts and
 * vfat, in table order with / last.
 *
 * includeLoop lets loop-backed file systems through: the daemon skips them because freezing
 * one after the file system holding its backing file deadlocks. When included they go
 * first, while their backing file can still be written.
 */
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface MountEntry {
  readonly device: string;
  readonly mountPoint: string;
  readonly type: string;
  readonly options: readonly string[];
}

// /proc/mounts escapes space, tab, newline and backslash as octal (\040 ...).
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || fields[0] === undefined || fields[0].startsWith('#')) continue;
    const [device, mountPoint, type, options] = fields as [string, string, string, string];
    out.push({ device: unescape(device), mountPoint: unescape(mountPoint), type, options: options.split(',') });
  }
  return out;
}

export function readMounts(path = '/proc/mounts'): MountEntry[] {
  return parseMounts(readFileSync(path, 'utf8'));
}

/** Whether a block device is a loop device or sits on one (a device mapper over a loop). */
export function isLoopBacked(device: string, sysBlock = '/sys/dev/block'): boolean {
  let rdev: bigint;
  try {
    rdev = statSync(device, { bigint: true }).rdev;
  } catch {
    return false; // the daemon freezes what it cannot stat
  }
  // glibc's major()/minor() of a dev_t.
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return loopInSysfs(join(sysBlock, `${major}:${minor}`));
}

function loopInSysfs(blockDir: string): boolean {
  try {
    accessSync(join(blockDir, 'loop'), constants.R_OK | constants.X_OK);
    return true;
  } catch {
    // not a loop device itself: look at what it is built on
  }
  let slaves: string[];
  try {
    slaves = readdirSync(join(blockDir, 'slaves'));
  } catch {
    return false;
  }
  return slaves.some((s) => loopInSysfs(join(blockDir, 'slaves', s)));
}

export interface FreezeSelection {
  /** In freeze order; thaw uses the same list. */
  readonly mountPoints: string[];
  readonly skipped: { mountPoint: string; reason: string }[];
}

export function selectForFreeze(
  entries: readonly MountEntry[],
  options: { includeLoop: boolean; isLoop?: (device: string) => boolean },
): FreezeSelection {
  const isLoop = options.isLoop ?? ((d: string) => isLoopBacked(d));
  const loops: string[] = [];
  const others: string[] = [];
  const skipped: FreezeSelection['skipped'] = [];
  let rootSeen = false;
  for (const e of entries) {
    if (!e.device.startsWith('/dev/')) continue; // not a block device: tmpfs, proc, nfs, ...
    const loop = isLoop(e.device);
    if (loop && !options.includeLoop) {
      skipped.push({ mountPoint: e.mountPoint, reason: 'loop device' });
      continue;
    }
    if (e.options.includes('ro')) {
      skipped.push({ mountPoint: e.mountPoint, reason: 'read-only' });
      continue;
    }
    if (e.type === 'vfat') {
      skipped.push({ mountPoint: e.mountPoint, reason: 'vfat' });
      continue;
    }
    if (e.mountPoint === '/') {
      rootSeen = true;
      continue;
    }
    (loop ? loops : others).push(e.mountPoint);
  }
  return { mountPoints: [...loops, ...others, ...(rootSeen ? ['/'] : [])], skipped };
}
