/**
 * Freezing and thawing a list of file systems as hv_vss_daemon does: FIFREEZE each in order,
 * EBUSY counting as frozen (a file system mounted twice freezes once); on any failure thaw
 * them all and fail. Thaw is FITHAW on each, EINVAL (not frozen) counting as thawed.
 */
import { errnoName, linuxAddon } from './addon.js';

const EBUSY = 16;
const EINVAL = 22;

const call = (op: 'freezeFileSystem' | 'thawFileSystem', path: string): Promise<number> =>
  new Promise((resolve) => linuxAddon()[op](path, resolve));

export class FreezeError extends Error {
  constructor(readonly mountPoint: string, readonly errno: number) {
    super(`FIFREEZE of ${mountPoint} failed: ${errnoName(errno)}`);
    this.name = 'FreezeError';
  }
}

/** Resolves when all are frozen; rejects with a FreezeError after thawing every one. */
export async function freezeAll(mountPoints: readonly string[]): Promise<void> {
  for (const mountPoint of mountPoints) {
    const errno = await call('freezeFileSystem', mountPoint);
    if (errno !== 0 && errno !== EBUSY) {
      await thawAll(mountPoints);
      throw new FreezeError(mountPoint, errno);
    }
  }
}

/** Thaws every one; returns the failures (never throws, never stops early). */
export async function thawAll(mountPoints: readonly string[]): Promise<string[]> {
  const failures: string[] = [];
  for (const mountPoint of mountPoints) {
    const errno = await call('thawFileSystem', mountPoint);
    if (errno !== 0 && errno !== EINVAL) failures.push(`FITHAW of ${mountPoint} failed: ${errnoName(errno)}`);
  }
  return failures;
}

/** One FIFREEZE / FITHAW: 0 or the errno. */
export const freezeFileSystem = (path: string): Promise<number> => call('freezeFileSystem', path);
export const thawFileSystem = (path: string): Promise<number> => call('thawFileSystem', path);
