/**
 * The hook under an agent that gives up on it, and against an app that never answers: one
 * deadline for the whole run (abort included), SIGTERM/SIGINT/SIGHUP abort every app it
 * asked, and a SIGKILL of the hook is noticed by every app it froze, because the freeze
 * connection closes without the hook's "hold".
 *
 * The app that never answers is a socket this test listens on in a root-owned runtime
 * directory, named so that it registered before the real app: the hook asks the real app
 * first (newest first), then waits on the silent one. The app's own watchdog is 60 s, and
 * waitForStatus gives up after 20 s: an abort it sees came from the hook, not the watchdog.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { cli, isLinux, isRoot, newTempDir, startApp, waitForStatus, type TestApp } from './helpers.js';

const skipReason = skipUnlessRunnable(
  'hook deadline and signal tests',
  !isLinux ? 'needs Linux' : !isRoot ? 'needs root (only root\'s apps are asked without an allowlist)' : null,
);

describe.skipIf(skipReason !== null)('the hook: one deadline, signals, and a hook that dies', () => {
  let base: string;
  let run: string;
  let silent: Server;
  let connections: Socket[];
  let connected: Promise<void>;
  let apps: TestApp[] = [];
  let hook: ChildProcess | undefined;

  beforeEach(async () => {
    base = newTempDir('vss-bridge-hook-');
    run = join(base, 'run');
    mkdirSync(run, { mode: 0o700 });
    connections = [];
    let onConnection!: () => void;
    connected = new Promise((r) => (onConnection = r));
    // Registered at the epoch: the oldest, so asked last. It reads requests and never answers.
    silent = createServer((socket) => {
      connections.push(socket);
      socket.on('error', () => undefined);
      onConnection();
    });
    await new Promise<void>((r) => silent.listen(join(run, `1-${process.pid}.sock`), r));
  });

  afterEach(async () => {
    hook?.kill('SIGKILL');
    hook = undefined;
    for (const app of apps) app.child.kill('SIGKILL');
    apps = [];
    for (const c of connections) c.destroy();
    await new Promise((r) => silent.close(r));
    rmSync(base, { recursive: true, force: true });
  });

  function startHook(action: string, timeoutMs: number): { exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; output: string }> } {
    const started = Date.now();
    const child = spawn(process.execPath, [cli, 'hook', action, '--runtime-dir', run, '--log', '-', '--source', 'test', '--timeout', String(timeoutMs)]);
    hook = child;
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    return {
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - started, output }))),
    };
  }

  /** A real app, frozen by the hook first; then the hook waits on the silent one. */
  async function frozenAppAndWaitingHook(timeoutMs: number) {
    const app = await startApp(join(base, 'records.log'), { VSS_BRIDGE_RUNTIME_DIR: run });
    apps.push(app);
    const h = startHook('freeze', timeoutMs);
    const early = h.exited.then((e) => {
      throw new Error(`the hook exited before it asked the silent app: ${JSON.stringify(e)}`);
    });
    await Promise.race([connected, early]);
    const status = await app.status();
    expect(status.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    return { app, hook: h };
  }

  it('never runs past its --timeout, abort included, against an app that never answers', async () => {
    const { app, hook: h } = await frozenAppAndWaitingHook(4000);
    const { code, ms, output } = await h.exited;
    expect(code, output).toBe(1);
    // One deadline: it used to start a second full timeout for the abort (about 8 s here).
    // The margin is for this process to see the exit on a loaded machine.
    expect(ms, output).toBeLessThan(4000 + 1500);
    expect(output).toMatch(/freeze pid \d+ .*: FAILED: no answer within \d+ ms/);
    expect(output).toMatch(/abort pid \d+ .*: ok: aborted/);
    const released = await waitForStatus(app, (s) => s.events.includes('abort'), 'the app to be aborted');
    expect(released.events).not.toContain('thaw');
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('%s: aborts every app it asked and exits at once', async (signal) => {
    const { app, hook: h } = await frozenAppAndWaitingHook(30_000);
    hook!.kill(signal);
    const { code, output } = await h.exited;
    expect(code, output).toBe(1);
    expect(output).toContain(`${signal}: aborting every app asked`);
    const released = await waitForStatus(app, (s) => s.events.includes('abort'), `the app to be aborted after ${signal}`);
    expect(released.events).not.toContain('thaw');
  });

  it('kill -9 of the hook: the app it froze notices the closed connection and aborts', async () => {
    const { app, hook: h } = await frozenAppAndWaitingHook(30_000);
    hook!.kill('SIGKILL');
    expect((await h.exited).signal).toBe('SIGKILL');
    const released = await waitForStatus(app, (s) => s.events.includes('abort'), 'the app to abort when the hook died');
    expect(released.events).not.toContain('thaw');
    expect(app.output()).toMatch(/the hook closed the freeze connection before confirming the freeze/);
  });
});
