/**
 * Which test process made a temp folder or a loop mount, so that a later run can remove what a
 * killed one left: a test process stopped before its clean-up (a timeout, Stryker ending a
 * worker) runs no afterAll and no finally.
 */
import { readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** "<pid>-<pid namespace>" of this process; null where there is no /proc (not Linux). */
export function ownerTag(): string | null {
  try {
    const namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
    return namespace === undefined ? null : `${process.pid}-${namespace}`;
  } catch {
    return null;
  }
}

/**
 * Whether the process `tag` names is gone. False when in doubt: not a tag, a process of another
 * pid namespace (its pid means nothing here), or a pid that answers.
 */
export function ownerIsGone(tag: string): boolean {
  const owner = /^(\d+)-(\d+)$/.exec(tag);
  const namespace = ownerTag()?.split('-')[1];
  if (owner === null || namespace === undefined || owner[2] !== namespace) return false;
  try {
    process.kill(Number(owner[1]), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** What a temp folder's name starts with: `prefix`, then its maker's tag where there is one. */
export function taggedPrefix(prefix: string): string {
  const tag = ownerTag();
  return tag === null ? prefix : `${prefix}${tag}-`;
}

/**
 * Removes the folders in `base` that a test process, gone now, made with a tagged vss-bridge
 * prefix (mkdtemp's six characters after the tag). Run once a run, before any test file
 * (test/global-setup.ts). Best effort: another run may be sweeping too.
 */
export function sweepLeftoverTempDirs(base = tmpdir()): void {
  for (const name of readdirSync(base)) {
    const tag = /-(\d+-\d+)-[A-Za-z0-9]{6}$/.exec(name)?.[1];
    if (!name.startsWith('vss-bridge-') || tag === undefined || !ownerIsGone(tag)) continue;
    try {
      rmSync(join(base, name), { recursive: true, force: true });
    } catch {
      // gone meanwhile, or being removed by another run
    }
  }
}
