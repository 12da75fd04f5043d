/**
 * The hook's log: each line goes to stderr (the agent may keep it) and is appended to a log
 * file, because qemu-ga sends a hook's stderr to /dev/null. The hook writes only before the
 * agent freezes the file systems and after it thaws them, so the file is never on a frozen
 * file system when written. A log that cannot be written never fails the hook.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
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
      appendFileSync(path, text, { mode: 0o640 });
    } catch (error) {
      fileBroken = true;
      stderr.write(`vss-bridge: cannot write the log ${path}: ${(error as Error).message}\n`);
    }
  };
}
