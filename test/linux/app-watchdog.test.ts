/**
 * The app's own watchdog: a guest agent's freeze hook froze a real app and then no thaw (nor
 * freezeFail) ever comes, as on the platforms that may never send one (docs/LINUX.md, "The
 * watchdog"). The app must release by itself at its writer's freeze window, say so loudly,
 * reopen its write gate and go on writing; the late thaw must then report that the snapshot
 * may not be application-consistent.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { isLinux, newTempDir, runCli, startApp, until, waitForStatus, type TestApp } from './helpers.js';

const skipReason = skipUnlessRunnable('app watchdog test', isLinux ? null : 'needs Linux (apps register for guest quiesce only there)');

/** Short enough for a test, long enough for the freeze handler on a loaded machine. */
const freezeTimeoutMs = 3000;

describe.skipIf(skipReason !== null)('the app releases by itself when no thaw comes', () => {
  let dir: string | undefined;
  let app: TestApp | undefined;

  afterEach(() => {
    app?.child.kill('SIGKILL');
    app = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('aborts its writers at the freeze window, logs an error, reopens its gate and goes on writing', async () => {
    dir = newTempDir('vss-bridge-watchdog-');
    const run = join(dir, 'run');
    const data = join(dir, 'records.log');
    // The gate's own watchdog is an hour away: only the writer's freeze window can reopen it.
    app = await startApp(data, { VSS_BRIDGE_RUNTIME_DIR: run }, { mode: 'gate', freezeTimeoutMs });

    const hook = (action: string) => runCli(['hook', action, '--runtime-dir', run, '--log', '-', '--source', 'test', '--timeout', '20000']);
    const freeze = await hook('freeze');
    expect(freeze.code, freeze.stderr).toBe(0);
    expect(freeze.stdout).toBe('frozen: 1 app(s)\n');
    const frozen = await app.status();
    expect(frozen.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    expect(frozen.gate?.state).toBe('frozen');

    // No thaw: the writer's freeze window runs out and the writers get abort.
    const released = await waitForStatus(app, (s) => s.events.includes('abort'), 'the watchdog to abort the writers');
    expect(released.events).not.toContain('thaw');
    expect(released.gate).toEqual({ state: 'open', endedBy: 'abort', watchdogThaws: 0 });
    // Loudly: an error naming the cause, in the app's own log.
    const loud = /error: quiesce [0-9a-f-]+: released without a thaw: .*freeze window of 3000 ms ran out before thaw/;
    await until(() => app!.output(), (out) => loud.test(out), (out) => `the app to log ${loud}; its output:\n${out}`);

    // The thaw that comes too late is told the snapshot may not be application-consistent,
    // once: the next thaw has nothing left to report.
    const late = await hook('thaw');
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/thaw of pid \d+ failed: released before thaw: .*freeze window of 3000 ms ran out before thaw/);
    expect((await hook('thaw')).code).toBe(0);

    // Its writes flow again: records made after the release reach the file while it runs,
    // and once it stops every record is there, in order.
    const records = (): number[] => readFileSync(data, 'utf8').trimEnd().split('\n').map(Number);
    await until(() => records().at(-1) ?? 0, (lastRecord) => lastRecord > released.counter, (lastRecord) => `records after ${released.counter} in ${data} (last: ${lastRecord})`);
    const last = await app.stop();
    expect(records()).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  });
});
