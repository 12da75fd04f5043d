#!/usr/bin/env node
/**
 * The `vss-bridge` command line. Results go to stdout, progress and diagnostics to stderr;
 * exit codes are listed in exit-codes.ts and docs/CLI.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hookCommand, hvVssDaemonCommand, installHooksCommand, uninstallHooksCommand } from '../linux/commands.js';
import { checkpointCommand } from './checkpoint.js';
import { helpText, reportError, UsageError, type Command } from './command.js';
import { demoCommand } from './demo.js';
import { didYouMean } from './did-you-mean.js';
import { doctorCommand } from './doctor.js';
import { exitCodes } from './exit-codes.js';
import type { CommandIO } from './io.js';
import { metadataCommand } from './metadata.js';
import { snapshotsCommand } from './snapshots.js';
import { writersCommand } from './writers.js';

const commands: readonly Command[] = [
  writersCommand,
  metadataCommand,
  checkpointCommand,
  snapshotsCommand,
  doctorCommand,
  demoCommand,
  hookCommand,
  hvVssDaemonCommand,
  installHooksCommand,
  uninstallHooksCommand,
];

function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.spec.name.length));
  return `Usage: vss-bridge <command> [options]

Take part in and inspect Volume Shadow Copy (VSS) snapshots: list writers, run the snapshot
set a production checkpoint runs, and find out why a writer fails. On Linux and macOS the
commands run against the VSS simulator inside this process.

Commands:
${commands.map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`).join('\n')}

Run \`vss-bridge <command> --help\` for a command's options.
Options: --help, --version. NO_COLOR turns colours off. Exit codes: 0 success, 1 failure,
2 bad command line, 3 writer veto, 4 timeout, 5 provider failure, 6 environment problem,
130 interrupted.
`;
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    // Nothing asked: the usage, as a wrong command line (a script that forgot its command
    // must not pass).
    io.stderr.write(usage());
    return exitCodes.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = commands.find((c) => c.spec.name === args[0]);
    io.stdout.write(topic ? helpText(topic.spec) : usage());
    return exitCodes.success;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${version()}\n`);
    return exitCodes.success;
  }
  const command = commands.find((c) => c.spec.name === name);
  if (command === undefined) {
    const names = commands.map((c) => c.spec.name);
    const hint = didYouMean(name, names);
    return reportError(new UsageError(`unknown command "${name}"${hint || `; commands: ${names.join(', ')}`}`), io);
  }
  return command(args, io);
}

if (require.main === module) {
  // Writers loaded by the CLI log through the default logger: warnings and errors only.
  process.env['VSS_BRIDGE_LOG_LEVEL'] ??= 'warn';
  void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then((code) => {
    // Writer modules may leave handles open; the command is over.
    process.exit(code);
  });
}
