/**
 * The hook's log: each line goes to stderr (the agent may keep it) and is appended to a log
 * file, because qemu-ga sends a hook's stderr to /dev/null. The hook writes only before the
 * agent freezes the file systems and after it thaws them, so the file is never on a frozen
 * file system when written. A log that cannot be written never fails the hook.
 *
 * The hook runs as root: the file is opened without following a symbolic link and used only
 * when it is a regular file, so a link or a FIFO put in its place makes root write nowhere
 * else (and never wait).
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** VSS_BRIDGE_HOOK_LOG overrides it (agents pass their environment on to hooks). */
export const defaultHookLog = process.env['VSS_BRIDGE_HOOK_LOG'] || '/var/log/vss-bridge/hook.log';

export interface HookLog {
  (line: string): void;
}

export function hookLog(path: string | null, stderr: { write(s: string): unknown }, prefix: string): HookLog {
  let fileBroken = false;
  return (line) => {
    const text = `${new Date().toISOString()} vss-bridge ${prefix}: ${line}\n`;
    stderr.write(text);
    if (path === null || fileBroken) return;
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
      const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o640);
      try {
        if (!fstatSync(fd).isFile()) throw new Error('not a regular file');
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      fileBroken = true;
      stderr.write(`vss-bridge: cannot write the log ${path}: ${(error as Error).message}\n`);
    }
  };
}
