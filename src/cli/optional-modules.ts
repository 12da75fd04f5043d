/**
 * Parts of the CLI loaded on first use, so every other command starts without them: the
 * Linux-guest commands (src/linux/commands.ts) and the consistent-snapshot demo
 * (src/demo/index.ts, which needs the optional better-sqlite3 and says so when it is absent).
 */
import type { CommandIO } from './io.js';

type LinuxGuestCommands = typeof import('../linux/commands.js');

export function loadLinuxGuest(): Promise<LinuxGuestCommands> {
  return import('../linux/commands.js');
}

export function loadDemo(): Promise<typeof import('../demo/index.js')> {
  return import('../demo/index.js');
}

/** A command whose options and help live in the Linux-guest module. */
export function linuxGuestCommand(
  name: string,
  exportName: 'hookCommand' | 'hvVssDaemonCommand' | 'installHooksCommand' | 'uninstallHooksCommand',
  summary: string,
) {
  return {
    name,
    summary,
    usage: `${name} [options] (see \`vss-bridge ${name} --help\`)`,
    options: {},
    delegated: true as const,
    async run(args: string[], io: CommandIO): Promise<number> {
      return (await loadLinuxGuest())[exportName](args, io);
    },
  };
}
