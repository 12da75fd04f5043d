/**
 * Parts of the CLI that other modules of vss-bridge provide: the Linux-guest commands
 * (src/linux/commands.ts) and the consistent-snapshot demo (src/demo/index.ts). They are
 * loaded when first used, so the CLI works in a build that lacks them and says so.
 */
import type { CommandIO } from './io.js';
import { EnvironmentError } from './command.js';

export type DelegatedCommand = (args: string[], io: CommandIO) => Promise<number>;

export interface LinuxGuestModule {
  hookCommand?: DelegatedCommand;
  hvVssDaemonCommand?: DelegatedCommand;
  installHooksCommand?: DelegatedCommand;
  uninstallHooksCommand?: DelegatedCommand;
  describeLinuxGuest?: () => unknown;
}

export interface DemoModule {
  runDemo?: (options?: Record<string, unknown>) => unknown;
}

// Specifiers held in variables: the compiler must not require the files to exist.
const linuxGuestModule = '../linux/commands.js';
const demoModule = '../demo/index.js';

async function load<T>(specifier: string, what: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    // Only the module itself missing; a dependency it cannot find is its own error.
    if (missing && (error as Error).message.includes(specifier.replace(/^\.\.\//, ''))) {
      throw new EnvironmentError(`${what} is not available in this build of vss-bridge`);
    }
    throw error;
  }
}

export function loadLinuxGuest(): Promise<LinuxGuestModule> {
  return load<LinuxGuestModule>(linuxGuestModule, 'Linux-guest support');
}

export function loadDemo(): Promise<DemoModule> {
  return load<DemoModule>(demoModule, 'the consistent-snapshot demo');
}

/** A command whose implementation lives in the Linux-guest module. */
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
      const module = await loadLinuxGuest();
      const command = module[exportName];
      if (typeof command !== 'function') {
        throw new EnvironmentError(`\`${name}\` is not available in this build of vss-bridge (Linux-guest support has no ${exportName})`);
      }
      return command(args, io);
    },
  };
}
