/**
 * The qemu-ga hook's resident holder (src/linux/resident-holder.ts), through the hook script
 * install-hooks writes: the freeze leaves a holder with the apps' freeze connections, the
 * sh thaw step signals it and the apps resume; a holder killed with SIGKILL gets its apps
 * aborted at once; a holder that hears no thaw closes the connections by its deadline.
 *
 * The app's own watchdog (its freeze window) is 60 s and waitForStatus gives up after 20 s:
 * an abort seen here came from the holder's connections, not from the watchdog.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installHooksCommand } from '../../src/linux/commands.js';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { cli, isLinux, isRoot, newTempDir, startApp, until, waitForStatus, type TestApp } from './helpers.js';

const skipReason = skipUnlessRunnable(
  'resident holder tests',
  !isLinux ? 'needs Linux' : !isRoot ? "needs root (only root's apps are asked without an allowlist)" : null,
);

describe.skipIf(skipReason !== null)("the qemu-ga hook's resident holder", () => {
  let base: string;
  let env: NodeJS.ProcessEnv;
  let script: string;
  let apps: TestApp[] = [];
  let holderPids: number[] = [];

  beforeEach(async () => {
    base = newTempDir('vss-bridge-holder-');
    const run = join(base, 'run');
    mkdirSync(run, { mode: 0o700 });
    env = { ...process.env, VSS_BRIDGE_RUNTIME_DIR: run, VSS_BRIDGE_HOOK_DIR: join(base, 'hook'), VSS_BRIDGE_HOOK_LOG: join(base, 'hook.log') };
    const out = { write: () => true };
    const root = join(base, 'root');
    const code = await installHooksCommand(['qemu-ga', '--root', root, '--exec', `${process.execPath} ${cli}`], { stdout: out, stderr: out });
    expect(code).toBe(0);
    script = join(root, 'etc/qemu/fsfreeze-hook.d/vss-bridge');
    apps = [await startApp(join(base, 'records.log'), { VSS_BRIDGE_RUNTIME_DIR: run })];
  });

  afterEach(() => {
    for (const pid of holderPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    holderPids = [];
    for (const app of apps) app.child.kill('SIGKILL');
    apps = [];
    rmSync(base, { recursive: true, force: true });
  });

  /** Runs the installed hook script as qemu-ga does (its output to /dev/null is qemu-ga's business). */
  function hookScript(action: string): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      execFile('/bin/sh', [script, action], { env }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, output: stdout + stderr }),
      );
    });
  }

  const log = (): string => (existsSync(join(base, 'hook.log')) ? readFileSync(join(base, 'hook.log'), 'utf8') : '');

  /** Freezes through the script; returns the holder's pid, from the hook's log. */
  async function freeze(): Promise<number> {
    const frozen = await hookScript('freeze');
    expect(frozen.code, `${frozen.output}\n${log()}`).toBe(0);
    const status = await apps[0]!.status();
    expect(status.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    const pid = /holding 1 app\(s\) \(pid (\d+)\)/.exec(log())?.[1];
    expect(pid, log()).toBeDefined();
    holderPids.push(Number(pid));
    // The script has exited; the holder is still there, with the channel.
    expect(() => process.kill(Number(pid), 0)).not.toThrow();
    expect(existsSync(join(base, 'hook', 'thaw'))).toBe(true);
    return Number(pid);
  }

  it('a thaw through the sh step reaches the holder, which thaws the app (no node thaw hook runs)', async () => {
    const pid = await freeze();
    const thawed = await hookScript('thaw');
    expect(thawed.code, `${thawed.output}\n${log()}`).toBe(0);
    const status = await waitForStatus(apps[0]!, (s) => s.events.includes('thaw'), 'the app to thaw');
    expect(status.events).not.toContain('abort');
    // The thaw was the holder's (logged as part of the freeze hook's run), not a fallback's.
    expect(log()).toMatch(/hook freeze \(qemu-ga\): thaw pid \d+ .*: ok/);
    expect(log()).not.toContain('hook thaw (qemu-ga)');
    await until(() => isAlive(pid), (alive) => !alive, () => 'the holder to exit after the thaw');
    expect(existsSync(join(base, 'hook', 'thaw'))).toBe(false);
  });

  it('kill -9 of the holder: the app sees its freeze connection close and aborts at once; the thaw step then reports it', async () => {
    const pid = await freeze();
    process.kill(pid, 'SIGKILL');
    const status = await waitForStatus(apps[0]!, (s) => s.events.includes('abort'), 'the app to abort when the holder died');
    expect(status.events).not.toContain('thaw');
    expect(apps[0]!.output()).toMatch(/the hook closed the freeze connection before confirming the freeze/);
    // No holder to signal (its FIFOs are left, with no reader): the node thaw path runs and
    // says the snapshot may not be application-consistent.
    const thawed = await hookScript('thaw');
    expect(thawed.code, `${thawed.output}\n${log()}`).toBe(1);
    expect(log()).toMatch(/hook thaw \(qemu-ga\): thaw pid \d+ .*: FAILED: released before thaw/);
  });

  it('exits by its deadline when no thaw comes, and the app is not left frozen', async () => {
    // Run as the script runs it, with a short --timeout, the status read from fd 3.
    const started = Date.now();
    const holder = spawn(process.execPath, [cli, 'hook', 'freeze', '--resident', '--source', 'test', '--timeout', '3000', '--log', join(base, 'hook.log')], {
      env,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    holderPids.push(holder.pid!);
    let status = '';
    holder.stdio[3]!.on('data', (d: Buffer) => (status += d.toString()));
    const exited = new Promise<{ code: number | null; ms: number }>((resolve) => holder.once('exit', (code) => resolve({ code, ms: Date.now() - started })));
    await new Promise((r) => holder.stdio[3]!.once('end', r));
    expect(status).toBe('0\n');
    expect((await apps[0]!.status()).events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    const { code, ms } = await exited;
    expect(code).toBe(1);
    // The margin is for this process to see the exit on a loaded machine.
    expect(ms).toBeLessThan(3000 + 2500);
    // Its freeze window ended with the hook's freeze budget: its watchdog or the closed
    // connection, whichever came first, aborted it.
    const released = await waitForStatus(apps[0]!, (s) => s.events.includes('abort'), 'the app to be aborted');
    expect(released.events).not.toContain('thaw');
    expect(existsSync(join(base, 'hook', 'thaw'))).toBe(false);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
