/** "All fixed volumes", for a checkpoint run without a volume list. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Linux: the mounts hv_vss_daemon would freeze (block devices under /dev, not loop devices,
 * not read-only, not vfat), from /proc/mounts. Windows: local fixed disks (DriveType 3).
 * Elsewhere: the root.
 */
export function fixedVolumes(): string[] {
  if (process.platform === 'linux') return linuxVolumes(readFileSync('/proc/mounts', 'utf8'));
  if (process.platform === 'win32') {
    const out = execFileSync(
      'powershell.exe',
      ['-NoProfile', '-NonInteractive', '-Command', "(Get-CimInstance Win32_LogicalDisk -Filter 'DriveType=3').DeviceID"],
      { encoding: 'utf8', timeout: 30_000 },
    );
    return out.split(/\r?\n/).filter((l) => /^[A-Z]:$/i.test(l.trim())).map((l) => `${l.trim()}\\`);
  }
  return ['/'];
}

// /proc/mounts escapes blanks in paths as octal (\040).
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function linuxVolumes(procMounts: string): string[] {
  const seen = new Set<string>();
  for (const line of procMounts.split('\n')) {
    const [device, mountPoint, fsType, options] = line.split(' ');
    if (!device || !mountPoint || !fsType || !options) continue;
    if (!device.startsWith('/dev/') || device.startsWith('/dev/loop')) continue;
    if (fsType === 'vfat' || options.split(',').includes('ro')) continue;
    seen.add(unescape(mountPoint));
  }
  return [...seen];
}
