/**
 * A replacement for the kernel's hv_vss_daemon (tools/hv/hv_vss_daemon.c) that lets apps
 * quiesce before Hyper-V's checkpoint or backup of a Linux guest:
 *
 *   FREEZE: freeze the registered apps, then FIFREEZE the file systems (mounts.ts), answer
 *   THAW:   FITHAW the file systems, thaw the apps, answer
 *   HOT_BACKUP and anything else: answer HV_S_OK, as hv_vss_daemon does
 *
 * Nothing is written to a file system while it is frozen: the log is held in memory from the
 * freeze until the thaw (a log on a frozen file system would deadlock the daemon).
 *
 * The guest is never left frozen, whichever way the daemon leaves its freeze:
 *  - no THAW within maxFreezeMs: it thaws by itself; a THAW that comes after that is answered
 *    HV_E_FAIL, because writes ran after the file systems thawed and the host must not keep
 *    the snapshot as consistent;
 *  - the channel reads end of file or an error, or an answer cannot be written (after
 *    hibernation the kernel fakes a THAW and refuses its answer, expecting the daemon to
 *    reset the device): it thaws, tells the apps to abort, then reopens the channel and
 *    registers again, as hv_vss_daemon does;
 *  - SIGTERM (systemd stopping it): it thaws and aborts the apps before it exits;
 *  - a crash or SIGKILL: before every FIFREEZE it writes the list of file systems to a marker
 *    under /run (a tmpfs, never frozen); at start it thaws whatever a marker lists.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NativeLinux } from '../backends/native.js';
import type { BackupType } from '../types.js';
import { errnoName, linuxAddon } from './addon.js';
import { freezeAll, thawAll } from './fs-freeze.js';
import { readMounts, selectForFreeze } from './mounts.js';
import { freezeApps, thawApps } from './registered-apps.js';
import { systemRuntimeDir } from './runtime-dir.js';

export const HV_S_OK = 0;
export const HV_E_FAIL = 0x80004005 | 0;
export const VSS_OP_FREEZE = 5;
export const VSS_OP_THAW = 6;
export const VSS_OP_HOT_BACKUP = 2;

/** The marker's name in the runtime directory (/run/vss-bridge unless --runtime-dir says). */
const frozenMarkerName = 'hv-vss-daemon.frozen';

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
  /**
   * Where the daemon notes what it froze, for its next start after a crash; on a file system
   * that is never frozen. Default: hv-vss-daemon.frozen in the runtime directory.
   */
  readonly frozenMarker?: string;
}

export type OpenHvVssChannel = NativeLinux['openHvVssChannel'];
type Channel = ReturnType<OpenHvVssChannel>;
type ChannelEvent = Parameters<Parameters<OpenHvVssChannel>[1]>;

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

/** A channel that closes again this soon after opening is reopened only after a pause. */
const reopenPauseMs = 1000;

/**
 * Runs until `stop` fires, or until the channel cannot be opened (again). Resolves with the
 * exit code. `open` is the addon's openHvVssChannel (replaced in tests).
 */
export async function runHvVssDaemon(
  options: HvVssDaemonOptions,
  io: { stderr: { write(s: string): unknown } },
  stop: AbortSignal,
  open: OpenHvVssChannel = (path, sink) => linuxAddon().openHvVssChannel(path, sink),
): Promise<number> {
  const log = new HeldLog(io.stderr);
  const marker = options.frozenMarker ?? join(options.runtimeDir ?? systemRuntimeDir, frozenMarkerName);
  let frozen: string[] | null = null;
  let thawedByWatchdog = false;
  let watchdog: NodeJS.Timeout | undefined;
  /** Every step that touches the file systems or the apps runs here, one after another. */
  let busy: Promise<void> = Promise.resolve();
  const serially = (step: () => Promise<void>): Promise<void> => (busy = busy.then(step));

  const abortApps = async (): Promise<void> => {
    await thawApps('abort', { runtimeDir: options.runtimeDir, timeoutMs: options.thawTimeoutMs, log: log.line });
  };
  const forgetMarker = (): void => {
    try {
      unlinkSync(marker);
    } catch {
      // not there: nothing was frozen
    }
  };
  const thawFileSystems = async (why: string): Promise<string[]> => {
    clearTimeout(watchdog);
    const list = frozen ?? selectForFreeze(readMounts(options.mounts), { includeLoop: options.includeLoop }).mountPoints;
    frozen = null;
    const failures = await thawAll(list);
    log.release();
    // Removed even when a FITHAW failed: a later start could do no better.
    forgetMarker();
    log.line(`thawed ${list.length} file system(s) (${why})${failures.length ? `; ${failures.join('; ')}` : ''}`);
    return failures;
  };
  /** Whatever way the daemon leaves a freeze: the file systems first, then the apps. */
  const unfreeze = async (why: string): Promise<void> => {
    if (frozen === null) return;
    await thawFileSystems(why);
    await abortApps();
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
    // Before the first FIFREEZE: a daemon killed from here on is thawed by its next start.
    mkdirSync(dirname(marker), { recursive: true, mode: 0o755 });
    writeFileSync(marker, `${JSON.stringify({ pid: process.pid, mountPoints: selection.mountPoints })}\n`, { mode: 0o600 });
    log.hold();
    try {
      await freezeAll(selection.mountPoints);
    } catch (error) {
      log.release();
      forgetMarker();
      log.line(`${(error as Error).message}: every file system thawed; answering HV_E_FAIL`);
      await abortApps();
      return HV_E_FAIL;
    }
    frozen = selection.mountPoints;
    thawedByWatchdog = false;
    watchdog = setTimeout(() => {
      void serially(async () => {
        if (frozen === null) return;
        thawedByWatchdog = true;
        await unfreeze(`no THAW within ${options.maxFreezeMs} ms`);
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

  /** Serves one opening of the channel; resolves once it has closed. Throws when it cannot open. */
  const serve = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let channel: Channel | undefined;
      const onStop = (): void => {
        void serially(async () => {
          await unfreeze('the daemon is stopping');
          channel?.close();
        });
      };
      const onEvent = (...event: ChannelEvent): void => {
        if (event[0] === 'version') {
          log.line(`registered with the kernel (hv_vss version ${event[1]})`);
          return;
        }
        if (event[0] === 'closed') {
          stop.removeEventListener('abort', onStop);
          const errno = event[1];
          void serially(async () => {
            if (errno !== 0) log.line(`the channel closed: ${errnoName(errno)}`);
            await unfreeze('the channel closed');
          }).then(resolve);
          return;
        }
        const { operation, name } = event[1];
        void serially(async () => {
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
            channel?.answer(error);
          } catch (e) {
            // As hv_vss_daemon: reset the device (close, then open and register again). A
            // FREEZE nobody heard about is undone when the channel reports it closed.
            log.release();
            log.line(`answering ${name} failed: ${(e as Error).message}; resetting the channel`);
            channel?.close();
          }
        });
      };
      try {
        channel = open(options.device, onEvent);
      } catch (error) {
        reject(error as Error);
        return;
      }
      if (stop.aborted) onStop();
      else stop.addEventListener('abort', onStop, { once: true });
    });

  // A marker left by a daemon that died while frozen: thaw what it froze, before anything else.
  let left: { mountPoints?: unknown } | undefined;
  try {
    left = JSON.parse(readFileSync(marker, 'utf8')) as { mountPoints?: unknown };
  } catch {
    left = undefined;
  }
  if (left !== undefined) {
    const list = Array.isArray(left.mountPoints) ? left.mountPoints.filter((m): m is string => typeof m === 'string') : [];
    const failures = await thawAll(list);
    log.line(`a previous daemon stopped while frozen: thawed ${list.length} file system(s)${failures.length ? `; ${failures.join('; ')}` : ''}`);
    forgetMarker();
    await abortApps();
  }

  for (;;) {
    if (stop.aborted) return 0;
    const opened = performance.now();
    try {
      await serve();
    } catch (error) {
      log.line(`cannot open ${options.device}: ${(error as Error).message}`);
      return 1;
    }
    if (stop.aborted) return 0;
    log.line(`reopening ${options.device}`);
    const pause = reopenPauseMs - (performance.now() - opened);
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
}
