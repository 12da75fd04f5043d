/** `vss-bridge writers`: like `vssadmin list writers`, one line a writer, failures highlighted. */
import { z } from 'zod';
import { listWriters, type WriterInfo } from '../index.js';
import { helpOption, jsonOption, defineCommand, type Command } from './command.js';
import { json, styleFor, table, type Style } from './io.js';
import { noWritersNote, withWriters, writerOptions, writerValues } from './writer-modules.js';

const schema = z.object({
  json: z.boolean().optional(),
  ...writerValues,
  _: z.array(z.string()).max(0, { error: 'writers takes no arguments' }),
});

/** VSS_WS_FAILED_AT_FREEZE -> "failed at freeze"; VSS_WS_WAITING_FOR_THAW -> "waiting for thaw". */
export function stateLabel(state: string): string {
  return state.replace(/^VSS_WS_/, '').toLowerCase().replace(/_/g, ' ');
}

export function styledState(state: string, style: Style): string {
  const label = stateLabel(state);
  if (state.startsWith('VSS_WS_FAILED')) return style.red(style.bold(label));
  if (state === 'VSS_WS_STABLE') return style.green(label);
  return style.yellow(label);
}

function row(w: WriterInfo, style: Style): string[] {
  const failed = w.state.startsWith('VSS_WS_FAILED') || w.lastError !== null;
  return [
    failed ? style.red(w.name) : w.name,
    w.instanceName || '-',
    styledState(w.state, style),
    w.lastError ? style.red(`${w.lastError.code}: ${w.lastError.message}`) : 'no error',
    w.id,
  ];
}

export const writersCommand: Command = defineCommand({
  name: 'writers',
  summary: 'List the writers with their state and last error (vssadmin list writers, one line each).',
  usage: 'writers [options]',
  details: 'Failed writers are shown in red on a terminal. Exit code 0 even when a writer has failed:\nthe list is the answer; `vss-bridge doctor` judges it.',
  options: { json: jsonOption, ...writerOptions, help: helpOption },
  schema,
  async run(values, io) {
    return withWriters(values, 'writers', async () => {
      const writers = await listWriters();
      if (values.json) {
        json(io, { writers, ...(writers.length === 0 && { note: noWritersNote() }) });
        return 0;
      }
      if (writers.length === 0) {
        io.stderr.write(`${noWritersNote()}\n`);
        return 0;
      }
      const style = styleFor(io.stdout);
      io.stdout.write(table(['WRITER', 'INSTANCE', 'STATE', 'LAST ERROR', 'WRITER ID'], writers.map((w) => row(w, style)), style));
      return 0;
    });
  },
});
