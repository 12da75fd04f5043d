/**
 * The Windows node.exe that test/windows runs its apps in: on Windows, this very Node; on
 * Linux, Windows node.exe under Wine on the emulated VSS (scripts/wine-node.sh), when Wine and
 * the cross toolchain are installed (CI installs them). Either way a test spawns the same app
 * with the same arguments, so the same tests run on both. `emulated` says which: fault
 * injection and the emulator's record of the requester's calls exist only under Wine.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const root = join(__dirname, '..', '..');
const wineNode = join(root, 'scripts', 'wine-node.sh');

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** Why Windows node.exe cannot run here under Wine ('' when it can). */
export function wineMissing(): string {
  if (process.platform !== 'linux') return `Wine runs on Linux only (this is ${process.platform})`;
  const missing = [
    ...['x86_64-w64-mingw32-g++-posix', 'clang++-19', 'x86_64-w64-mingw32-dlltool'].filter((t) => !onPath(t)),
    ...(onPath('wine64') || existsSync('/usr/lib/wine/wine64') ? [] : ['wine64']),
  ];
  return missing.length > 0
    ? `missing ${missing.join(', ')} (apt-get install g++-mingw-w64-x86-64 clang-19 lld-19 wine64)`
    : '';
}

export const emulated = process.platform !== 'win32';
/** '' when Windows node.exe can run: natively on Windows, under Wine elsewhere. */
export const windowsReason = process.platform === 'win32' ? '' : wineMissing();
/** '' when the emulated VSS (and so fault injection) is here. */
export const emulatorReason =
  process.platform === 'win32' ? 'fault injection needs the emulated VSS (Linux, under Wine)' : windowsReason;

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

function command(args: string[]): [string, string[]] {
  return process.platform === 'win32' ? [process.execPath, args] : ['bash', [wineNode, ...args]];
}

/**
 * Under Wine, the first run sets up (cross-builds the addon, builds the emulator, fetches
 * node.exe, makes the Wine prefix): a beforeAll with its own long timeout, so that no test's
 * own timeout pays for it.
 */
export function prepareWindowsNode(): void {
  if (process.platform === 'win32') return;
  const run = runNode(['--version'], { timeoutMs: 900_000 });
  if (run.status !== 0) throw new Error(`scripts/wine-node.sh could not set up (exit ${run.status}):\n${run.stderr.slice(-4000)}`);
}

/** Runs node.exe with `args` to its end. */
export function runNode(args: string[], options: RunOptions = {}): SpawnSyncReturns<string> {
  return run(...command(args), options);
}

/**
 * Runs one of test/emulator's own Windows programs (built beside the emulated vssapi.dll, e.g.
 * add-component-probe.exe) under Wine to its end. Emulator only.
 */
export function runEmulatorProgram(name: string, args: string[], options: RunOptions = {}): SpawnSyncReturns<string> {
  return run('bash', [wineNode, '--emulator-program', name, ...args], options);
}

function run(cmd: string, argv: string[], options: RunOptions): SpawnSyncReturns<string> {
  return spawnSync(cmd, argv, {
    cwd: options.cwd ?? root,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 300_000,
    env: { ...process.env, ...options.env },
  });
}

/** Starts node.exe with `args`; resolves with its output when it exits. */
export function startNode(args: string[], options: RunOptions = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const [cmd, argv] = command(args);
  const child = spawn(cmd, argv, { cwd: options.cwd ?? root, env: { ...process.env, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
  return new Promise((resolve) => {
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The JSON an app printed as `RESULT <json>`. */
export function resultOf(run: { status: number | null; stdout: string; stderr: string }): any {
  const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) throw new Error(`no RESULT line (exit ${run.status}):\n${run.stdout}\nstderr:\n${run.stderr.slice(-4000)}`);
  return JSON.parse(line.slice('RESULT '.length));
}

/**
 * One emulated machine: its own emulator folder (VSSEMU_DIR), so tests do not share writers,
 * shadow copies or the snapshot-set lock. What the emulator recorded can be read back.
 */
export class EmulatedMachine {
  readonly dir = mkdtempSync(join(tmpdir(), 'vssemu-'));
  readonly env = { VSSEMU_DIR: this.dir };

  /** One fault a line (see test/emulator/common.cc, ReadFaults). */
  setFaults(...lines: string[]): void {
    writeFileSync(join(this.dir, 'faults'), `${lines.join('\n')}\n`);
  }

  /** calls.log without the process ids: what the requesters called, in order. */
  calls(): string[] {
    const file = join(this.dir, 'calls.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(l.indexOf(' ') + 1));
  }

  /** The persistent shadow copies the emulated machine holds. */
  copies(): { id: string; setId: string; volume: string }[] {
    const file = join(this.dir, 'copies.txt');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [id = '', setId = '', volume = ''] = l.split('\t');
        return { id, setId, volume };
      });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
