/**
 * The Linux-guest commands of the `vss-bridge` CLI, defined like the others (src/cli/command.ts):
 *
 *   vss-bridge hook freeze|thaw|freezeFail      run by a guest agent around a snapshot
 *   vss-bridge hv-vss-daemon                    replaces hv_vss_daemon on Hyper-V guests
 *   vss-bridge install-hooks <platform...|all>  (and uninstall-hooks)
 *
 * Exit codes: 0 success, 1 the operation failed (a freeze vetoed, a thaw incomplete), 2 usage,
 * 6 not possible on this machine (not Linux).
 */
import { closeSync, fstatSync, realpathSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { defineCommand, duration, durationValue, helpOption, UsageError, type Command } from '../cli/command.js';
import { exitCodes } from '../cli/exit-codes.js';
import type { CommandIO } from '../cli/io.js';
import { backupTypes } from '../types.js';
import { defaultHookLog, hookLog } from './hook-log.js';
import { runHvVssDaemon } from './hv-vss-daemon.js';
import { hookCommandProblem, installHooks, platforms, uninstallHooks, type InstallReport, type Platform } from './install.js';
import { freezeApps, releaseApps, thawApps } from './registered-apps.js';
import { hookDir, holdUntilThaw, openThawChannel, type ThawChannel } from './resident-holder.js';
import { runtimeDirVariable } from './runtime-dir.js';

/** A deadline of up to an hour, by the rule of every command's durations (cli/command.ts). */
const ms = (fallback: number) => duration(3_600_000).default(fallback);

const backupType = z.enum(backupTypes, { error: `must be one of ${backupTypes.join(', ')}` }).default('copy');

const runtimeDirOption = {
  type: 'string',
  value: '<dir>',
  description: `where apps register (default: /run/vss-bridge and /run/user/*/vss-bridge, or $${runtimeDirVariable})`,
} as const;
const backupTypeOption = { type: 'string', value: '<type>', description: `${backupTypes.join('|')} (default copy)` } as const;

/** --runtime-dir, else the environment's, else undefined: the apps' default places. */
const runtimeDir = (given: string | undefined): string | undefined => given ?? process.env[runtimeDirVariable] ?? undefined;

const hookSignals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Where a resident freeze hook reports its status: the qemu-ga hook script reads it (install.ts). */
const statusFd = 3;

/** `vss-bridge hook freeze|thaw|freezeFail`: what a guest agent runs around a snapshot. */
export const hookCommand: Command = defineCommand({
  name: 'hook',
  summary: 'Linux guest: the freeze/thaw hook a guest agent runs (qemu-ga, VMware, cloud agents).',
  usage: 'hook freeze|thaw|freezeFail [options]',
  details: `
Actions:
  freeze      ask every registered app to prepare and freeze; exit 0 only when all confirmed
  thaw        ask every registered app to thaw (all at once); always exits by the deadline
  freezeFail  ask every registered app to abort (after a failed freeze)

With --resident (freeze only; the qemu-ga hook script uses it), the status goes to file
descriptor 3 as soon as it is known, and after a freeze that stands this process stays,
holding the apps' freeze connections until the thaw step signals it through
$VSS_BRIDGE_HOOK_DIR (default /run/vss-bridge-hook) or the deadline passes.`,
  options: {
    timeout: { type: 'string', value: durationValue, description: 'deadline for the whole run, abort included, from the hook\'s start (default 30s)' },
    source: { type: 'string', value: '<name>', description: 'who asks, for the logs, e.g. qemu-ga (default hook)' },
    'backup-type': backupTypeOption,
    'runtime-dir': runtimeDirOption,
    log: { type: 'string', value: '<file>', description: `log file (default ${defaultHookLog}); - for stderr only` },
    resident: { type: 'boolean', description: 'freeze: report the status on fd 3, then hold the apps until the thaw step signals (see above)' },
    help: helpOption,
  },
  schema: z.object({
    _: z.tuple([z.enum(['freeze', 'thaw', 'freezeFail'], { error: 'the action must be freeze, thaw or freezeFail' })], z.never({ error: 'takes one action' })),
    timeout: ms(30_000),
    source: z.string().regex(/^[\w.-]{1,64}$/, { error: 'must be a short name such as qemu-ga' }).default('hook'),
    'backup-type': backupType,
    'runtime-dir': z.string().optional(),
    log: z.string().optional(),
    resident: z.boolean().default(false),
  }),
  async run(values, io) {
    const [action] = values._;
    const { timeout: timeoutMs, source, 'backup-type': backupType } = values;
    if (values.resident && action !== 'freeze') throw new UsageError('--resident: only for freeze');
    if (values.resident && !isPipe(statusFd)) throw new UsageError(`--resident: file descriptor ${statusFd} must be a pipe or socket to report the status on`);
    const fileLog = hookLog(values.log === '-' ? null : (values.log ?? defaultHookLog), io.stderr, `hook ${action} (${source})`);
    const stderrLog = hookLog(null, io.stderr, `hook ${action} (${source})`);
    // While a resident holder holds, the file systems may be frozen: it logs to stderr only.
    let fileSystemsMayBeFrozen = false;
    const log = (line: string): void => (fileSystemsMayBeFrozen ? stderrLog : fileLog)(line);
    const dir = runtimeDir(values['runtime-dir']);
    // One deadline for the whole run, counted from this process's start, abort included, on
    // the monotonic clock (registered-apps.ts): performance.now() when the process started.
    const startedAt = performance.now() - process.uptime() * 1000;
    // An agent that gives up on the hook signals it (vmtoolsd: SIGTERM, then SIGKILL): a
    // freeze then aborts every app it asked, within the deadline. A thaw or abort, bounded by
    // the same deadline, goes on to the end.
    const interrupted = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => {
      log(`${signal}: ${action === 'freeze' ? 'aborting every app asked' : `finishing the ${action} first`}`);
      interrupted.abort(new Error(`interrupted by ${signal}`));
    };
    for (const signal of hookSignals) process.on(signal, onSignal);
    try {
      return await runHook();
    } finally {
      for (const signal of hookSignals) process.off(signal, onSignal);
    }

    async function runHook(): Promise<number> {
      if (action === 'freeze') {
        // Made before the apps are asked: none of its cost falls inside their freeze.
        let channel: ThawChannel | undefined;
        if (values.resident) {
          const opened = openThawChannel(hookDir());
          if ('problem' in opened) log(`no resident holder (the thaw hook will run in full): ${opened.problem}`);
          else channel = opened;
        }
        const report = (code: number): number => {
          if (values.resident) reportStatus(code);
          return code;
        };
        const result = await freezeApps({ runtimeDir: dir, timeoutMs, startedAt, backupType, source, log, signal: interrupted.signal, keepConnections: channel !== undefined });
        const failed = result.outcomes.find((o) => !o.ok);
        if (failed) {
          channel?.close();
          log(`VETO: ${failed.detail}`);
          io.stdout.write(`freeze vetoed: pid ${failed.app.pid}: ${failed.detail}\n`);
          return report(exitCodes.failure);
        }
        io.stdout.write(`frozen: ${result.outcomes.length} app(s)\n`);
        if (channel === undefined || result.held === undefined) return report(exitCodes.success);
        log(`holding ${result.held.apps.length} app(s) (pid ${process.pid}) until the thaw step signals through ${channel.dir}`);
        fileSystemsMayBeFrozen = true;
        report(exitCodes.success);
        const lines: string[] = [];
        const held = await holdUntilThaw(result.held, channel, {
          deadline: startedAt + timeoutMs,
          signal: interrupted.signal,
          // Each app gets its thaw at once; the log waits until the last answered.
          thaw: async (apps) => (await releaseApps('thaw', apps, { log: (line) => lines.push(line), deadline: startedAt + timeoutMs })).ok,
        });
        if (held.thawed) {
          fileSystemsMayBeFrozen = false;
          for (const line of lines) log(line);
        }
        return held.code;
      }
      const op = action === 'thaw' ? 'thaw' : 'abort';
      const result = await thawApps(op, { runtimeDir: dir, timeoutMs, startedAt, log });
      const failed = result.outcomes.filter((o) => !o.ok);
      io.stdout.write(`${op}: ${result.outcomes.length - failed.length} of ${result.outcomes.length} app(s) ok\n`);
      for (const f of failed) io.stderr.write(`vss-bridge: ${op} of pid ${f.app.pid} failed: ${f.detail}\n`);
      return failed.length ? exitCodes.failure : exitCodes.success;
    }
  },
});

/** A pipe or a socket (what the hook script or a test hands over): never a file, which may be on a frozen file system. */
function isPipe(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}

/** The status, on its own descriptor, which then closes: the hook script reads it to its end. */
function reportStatus(code: number): void {
  try {
    writeSync(statusFd, `${code}\n`);
  } finally {
    closeSync(statusFd);
  }
}

/** `vss-bridge hv-vss-daemon`: runs until SIGTERM or SIGINT. */
export const hvVssDaemonCommand: Command = defineCommand({
  name: 'hv-vss-daemon',
  summary: "Linux guest on Hyper-V: serve /dev/vmbus/hv_vss with this machine's writers.",
  usage: 'hv-vss-daemon [options]',
  details: "Serves Hyper-V's VSS channel in place of hv_vss_daemon (stop that one first: the device takes one reader).",
  options: {
    device: { type: 'string', value: '<path>', description: 'the channel (default /dev/vmbus/hv_vss); a Unix socket or FIFO speaking the same bytes for tests' },
    mounts: { type: 'string', value: '<file>', description: 'the mount table (default /proc/mounts)' },
    'include-loop': { type: 'boolean', description: 'also freeze loop-backed file systems (hv_vss_daemon skips them)' },
    'freeze-timeout': { type: 'string', value: durationValue, description: 'for the apps to freeze (default 60s)' },
    'thaw-timeout': { type: 'string', value: durationValue, description: 'for the apps to thaw (default 20s; the kernel waits 30 s)' },
    'max-freeze': { type: 'string', value: durationValue, description: 'thaw by itself when no THAW arrives (default 10m)' },
    'runtime-dir': runtimeDirOption,
    'backup-type': backupTypeOption,
    help: helpOption,
  },
  schema: z.object({
    _: z.array(z.string()).max(0, { error: 'hv-vss-daemon takes no arguments' }),
    device: z.string().default('/dev/vmbus/hv_vss'),
    mounts: z.string().default('/proc/mounts'),
    'include-loop': z.boolean().default(false),
    'freeze-timeout': ms(60_000),
    'thaw-timeout': ms(20_000),
    'max-freeze': ms(600_000),
    'runtime-dir': z.string().optional(),
    'backup-type': backupType,
  }),
  async run(values, io) {
    const options = {
      device: values.device,
      mounts: values.mounts,
      includeLoop: values['include-loop'],
      runtimeDir: runtimeDir(values['runtime-dir']),
      freezeTimeoutMs: values['freeze-timeout'],
      thawTimeoutMs: values['thaw-timeout'],
      maxFreezeMs: values['max-freeze'],
      backupType: values['backup-type'],
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
  },
});

/** The platforms named on the command line: at least one, or all. */
const targets = z
  .array(z.enum([...platforms, 'all'], { error: (issue) => `unknown platform "${String(issue.input)}": one of ${platforms.join(', ')}, all` }))
  .min(1, { error: 'name at least one platform, or all' })
  .transform((names): Platform[] => (names.includes('all') ? [...platforms] : (names as Platform[])));

const rootOption = { type: 'string', value: '<dir>', description: 'prefix of every path written (default /)' } as const;

function printReport(report: InstallReport, io: CommandIO): void {
  for (const w of report.written) io.stdout.write(`wrote    ${w}\n`);
  for (const r of report.removed) io.stdout.write(`removed  ${r}\n`);
  for (const r of report.restored) io.stdout.write(`restored ${r}\n`);
  for (const n of report.notes) io.stdout.write(`note: ${n}\n`);
}

/** The command the hooks will run: --exec's words, else this node and this CLI. */
function hookRunner(exec: string | undefined): string[] {
  if (exec !== undefined) {
    // Split on blanks only: a newline or anything else stays in its word and is refused there.
    const command = exec.split(/[ \t]+/).filter((word) => word !== '');
    const problem = hookCommandProblem(command);
    if (problem !== null) throw new UsageError(`--exec: ${problem}`);
    return command;
  }
  const script = process.argv[1];
  if (script === undefined) throw new UsageError('--exec is needed: this process has no script path');
  const command = [process.execPath, realpathSync(script)];
  const problem = hookCommandProblem(command);
  if (problem !== null) throw new UsageError(`--exec is needed: this node and this CLI cannot run from root's hooks: ${problem}`);
  return command;
}

/** `vss-bridge install-hooks`: one command per guest agent, or all. */
export const installHooksCommand: Command = defineCommand({
  name: 'install-hooks',
  summary: "Linux guest: install the hooks into the guest agents' hook directories.",
  usage: `install-hooks <${platforms.join('|')}|all>... [options]`,
  options: {
    root: rootOption,
    exec: {
      type: 'string',
      value: '<command>',
      description:
        "the command that runs vss-bridge, as the hooks will run it: absolute paths separated by spaces, e.g. '/usr/bin/node /usr/lib/node_modules/vss-bridge/dist/cli/main.js' (default: this node and this CLI)",
    },
    uninstall: { type: 'boolean', description: 'remove what install-hooks wrote and put chained scripts back' },
    help: helpOption,
  },
  schema: z.object({ _: targets, root: z.string().default('/'), exec: z.string().optional(), uninstall: z.boolean().default(false) }),
  async run(values, io) {
    if (values.uninstall) printReport(uninstallHooks(values._, values.root), io);
    else printReport(installHooks(values._, { root: values.root, command: hookRunner(values.exec) }), io);
    return exitCodes.success;
  },
});

/** `vss-bridge uninstall-hooks`: the same as install-hooks --uninstall. */
export const uninstallHooksCommand: Command = defineCommand({
  name: 'uninstall-hooks',
  summary: 'Linux guest: remove the installed hooks.',
  usage: `uninstall-hooks <${platforms.join('|')}|all>... [options]`,
  details: 'Removes what install-hooks wrote and puts chained scripts back.',
  options: { root: rootOption, help: helpOption },
  schema: z.object({ _: targets, root: z.string().default('/') }),
  async run(values, io) {
    printReport(uninstallHooks(values._, values.root), io);
    return exitCodes.success;
  },
});
