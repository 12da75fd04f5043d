/** `vss-bridge demo`: the consistent-snapshot demo (src/demo), run from the command line. */
import { resolve } from 'node:path';
import { z } from 'zod';
import { duration, helpOption, jsonOption, defineCommand, type Command } from './command.js';
import { exitCodes } from './exit-codes.js';
import { loadDemo } from './optional-modules.js';

const count = (max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().min(1, { error: 'must be at least 1' }).max(max, { error: `must be at most ${max}` }));

const schema = z.object({
  checkpoints: count(1000).optional(),
  clients: count(64).optional(),
  interval: duration().optional(),
  'wal-mb': z.string().regex(/^\d+$/, { error: 'must be a whole number' }).transform(Number).pipe(z.number().max(1024, { error: 'must be at most 1024' })).optional(),
  // Relative to where the command runs, as any path on a command line.
  dir: z.string().min(1).transform((p) => resolve(p)).optional(),
  keep: z.boolean().optional(),
  json: z.boolean().optional(),
  _: z.array(z.string()).max(0, { error: 'demo takes no arguments' }),
});

export const demoCommand: Command = defineCommand({
  name: 'demo',
  summary: 'Run the consistent-snapshot demo: a SQLite service under load while checkpoints are taken.',
  usage: 'demo [options]',
  details: `
A records service on SQLite (better-sqlite3, an optional dependency) registers a writer with a
write gate; clients write continuously while snapshot sets run, and each snapshot is checked for
consistency. Exit code 0 when every snapshot was consistent and no acknowledged write was lost,
1 otherwise.`,
  options: {
    checkpoints: { type: 'string', value: '<n>', description: 'snapshot sets to run (default 3)' },
    clients: { type: 'string', value: '<n>', description: 'concurrent clients writing records (default 4)' },
    interval: { type: 'string', value: '<duration>', description: 'pause before each checkpoint (default 400ms)' },
    'wal-mb': { type: 'string', value: '<n>', description: 'megabytes written before each checkpoint, SQLite checkpoints off: the WAL at prepareSnapshot (default 0)' },
    dir: { type: 'string', value: '<path>', description: 'where the database and snapshots go (default a temporary directory)' },
    keep: { type: 'boolean', description: 'keep the database and snapshot copies afterwards' },
    json: jsonOption,
    help: helpOption,
  },
  schema,
  async run(values, io) {
    const { runDemo } = await loadDemo();
    const report = await runDemo({
      ...(values.checkpoints !== undefined && { checkpoints: values.checkpoints }),
      ...(values.clients !== undefined && { clients: values.clients }),
      ...(values.interval !== undefined && { intervalMs: values.interval }),
      ...(values['wal-mb'] !== undefined && { walMb: values['wal-mb'] }),
      ...(values.dir !== undefined && { dir: values.dir }),
      ...(values.keep !== undefined && { keep: values.keep }),
      ...(values.json !== undefined && { json: values.json }),
      output: io.stdout,
    });
    return report.ok ? exitCodes.success : exitCodes.failure;
  },
});
