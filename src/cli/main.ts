#!/usr/bin/env node
/**
 * The `vss-bridge` command line. Results go to stdout, progress and diagnostics to stderr;
 * exit codes are listed in exit-codes.ts and docs/CLI.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointCommand } from './checkpoint.js';
import { EnvironmentError, helpText, UsageError, type Command } from './command.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { exitCodes } from './exit-codes.js';
import { styleFor, type CommandIO } from './io.js';
import { metadataCommand } from './metadata.js';
import { linuxGuestCommand } from './optional-modules.js';
import { snapshotsCommand } from './snapshots.js';
import { writersCommand } from './writers.js';

const commands: readonly Command[] = [
  writersCommand,
  metadataCommand,
  checkpointCommand,
  snapshotsCommand,
  doctorCommand,
  demoCommand,
  linuxGuestCommand('hook', 'hookCommand', 'Linux guest: the freeze/thaw hook a guest agent runs (qemu-ga, VMware, cloud agents).'),
  linuxGuestCommand('hv-vss-daemon', 'hvVssDaemonCommand', "Linux guest on Hyper-V: serve /dev/vmbus/hv_vss with this machine's writers."),
  linuxGuestCommand('install-hooks', 'installHooksCommand', "Linux guest: install the hooks into the guest agents' hook directories."),
  linuxGuestCommand('uninstall-hooks', 'uninstallHooksCommand', 'Linux guest: remove the installed hooks.'),
];

function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: vss-bridge <command> [options]

Take part in and inspect Volume Shadow Copy (VSS) snapshots: list writers, run the snapshot
set a production checkpoint runs, and find out why a writer fails. On Linux and macOS the
commands run against the VSS simulator inside this process.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run \`vss-bridge <command> --help\` for a command's options.
Options: --help, --version. NO_COLOR turns colours off. Exit codes: 0 success, 1 failure,
2 bad command line, 3 writer veto, 4 timeout, 5 provider failure, 6 environment problem,
130 interrupted.
`;
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = commands.find((c) => c.name === args[0]);
    io.stdout.write(topic && !('delegated' in topic) ? helpText(topic) : usage());
    return exitCodes.success;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${version()}\n`);
    return exitCodes.success;
  }
  const style = styleFor(io.stderr);
  const command = commands.find((c) => c.name === name);
  try {
    if (command === undefined) throw new UsageError(`unknown command "${name}"; commands: ${commands.map((c) => c.name).join(', ')}`);
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${style.red('vss-bridge:')} ${error.message}\nRun \`vss-bridge ${command ? `${command.name} ` : ''}--help\` for usage.\n`);
      return exitCodes.usage;
    }
    if (error instanceof EnvironmentError) {
      io.stderr.write(`${style.red('vss-bridge:')} ${error.message}\n`);
      return exitCodes.environment;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`${style.red('vss-bridge:')} ${message}\n`);
    // No addon, or no VSS backend in this build: the machine is not ready.
    return /no native addon|backend is not part of this build|VSS_BRIDGE_BACKEND/.test(message) ? exitCodes.environment : exitCodes.failure;
  }
}

if (require.main === module) {
  // Writers loaded by the CLI log through the default logger: warnings and errors only.
  process.env['VSS_BRIDGE_LOG_LEVEL'] ??= 'warn';
  void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then((code) => {
    // Writer modules may leave handles open; the command is over.
    process.exit(code);
  });
}
