/**
 * `vss-bridge checkpoint [volumes...]`: the sequence a host's production checkpoint runs in
 * the guest (a full shadow-copy set), with live progress on stderr, then a timeline of every
 * writer and event and the verdict on stdout.
 */
import { z } from 'zod';
import {
  backend,
  backupTypes,
  createShadowCopy,
  listShadowCopies,
  listWriters,
  providerErrorCodes,
  VssError,
  type KeptShadowCopy,
  type Progress,
  type ShadowCopyResult,
  writerEvents,
} from '../index.js';
import { getBackend } from '../backends/backend.js';
import { getDefaultLogger, silentLogger } from '../logger.js';
import { duration, durationValue, helpOption, jsonOption, defineCommand, type Command } from './command.js';
import { exitCodeOf, verdictOf, type Verdict } from './exit-codes.js';
import { formatMs, json, styleFor, table, type CommandIO, type Style } from './io.js';
import { fixedVolumes } from './volumes.js';
import { noWritersNote, withWriters, writerOptions, writerValues } from './writer-modules.js';
import { styledState } from './writers.js';

const schema = z.object({
  'backup-type': z.enum(backupTypes, { error: `must be one of ${backupTypes.join(', ')}` }).default('copy'),
  timeout: duration().default(120_000),
  keep: z.boolean().default(false),
  json: z.boolean().default(false),
  quiet: z.boolean().default(false),
  verbose: z.boolean().default(false),
  'fail-provider': z.enum(providerErrorCodes, { error: `must be one of ${providerErrorCodes.join(', ')}` }).optional(),
  ...writerValues,
  _: z.array(z.string().min(1).max(32767)).max(64, { error: 'at most 64 volumes' }),
});

/**
 * Columns of the timeline, in the order VSS sends the events: Identify first, and the
 * provider's commit between Freeze and Thaw.
 */
const freezeAt = writerEvents.indexOf('freeze') + 1;
const eventOrder = ['identify', ...writerEvents.slice(0, freezeAt), 'commit', ...writerEvents.slice(freezeAt)];

const verdictText: Record<Verdict, string> = {
  succeeded: 'succeeded',
  writerVeto: 'writer veto',
  timeout: 'timeout',
  providerFailure: 'provider failure',
  environment: 'environment problem',
  interrupted: 'interrupted',
  failure: 'failed',
};

function cell(records: readonly { outcome: string; durationMs: number }[], style: Style): string {
  if (records.length === 0) return style.dim('-');
  return records
    .map((r) => {
      const text = `${r.outcome === 'succeeded' ? 'ok' : r.outcome} ${formatMs(r.durationMs)}`;
      return r.outcome === 'succeeded' ? text : style.red(style.bold(text));
    })
    .join(' + ');
}

export function timelineTable(result: ShadowCopyResult, style: Style): string {
  const seen = new Set([...result.phases.map((p) => p.event), ...result.writers.flatMap((w) => w.events.map((e) => e.event))]);
  const columns = eventOrder.filter((e) => seen.has(e));
  const rows = result.writers.map((w) => [
    w.instanceName ? `${w.name} (${w.instanceName})` : w.name,
    ...columns.map((c) => (c === 'commit' ? style.dim('-') : cell(w.events.filter((e) => e.event === c), style))),
    styledState(w.state, style),
  ]);
  const commit = result.phases.filter((p) => p.event === 'commit');
  if (commit.length > 0) {
    rows.push(['(provider)', ...columns.map((c) => (c === 'commit' ? cell(commit, style) : style.dim('-'))), '']);
  }
  return table(['WRITER', ...columns, 'FINAL STATE'], rows, style);
}

function progressPrinter(io: CommandIO, style: Style): (p: Progress) => void {
  const stamp = (ms: number): string => style.dim(`[${formatMs(ms).padStart(7)}]`);
  return (p) => {
    if (p.status === 'start') io.stderr.write(`${stamp(p.elapsedMs)} ${style.bold(p.phase)}\n`);
    else if (p.status === 'writer' && p.writer) {
      const ok = p.outcome === 'succeeded';
      io.stderr.write(`${stamp(p.elapsedMs)}   ${p.writer.name}: ${ok ? style.green('ok') : style.red(p.outcome ?? '?')}\n`);
    } else if (p.status === 'end' && p.phase === 'commit') {
      const ok = p.outcome === 'succeeded';
      io.stderr.write(`${stamp(p.elapsedMs)}   provider: ${ok ? style.green('ok') : style.red(p.outcome ?? '?')}\n`);
    }
  };
}

export const checkpointCommand: Command = defineCommand({
  name: 'checkpoint',
  summary: "Run the snapshot set a host's production checkpoint runs, and show what every writer did.",
  usage: 'checkpoint [volumes...] [options]',
  details: `
Without volumes: every fixed volume (Linux: the block-device mounts hv_vss_daemon would freeze).
Progress goes to stderr; the timeline (each writer x each event: outcome and duration), the
final writer states and the verdict go to stdout.

On Linux and macOS this runs against the simulator, which lives inside this process: only
writers loaded with --writer-module or --with-demo-writer take part, and a kept shadow copy is
a record, with no data behind its device path.

Exit codes: 0 succeeded, 3 writer veto, 4 timeout, 5 provider failure, 6 environment problem,
2 bad command line, 130 interrupted, 1 anything else.`,
  options: {
    'backup-type': { type: 'string', value: '<type>', description: `${backupTypes.join(' | ')} (default full)` },
    timeout: { type: 'string', value: durationValue, description: 'deadline for the whole set, e.g. 30s, 1500ms, 2m; a bare number is milliseconds (default 120s)' },
    keep: { type: 'boolean', description: 'keep the shadow copies and print their device paths' },
    json: jsonOption,
    quiet: { type: 'boolean', short: 'q', description: 'no progress on stderr' },
    verbose: { type: 'boolean', short: 'v', description: "log vss-bridge's own messages to stderr" },
    'fail-provider': { type: 'string', value: '<code>', description: `simulator: make the provider's commit fail (${providerErrorCodes.join(', ')})` },
    ...writerOptions,
    help: helpOption,
  },
  schema,
  async run(values, io) {
    const notes: string[] = [];
    let volumes = values._;
    if (volumes.length === 0) {
      volumes = fixedVolumes();
      if (volumes.length === 0) {
        volumes = [process.platform === 'win32' ? 'C:\\' : '/'];
        notes.push(`no fixed volumes found; using ${volumes[0]}`);
      }
    }
    return withWriters(values, 'checkpoint', async () => {
      const controller = new AbortController();
      const interrupt = (): void => controller.abort();
      process.once('SIGINT', interrupt);
      try {
        const subscribed = (await listWriters()).length;
        if (subscribed === 0) notes.push(noWritersNote());
        const errStyle = styleFor(io.stderr);
        for (const note of notes) io.stderr.write(`${errStyle.yellow('note:')} ${note}\n`);
        const notesShown = notes.length;
        if (!values.quiet) {
          io.stderr.write(`checkpoint of ${volumes.join(', ')} (${values['backup-type']}, ${subscribed} writer${subscribed === 1 ? '' : 's'}, ${backend} backend)\n`);
        }
        let result: ShadowCopyResult;
        let error: VssError | null = null;
        try {
          result = await createShadowCopy({
            volumes,
            backupType: values['backup-type'],
            timeoutMs: values.timeout,
            keep: values.keep,
            signal: controller.signal,
            logger: values.verbose ? getDefaultLogger() : silentLogger,
            ...(!values.quiet && { onProgress: progressPrinter(io, errStyle) }),
            ...(values['fail-provider'] !== undefined && { simulation: { failWith: values['fail-provider'] } }),
          });
        } catch (caught) {
          if (!(caught instanceof VssError) || caught.result === undefined) throw caught;
          error = caught;
          result = caught.result;
        }
        const verdict: Verdict = error === null ? 'succeeded' : verdictOf(error);
        const kept: KeptShadowCopy[] = values.keep && error === null
          ? (await listShadowCopies()).filter((c) => c.snapshotSetId === result.snapshotSetId)
          : [];
        if (values.keep && getBackend().capabilities.inProcess && kept.length > 0) {
          notes.push('simulated shadow copies are records: no data lies behind their device paths');
        }
        const exitCode = exitCodeOf[verdict];
        if (values.json) {
          json(io, {
            verdict,
            exitCode,
            backend,
            volumes,
            backupType: values['backup-type'],
            error: error && {
              code: error.code,
              hresult: error.hresult,
              message: error.message,
              retryable: error.retryable,
              ...(error.writer && { writer: error.writer }),
            },
            result,
            kept,
            notes,
          });
          return exitCode;
        }
        const style = styleFor(io.stdout);
        const out: string[] = [];
        if (result.writers.length > 0 || result.phases.length > 0) out.push(timelineTable(result, style));
        for (const c of kept) out.push(`kept shadow copy ${c.id} of ${c.volume}: ${style.bold(c.deviceObject)}\n`);
        for (const note of notes.slice(notesShown)) out.push(`note: ${note}\n`);
        const summary =
          error === null
            ? `snapshot set ${result.snapshotSetId}: ${result.snapshots.length} shadow cop${result.snapshots.length === 1 ? 'y' : 'ies'} in ${formatMs(result.durationMs)}`
            : error.message;
        const label = verdictText[verdict];
        out.push(`verdict: ${error === null ? style.green(style.bold(label)) : style.red(style.bold(label))} - ${summary}\n`);
        io.stdout.write(out.join('\n'));
        return exitCode;
      } finally {
        process.removeListener('SIGINT', interrupt);
      }
    });
  },
});
