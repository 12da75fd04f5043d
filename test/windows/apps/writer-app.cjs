/**
 * An app with one VssWriter, run by test/windows in the Windows node.exe (real Windows, or
 * Wine on the emulated VSS): subscribes, optionally takes snapshot sets from this same
 * process, optionally waits for another process to take them, then prints one line
 * `RESULT <json>`: what each set returned or threw, the events the writer saw with their
 * context, and the writer as listWriters() shows it afterwards.
 *
 *   node writer-app.cjs '<json config>'
 * config: { name, id, dataDir, failAt?: {event, code}, hangAt?: event, slowAt?: {event, ms},
 *           handlerTimeoutMs?,
 *           freezeTimeoutMs?, backups?: [createShadowCopy options], readyFile?, stopFile?,
 *           exitAfterSubscribe?, reportAfterFirst?, progress? }   (failAt.times: fail only that many times;
 *           reportAfterFirst: list the writer between the first and second set; progress: report
 *           each set's onProgress reports, and a failed set's result.phases)
 */
'use strict';
const fs = require('node:fs');
const vss = require('vss-bridge');
const { seenEvent } = require('./seen-event.cjs');

const config = JSON.parse(process.argv[2]);
const seen = [];

function record(ctx) {
  seen.push(seenEvent(ctx, config.dataDir));
  if (config.hangAt === ctx.event) return new Promise(() => {});
  if (config.slowAt && config.slowAt.event === ctx.event) return new Promise((r) => setTimeout(r, config.slowAt.ms));
  if (config.failAt && config.failAt.event === ctx.event && (config.failAt.times ?? Infinity) > 0) {
    config.failAt.times = (config.failAt.times ?? Infinity) - 1;
    throw new vss.WriterFailure(config.failAt.code, `${ctx.event} refused by the test`);
  }
  return undefined;
}

const events = ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'abort', 'backupComplete', 'backupShutdown'];

function describeError(e) {
  return {
    name: e && e.name,
    message: e && e.message,
    code: e && e.code,
    writer: e && e.writer,
    snapshotSetId: e && e.result ? e.result.snapshotSetId : undefined,
    snapshots: e && e.result ? e.result.snapshots : undefined,
    shadowCopies: e && e.shadowCopies,
    phases: e && e.result ? e.result.phases : undefined,
  };
}

async function until(predicate, ms) {
  const end = Date.now() + ms;
  while (!predicate() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

async function main() {
  const writer = new vss.VssWriter({
    name: config.name,
    id: config.id,
    usage: 'userData',
    sourceType: 'nonTransactedDb',
    ...(config.handlerTimeoutMs ? { handlerTimeoutMs: config.handlerTimeoutMs } : {}),
    ...(config.freezeTimeoutMs ? { freezeTimeoutMs: config.freezeTimeoutMs } : {}),
    components: [{ name: 'orders', logicalPath: 'app', files: [{ path: config.dataDir, filespec: '*.db' }] }],
    handlers: Object.fromEntries(events.map((e) => [e, record])),
  });
  await writer.subscribe();
  if (config.exitAfterSubscribe) {
    // process.exit() while subscribed: what VSS is left with is the test's to check.
    process.exit(0);
  }
  if (config.readyFile) fs.writeFileSync(config.readyFile, String(process.pid));
  const backups = [];
  let afterFirst;
  for (const options of config.backups || []) {
    const from = seen.length;
    const progress = config.progress ? [] : undefined;
    const onProgress = progress && ((p) => progress.push(p));
    try {
      const result = await vss.createShadowCopy({ ...options, ...(onProgress && { onProgress }) });
      backups.push({ ok: true, snapshotSetId: result.snapshotSetId, snapshots: result.snapshots, writers: result.writers, progress });
    } catch (e) {
      backups.push({ ok: false, error: describeError(e), progress });
    }
    // BackupShutdown reaches the writer as the requester lets go, just after the set settles.
    await until(() => seen.slice(from).some((s) => s.event === 'backupShutdown'), 10_000);
    if (config.reportAfterFirst && backups.length === 1) {
      afterFirst = (await vss.listWriters()).find((w) => w.name === config.name) || null;
    }
  }
  if (config.stopFile) await until(() => fs.existsSync(config.stopFile), 120_000);
  const listed = (await vss.listWriters()).find((w) => w.name === config.name) || null;
  await writer.unsubscribe();
  console.log(`RESULT ${JSON.stringify({ backups, seen, listed, afterFirst, shadowCopies: await vss.listShadowCopies() })}`);
}

main().catch((e) => {
  console.log(`RESULT ${JSON.stringify({ fatal: describeError(e) })}`);
  process.exitCode = 1;
});

