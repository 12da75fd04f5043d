/**
 * The Linux-guest commands of the `vss-bridge` CLI (wired in src/cli/): each takes its
 * arguments and where to write, validates its own options, and resolves with the exit code.
 *
 *   vss-bridge hook freeze|thaw|freezeFail      run by a guest agent around a snapshot
 *   vss-bridge hv-vss-daemon                    replaces hv_vss_daemon on Hyper-V guests
 *   vss-bridge install-hooks <platform...|all>  (and uninstall-hooks)
 *
 * Exit codes: 0 success, 1 the operation failed (a freeze vetoed, a thaw incomplete), 2 usage.
 */
import { realpathSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { backupTypes } from '../types.js';
import { defaultHookLog, hookLog } from './hook-log.js';
import { runHvVssDaemon } from './hv-vss-daemon.js';
import { hookCommandProblem, installHooks, platforms, uninstallHooks, type InstallReport, type Platform } from './install.js';
import { freezeApps, thawApps } from './registered-apps.js';
import { runtimeDirVariable } from './runtime-dir.js';

export { describeLinuxGuest } from './guest.js';

export interface CommandIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

class UsageError extends Error {}

const ms = (what: string) =>
  z.coerce.number({ error: `${what} must be a number of milliseconds` }).int({ error: `${what} must be a whole number of milliseconds` }).min(1, { error: `${what} must be at least 1 ms` }).max(3_600_000, { error: `${what} must be at most 3600000 ms (one hour)` });

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function value<T>(schema: z.ZodType<T>, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (!r.success) throw new UsageError(r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}

async function run(usage: string, io: CommandIO, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`vss-bridge: ${error.message}\nusage: ${usage}\n`);
      return 2;
    }
    io.stderr.write(`vss-bridge: ${(error as Error).message}\n`);
    return 1;
  }
}

const hookUsage = `vss-bridge hook freeze|thaw|freezeFail [--timeout MS] [--source NAME] [--backup-type ${backupTypes.join('|')}] [--runtime-dir DIR] [--log FILE|-]
  freeze      ask every registered app to prepare and freeze; exit 0 only when all confirmed
  thaw        ask every registered app to thaw (reverse order); always exits by the deadline
  freezeFail  ask every registered app to abort (after a failed freeze)
  --timeout   deadline for all apps together (default 30000)
  --runtime-dir  where apps register (default: /run/vss-bridge and /run/user/*/vss-bridge, or $${runtimeDirVariable})
  --log       log file (default ${defaultHookLog}); - for stderr only`;

/** `vss-bridge hook freeze|thaw|freezeFail`: what a guest agent runs around a snapshot. */
export function hookCommand(args: string[], io: CommandIO): Promise<number> {
  return run(hookUsage, io, async () => {
    const { values, positionals } = parse(args, {
      timeout: { type: 'string' },
      source: { type: 'string' },
      'backup-type': { type: 'string' },
      'runtime-dir': { type: 'string' },
      log: { type: 'string' },
    });
    if (values.help) {
      io.stdout.write(`usage: ${hookUsage}\n`);
      return 0;
    }
    const action = value(z.enum(['freeze', 'thaw', 'freezeFail'], { error: 'the action must be freeze, thaw or freezeFail' }), positionals[0]);
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    const timeoutMs = value(ms('--timeout'), values.timeout ?? 30_000);
    const source = value(z.string().regex(/^[\w.-]{1,64}$/, { error: '--source must be a short name such as qemu-ga' }), values.source ?? 'hook');
    const backupType = value(z.enum(backupTypes, { error: `--backup-type must be one of ${backupTypes.join(', ')}` }), values['backup-type'] ?? 'copy');
    const runtimeDir = values['runtime-dir'] ?? process.env[runtimeDirVariable] ?? undefined;
    const log = hookLog(values.log === '-' ? null : (values.log ?? defaultHookLog), io.stderr, `hook ${action} (${source})`);

    if (action === 'freeze') {
      const result = await freezeApps({ runtimeDir, timeoutMs, backupType, source, log });
      const failed = result.outcomes.find((o) => !o.ok);
      if (failed) {
        log(`VETO: ${failed.detail}`);
        io.stdout.write(`freeze vetoed: pid ${failed.app.pid}: ${failed.detail}\n`);
        return 1;
      }
      io.stdout.write(`frozen: ${result.outcomes.length} app(s)\n`);
      return 0;
    }
    const op = action === 'thaw' ? 'thaw' : 'abort';
    const result = await thawApps(op, { runtimeDir, timeoutMs, log });
    const failed = result.outcomes.filter((o) => !o.ok);
    io.stdout.write(`${op}: ${result.outcomes.length - failed.length} of ${result.outcomes.length} app(s) ok\n`);
    for (const f of failed) io.stderr.write(`vss-bridge: ${op} of pid ${f.app.pid} failed: ${f.detail}\n`);
    return failed.length ? 1 : 0;
  });
}

const daemonUsage = `vss-bridge hv-vss-daemon [--device PATH] [--mounts FILE] [--include-loop] [--freeze-timeout MS] [--thaw-timeout MS] [--max-freeze MS] [--runtime-dir DIR]
  Serves Hyper-V's VSS channel in place of hv_vss_daemon (stop that one first: the device takes one reader).
  --device          the channel (default /dev/vmbus/hv_vss); a Unix socket or FIFO speaking the same bytes for tests
  --mounts          the mount table (default /proc/mounts)
  --include-loop    also freeze loop-backed file systems (hv_vss_daemon skips them)
  --freeze-timeout  for the apps to freeze (default 60000)
  --thaw-timeout    for the apps to thaw (default 20000; the kernel waits 30 s)
  --max-freeze      thaw by itself when no THAW arrives (default 600000)`;

/** `vss-bridge hv-vss-daemon`: runs until SIGTERM or SIGINT. */
export function hvVssDaemonCommand(args: string[], io: CommandIO): Promise<number> {
  return run(daemonUsage, io, async () => {
    const { values, positionals } = parse(args, {
      device: { type: 'string' },
      mounts: { type: 'string' },
      'include-loop': { type: 'boolean' },
      'freeze-timeout': { type: 'string' },
      'thaw-timeout': { type: 'string' },
      'max-freeze': { type: 'string' },
      'runtime-dir': { type: 'string' },
      'backup-type': { type: 'string' },
    });
    if (values.help) {
      io.stdout.write(`usage: ${daemonUsage}\n`);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const options = {
      device: values.device ?? '/dev/vmbus/hv_vss',
      mounts: values.mounts ?? '/proc/mounts',
      includeLoop: values['include-loop'] ?? false,
      runtimeDir: values['runtime-dir'] ?? process.env[runtimeDirVariable] ?? undefined,
      freezeTimeoutMs: value(ms('--freeze-timeout'), values['freeze-timeout'] ?? 60_000),
      thawTimeoutMs: value(ms('--thaw-timeout'), values['thaw-timeout'] ?? 20_000),
      maxFreezeMs: value(ms('--max-freeze'), values['max-freeze'] ?? 600_000),
      backupType: value(z.enum(backupTypes, { error: `--backup-type must be one of ${backupTypes.join(', ')}` }), values['backup-type'] ?? 'copy'),
    };
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    try {
      return await runHvVssDaemon(options, io, stop.signal);
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  });
}

const installUsage = `vss-bridge install-hooks <${platforms.join('|')}|all>... [--root DIR] [--exec COMMAND] [--uninstall]
  --root     prefix of every path written (default /)
  --exec     the command that runs vss-bridge, as the hooks will run it: absolute paths separated by spaces,
             e.g. '/usr/bin/node /usr/lib/node_modules/vss-bridge/dist/cli/main.js' (default: this node and this CLI)
  --uninstall  remove what install-hooks wrote and put chained scripts back`;

function targets(positionals: string[]): Platform[] {
  if (positionals.length === 0) throw new UsageError('name at least one platform, or all');
  if (positionals.includes('all')) return [...platforms];
  return positionals.map((p) => value(z.enum(platforms, { error: `unknown platform "${p}": one of ${platforms.join(', ')}, all` }), p));
}

function printReport(report: InstallReport, io: CommandIO): void {
  for (const w of report.written) io.stdout.write(`wrote    ${w}\n`);
  for (const r of report.removed) io.stdout.write(`removed  ${r}\n`);
  for (const r of report.restored) io.stdout.write(`restored ${r}\n`);
  for (const n of report.notes) io.stdout.write(`note: ${n}\n`);
}

/** `vss-bridge install-hooks`: one command per guest agent, or all. */
export function installHooksCommand(args: string[], io: CommandIO): Promise<number> {
  return run(installUsage, io, async () => {
    const { values, positionals } = parse(args, { root: { type: 'string' }, exec: { type: 'string' }, uninstall: { type: 'boolean' } });
    if (values.help) {
      io.stdout.write(`usage: ${installUsage}\n`);
      return 0;
    }
    const list = targets(positionals);
    const root = values.root ?? '/';
    if (values.uninstall) {
      printReport(uninstallHooks(list, root), io);
      return 0;
    }
    let command: string[];
    if (values.exec !== undefined) {
      // Split on blanks only: a newline or anything else stays in its word and is refused there.
      command = values.exec.split(/[ \t]+/).filter((word) => word !== '');
      const problem = hookCommandProblem(command);
      if (problem !== null) throw new UsageError(`--exec: ${problem}`);
    } else {
      const script = process.argv[1];
      if (script === undefined) throw new UsageError('--exec is needed: this process has no script path');
      command = [process.execPath, realpathSync(script)];
      const problem = hookCommandProblem(command);
      if (problem !== null) throw new UsageError(`--exec is needed: this node and this CLI cannot run from root's hooks: ${problem}`);
    }
    printReport(installHooks(list, { root, command }), io);
    return 0;
  });
}

/** `vss-bridge uninstall-hooks`: the same as install-hooks --uninstall. */
export function uninstallHooksCommand(args: string[], io: CommandIO): Promise<number> {
  return installHooksCommand([...args, '--uninstall'], io);
}
