/** `vss-bridge metadata [writer]`: the components and file groups writers report. */
import { z } from 'zod';
import { gatherWriterMetadata, type WriterMetadataInfo } from '../index.js';
import { helpOption, jsonOption, UsageError, defineCommand, type Command } from './command.js';
import { json, styleFor, type Style } from './io.js';
import { noWritersNote, withWriters, writerOptions, writerValues } from './writer-modules.js';
import { styledState } from './writers.js';

const schema = z.object({
  json: z.boolean().optional(),
  ...writerValues,
  _: z.array(z.string().min(1)).max(1, { error: 'name at most one writer' }),
});

function describe(w: WriterMetadataInfo, style: Style): string {
  const lines = [
    `${style.bold(w.name)}${w.instanceName ? ` (${w.instanceName})` : ''}`,
    `  writer id:      ${w.id}`,
    `  instance id:    ${w.instanceId}`,
    `  state:          ${styledState(w.state, style)}`,
    `  usage:          ${w.usage ?? 'not reported (the writer described nothing)'}`,
    `  source type:    ${w.sourceType ?? 'not reported'}`,
    `  freeze window:  ${w.freezeTimeoutMs !== undefined ? `${w.freezeTimeoutMs} ms; handler deadline ${w.handlerTimeoutMs} ms` : 'not reported by VSS'}`,
  ];
  if (w.components.length === 0) {
    lines.push('  components:     none (the writer is backed up as a whole, with no files of its own)');
  }
  for (const c of w.components) {
    const path = c.logicalPath ? `${c.logicalPath}\\${c.name}` : c.name;
    lines.push(`  component ${style.bold(path)}${c.caption && c.caption !== c.name ? ` - ${c.caption}` : ''}`);
    for (const f of c.files) lines.push(`    files: ${f.path} ${f.filespec}${f.recursive ? ' (recursive)' : ''}`);
  }
  return lines.join('\n') + '\n';
}

export const metadataCommand: Command = defineCommand({
  name: 'metadata',
  summary: 'Show the components and file groups each writer reports (GatherWriterMetadata).',
  usage: 'metadata [writer] [options]',
  details: 'With a writer name (or writer id), only that writer; exit code 2 when no writer matches.',
  options: { json: jsonOption, ...writerOptions, help: helpOption },
  schema,
  async run(values, io) {
    return withWriters(values, 'metadata', async () => {
      const all = await gatherWriterMetadata();
      const wanted = values._[0];
      const writers = wanted === undefined ? all : all.filter((w) => w.name === wanted || w.id === wanted.toLowerCase());
      if (wanted !== undefined && writers.length === 0) {
        throw new UsageError(
          `metadata: no writer named "${wanted}"; writers: ${all.map((w) => w.name).join(', ') || `none (${noWritersNote()})`}`,
        );
      }
      if (values.json) {
        json(io, { writers, ...(all.length === 0 && { note: noWritersNote() }) });
        return 0;
      }
      if (writers.length === 0) io.stderr.write(`${noWritersNote()}\n`);
      const style = styleFor(io.stdout);
      io.stdout.write(writers.map((w) => describe(w, style)).join('\n'));
      return 0;
    });
  },
});
