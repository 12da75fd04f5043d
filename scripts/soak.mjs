#!/usr/bin/env node
/**
 * Soak: many snapshot sets in a row against several writers under write load, with faults
 * drawn from a seeded generator (the same seed replays the same faults). After every set and
 * at the end it checks the invariants:
 *   - every set settles once, with success exactly when no fault was injected;
 *   - no writer is left frozen (each Freeze is followed by Thaw or Abort) or in a waiting state;
 *   - no acknowledged write is lost (writes are held while frozen and applied afterwards);
 *   - memory (heap after GC) and active handles end where they started.
 *
 *   node scripts/soak.mjs [--sets 3000] [--seed 1] [--writers 3] [--json]
 *
 * Uses dist/ (npm run build:ts). Exits 1 when an invariant breaks. VSS_BRIDGE_ADDON may point
 * at another build of the addon (scripts/native-checks.sh runs it under AddressSanitizer).
 */
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import vm from 'node:vm';

const require = createRequire(import.meta.url);
const { VssWriter, VssError, WriterFailure, createShadowCopy } = require('../dist/index.js');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}
const sets = arg('sets', 3000);
const seed = arg('seed', 1);
const writerCount = arg('writers', 3);
const json = process.argv.includes('--json');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

// mulberry32: small, seedable, good enough to pick faults.
function prng(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(seed);
const pick = (items) => items[Math.floor(random() * items.length)];

// Long enough that a healthy handler never misses it on a loaded machine or under
// AddressSanitizer (40 ms did, once, under both), short enough that hanging handlers keep the
// soak quick.
// VSS_BRIDGE_TEST_TIME_SCALE (test/helpers/timing.ts) multiplies it on a busy machine.
const HANDLER_TIMEOUT_MS = 150 * Number(process.env.VSS_BRIDGE_TEST_TIME_SCALE || 1);
const events = ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'abort', 'backupShutdown'];
const handlerFaults = ['throws', 'rejects', 'hangs', 'settlesLate'];
const quiet = { error() {}, warn() {}, info() {}, debug() {} };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * An application writer: a store that takes a write every millisecond or so and acknowledges
 * it; while frozen, writes are held (acknowledged once applied at thaw or abort).
 */
class App {
  constructor(index) {
    this.name = `soak-${index}`;
    this.frozen = false;
    // Writes apply in the order they were issued (held ones at release, before any later
    // one), so the store is the count applied: constant memory however long the soak runs.
    this.applied = 0;
    this.held = [];
    this.acknowledged = 0;
    this.next = 0;
    this.fault = null; // { event, kind } for the current set
    this.seen = new Map(); // snapshotSetId -> events
    const handlers = Object.fromEntries(events.map((e) => [e, (ctx) => this.handle(e, ctx)]));
    this.writer = new VssWriter({
      name: this.name,
      id: `5a0c0000-0000-4000-8000-${String(index).padStart(12, '0')}`,
      usage: 'userData',
      sourceType: 'transactedDb',
      handlerTimeoutMs: HANDLER_TIMEOUT_MS,
      freezeTimeoutMs: 1000,
      logger: quiet,
      handlers,
    });
    this.timer = setInterval(() => this.write(), 1);
  }
  write() {
    const n = this.next++;
    if (this.frozen) this.held.push(n);
    else this.apply(n);
  }
  apply(n) {
    if (n !== this.applied) fail(`${this.name}: write ${n} applied when write ${this.applied} was due (lost or out of order)`);
    this.applied++;
    this.acknowledged++;
  }
  release() {
    this.frozen = false;
    for (const n of this.held.splice(0)) this.apply(n);
  }
  handle(event, ctx) {
    const list = this.seen.get(ctx.snapshotSetId) ?? [];
    list.push(event);
    this.seen.set(ctx.snapshotSetId, list);
    // Thaw, Abort and BackupShutdown release held writes whatever else happens.
    if (event === 'thaw' || event === 'abort' || event === 'backupShutdown') this.release();
    if (this.fault?.event === event) {
      switch (this.fault.kind) {
        case 'throws': throw new Error('soak fault');
        case 'rejects': return Promise.reject(new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', 'soak fault'));
        case 'hangs': return new Promise(() => undefined);
        case 'settlesLate': return sleep(HANDLER_TIMEOUT_MS * 2);
      }
    }
    if (event === 'freeze') this.frozen = true;
    return undefined;
  }
  stop() {
    clearInterval(this.timer);
    this.release();
  }
}

function fail(message, detail) {
  console.error(`soak: invariant broken: ${message}`, detail ?? '');
  process.exit(1);
}

async function runOne(apps, index) {
  for (const app of apps) app.fault = null;
  const plan = { writerFault: null, provider: null, cancelAfterMs: null };
  const roll = random();
  if (roll < 0.35) {
    const app = pick(apps);
    app.fault = { event: pick(events), kind: pick(handlerFaults) };
    plan.writerFault = `${app.name}:${app.fault.event}:${app.fault.kind}`;
  } else if (roll < 0.45) {
    plan.provider = pick([{ failWith: 'VSS_E_PROVIDER_VETO' }, { commitDelayMs: 30, holdLimitMs: 5 }]);
  } else if (roll < 0.55) {
    plan.cancelAfterMs = Math.floor(random() * 20);
  }
  const controller = new AbortController();
  if (plan.cancelAfterMs !== null) setTimeout(() => controller.abort(), plan.cancelAfterMs);
  let code = null;
  let result;
  let retries = 0;
  for (;;) {
    try {
      result = await createShadowCopy({
        volumes: ['/'],
        timeoutMs: 10_000,
        signal: controller.signal,
        logger: quiet,
        ...(plan.provider && { simulation: plan.provider }),
      });
      code = null;
    } catch (error) {
      if (!(error instanceof VssError)) fail(`set ${index} rejected with a non-VssError`, error);
      code = error.code;
      result = error.result;
    }
    // The previous set may still be finishing its BackupShutdown: retry as restic does.
    if (code !== 'VSS_E_SNAPSHOT_SET_IN_PROGRESS') break;
    retries++;
    await sleep(2);
  }
  const faultless = !plan.writerFault && !plan.provider && plan.cancelAfterMs === null;
  // A fault in Abort, BackupShutdown (or in an event that never came) does not fail a set.
  if (faultless && code !== null) fail(`set ${index} failed with ${code} though no fault was injected`);
  if (code === null && plan.provider) fail(`set ${index} succeeded though the provider failed`, plan);
  // Wait for every writer's BackupShutdown of this set (it may come after a cancelled set answered).
  const id = result?.snapshotSetId;
  if (id) {
    const deadline = Date.now() + 5_000;
    while (!apps.every((a) => a.seen.get(id)?.includes('backupShutdown'))) {
      if (Date.now() > deadline) fail(`set ${index}: BackupShutdown did not reach every writer`, plan);
      await sleep(1);
    }
  }
  for (const app of apps) {
    if (app.frozen) fail(`set ${index}: ${app.name} left frozen`, plan);
    if (app.writer.state === 'VSS_WS_WAITING_FOR_THAW') fail(`set ${index}: ${app.name} waiting for thaw after the set`, plan);
    if (id) app.seen.delete(id);
  }
  return { code, retries };
}

async function main() {
  const apps = Array.from({ length: writerCount }, (_, i) => new App(i));
  for (const app of apps) await app.writer.subscribe();
  const codes = {};
  let retries = 0;
  const warmup = Math.min(50, Math.floor(sets / 10));
  let baseline;
  const started = Date.now();
  for (let i = 0; i < sets; i++) {
    if (i === warmup) {
      gc();
      baseline = { heap: process.memoryUsage().heapUsed, handles: process.getActiveResourcesInfo().length };
    }
    const r = await runOne(apps, i);
    codes[r.code ?? 'succeeded'] = (codes[r.code ?? 'succeeded'] ?? 0) + 1;
    retries += r.retries;
  }
  await sleep(HANDLER_TIMEOUT_MS * 3); // late answers of the last set
  gc();
  const end = { heap: process.memoryUsage().heapUsed, handles: process.getActiveResourcesInfo().length };
  for (const app of apps) app.stop();
  let lost = 0;
  let acknowledged = 0;
  for (const app of apps) {
    acknowledged += app.acknowledged;
    lost += app.next - app.applied; // a write still held at the end counts as lost
  }
  const summary = {
    sets,
    seed,
    writers: writerCount,
    outcomes: codes,
    inProgressRetries: retries,
    writesAcknowledged: acknowledged,
    writesLost: lost,
    heapGrowthBytes: end.heap - baseline.heap,
    handles: { start: baseline.handles, end: end.handles },
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  for (const app of apps) await app.writer.unsubscribe();
  if (lost !== 0) fail(`${lost} acknowledged writes lost`, summary);
  // Flat memory: a leak of even 1 KB per set would show as megabytes here.
  if (summary.heapGrowthBytes > 4 * 1024 * 1024 + sets * 256) fail('heap grew', summary);
  if (end.handles > baseline.handles) fail('handles grew', summary);
  console.log(json ? JSON.stringify(summary) : summary);
}

main().catch((error) => fail('the soak threw', error));
