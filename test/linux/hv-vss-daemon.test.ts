/**
 * The hv_vss daemon against a stand-in for the kernel's /dev/vmbus/hv_vss: a Unix socket
 * speaking the same bytes (struct hv_vss_msg, 12 bytes packed, encoded here independently of
 * native/linux/hv_vss_msg.cc). It freezes only a loop-mounted ext4 made for the test (through
 * an injected mount table) with a real Node app registered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { thawFileSystem } from '../../src/linux/fs-freeze.js';
import { runHvVssDaemon, type OpenHvVssChannel } from '../../src/linux/hv-vss-daemon.js';
import { loopFsUnavailable } from '../helpers/loop-mount.js';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { cli, makeLoopMount, newTempDir, startApp, until, waitForStatus, type LoopMount, type TestApp } from './helpers.js';

const skipReason = skipUnlessRunnable('hv_vss daemon tests', loopFsUnavailable());

const VSS_OP_REGISTER1 = 129;
const VSS_OP_HOT_BACKUP = 2;
const VSS_OP_FREEZE = 5;
const VSS_OP_THAW = 6;
const HV_E_FAIL = 0x80004005 | 0;

/** A request as the kernel writes it: operation, 7 reserved bytes, 4 bytes of flags. */
function request(operation: number, flags = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(operation, 0);
  b.writeUInt32LE(flags, 8);
  return b;
}

/** The kernel's end: reads exactly `n` bytes at a time from the daemon. */
class FakeKernel {
  private buffered = Buffer.alloc(0);
  private waiting: { n: number; resolve: (b: Buffer) => void } | undefined;
  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.drain();
    });
  }
  private drain(): void {
    if (this.waiting && this.buffered.length >= this.waiting.n) {
      const { n, resolve } = this.waiting;
      this.waiting = undefined;
      const out = this.buffered.subarray(0, n);
      this.buffered = this.buffered.subarray(n);
      resolve(out);
    }
  }
  read(n: number): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiting = { n, resolve };
      this.drain();
    });
  }
  /**
   * Sends a request and returns the daemon's answer: the error written over the first 4 bytes.
   * The deadline turns a daemon that never answers (blocked, say, on a frozen file system)
   * into a failure that says so.
   */
  async send(operation: number, flags = 0, deadlineMs = 20_000): Promise<{ error: number; flags: number }> {
    this.socket.write(request(operation, flags));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the daemon did not answer operation ${operation} within ${deadlineMs} ms`)), deadlineMs);
    });
    const answer = await Promise.race([this.read(12), late]).finally(() => clearTimeout(timer));
    return { error: answer.readInt32LE(0), flags: answer.readUInt32LE(8) };
  }
}

describe.skipIf(skipReason !== null)('hv-vss-daemon on a fake kernel channel', () => {
  let mount: LoopMount;
  let dir: string;
  let server: Server;
  let daemon: ChildProcess;
  let daemonLog = '';
  let apps: TestApp[] = [];
  let kernel: FakeKernel;
  let connections: Socket[] = [];
  let connectionWaiters: ((socket: Socket) => void)[] = [];
  let daemonArgs: string[] = [];
  let daemonLogFile: string | undefined;

  /**
   * Starts the daemon on the fake channel. `logFile`: where its stdout and stderr go instead
   * of a pipe; on the frozen file system, a line written while frozen would block it for good.
   */
  async function start(o: { extraMounts?: string[]; args?: string[]; logFile?: string } = {}): Promise<void> {
    const mounts = join(dir, 'mounts');
    // Entries the daemon must skip, as hv_vss_daemon does: freezing any of them would fail.
    writeFileSync(
      mounts,
      [
        'proc /proc proc rw,nosuid 0 0',
        'tmpfs /no-such-tmpfs tmpfs rw 0 0',
        '/dev/sdz9 /no-such-readonly ext4 ro,relatime 0 0',
        '/dev/sdz8 /no-such-vfat vfat rw 0 0',
        mount.procMountsLine,
        ...(o.extraMounts ?? []),
        '',
      ].join('\n'),
    );
    const socketPath = join(dir, 'hv_vss');
    connections = [];
    server = createServer((socket) => {
      const waiter = connectionWaiters.shift();
      if (waiter) waiter(socket);
      else connections.push(socket);
    });
    server.listen(socketPath);
    await new Promise((r) => server.once('listening', r));
    daemonArgs = ['hv-vss-daemon', '--device', socketPath, '--mounts', mounts, '--include-loop', '--runtime-dir', join(dir, 'run'), '--thaw-timeout', '20000', ...(o.args ?? [])];
    daemonLogFile = o.logFile;
    spawnDaemon();
    await register();
  }

  /** Probes until the file system is thawed: within seconds, or the test fails saying what it awaited. */
  const thawedWithin = (what: string): Promise<boolean> =>
    until(
      () => mount.isFrozen(), // a probe that finds it frozen leaves it frozen
      (stillFrozen) => !stillFrozen,
      () => `${what}; the daemon's log:\n${daemonLog}`,
      5_000,
    );

  /** Starts the daemon process with the arguments start() chose. */
  function spawnDaemon(): void {
    const logFd = daemonLogFile === undefined ? undefined : openSync(daemonLogFile, 'a');
    try {
      daemon = spawn(process.execPath, [cli, ...daemonArgs], { stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'] });
    } finally {
      if (logFd !== undefined) closeSync(logFd);
    }
    daemon.stdout?.on('data', (d: Buffer) => (daemonLog += d.toString()));
    daemon.stderr?.on('data', (d: Buffer) => (daemonLog += d.toString()));
  }

  /** The next connection to the fake device, within a deadline that names what was awaited. */
  function nextConnection(deadlineMs = 20_000): Promise<Socket> {
    const ready = connections.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the daemon did not open the channel within ${deadlineMs} ms; its log:\n${daemonLog}`)), deadlineMs);
      connectionWaiters.push((socket) => {
        clearTimeout(timer);
        resolve(socket);
      });
    });
  }

  /** Accepts the daemon's next opening of the channel: VSS_OP_REGISTER1, answered with version 5. */
  async function register(): Promise<void> {
    kernel = new FakeKernel(await nextConnection());
    const registration = await kernel.read(12);
    expect(registration.readUInt8(0)).toBe(VSS_OP_REGISTER1);
    const version = Buffer.alloc(4);
    version.writeUInt32LE(5);
    kernel.socket.write(version);
  }

  beforeEach(async () => {
    mount = await makeLoopMount();
    dir = newTempDir('vss-bridge-hv-');
    daemonLog = '';
    connectionWaiters = [];
  });

  afterEach(async () => {
    try {
      // First, so that no process of the test stays blocked on the frozen file system.
      await thawFileSystem(mount.mountPoint);
      if (daemon && daemon.exitCode === null) {
        const exited = new Promise((r) => daemon.once('exit', r));
        daemon.kill('SIGTERM');
        await exited;
      }
    } finally {
      server?.close();
      for (const app of apps) app.child.kill('SIGKILL');
      apps = [];
      await mount.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('freezes the app, then the file system; thaws the file system, then the app', async () => {
    const data = join(mount.mountPoint, 'records.log');
    const app = await startApp(data, { VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run') });
    apps.push(app);
    await start();

    expect(await kernel.send(VSS_OP_HOT_BACKUP), daemonLog).toEqual({ error: 0, flags: 0 });
    expect(await kernel.send(VSS_OP_FREEZE), daemonLog).toEqual({ error: 0, flags: 0 });
    expect(await mount.isFrozen()).toBe(true);
    const during = await app.status();
    expect(during.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    expect(during.inFlight).toBe(false);

    expect(await kernel.send(VSS_OP_THAW), daemonLog).toEqual({ error: 0, flags: 0 });
    expect(await mount.isThawed()).toBe(true);
    const after = await app.status();
    expect(after.events.slice(0, 4)).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw']);

    const last = await app.stop();
    const lines = readFileSync(data, 'utf8').trimEnd().split('\n').map(Number);
    expect(lines).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    // Nothing was logged while frozen: the log of the freeze comes out after the thaw.
    expect(daemonLog).toMatch(/FREEZE succeeded[\s\S]*thawed 1 file system/);
  });

  it('answers HV_E_FAIL and freezes nothing when an app vetoes', async () => {
    const app = await startApp(join(mount.mountPoint, 'records.log'), { VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run') }, { mode: 'veto' });
    apps.push(app);
    await start();

    expect(await kernel.send(VSS_OP_FREEZE), daemonLog).toEqual({ error: HV_E_FAIL, flags: 0 });
    expect(await mount.isThawed()).toBe(true);
    expect(daemonLog).toContain('the test app refuses to freeze');
    await app.stop();
  });

  it('thaws everything and answers HV_E_FAIL when one file system cannot freeze', async () => {
    const app = await startApp(join(mount.mountPoint, 'records.log'), { VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run') });
    apps.push(app);
    // After the loop mount (loop-backed file systems go first): FIFREEZE fails with ENOENT.
    await start({ extraMounts: [`/dev/sdz7 ${join(dir, 'no-such-mount')} ext4 rw 0 0`] });

    expect(await kernel.send(VSS_OP_FREEZE), daemonLog).toEqual({ error: HV_E_FAIL, flags: 0 });
    expect(await mount.isThawed()).toBe(true);
    expect(daemonLog).toMatch(/FIFREEZE of .*no-such-mount failed: ENOENT/);
    // The app froze first, then was aborted when the file systems could not.
    const status = await app.status();
    expect(status.events).toContain('abort');
    expect(status.events).not.toContain('thaw');
    await app.stop();
  });

  it('--max-freeze: with no THAW, thaws the file systems, then aborts the apps, and logs it only once thawed', async () => {
    const data = join(mount.mountPoint, 'records.log');
    const app = await startApp(data, { VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run') });
    apps.push(app);
    // The log file is on the file system the daemon freezes: a line written there while it is
    // frozen would block the daemon, its watchdog with it, and this test would time out.
    const logFile = join(mount.mountPoint, 'daemon.log');
    await start({ args: ['--max-freeze', '3000'], logFile });

    expect(await kernel.send(VSS_OP_FREEZE)).toEqual({ error: 0, flags: 0 });
    // No THAW: the daemon thaws the file system, then tells the app to abort.
    const released = await waitForStatus(app, (s) => s.events.includes('abort'), 'the daemon to abort the app after --max-freeze');
    expect(released.events.slice(0, 4)).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort']);
    expect(released.events).not.toContain('thaw');
    expect(await mount.isThawed()).toBe(true);
    const log = await until(
      () => readFileSync(logFile, 'utf8'),
      (text) => /abort pid \d+ .*: ok/.test(text),
      (text) => `the daemon to log the abort; its log:\n${text}`,
    );
    expect(log).toMatch(/freezing .*\/mnt\n[\s\S]*FREEZE succeeded\n[\s\S]*thawed 1 file system\(s\) \(no THAW within 3000 ms\)\n[\s\S]*abort pid \d+ .*: ok: aborted/);

    // A THAW that comes after all fails: writes ran after the daemon thawed, so the host must
    // not keep the snapshot as application-consistent. The app is not told to thaw again.
    expect(await kernel.send(VSS_OP_THAW)).toEqual({ error: HV_E_FAIL, flags: 0 });
    expect(await mount.isThawed()).toBe(true);
    expect((await app.status()).events).not.toContain('thaw');
    expect(readFileSync(logFile, 'utf8')).toMatch(/THAW came after the daemon thawed by itself .*: answering HV_E_FAIL/);
    // The next checkpoint starts afresh: its THAW succeeds.
    expect(await kernel.send(VSS_OP_FREEZE)).toEqual({ error: 0, flags: 0 });
    expect(await kernel.send(VSS_OP_THAW)).toEqual({ error: 0, flags: 0 });

    const last = await app.stop();
    const lines = readFileSync(data, 'utf8').trimEnd().split('\n').map(Number);
    expect(lines).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  });

  it('stopping while frozen (systemd sends SIGTERM) thaws the file systems, then aborts the apps, and exits 0', async () => {
    const app = await startApp(join(mount.mountPoint, 'records.log'), { VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run') });
    apps.push(app);
    const logFile = join(mount.mountPoint, 'daemon.log');
    await start({ logFile });

    expect(await kernel.send(VSS_OP_FREEZE)).toEqual({ error: 0, flags: 0 });
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', resolve));
    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await mount.isThawed()).toBe(true);
    const status = await app.status();
    expect(status.events.slice(0, 4)).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort']);
    expect(readFileSync(logFile, 'utf8')).toMatch(/FREEZE succeeded\n[\s\S]*thawed 1 file system\(s\) \(the daemon is stopping\)\n[\s\S]*abort pid \d+ .*: ok/);
    await app.stop();
  });

  it('the channel closing while frozen: thaws at once, aborts the apps, then opens the channel and registers again', async () => {
    const app = await startApp(join(mount.mountPoint, 'records.log'), { VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run') });
    apps.push(app);
    await start();

    expect(await kernel.send(VSS_OP_FREEZE), daemonLog).toEqual({ error: 0, flags: 0 });
    expect(await mount.isFrozen()).toBe(true);
    // The kernel's end goes away (a read error or end of file on the device).
    kernel.socket.destroy();
    await thawedWithin('the daemon to thaw after the channel closed');
    const released = await waitForStatus(app, (s) => s.events.includes('abort'), 'the daemon to abort the app');
    expect(released.events).not.toContain('thaw');

    // As hv_vss_daemon: it reopens the device and registers again, then serves as before.
    await register();
    expect(daemon.exitCode).toBe(null);
    expect(await kernel.send(VSS_OP_FREEZE), daemonLog).toEqual({ error: 0, flags: 0 });
    expect(await kernel.send(VSS_OP_THAW), daemonLog).toEqual({ error: 0, flags: 0 });
    expect(await mount.isThawed()).toBe(true);
    expect(daemonLog).toMatch(/thawed 1 file system\(s\) \(the channel closed\)[\s\S]*reopening/);
    await app.stop();
  });

  it('after a kill -9 while frozen, the restarted daemon thaws what the killed one froze and aborts the apps', async () => {
    const app = await startApp(join(mount.mountPoint, 'records.log'), { VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run') });
    apps.push(app);
    await start();

    expect(await kernel.send(VSS_OP_FREEZE), daemonLog).toEqual({ error: 0, flags: 0 });
    const killed = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGKILL');
    await killed;
    // Nothing else thaws it: the freeze outlives the daemon.
    expect(await mount.isFrozen()).toBe(true);

    spawnDaemon(); // as systemd's Restart= does
    await thawedWithin('the restarted daemon to thaw');
    await register();
    expect(daemonLog).toMatch(/a previous daemon stopped while frozen: thawed 1 file system/);
    const released = await waitForStatus(app, (s) => s.events.includes('abort'), 'the restarted daemon to abort the app');
    expect(released.events).not.toContain('thaw');
    // The marker is gone: the next start has nothing to thaw.
    expect(existsSync(join(dir, 'run', 'hv-vss-daemon.frozen'))).toBe(false);
    await app.stop();
  });
});

/** A stand-in for the addon's channel: the test delivers requests and decides whether answers fail. */
interface FakeChannel {
  readonly sink: Parameters<OpenHvVssChannel>[1];
  readonly answers: number[];
  failAnswers: boolean;
  closed: boolean;
}

describe('hv-vss-daemon: a failed answer resets the channel', () => {
  let dir: string;
  beforeEach(() => {
    dir = newTempDir('vss-bridge-hv-reset-');
    // No file system to freeze and no app: only the channel's handling is under test.
    writeFileSync(join(dir, 'mounts'), '');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function run(test: (channels: FakeChannel[], log: () => string) => Promise<void>): Promise<void> {
    const channels: FakeChannel[] = [];
    let log = '';
    const open: OpenHvVssChannel = (_path, sink) => {
      const channel: FakeChannel & ReturnType<OpenHvVssChannel> = {
        sink,
        answers: [],
        failAnswers: false,
        closed: false,
        answer(error) {
          // What the addon throws when the kernel refuses the write (EINVAL after hibernation).
          if (channel.failAnswers) throw Object.assign(new Error('write to the hv_vss channel failed (errno 22)'), { errno: 22 });
          channel.answers.push(error);
        },
        close() {
          if (channel.closed) return;
          channel.closed = true;
          setImmediate(() => sink('closed', 0));
        },
      };
      channels.push(channel);
      setImmediate(() => sink('version', 5));
      return channel;
    };
    const stop = new AbortController();
    const exited = runHvVssDaemon(
      { device: 'fake', mounts: join(dir, 'mounts'), includeLoop: false, runtimeDir: join(dir, 'run'), freezeTimeoutMs: 1000, thawTimeoutMs: 1000, maxFreezeMs: 60_000, backupType: 'copy' },
      { stderr: { write: (s: string) => (log += s) } },
      stop.signal,
      open,
    );
    try {
      await until(() => channels.length, (n) => n === 1, () => 'the daemon to open the channel');
      await test(channels, () => log);
    } finally {
      stop.abort();
    }
    expect(await exited).toBe(0);
  }

  it('a THAW whose answer cannot be written (hibernation): closes the channel, opens it and registers again', async () => {
    await run(async (channels, log) => {
      const first = channels[0] as FakeChannel;
      first.failAnswers = true;
      first.sink('message', { operation: 6, name: 'THAW', flags: 0 });
      await until(() => channels.length, (n) => n === 2, () => `the daemon to reopen the channel; its log:\n${log()}`);
      expect(first.closed).toBe(true);
      expect(log()).toMatch(/answering THAW failed: .*errno 22.*; resetting the channel[\s\S]*reopening fake/);
      // The new channel is served.
      const second = channels[1] as FakeChannel;
      second.sink('message', { operation: 2, name: 'HOT_BACKUP', flags: 0 });
      await until(() => second.answers.length, (n) => n === 1, () => 'an answer on the new channel');
      expect(second.answers).toEqual([0]);
    });
  });

  it('a FREEZE whose answer cannot be written: thaws, then reopens', async () => {
    await run(async (channels, log) => {
      const first = channels[0] as FakeChannel;
      first.failAnswers = true;
      first.sink('message', { operation: 5, name: 'FREEZE', flags: 0 });
      await until(() => channels.length, (n) => n === 2, () => `the daemon to reopen the channel; its log:\n${log()}`);
      expect(log()).toMatch(/answering FREEZE failed[\s\S]*thawed 0 file system\(s\) \(the channel closed\)[\s\S]*reopening fake/);
    });
  });
});
