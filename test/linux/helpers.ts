/**
 * Real file systems and real processes for the Linux-guest tests: a loop-mounted ext4 made
 * for the test (the only thing a test ever freezes), the quiescing app as a child process,
 * and the commands run through dist/ as the CLI runs them.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freezeFileSystem, thawFileSystem } from '../../src/linux/fs-freeze.js';
import { createLoopFs } from '../helpers/loop-mount.js';
import { envForOtherUser, nodeForOtherUsers, packageForOtherUsers } from '../helpers/other-user.js';
import { tempDir } from '../helpers/temp-dir.js';

export const isRoot = process.getuid?.() === 0;
export const isLinux = process.platform === 'linux';
export const fixtures = join(__dirname, 'fixtures');

/**
 * The CLI fixture behind a launcher in a folder of this process's own: install-hooks refuses a
 * script that anyone but its owner may change, or a folder above it, and a checkout made with
 * umask 002 has group-writable folders.
 */
function launcher(script: string): string {
  const dir = tempDir('vss-bridge-cli-');
  const path = join(dir, 'cli.cjs');
  writeFileSync(path, `require(${JSON.stringify(script)});\n`, { mode: 0o644 });
  return path;
}
export const cli = launcher(join(fixtures, 'cli.cjs'));

const EBUSY = 16;
const EINVAL = 22;

export interface LoopMount {
  readonly mountPoint: string;
  /** Its line in /proc/mounts. */
  readonly procMountsLine: string;
  /** FIFREEZE answers EBUSY: frozen (and left frozen). */
  isFrozen(): Promise<boolean>;
  /** FITHAW answers EINVAL: not frozen (a frozen one is thawed by the probe). */
  isThawed(): Promise<boolean>;
  /** Thaws, unmounts and removes it (createLoopFs's cleanup). */
  cleanup(): Promise<void>;
}

/** A loop file system of test/helpers/loop-mount.ts, with probes of its frozen state. */
export async function makeLoopMount(): Promise<LoopMount> {
  const fs = await createLoopFs();
  const mountPoint = fs.mountpoint;
  const line = readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === mountPoint);
  if (!line) {
    await fs.cleanup();
    throw new Error(`${mountPoint} is not in /proc/mounts`);
  }
  return {
    mountPoint,
    procMountsLine: line,
    isFrozen: async () => {
      const errno = await freezeFileSystem(mountPoint);
      if (errno === 0) await thawFileSystem(mountPoint); // it was not frozen: undo the probe
      return errno === EBUSY;
    },
    isThawed: async () => (await thawFileSystem(mountPoint)) === EINVAL,
    cleanup: fs.cleanup,
  };
}

export interface AppStatus {
  counter: number;
  holding: boolean;
  inFlight: boolean;
  pending: number;
  events: string[];
  /** In 'gate' mode: the bound WriteGate's state and who last reopened it. */
  gate?: { state: string; endedBy: string | null; watchdogThaws: number };
}

export interface TestApp {
  readonly child: ChildProcess;
  /** What the app has written to stdout and stderr (its log) so far. */
  output(): string;
  status(): Promise<AppStatus>;
  /** Stops writing, writes what waited, unsubscribes; resolves with the last record number. */
  stop(): Promise<number>;
}

export interface AppOptions {
  /** 'veto' fails the freeze; 'gate' holds the writes with a WriteGate bound to the writer. */
  readonly mode?: 'normal' | 'veto' | 'gate';
  /** The writer's freeze window. */
  readonly freezeTimeoutMs?: number;
  /** Runs the app as this user and group (the test must be root), from a copy that user can read. */
  readonly uid?: number;
  readonly gid?: number;
}

function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }): void => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null): void => reject(new Error(`the app exited (${code}) before "${type}"`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function startApp(dataFile: string, env: NodeJS.ProcessEnv, options: AppOptions = {}): Promise<TestApp> {
  const args = [dataFile, options.mode ?? 'normal', ...(options.freezeTimeoutMs === undefined ? [] : [String(options.freezeTimeoutMs)])];
  const asUser = options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid, execPath: nodeForOtherUsers(), execArgv: [] };
  const app = options.uid === undefined ? join(fixtures, 'app.cjs') : join(packageForOtherUsers(), 'test', 'linux', 'fixtures', 'app.cjs');
  const child = fork(app, args, {
    env: options.uid === undefined ? { ...process.env, ...env } : envForOtherUser(env),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    ...asUser,
  });
  let output = '';
  // The app's log is kept for the test to assert on; echoed only when asked (some tests make
  // it log an error on purpose, and a passing run prints no error line).
  const echo = process.env['VSS_BRIDGE_TEST_APP_LOG'] === '1';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (d: Buffer) => {
      output += d.toString();
      if (echo) process.stderr.write(d);
    });
  }
  try {
    await next(child, 'ready');
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${output}`);
  }
  return {
    child,
    output: () => output,
    status: () => {
      const reply = next<AppStatus>(child, 'status');
      child.send('status');
      return reply;
    },
    stop: async () => {
      const reply = next<{ counter: number }>(child, 'stopped');
      child.send('stop');
      return (await reply).counter;
    },
  };
}

/**
 * Probes until `done` holds. The deadline only turns a behaviour that never comes into a
 * failure that says what was awaited (and what was last seen), rather than a hang.
 */
export async function until<T>(probe: () => T | Promise<T>, done: (value: T) => boolean, what: (last: T) => string, deadlineMs = 20_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > end) throw new Error(`gave up after ${deadlineMs} ms waiting for ${what(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Asks the app for its status until `done` holds. */
export function waitForStatus(app: TestApp, done: (s: AppStatus) => boolean, what: string): Promise<AppStatus> {
  return until(() => app.status(), done, (s) => `${what}; last status ${JSON.stringify(s)}; app output:\n${app.output()}`);
}

/** Runs a command of src/linux/commands.ts in a child process, as the CLI would. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What statusAs returns when the app itself hung up on the peer: no reply, whatever the timing. */
export const refusedByTheApp = /^(|error ECONNRESET|error EPIPE)$/;

/**
 * Connects to an app's socket as another user and asks for its status. Returns the reply
 * line, '' when the app closed the connection without answering, or `error CODE` when the
 * connection itself failed (EACCES: the socket's permissions kept the user out).
 */
export function statusAs(uid: number, socketPath: string): string {
  const script = `const s=require('net').connect(${JSON.stringify(socketPath)});let got='';s.on('connect',()=>s.write('{"v":1,"op":"status"}\\n'));s.on('data',d=>got+=d);s.on('close',()=>process.stdout.write(got));s.on('error',e=>{process.stdout.write('error '+e.code);s.destroy()});`;
  return execFileSync(nodeForOtherUsers(), ['-e', script], { uid, gid: uid, env: envForOtherUser() }).toString();
}

/** Removed after the test file even when a test's own cleanup fails half-way. */
export const newTempDir = tempDir;
