/**
 * The consistent-snapshot demo: a records service on SQLite, registered as a VSS writer with a
 * WriteGate, under continuous load, while snapshot sets run. Each provider commit copies the
 * database files as the snapshot; each copy is then checked (see checkpoint.ts). Run it with
 * `npm run demo` or the CLI's demo command.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { getDefaultLogger } from '../logger.js';
import { isAbsoluteForPlatform, loggerSchema, parseOptions } from '../schemas.js';
import { releasing } from '../releases.js';
import { VssWriter } from '../writer.js';
import { copyDatabase, latencyOf, runCheckpoint, type CheckpointReport } from './checkpoint.js';
import { LoadGenerator } from './load.js';
import { databaseFile, RecordsService } from './records.js';
import { loadSqlite } from './sqlite.js';

const whole = z.number().int({ error: 'must be a whole number' });

export const demoOptionsSchema = z.strictObject({
  /** Snapshot sets to run. */
  checkpoints: whole.min(1).max(1000).default(3),
  /** Pause before each checkpoint, with the load running. */
  intervalMs: whole.min(0).max(60_000).default(400),
  /**
   * Megabytes of ballast written to the database before each checkpoint, with SQLite's own
   * checkpoints off: the WAL the write gate finds at prepareSnapshot (0: none).
   */
  walMb: whole.min(0).max(1024).default(0),
  /** Concurrent clients writing records. */
  clients: whole.min(1).max(64).default(4),
  /** One JSON document instead of text. */
  json: z.boolean().default(false),
  /** Where the report goes: anything with write(text), such as a stream. */
  output: z.custom<{ write(text: string): unknown }>((v) => typeof v === 'object' && v !== null && typeof (v as { write?: unknown }).write === 'function', {
    error: 'must be a writable stream (an object with a write method)',
  }).optional(),
  /** Where the database and the snapshots go; default a new temporary directory, removed at the end. */
  dir: z.string().refine((p) => isAbsoluteForPlatform(p), { error: 'must be an absolute path' }).optional(),
  /** Keep `dir` (database and snapshot copies) after the demo. */
  keep: z.boolean().default(false),
  /** The library's log (writer events, gate); default: warnings and errors only. */
  logger: loggerSchema.optional(),
});

export type DemoOptions = z.input<typeof demoOptionsSchema>;

export interface DemoReport {
  readonly ok: boolean;
  readonly dir: string;
  readonly checkpoints: readonly CheckpointReport[];
  readonly acknowledgedWrites: number;
  /** Acknowledged writes missing from the live database at the end: must be 0. */
  readonly lostWrites: number;
  readonly heldLatency: CheckpointReport['heldLatency'];
}

const writerId = '5e1f0c2a-7b3d-4c8e-9a6f-2d4b8c0e1f3a';
const writerName = 'vss-bridge records demo';

/**
 * Runs the demo and reports on it. Whichever way it ends, it first releases what it took, the
 * last taken first: the load's connections, the writer's subscription, the service (its HTTP
 * server and database), and the temporary directory unless `keep` (a `dir` of the caller's is
 * never removed). When it fails, the caller gets its error unchanged; a release that also
 * fails is logged (see releasing).
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const o = parseOptions(demoOptionsSchema, options, 'demo options');
  const out = o.output ?? process.stdout;
  const logger = o.logger ?? getDefaultLogger();
  const sqlite = await loadSqlite();
  const text = (line: string): void => {
    if (!o.json) out.write(`${line}\n`);
  };
  const report = await releasing(logger, 'the demo', async (take): Promise<DemoReport> => {
    const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'vss-bridge-demo-')));
    if (o.dir === undefined && !o.keep) take(`the temporary directory ${dir}`, () => rm(dir, { recursive: true, force: true }));
    const dataDir = join(dir, 'data');
    await mkdir(dataDir, { recursive: true });
    const service = await RecordsService.start({ dir: dataDir, sqlite, logger, manualCheckpoints: o.walMb > 0 });
    take('the records service', () => service.close());
    const writer = new VssWriter({
      name: writerName,
      id: writerId,
      usage: 'userData',
      sourceType: 'transactedDb',
      components: [{ name: 'records', files: [{ path: dataDir, filespec: `${databaseFile}*` }] }],
      gate: service.gate,
      logger,
    });
    // Taken before subscribing: a subscribe that fails after the writer was subscribed (its
    // registration for guest agents) leaves it subscribed, and unsubscribing one that is not is a no-op.
    take(`writer "${writerName}"`, () => writer.unsubscribe());
    await writer.subscribe();
    const load = new LoadGenerator(service.url, o.clients);
    take('the load', () => load.stop());
    text(
      `records service on ${service.url} (SQLite in ${dataDir}), writer "${writerName}" with a write gate; ${o.clients} clients writing` +
        (o.walMb > 0 ? `; ${o.walMb} MB of ballast written before each checkpoint, SQLite's own checkpoints off` : ''),
    );
    load.start();
    const checkpoints: CheckpointReport[] = [];
    for (let i = 1; i <= o.checkpoints; i++) {
      await sleep(o.intervalMs);
      await service.fillWal(o.walMb * 1024 * 1024);
      const report = await runCheckpoint({
        index: i,
        service,
        load,
        sqlite,
        volume: dataDir,
        writerName,
        logger,
        takeSnapshot: async () => {
          const to = join(dir, 'snapshots', `checkpoint-${i}`);
          await copyDatabase(dataDir, to);
          return to;
        },
      });
      checkpoints.push(report);
      text(describeCheckpoint(report, o.checkpoints));
    }
    // Every acknowledgement in before the live database is read.
    await load.stop();
    const live = service.ids();
    const lostWrites = load.acks.filter((a) => !live.has(a.id)).length;
    const heldLatency = latencyOf(load.acks.filter((a) => a.held));
    const ok = lostWrites === 0 && checkpoints.every((c) => c.succeeded && c.verdict?.ok === true);
    return { ok, dir, checkpoints, acknowledgedWrites: load.acks.length, lostWrites, heldLatency };
  });
  if (o.json) {
    out.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const { checkpoints, heldLatency } = report;
    const consistent = checkpoints.filter((c) => c.verdict?.ok).length;
    text(
      `summary: ${consistent}/${checkpoints.length} snapshots consistent, ${report.acknowledgedWrites} writes acknowledged, ` +
        `lost writes: ${report.lostWrites}, held-write latency p50 ${ms(heldLatency.p50)} p99 ${ms(heldLatency.p99)} (${heldLatency.count} held)` +
        (o.keep || o.dir !== undefined ? `; files kept in ${report.dir}` : ''),
    );
    text(report.ok ? 'verdict: every snapshot consistent, no acknowledged write lost' : 'verdict: FAILED (see above)');
  }
  return report;
}

function mb(bytes: number | null): string {
  return bytes === null ? '-' : `${(bytes / 1048576).toFixed(bytes >= 1048576 ? 1 : 3)} MB`;
}

function ms(v: number | null): string {
  return v === null ? '-' : `${v.toFixed(1)} ms`;
}

export function describeCheckpoint(c: CheckpointReport, of: number): string {
  const lines = [`checkpoint ${c.index}/${of}  snapshot set ${c.snapshotSetId ?? '-'}  ${c.succeeded ? 'succeeded' : `FAILED ${c.error?.code}: ${c.error?.message}`}`];
  lines.push(
    `  timeline   ${c.timeline.map((e) => `${e.event} @${e.startMs.toFixed(1)} ${e.durationMs.toFixed(1)} ms${e.outcome === 'succeeded' ? '' : ` ${e.outcome}`}`).join(' | ')}`,
  );
  lines.push(`  wal        at prepareSnapshot ${mb(c.wal.atPrepareSnapshot)}, at freeze ${mb(c.wal.atFreeze)}`);
  if (c.freeze) {
    const f = c.freeze;
    lines.push(
      `  freeze     writes held ${f.heldMs.toFixed(1)} ms (drain ${f.drainMs === null ? '-' : `${f.drainMs.toFixed(1)} ms`}), ` +
        `${f.heldWrites} writes held, latency p50 ${ms(c.heldLatency.p50)} p99 ${ms(c.heldLatency.p99)}, ended by ${f.endedBy}`,
    );
  }
  const v = c.verdict;
  if (v) {
    lines.push(
      `  snapshot   integrity_check ${v.integrity}; ${v.expected} writes from before the freeze (${v.acknowledgedBeforeFreeze} acknowledged before it began): ` +
        `${v.missing.length === 0 ? 'all present' : `${v.missing.length} MISSING`}; ${v.afterFreeze} from after: ` +
        `${v.unexpected.length === 0 ? 'none present' : `${v.unexpected.length} PRESENT`}  ${v.ok ? 'consistent' : 'INCONSISTENT'}`,
    );
  } else {
    lines.push('  snapshot   none to check (the set failed)');
  }
  return lines.join('\n');
}
