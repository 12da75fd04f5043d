/**
 * The hv_vss daemon against a stand-in for the kernel's /dev/vmbus/hv_vss: a Unix socket
 * speaking the same bytes (struct hv_vss_msg, 12 bytes packed, encoded here independently of
 * native/linux/hv_vss_msg.cc). It freezes only a loop-mounted ext4 made for the test (through
 * an injected mount table) with a real Node app registered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cannotFreeze, cli, makeLoopMount, newTempDir, startApp, type LoopMount, type TestApp } from './helpers.js';

const skipReason = cannotFreeze();
if (skipReason) console.warn(`hv_vss daemon tests skipped: ${skipReason}`);

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
  /** Sends a request and returns the daemon's answer: the error written over the first 4 bytes. */
  async send(operation: number, flags = 0): Promise<{ error: number; flags: number }> {
    this.socket.write(request(operation, flags));
    const answer = await this.read(12);
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

  async function start(extraMounts: string[] = []): Promise<void> {
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
        ...extraMounts,
        '',
      ].join('\n'),
    );
    const socketPath = join(dir, 'hv_vss');
    const connected = new Promise<Socket>((resolve) => {
      server = createServer(resolve);
      server.listen(socketPath);
    });
    await new Promise((r) => server.once('listening', r));
    daemon = spawn(process.execPath, [cli, 'hv-vss-daemon', '--device', socketPath, '--mounts', mounts, '--include-loop', '--runtime-dir', join(dir, 'run'), '--thaw-timeout', '20000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    daemon.stdout?.on('data', (d: Buffer) => (daemonLog += d.toString()));
    daemon.stderr?.on('data', (d: Buffer) => (daemonLog += d.toString()));
    kernel = new FakeKernel(await connected);
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
  });

  afterEach(async () => {
    try {
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
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(data, 'utf8').trimEnd().split('\n').map(Number);
    expect(lines).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    // Nothing was logged while frozen: the log of the freeze comes out after the thaw.
    expect(daemonLog).toMatch(/FREEZE succeeded[\s\S]*thawed 1 file system/);
  });

  it('answers HV_E_FAIL and freezes nothing when an app vetoes', async () => {
    const app = await startApp(join(mount.mountPoint, 'records.log'), { VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run') }, 'veto');
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
    await start([`/dev/sdz7 ${join(dir, 'no-such-mount')} ext4 rw 0 0`]);

    expect(await kernel.send(VSS_OP_FREEZE), daemonLog).toEqual({ error: HV_E_FAIL, flags: 0 });
    expect(await mount.isThawed()).toBe(true);
    expect(daemonLog).toMatch(/FIFREEZE of .*no-such-mount failed: ENOENT/);
    // The app froze first, then was aborted when the file systems could not.
    const status = await app.status();
    expect(status.events).toContain('abort');
    expect(status.events).not.toContain('thaw');
    await app.stop();
  });
});
