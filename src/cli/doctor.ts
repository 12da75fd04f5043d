/**
 * `vss-bridge doctor`: checks what usually breaks a checkpoint and says how to fix it.
 * Windows: elevation or VssAccessControl, the VSS and Hyper-V VSS requester services, 32-bit
 * Node, COM security in a writer process (RPC_E_TOO_LATE), writers stuck in a failed state.
 * Linux: which guest agents and hooks are present (from the Linux-guest module).
 */
import { execFileSync } from 'node:child_process';
import { z } from 'zod';
import { getBackend } from '../backends/backend.js';
import { listWriters, VssWriter, VssError } from '../index.js';
import { native } from '../backends/native.js';
import { describeLinuxGuest } from '../linux/guest.js';
import { helpOption, jsonOption, defineCommand, type Command } from './command.js';
import { exitCodes } from './exit-codes.js';
import { json, styleFor } from './io.js';
import { noWritersNote, withWriters, writerOptions, writerValues } from './writer-modules.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly fix?: string;
}

/** Runs a Windows tool; never throws, never waits more than 15 s. */
export type Run = (file: string, args: string[]) => { status: number | null; stdout: string };

const run: Run = (file, args) => {
  try {
    return { status: 0, stdout: execFileSync(file, args, { encoding: 'utf8', timeout: 15_000, windowsHide: true, stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (error) {
    const e = error as { status?: number | null; stdout?: string };
    return { status: e.status ?? null, stdout: e.stdout ?? '' };
  }
};

const windowsOnly = (name: string): Check => ({ name, status: 'skip', detail: 'Windows only' });

export function checkNode(platform: NodeJS.Platform = process.platform, arch: string = process.arch): Check {
  const detail = `Node ${process.versions.node}, ${arch}, ${platform}`;
  if (platform === 'win32' && (arch === 'ia32' || arch === 'arm')) {
    return { name: 'node', status: 'fail', detail: `${detail}: a 32-bit writer or requester does not work on 64-bit Windows`, fix: 'install the x64 (or arm64) build of Node.js' };
  }
  return { name: 'node', status: 'ok', detail };
}

function checkAddon(): Check {
  try {
    return { name: 'addon', status: 'ok', detail: `native addon loaded (Node-API ${native().napiVersion})` };
  } catch (error) {
    return { name: 'addon', status: 'fail', detail: (error as Error).message.split('\n')[0] ?? '', fix: 'run `npm rebuild vss-bridge`: it loads the prebuilt addon for this platform, or compiles one where none fits (which needs cmake and a C++17 compiler)' };
  }
}

function checkBackend(): Check {
  return { name: 'backend', status: 'ok', detail: getBackend().description };
}

/**
 * `account`'s value under `reg query ...\VssAccessControl`, or undefined when it is not listed.
 * "Security Considerations for Writers" and "... for Requesters" give four: 0 denies the
 * account a writer and a requester, 1 grants it a writer, 2 a requester, 3 both.
 */
export function vssAccessControlValue(regOutput: string, account: string): number | undefined {
  const wanted = account.toLowerCase();
  for (const line of regOutput.split(/\r?\n/)) {
    const m = /^\s+(.+?)\s+REG_DWORD\s+0x([0-9a-f]+)\s*$/i.exec(line);
    if (m !== null && m[1]?.toLowerCase() === wanted) return parseInt(m[2] ?? '0', 16);
  }
  return undefined;
}

/**
 * What `whoami /groups /fo csv /nh` says of this process's token: elevated (high or system
 * mandatory level), or holding Backup Operators (S-1-5-32-551) as an enabled group. VSS allows
 * Administrators, Backup Operators and LocalSystem ("Security Considerations for Writers");
 * `net session` answered only for elevated Administrators, and only while the Server service
 * runs.
 */
export function tokenRights(groupsCsv: string): { elevated: boolean; backupOperator: boolean } {
  const rows = groupsCsv
    .split(/\r?\n/)
    .map((line) => [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? ''))
    .filter((fields) => fields.length >= 3);
  const sid = (row: string[]): string => row[2] ?? '';
  const enabled = (row: string[]): boolean => /enabled group/i.test(row[3] ?? '');
  return {
    elevated: rows.some((row) => sid(row) === 'S-1-16-12288' || sid(row) === 'S-1-16-16384'),
    backupOperator: rows.some((row) => sid(row) === 'S-1-5-32-551' && enabled(row)),
  };
}

export function checkElevation(runTool: Run = run, env: NodeJS.ProcessEnv = process.env): Check {
  const name = 'elevation';
  const groups = runTool('whoami', ['/groups', '/fo', 'csv', '/nh']);
  if (groups.status === 0) {
    const rights = tokenRights(groups.stdout);
    if (rights.elevated) return { name, status: 'ok', detail: 'running elevated (high or system integrity level)' };
    if (rights.backupOperator) return { name, status: 'ok', detail: 'running as a Backup Operator' };
  }
  const account = `${env['USERDOMAIN'] ?? ''}\\${env['USERNAME'] ?? ''}`;
  const key = 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl';
  const reg = runTool('reg', ['query', key]);
  const value = reg.status === 0 ? vssAccessControlValue(reg.stdout, account) : undefined;
  // 3: a writer and a requester, what an app and its checkpoints need.
  const fix = `run as Administrator or Backup Operator, or: reg add ${key} /v "${account}" /t REG_DWORD /d 3 /f`;
  switch (value) {
    case 3:
      return { name, status: 'ok', detail: `not elevated, but VssAccessControl grants ${account} a writer and a requester (3)` };
    case 1:
      return { name, status: 'warn', detail: `not elevated; VssAccessControl grants ${account} a writer (1), not a requester: a requester's VSS calls (vss-bridge checkpoint) fail with E_ACCESSDENIED`, fix };
    case 2:
      return { name, status: 'warn', detail: `not elevated; VssAccessControl grants ${account} a requester (2), not a writer: a writer's VSS calls (an app's VssWriter) fail with E_ACCESSDENIED`, fix };
    case 0:
      return { name, status: 'fail', detail: `not elevated, and VssAccessControl denies ${account} a writer and a requester (0): VSS calls fail with E_ACCESSDENIED`, fix };
    default:
      return {
        name,
        status: 'fail',
        detail:
          value === undefined
            ? `not elevated and ${account} is not listed under VssAccessControl: VSS calls fail with E_ACCESSDENIED`
            : `not elevated, and VssAccessControl lists ${account} with ${value}, which Microsoft documents no meaning for (0 to 3): VSS calls may fail with E_ACCESSDENIED`,
        fix,
      };
  }
}

/** The STATE and START_TYPE lines of `sc query` / `sc qc`, e.g. "RUNNING", "DISABLED". */
export function scField(output: string, field: 'STATE' | 'START_TYPE'): string | undefined {
  return new RegExp(`^\\s*${field}\\s*:\\s*\\d+\\s+(\\w+)`, 'm').exec(output)?.[1];
}

export function checkService(service: 'VSS' | 'vmicvss', runTool: Run = run): Check {
  const name = service === 'VSS' ? 'VSS service' : 'Hyper-V VSS requester (vmicvss)';
  const query = runTool('sc', ['query', service]);
  if (query.status === 1060) {
    // vmicvss is part of Windows Server 2016 and later whether or not it runs on Hyper-V: its
    // presence says nothing about the host, its absence only that this Windows lacks it.
    return service === 'VSS'
      ? { name, status: 'fail', detail: 'the Volume Shadow Copy service is not installed' }
      : { name, status: 'skip', detail: 'not installed (Hyper-V production checkpoints need it: older guests get it with Integration Services)' };
  }
  const start = scField(runTool('sc', ['qc', service]).stdout, 'START_TYPE');
  const state = scField(query.stdout, 'STATE') ?? 'unknown';
  if (start === 'DISABLED') {
    return {
      name,
      status: 'fail',
      detail: 'disabled',
      fix: service === 'VSS' ? 'sc config VSS start= demand' : 'enable "Backup (volume shadow copy)" in the VM\'s Integration Services, then: sc config vmicvss start= demand',
    };
  }
  // Both start on demand: STOPPED is their normal idle state.
  return { name, status: 'ok', detail: `${state.toLowerCase()}, start ${String(start ?? 'unknown').toLowerCase()}` };
}

async function checkComSecurity(): Promise<Check> {
  const name = 'COM security';
  if (getBackend().capabilities.inProcess) return { name, status: 'skip', detail: 'the simulator uses no COM' };
  const probe = new VssWriter({ name: 'vss-bridge doctor probe', id: '0b6a3d1e-2f4c-4a5b-8c7d-9e0f1a2b3c4d', usage: 'other', sourceType: 'other' });
  // RPC_E_TOO_LATE does not fail a subscribe: it comes as a process warning.
  let tooLate: Error | undefined;
  const onWarning = (warning: Error & { code?: string }): void => {
    if (warning.code === 'VSS_BRIDGE_COM_SECURITY') tooLate = warning;
  };
  process.on('warning', onWarning);
  try {
    await probe.subscribe();
    await probe.unsubscribe();
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on a later tick
    if (tooLate) {
      return {
        name,
        status: 'warn',
        detail: tooLate.message,
        fix: 'something in the process called CoInitializeSecurity before vss-bridge; load vss-bridge first, or make that call allow VSS (authn PKT_PRIVACY, imp IDENTIFY)',
      };
    }
    return { name, status: 'ok', detail: 'a writer can subscribe in this process' };
  } catch (error) {
    const code = error instanceof VssError ? error.code : '';
    const fix = code === 'E_ACCESSDENIED' ? 'run as Administrator or Backup Operator, or list the account under VssAccessControl' : undefined;
    return { name, status: 'fail', detail: (error as Error).message, ...(fix && { fix }) };
  } finally {
    process.off('warning', onWarning);
  }
}

async function checkWriters(): Promise<Check> {
  const name = 'writers';
  const writers = await listWriters();
  if (writers.length === 0) return { name, status: getBackend().capabilities.inProcess ? 'skip' : 'warn', detail: noWritersNote() };
  const failed = writers.filter((w) => w.state.startsWith('VSS_WS_FAILED'));
  if (failed.length === 0) return { name, status: 'ok', detail: `${writers.length} writer(s), none failed` };
  // A writer's last error is one of the VSS_E_WRITERERROR_* codes it set; COM security trouble
  // (event 8194) never shows here, but as a writer missing from the list.
  return {
    name,
    status: 'warn',
    detail: `stuck in a failed state: ${failed.map((w) => `${w.name} (${w.state}, ${w.lastError?.code ?? 'no error'})`).join('; ')}`,
    fix: 'a failed writer resets at its next backup; if it stays failed, restart the app or service that owns it (a failed writer with nothing selected does not fail vss-bridge\'s sets)',
  };
}

async function checkLinuxGuest(): Promise<Check[]> {
  if (process.platform !== 'linux') return [{ name: 'linux guest', status: 'skip', detail: 'Linux only' }];
  return describeLinuxGuest().checks;
}

const schema = z.object({
  json: z.boolean().default(false),
  ...writerValues,
  _: z.array(z.string()).max(0, { error: 'doctor takes no arguments' }),
});

export const doctorCommand: Command = defineCommand({
  name: 'doctor',
  summary: 'Check what usually breaks a checkpoint on this machine, and say how to fix it.',
  usage: 'doctor [options]',
  details: 'Exit code 0 when nothing failed (warnings allowed), 6 when a check failed.',
  options: { json: jsonOption, ...writerOptions, help: helpOption },
  schema,
  async run(values, io) {
    const checks: Check[] = [checkNode(), checkAddon(), checkBackend()];
    const windows = process.platform === 'win32';
    checks.push(windows ? checkElevation() : windowsOnly('elevation'));
    checks.push(windows ? checkService('VSS') : windowsOnly('VSS service'));
    checks.push(windows ? checkService('vmicvss') : windowsOnly('Hyper-V VSS requester (vmicvss)'));
    if (checks[1]?.status === 'ok') {
      checks.push(await checkComSecurity());
      checks.push(await withWriters(values, 'doctor', checkWriters));
    }
    checks.push(...(await checkLinuxGuest()));
    const failed = checks.some((c) => c.status === 'fail');
    const exitCode = failed ? exitCodes.environment : exitCodes.success;
    if (values.json) {
      json(io, { ok: !failed, exitCode, checks });
      return exitCode;
    }
    const style = styleFor(io.stdout);
    const mark = { ok: style.green('ok  '), warn: style.yellow('warn'), fail: style.red(style.bold('FAIL')), skip: style.dim('skip') };
    const width = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) {
      io.stdout.write(`${mark[c.status]}  ${c.name.padEnd(width)}  ${c.detail}\n`);
      if (c.fix) io.stdout.write(`      ${' '.repeat(width)}  fix: ${c.fix}\n`);
    }
    io.stdout.write(failed ? `\n${style.red('problems found')}\n` : `\n${style.green('no problems found')}\n`);
    return exitCode;
  },
});
