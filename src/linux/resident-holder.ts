/**
 * The freeze hook's resident holder (qemu-ga): after every app froze, the freeze hook answers
 * qemu-ga and stays, holding the apps' freeze connections, until the thaw step signals it; it
 * then thaws the apps at once. Without it every write stall holds one start-up of a `node`
 * thaw hook (docs/PERFORMANCE.md, "The qemu-ga stall"); the thaw step is a few lines of sh.
 *
 * The channel is two FIFOs in a directory only root can enter (hookDir, 0700):
 *   thaw    the thaw step writes `thaw\n`, opening it non-blocking: that fails at once when
 *           no holder has it open (none, or a killed one), and the step falls back to
 *           `hook thaw` in node
 *   result  the holder writes its exit status (`0\n` or `1\n`) once every app answered
 * The holder keeps both open read-write, so neither side ever blocks opening them.
 *
 * What it guarantees:
 *  - the freeze connections stay open without the `hold` line, so an app whose holder dies
 *    (killed, crashed) sees its connection close and aborts at once (coordinator.ts);
 *  - it holds no longer than the hook's deadline (--timeout from the freeze hook's start,
 *    which also bounds the apps' own freeze windows): then it closes the connections, and the
 *    apps that have not already aborted by their watchdog abort;
 *  - it writes no file until the thaw arrives: the file systems may be frozen until then
 *    (the log waits for the thaw; qemu-ga thaws the file systems before it runs the thaw step).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type { Held, RegisteredApp } from './registered-apps.js';

/** Where the channel lives; the thaw step reads the same variable (install.ts). */
export const hookDirVariable = 'VSS_BRIDGE_HOOK_DIR';
export const defaultHookDir = '/run/vss-bridge-hook';
export const hookDir = (): string => process.env[hookDirVariable] || defaultHookDir;

/** The only thing the thaw step may write, and the most the holder reads before it. */
const thawLine = 'thaw\n';

export interface ThawChannel {
  readonly dir: string;
  /** Removes the FIFOs (when still this holder's) and closes them. */
  close(): void;
  /** Resolves when `thaw\n` arrives; anything else is ignored. */
  readonly thawed: Promise<void>;
  /** Tells the thaw step how it went. */
  report(code: number): void;
}

/**
 * Makes the channel, or says why it cannot (then the hook works as without a holder). The
 * directory must be a real directory of this user's (root) that no one else may enter.
 */
export function openThawChannel(dir: string): ThawChannel | { problem: string } {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory()) return { problem: `${dir} is not a directory (or is a symbolic link)` };
    if (st.uid !== process.getuid?.()) return { problem: `${dir} is owned by uid ${st.uid}, not by this user` };
    if ((st.mode & 0o077) !== 0) return { problem: `${dir} may be entered by others (mode ${(st.mode & 0o777).toString(8)}; must be 700)` };
    const thawPath = join(dir, 'thaw');
    const resultPath = join(dir, 'result');
    // A holder before this one (killed, or past its deadline) leaves nothing to be read here.
    for (const p of [thawPath, resultPath]) rmSync(p, { force: true });
    execFileSync('mkfifo', ['-m', '600', thawPath, resultPath], { env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' }, stdio: 'ignore', timeout: 5000 });
    const flags = constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW;
    const thawFd = openSync(thawPath, flags);
    const resultFd = openSync(resultPath, flags);
    const ours = [thawPath, resultPath].map((p, i) => ({ path: p, ino: fstatSync(i === 0 ? thawFd : resultFd).ino }));
    if (!fstatSync(thawFd).isFIFO() || !fstatSync(resultFd).isFIFO()) throw new Error('the channel is not a pair of FIFOs');
    const reader = new Socket({ fd: thawFd, readable: true, writable: false });
    const thawed = new Promise<void>((resolve) => {
      let line = '';
      reader.on('data', (chunk: Buffer) => {
        line += chunk.toString('latin1');
        if (line.includes('\n')) {
          if (line.slice(0, line.indexOf('\n') + 1) === thawLine) resolve();
          line = '';
        } else if (line.length > thawLine.length) {
          line = '';
        }
      });
      reader.on('error', () => undefined);
    });
    let closed = false;
    return {
      dir,
      thawed,
      report: (code) => {
        try {
          writeSync(resultFd, `${code}\n`);
        } catch {
          // the step gave up waiting: it falls back to the node thaw, which reports
        }
      },
      close: () => {
        if (closed) return;
        closed = true;
        for (const { path, ino } of ours) {
          if (lstatSync(path, { throwIfNoEntry: false })?.ino === ino) unlinkSync(path);
        }
        reader.destroy();
        closeSync(resultFd);
      },
    };
  } catch (error) {
    return { problem: `cannot make the thaw channel in ${dir}: ${(error as Error).message}` };
  }
}

/**
 * Holds the apps' freeze connections until the thaw arrives on the channel, `deadline`
 * passes or `signal` fires. On thaw, `thaw` runs (and reports its status on the channel);
 * otherwise the connections close and the apps abort. Returns the exit status.
 */
export async function holdUntilThaw(
  held: Held,
  channel: ThawChannel,
  o: { deadline: number; signal: AbortSignal; thaw: (apps: readonly RegisteredApp[]) => Promise<boolean> },
): Promise<{ code: number; thawed: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await new Promise<'thaw' | 'deadline' | 'signal'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), Math.max(1, o.deadline - performance.now()));
    if (o.signal.aborted) resolve('signal');
    o.signal.addEventListener('abort', () => resolve('signal'), { once: true });
    void channel.thawed.then(() => resolve('thaw'));
  });
  clearTimeout(timer);
  try {
    if (outcome !== 'thaw') return { code: 1, thawed: false };
    const ok = await o.thaw(held.apps);
    channel.report(ok ? 0 : 1);
    return { code: ok ? 0 : 1, thawed: true };
  } finally {
    // After a thaw the apps no longer look at these; otherwise closing them aborts the apps.
    for (const c of held.connections) c.drop();
    channel.close();
  }
}
