/**
 * The real qemu-guest-agent (Debian's qemu-ga) freezes a loop-mounted ext4 made for the test
 * while a real Node app writes to it: the app's handlers run before the file system freezes
 * and after it thaws, no write waits on the frozen file system, nothing is lost, and a
 * vetoing handler makes qemu-ga's freeze fail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installHooksCommand } from '../../src/linux/commands.js';
import { loopFsUnavailable } from '../helpers/loop-mount.js';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { cli, makeLoopMount, newTempDir, startApp, waitForStatus, type LoopMount, type TestApp } from './helpers.js';

const qemuGa = ['/usr/sbin/qemu-ga', '/usr/bin/qemu-ga'].find((p) => existsSync(p));
const skipReason = skipUnlessRunnable('qemu-ga tests', loopFsUnavailable() ?? (qemuGa ? null : 'needs qemu-ga (apt-get install qemu-guest-agent)'));

/** qemu-ga over its Unix socket: one JSON command, one JSON line back. */
class Agent {
  private buffered = '';
  private waiting: ((line: string) => void) | undefined;
  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffered += d.toString();
      const end = this.buffered.indexOf('\n');
      if (end >= 0 && this.waiting) {
        const line = this.buffered.slice(0, end);
        this.buffered = this.buffered.slice(end + 1);
        const w = this.waiting;
        this.waiting = undefined;
        w(line);
      }
    });
  }
  static async connect(path: string, agent: ChildProcess): Promise<Agent> {
    // qemu-ga creates its socket once it is up: retry until then, or until it dies.
    for (;;) {
      if (agent.exitCode !== null) throw new Error(`qemu-ga exited with ${agent.exitCode}`);
      const socket = await new Promise<Socket | null>((resolve) => {
        const s = connect(path);
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(null));
      });
      if (socket) return new Agent(socket);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  execute(command: string, args?: object): Promise<{ return?: unknown; error?: { class: string; desc: string } }> {
    return new Promise((resolve) => {
      this.waiting = (line) => resolve(JSON.parse(line) as never);
      this.socket.write(`${JSON.stringify({ execute: command, ...(args && { arguments: args }) })}\n`);
    });
  }
  close(): void {
    this.socket.destroy();
  }
}

describe.skipIf(skipReason !== null)('qemu-ga freezes a loop-mounted ext4 with the hook installed', () => {
  let mount: LoopMount;
  let dir: string;
  let agentProcess: ChildProcess;
  let agent: Agent;
  let apps: TestApp[] = [];
  let agentLog = '';
  const env = (): NodeJS.ProcessEnv => ({
    VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run'),
    VSS_BRIDGE_HOOK_LOG: join(dir, 'hook.log'),
    // The resident holder's channel: this test's own, not the machine's /run/vss-bridge-hook.
    VSS_BRIDGE_HOOK_DIR: join(dir, 'hook'),
  });

  beforeEach(async () => {
    mount = await makeLoopMount();
    dir = newTempDir('vss-bridge-qga-');
    const out = { write: (s: string) => (agentLog += s) };
    const code = await installHooksCommand(['qemu-ga', '--root', dir, '--exec', `${process.execPath} ${cli}`], { stdout: out, stderr: out });
    expect(code).toBe(0);
    const socket = join(dir, 'qga.sock');
    agentProcess = spawn(
      qemuGa as string,
      ['-m', 'unix-listen', '-p', socket, `-F${join(dir, 'etc/qemu/vss-bridge-fsfreeze-hook')}`, '-t', dir, '-f', join(dir, 'qga.pid')],
      { env: { ...process.env, ...env() }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    agentProcess.stderr?.on('data', (d: Buffer) => (agentLog += d.toString()));
    agent = await Agent.connect(socket, agentProcess);
  });

  afterEach(async () => {
    try {
      // Whatever happened, nothing stays frozen.
      await agent?.execute('guest-fsfreeze-thaw');
    } finally {
      agent?.close();
      agentProcess?.kill('SIGTERM');
      for (const app of apps) app.child.kill('SIGKILL');
      apps = [];
      await mount.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the handlers around the freeze, keeps the app writing to memory while frozen, and loses nothing', async () => {
    const data = join(mount.mountPoint, 'records.log');
    const app = await startApp(data, env());
    apps.push(app);

    const frozen = await agent.execute('guest-fsfreeze-freeze-list', { mountpoints: [mount.mountPoint] });
    expect(frozen, agentLog).toEqual({ return: 1 });
    expect(await agent.execute('guest-fsfreeze-status')).toEqual({ return: 'frozen' });
    expect(await mount.isFrozen()).toBe(true);

    // Before the file system froze: prepare and freeze ran, and the freeze marker reached disk.
    const during = await app.status();
    expect(during.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    expect(during.holding).toBe(true);
    expect(during.inFlight).toBe(false);
    // The app goes on working while frozen: records pile up in memory, no write is pending.
    const later = await waitForStatus(app, (s) => s.counter > during.counter + 5, 'records to pile up while frozen');
    expect(later.inFlight).toBe(false);
    expect(later.pending).toBeGreaterThan(0);

    expect(await agent.execute('guest-fsfreeze-thaw')).toEqual({ return: 1 });
    const after = await app.status();
    // Thaw ran after the file system thawed (its marker write went through), then the rest of the set.
    expect(after.events.slice(0, 4)).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw']);
    expect(readFileSync(`${data}.thaw`, 'utf8')).toBe('thaw\n');
    expect(readFileSync(`${data}.freeze`, 'utf8')).toMatch(/^frozen at record \d+\n$/);
    expect(await mount.isThawed()).toBe(true);

    const last = await app.stop();
    const lines = readFileSync(data, 'utf8').trimEnd().split('\n').map(Number);
    expect(lines.length).toBe(last);
    expect(lines).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(readFileSync(join(dir, 'hook.log'), 'utf8')).toMatch(/freeze pid \d+ .*: ok: frozen/);
  });

  it('fails the freeze when a handler vetoes: nothing is frozen and the reason is logged', async () => {
    const app = await startApp(join(mount.mountPoint, 'records.log'), env(), { mode: 'veto' });
    apps.push(app);

    const result = await agent.execute('guest-fsfreeze-freeze-list', { mountpoints: [mount.mountPoint] });
    expect(result.error, JSON.stringify(result)).toBeDefined();
    expect(await agent.execute('guest-fsfreeze-status')).toEqual({ return: 'thawed' });
    expect(await mount.isThawed()).toBe(true);
    // The writer failed its freeze and was aborted, as VSS does after a failed Freeze.
    const status = await waitForStatus(app, (s) => s.events.includes('abort'), 'abort after the veto');
    expect(status.events.slice(0, 3)).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    expect(status.events).not.toContain('thaw');
    expect(readFileSync(join(dir, 'hook.log'), 'utf8')).toContain('the test app refuses to freeze');
    await app.stop();
  });
});
