/**
 * What every command is made of: its options (parsed by node:util parseArgs, then checked by a
 * zod schema so a bad value is reported with the option's name and rule), its help text and
 * its run function. A command is a function of its arguments that resolves with its exit code
 * (exit-codes.ts): what it throws is said on stderr and becomes that code here, once for
 * every command.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { EnvironmentError } from '../errors.js';
import { didYouMean } from './did-you-mean.js';
import { exitCodes } from './exit-codes.js';
import { styleFor, type CommandIO } from './io.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Shown in --help, e.g. "<ms>". */
  readonly value?: string;
  readonly description: string;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** e.g. "checkpoint [options] [volumes...]". */
  readonly usage: string;
  /** Paragraphs after the usage line. */
  readonly details?: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
}

export interface Command {
  /** Runs the command with `args` (after its name); resolves with the exit code. */
  (args: string[], io: CommandIO): Promise<number>;
  readonly spec: CommandSpec;
}

/** The command line was wrong: exit code 2, with the message and the command's usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const helpOption: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help' };
export const jsonOption: OptionSpec = { type: 'boolean', description: 'print the result as JSON on stdout' };

export interface Parsed<T> {
  readonly values: T;
  readonly positionals: string[];
  readonly help: boolean;
}

/**
 * Parses `args` against the command's options, then validates the values with `schema`,
 * whose keys are the option names. Throws UsageError naming the option and the rule.
 */
function parseCommand<S extends z.ZodType>(command: CommandSpec, args: string[], schema: S): Parsed<z.output<S>> {
  const options = Object.fromEntries(
    Object.entries(command.options).map(([name, o]) => [
      name,
      { type: o.type, ...(o.short !== undefined && { short: o.short }), ...(o.multiple === true && { multiple: true }) },
    ]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional.*$/s, '');
    const unknown = /^Unknown option '(-{1,2})([^']+)'/.exec(message);
    const hint = unknown ? didYouMean(unknown[2]!, Object.keys(command.options), (name) => `--${name}`) : '';
    throw new UsageError(`${command.name}: ${message}${hint}`);
  }
  const { help, ...values } = parsed.values as Record<string, unknown>;
  if (help === true) return { values: undefined as z.output<S>, positionals: parsed.positionals, help: true };
  const result = schema.safeParse({ ...values, _: parsed.positionals });
  if (!result.success) {
    const issues = result.error.issues.map((i) => {
      const key = i.path[0];
      const where = key === '_' ? 'arguments' : key === undefined ? command.name : `--${String(key)}`;
      return `${where}: ${i.message}`;
    });
    throw new UsageError(`${command.name}: ${issues.join('; ')}`);
  }
  return { values: result.data, positionals: parsed.positionals, help: false };
}

/**
 * A command from its options' schema and a run function that gets the validated values:
 * parsing, --help and the exit code of what it throws are handled here, once for every command.
 */
export function defineCommand<S extends z.ZodType>(
  definition: CommandSpec & { readonly schema: S; run(values: z.output<S>, io: CommandIO): Promise<number> },
): Command {
  const { schema, run, ...spec } = definition;
  const command = async (args: string[], io: CommandIO): Promise<number> => {
    try {
      const { values, help } = parseCommand(spec, args, schema);
      if (help) {
        io.stdout.write(helpText(spec));
        return exitCodes.success;
      }
      return await run(values, io);
    } catch (error) {
      return reportError(error, io, spec);
    }
  };
  return Object.assign(command, { spec });
}

/**
 * Says on stderr why a command could not do its work and returns its exit code: 2 for a wrong
 * command line (with the usage of `command`, when one was found), 6 when this machine cannot do
 * it (an EnvironmentError: no addon, no VSS backend, not Linux, a writer module that fails), 1
 * for anything else.
 */
export function reportError(error: unknown, io: CommandIO, command?: CommandSpec): number {
  const prefix = styleFor(io.stderr).red('vss-bridge:');
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError) {
    const help = command
      ? `usage: vss-bridge ${command.usage}\nRun \`vss-bridge ${command.name} --help\` for its options.`
      : 'Run `vss-bridge --help` for the commands.';
    io.stderr.write(`${prefix} ${message}\n${help}\n`);
    return exitCodes.usage;
  }
  io.stderr.write(`${prefix} ${message}\n`);
  return error instanceof EnvironmentError ? exitCodes.environment : exitCodes.failure;
}

/**
 * Every duration option of every command, one rule: "500ms", "30s", "2m", or a bare number of
 * milliseconds (as the library's own options are, and the hooks' --timeout always was).
 * Whole milliseconds from 1 ms to `maxMs`.
 */
export function duration(maxMs = 86_400_000) {
  const max =
    maxMs % 3_600_000 === 0 ? `${maxMs / 3_600_000} hour${maxMs === 3_600_000 ? '' : 's'}` : maxMs % 60_000 === 0 ? `${maxMs / 60_000} minutes` : `${maxMs} ms`;
  return z
    .string()
    .regex(/^\d+(\.\d+)?(ms|s|m)?$/, { error: 'must be a duration such as 500ms, 30s or 2m (a bare number is milliseconds)' })
    .transform((s) => {
      const [, n = '0', unit = 'ms'] = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s) ?? [];
      return Math.round(Number(n) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000));
    })
    .pipe(z.number().int().min(1, { error: 'must be at least 1ms' }).max(maxMs, { error: `must be at most ${max}` }));
}

/** How --help shows a duration option's value. */
export const durationValue = '<duration>';

export function helpText(command: CommandSpec, bin = 'vss-bridge'): string {
  const rows = Object.entries(command.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    return [flag, o.description + (o.multiple ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return (
    `Usage: ${bin} ${command.usage}\n\n${command.summary}\n` +
    (command.details ? `\n${command.details.trim()}\n` : '') +
    `\nOptions:\n${rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join('\n')}\n`
  );
}
