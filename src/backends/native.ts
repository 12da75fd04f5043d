/**
 * Loads the compiled addon and describes its raw surface. Everything here is unvalidated
 * plumbing: the public API in writer.ts and requester.ts checks its inputs first.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';

export interface NativeEventContext {
  event: string;
  snapshotSetId: string;
  backupType: string;
  volumes: string[];
  components: string[];
}

/**
 * The router of native/event_queue.h: the `count` events gathered since its last call, four
 * numbers each in `rows` (dispatcher id, call id, milliseconds left before the deadline, index
 * of a context). `contexts` holds the batch's contexts, five elements each (NativeEventContext's
 * fields in order); a phase's context is shared by every writer's event. `rows` is reused by
 * the next call: read it before returning.
 */
export type NativeRouter = (rows: Float64Array, count: number, contexts: unknown[]) => void;

export interface NativeDispatcher {
  /** Names this dispatcher in the router's rows. */
  readonly id: number;
  /** The JS-side deadline timer fired first. False when the call had already settled. */
  expire(callId: number): boolean;
  /** Answers every pending call with a failure; the event loop no longer waits for it. */
  close(reason?: string): void;
}

export interface NativeFileGroup {
  path: string;
  filespec: string;
  recursive: boolean;
}
export interface NativeComponent {
  logicalPath: string;
  name: string;
  caption: string;
  files: NativeFileGroup[];
}
export interface NativeWriterMetadata {
  id: string;
  name: string;
  instanceName: string;
  usage: string;
  sourceType: string;
  freezeTimeoutMs: number;
  handlerTimeoutMs: number;
  restoreMethod: string;
  components: NativeComponent[];
}

export interface NativeWriterStatus {
  id: string;
  instanceId: string;
  name: string;
  instanceName: string;
  state: number;
  lastError: number;
  lastErrorMessage: string;
}

/**
 * listWriters(): the status with the metadata the writer described: what it registered at
 * subscribe (simulator), or what GatherWriterMetadata returned (VSS; absent for a writer that
 * failed at Identify, and with timeouts of 0: another process's writer does not report them).
 */
export interface NativeWriterListing extends NativeWriterStatus {
  metadata?: NativeWriterMetadata;
}

export interface NativeSnapshotSetResult {
  snapshotSetId: string;
  hresult: number;
  message: string;
  failedWriter: string;
  failedEvent: string;
  durationMs: number;
  /** `deviceObject`: VSS's; empty from the simulator, whose JS half numbers its copies. */
  snapshots: { id: string; volume: string; deviceObject: string }[];
  /** A set that failed once its copies existed (VSS only): the copies its clean-up deleted, and those it could not. */
  deletedCopies: string[];
  undeletedCopies: string[];
  /**
   * Every event record of the set, six numbers each: event, startMs, durationMs, outcome,
   * hresult, message, the strings as indexes into `strings`. The phases' records come first,
   * then each writer's in turn (toRecords in results.ts unpacks them).
   */
  records: Float64Array;
  /** How many of `records` are the phases'. */
  phases: number;
  /** `events`: how many of `records` are the writer's. */
  writers: (NativeWriterStatus & { events: number })[];
  strings: string[];
}

export interface NativeProgress {
  phase: string;
  status: 'start' | 'end' | 'writer';
  writerInstanceId?: string;
  writerName?: string;
  outcome?: string;
  elapsedMs: number;
}

export interface NativeSnapshotSetConfig {
  restore: boolean;
  /** Whether the sink gets progress messages (simulator; VSS always sends them). */
  progress: boolean;
  volumes: string[];
  backupType: string;
  components: string[];
  timeoutMs: number;
  provider: { commitDelayMs: number; failWith: number; holdLimitMs: number };
  /** Handler failures to inject (simulator only): the handler runs, then its event fails. */
  writerFailures?: { writer: string; instanceName?: string; event: string; hresult: number }[];
  /** Overrides every writer's freeze window; 0 keeps each writer's own. */
  freezeWindowMs?: number;
  /**
   * The commit is held outside VSS (the `commit` dispatcher waits for it, e.g. a Linux guest
   * agent's file-system freeze): no provider hold limit, only the writers' freeze windows
   * and the set's deadline bound it (simulator).
   */
  externalCommit?: boolean;
}

export type NativeSink = (
  ...args: ['progress', NativeProgress] | ['done', NativeSnapshotSetResult]
) => void;

export interface NativeSimulatedWriter {
  /** Throws an Error carrying .hresult when VSS would refuse. */
  subscribe(dispatcher: NativeDispatcher): void;
  unsubscribe(): void;
  status(): NativeWriterStatus | null;
}

export interface NativeDispatchResult {
  outcome: 'succeeded' | 'failed' | 'timedOut' | 'closed';
  hresult: number;
  message: string;
  elapsedMs: number;
  pastDeadlineMs: number;
}

/** The Linux-guest part of the addon (native/linux/linux_addon.cc); absent elsewhere. */
export interface NativeLinux {
  /** SO_PEERCRED of a connected Unix socket. Throws an Error with .errno. */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  /** FIFREEZE / FITHAW on a native thread; the callback gets 0 or the errno. */
  freezeFileSystem(path: string, callback: (errno: number) => void): void;
  thawFileSystem(path: string, callback: (errno: number) => void): void;
  /** Opens and registers; throws an Error with .errno. See native/linux/hv_vss_channel.h. */
  openHvVssChannel(
    path: string,
    sink: (
      ...args: ['version', number] | ['message', { operation: number; name: string; flags: number }] | ['closed', number]
    ) => void,
  ): { answer(error: number): void; close(): void };
}

/** One step of a real writer's life (native/win/win_addon.cc). */
export interface NativeVssStep {
  hresult: number;
  message: string;
  /** e.g. COM security was already set by someone else (RPC_E_TOO_LATE). */
  warnings: string[];
}

export interface NativeVssWriter {
  /** sink hears 'subscribed' once, then 'unsubscribed' once if subscribing succeeded. */
  subscribe(dispatcher: NativeDispatcher, sink: (kind: 'subscribed' | 'unsubscribed', step: NativeVssStep) => void): void;
  /** False when not subscribed; otherwise the sink hears 'unsubscribed' when done. */
  unsubscribe(): boolean;
  status(): NativeWriterStatus | null;
}

export interface NativeShadowCopy {
  id: string;
  snapshotSetId: string;
  volume: string;
  deviceObject: string;
  providerId: string;
  /** Unix epoch milliseconds. */
  createdMs: number;
  /** VSS_VOLUME_SNAPSHOT_ATTRIBUTES. */
  attributes: number;
}

/** The Windows part of the addon (native/win/win_addon.cc). */
export interface NativeVss {
  Writer: new (metadata: NativeWriterMetadata) => NativeVssWriter;
  listWriters(timeoutMs: number, callback: (r: { hresult: number; message: string; writers: NativeWriterListing[] }) => void): void;
  runSnapshotSet(
    config: { volumes: string[]; backupType: string; components: string[]; timeoutMs: number },
    sink: NativeSink,
  ): () => void;
  queryShadowCopies(callback: (r: { hresult: number; message: string; copies: NativeShadowCopy[] }) => void): void;
  deleteShadowCopies(id: string, wholeSet: boolean, callback: (r: { hresult: number; message: string; deleted: number }) => void): void;
  /** The unique name (\\?\Volume{...}\) of the volume that holds `path`; '' when unknown. */
  volumeOf(path: string): string;
}

export interface NativeDispatchLoopResult {
  roundTripNs: Float64Array;
  pastDeadlineNs: Float64Array;
  succeeded: number;
  failed: number;
  timedOut: number;
  closed: number;
}

export interface NativeAddon {
  /** `handled`: the events with a handler; the others succeed natively (all reach JS without it). */
  Dispatcher: {
    new (name: string, router: NativeRouter, handled?: readonly string[]): NativeDispatcher;
    /**
     * The `count` answers of this environment's dispatchers, four numbers each in `rows`
     * (dispatcher id, call id, HRESULT with 0 for success, index into `messages` or -1). Sets
     * accepted[i] to 1 when answer i settled its call, 0 when the call had settled already.
     */
    settleAll(rows: Float64Array, count: number, messages: string[], accepted: Uint8Array): void;
  };
  SimulatedWriter: new (metadata: NativeWriterMetadata) => NativeSimulatedWriter;
  listWriters(): NativeWriterListing[];
  /** Unsubscribes every writer and joins every thread of this environment, synchronously. */
  closeAll(): void;
  runSnapshotSet(
    config: NativeSnapshotSetConfig,
    commit: NativeDispatcher | null,
    sink: NativeSink,
  ): () => void;
  testing: {
    dispatchFromThread(
      dispatcher: NativeDispatcher,
      ctx: NativeEventContext,
      timeoutMs: number,
      callback: (result: NativeDispatchResult) => void,
      /** Over a SharedArrayBuffer: element 0 becomes 1 the moment the native call returns. */
      returned?: Int32Array,
    ): void;
    /** Benchmarks (native/bench_ping.cc): per-iteration ns of a bare thread-safe function ping. */
    pingFloor(pong: () => void, iterations: number, gapUs: number, timeoutMs: number, callback: (ns: Float64Array | Error) => void): void;
    /** How late a bare condition_variable::wait_until wakes past its deadline, per iteration (ns). */
    timedWaitFloor(iterations: number, timeoutMs: number, callback: (lateNs: Float64Array) => void): void;
    /** `iterations` events through the Dispatcher from one native thread, timed there. */
    dispatchLoop(
      dispatcher: NativeDispatcher,
      event: string,
      timeoutMs: number,
      iterations: number,
      gapUs: number,
      callback: (result: NativeDispatchLoopResult) => void,
    ): void;
  };
  linux?: NativeLinux;
  /** Windows builds only; a 32-bit build has just the reason it cannot work. */
  vss?: NativeVss | { unsupported: string };
  napiVersion: number;
}

/** The installed package: package.json, build/ and prebuilds/. */
const packageRoot = join(__dirname, '..', '..');

/** The platforms with a prebuilt addon in the package (scripts/prebuild.sh). */
const PREBUILT = 'linux-x64 and linux-arm64 (glibc 2.28 or newer) and win32-x64';
const COMPILE =
  '`npm rebuild vss-bridge --build-from-source` compiles one for this machine: it needs cmake, make and ' +
  'a C++17 compiler (apt-get install cmake make g++; dnf install cmake make gcc-c++), on Windows CMake and ' +
  'Visual Studio Build Tools with the Windows SDK.';

/**
 * The addon's path: $VSS_BRIDGE_ADDON, else where node-gyp-build finds it, as the install step
 * (scripts/install.js) does: a local build (build/Release, build/Debug) first, then the
 * prebuild for this platform, architecture and C library (prebuilds/<platform>-<arch>/).
 */
function locate(): string {
  const target = `${process.platform}-${process.arch} (Node ${process.versions.node})`;
  const override = process.env['VSS_BRIDGE_ADDON'];
  if (override) {
    if (existsSync(override)) return override;
    throw new EnvironmentError(
      `vss-bridge: no native addon for ${target}: VSS_BRIDGE_ADDON names ${override}, which does not exist. ` +
        `Unset it to use the package's own addon; ${COMPILE}`,
      'ERROR_MOD_NOT_FOUND',
    );
  }
  const require = createRequire(__filename);
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  try {
    return nodeGypBuild.resolve(packageRoot);
  } catch {
    throw new EnvironmentError(
      `vss-bridge: no native addon for ${target}: no prebuilt addon matches and none was compiled ` +
        `(looked in ${join(packageRoot, 'build')} and ${join(packageRoot, 'prebuilds')}). ` +
        `Prebuilt addons ship for ${PREBUILT}; elsewhere (win32-arm64, macOS, musl-based Linux) the ` +
        `install compiles one. ${COMPILE}`,
      'ERROR_MOD_NOT_FOUND',
    );
  }
}

function load(): NativeAddon {
  const path = locate();
  try {
    return createRequire(__filename)(path) as NativeAddon;
  } catch (error) {
    // Built for another platform or C library (an older glibc), or a library it needs is missing.
    throw new EnvironmentError(
      `vss-bridge: the native addon ${path} does not load here: ${(error as Error).message}\n${COMPILE}`,
      'ERROR_MOD_NOT_FOUND',
    );
  }
}

let addon: NativeAddon | undefined;

/** The addon, loaded on first use so that importing the package never throws. */
export function native(): NativeAddon {
  addon ??= load();
  return addon;
}
