/**
 * A replacement for the kernel's hv_vss_daemon (tools/hv/hv_vss_daemon.c) that lets apps
 * quiesce before Hyper-V's checkpoint or backup of a Linux guest:
 *
 *   FREEZE: freeze the registered apps, then FIFREEZE the file systems (mounts.ts), answer
 *   THAW:   FITHAW the file systems, thaw the apps, answer
 *   HOT_BACKUP and anything else: answer HV_S_OK, as hv_vss_daemon does
 *
 * Nothing is written to a file system while it is frozen: the log is held in memory from the
 * freeze until the thaw (a log on a frozen file system would deadlock the daemon). The daemon
 * also thaws by itself when no THAW arrives within maxFreezeMs, so a lost host never leaves
 * the guest frozen; a THAW that comes after that is answered HV_E_FAIL, because writes ran
 * after the file systems thawed and the host must not keep the snapshot as consistent.
 */
import type { BackupType } from '../types.js';
import { errnoName, linuxAddon } from './addon.js';
import { freezeAll, thawAll } from './fs-freeze.js';
import { readMounts, selectForFreeze } from './mounts.js';
import { freezeApps, thawApps } from './registered-apps.js';

export const HV_S_OK = 0;
export const HV_E_FAIL = 0x80004005 | 0;
export const VSS_OP_FREEZE = 5;
export const VSS_OP_THAW = 6;
export const VSS_OP_HOT_BACKUP = 2;

export interface HvVssDaemonOptions {
  readonly device: string;
  readonly mounts: string;
  readonly includeLoop: boolean;
  readonly runtimeDir: string | undefined;
  /** For the apps to confirm a freeze; the kernel itself waits up to 15 minutes. */
  readonly freezeTimeoutMs: number;
  /** For the apps to thaw; below the kernel's 30 s limit for THAW. */
  readonly thawTimeoutMs: number;
  /** The daemon's own watchdog: thaw everything when no THAW comes. */
  readonly maxFreezeMs: number;
  readonly backupType: BackupType;
}

/** Log lines go out at once, except while file systems are frozen: then they wait. */
class HeldLog {
  private held: string[] | null = null;
  constructor(private readonly out: { write(s: string): unknown }) {}
  line = (text: string): void => {
    const stamped = `${new Date().toISOString()} vss-bridge hv_vss: ${text}\n`;
    if (this.held) this.held.push(stamped);
    else this.out.write(stamped);
  };
  hold(): void {
    this.held ??= [];
  }
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const s of held) this.out.write(s);
  }
}

/** Runs until `stop` fires or the channel closes. Resolves with the exit code. */
export function runHvVssDaemon(options: HvVssDaemonOptions, io: { stderr: { write(s: string): unknown } }, stop: AbortSignal): Promise<number> {
  const log = new HeldLog(io.stderr);
  let frozen: string[] | null = null;
  let thawedByWatchdog = false;
  let watchdog: NodeJS.Timeout | undefined;
  let busy: Promise<void> = Promise.resolve();

  const thawFileSystems = async (why: string): Promise<string[]> => {
    clearTimeout(watchdog);
    const list = frozen ?? selectForFreeze(readMounts(options.mounts), { includeLoop: options.includeLoop }).mountPoints;
    frozen = null;
    const failures = await thawAll(list);
    log.release();
    log.line(`thawed ${list.length} file system(s) (${why})${failures.length ? `; ${failures.join('; ')}` : ''}`);
    return failures;
  };

  const onFreeze = async (): Promise<number> => {
    const apps = await freezeApps({
      runtimeDir: options.runtimeDir,
      timeoutMs: options.freezeTimeoutMs,
      backupType: options.backupType,
      source: 'hv_vss',
      log: log.line,
    });
    if (!apps.ok) {
      log.line('FREEZE vetoed by an app: answering HV_E_FAIL');
      return HV_E_FAIL;
    }
    const selection = selectForFreeze(readMounts(options.mounts), { includeLoop: options.includeLoop });
    for (const s of selection.skipped) log.line(`not freezing ${s.mountPoint}: ${s.reason}`);
    log.line(`freezing ${selection.mountPoints.join(', ') || 'nothing'}`);
    log.hold();
    try {
      await freezeAll(selection.mountPoints);
    } catch (error) {
      log.release();
      log.line(`${(error as Error).message}: every file system thawed; answering HV_E_FAIL`);
      await thawApps('abort', { runtimeDir: options.runtimeDir, timeoutMs: options.thawTimeoutMs, log: log.line });
      return HV_E_FAIL;
    }
    frozen = selection.mountPoints;
    thawedByWatchdog = false;
    watchdog = setTimeout(() => {
      busy = busy.then(async () => {
        if (frozen === null) return;
        thawedByWatchdog = true;
        await thawFileSystems(`no THAW within ${options.maxFreezeMs} ms`);
        await thawApps('abort', { runtimeDir: options.runtimeDir, timeoutMs: options.thawTimeoutMs, log: log.line });
      });
    }, options.maxFreezeMs);
    log.line('FREEZE succeeded');
    return HV_S_OK;
  };

  const onThaw = async (): Promise<number> => {
    if (thawedByWatchdog && frozen === null) {
      thawedByWatchdog = false;
      log.line(`THAW came after the daemon thawed by itself (no THAW within ${options.maxFreezeMs} ms): answering HV_E_FAIL, writes ran before the snapshot ended`);
      return HV_E_FAIL;
    }
    const failures = await thawFileSystems('THAW');
    const apps = await thawApps('thaw', { runtimeDir: options.runtimeDir, timeoutMs: options.thawTimeoutMs, log: log.line });
    if (!apps.ok) log.line('an app did not thaw cleanly (the snapshot is taken; see above)');
    // As hv_vss_daemon: THAW fails only when a file system could not be thawed.
    return failures.length ? HV_E_FAIL : HV_S_OK;
  };

  return new Promise((resolve) => {
    let channel: ReturnType<ReturnType<typeof linuxAddon>['openHvVssChannel']>;
    let exitCode = 0;
    const shutdown = (code: number): void => {
      exitCode = code;
      busy = busy.then(async () => {
        if (frozen !== null) {
          await thawFileSystems('the daemon is stopping');
          await thawApps('abort', { runtimeDir: options.runtimeDir, timeoutMs: options.thawTimeoutMs, log: log.line });
        }
        channel.close();
      });
    };
    try {
      channel = linuxAddon().openHvVssChannel(options.device, (...event) => {
        if (event[0] === 'version') {
          log.line(`registered with the kernel (hv_vss version ${event[1]})`);
          return;
        }
        if (event[0] === 'closed') {
          stop.removeEventListener('abort', onStop);
          void busy.then(() => {
            if (event[1] !== 0) log.line(`the channel closed: ${errnoName(event[1])}`);
            resolve(event[1] !== 0 && exitCode === 0 ? 1 : exitCode);
          });
          return;
        }
        const { operation, name } = event[1];
        busy = busy.then(async () => {
          let error = HV_S_OK;
          try {
            if (operation === VSS_OP_FREEZE) error = await onFreeze();
            else if (operation === VSS_OP_THAW) error = await onThaw();
            else if (operation === VSS_OP_HOT_BACKUP) log.line('HOT_BACKUP: answered');
            else log.line(`illegal operation ${operation} (${name}): answered`);
          } catch (e) {
            log.release();
            log.line(`${name} failed: ${(e as Error).message}`);
            error = HV_E_FAIL;
          }
          try {
            channel.answer(error);
          } catch (e) {
            // As hv_vss_daemon: a FREEZE nobody hears about must not stay frozen.
            log.line(`answering ${name} failed: ${(e as Error).message}`);
            if (operation === VSS_OP_FREEZE && frozen !== null) {
              await thawFileSystems('the answer to FREEZE could not be written');
              await thawApps('abort', { runtimeDir: options.runtimeDir, timeoutMs: options.thawTimeoutMs, log: log.line });
            }
          }
        });
      });
    } catch (error) {
      log.line(`cannot open ${options.device}: ${(error as Error).message}`);
      resolve(1);
      return;
    }
    const onStop = (): void => shutdown(0);
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });
  });
}
