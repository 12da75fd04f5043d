/**
 * Loads the compiled addon and describes its raw surface. Everything here is unvalidated
 * plumbing: the public API in writer.ts and requester.ts checks its inputs first.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface NativeEventContext {
  event: string;
  snapshotSetId: string;
  backupType: string;
  volumes: string[];
  components: string[];
}

/** router(callId, ctx, remainingMs): see native/dispatcher.h. */
export type NativeRouter = (callId: number, ctx: NativeEventContext, remainingMs: number) => void;

export interface NativeDispatcher {
  /** hresult 0 succeeds. False when the call had already settled (a late answer). */
  settle(callId: number, hresult: number, message: string): boolean;
  expire(callId: number): boolean;
  close(reason?: string): void;
  ref(): void;
  unref(): void;
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

export interface NativeEventRecord {
  event: string;
  startMs: number;
  durationMs: number;
  outcome: string;
  hresult: number;
  message: string;
}

export interface NativeSnapshotSetResult {
  snapshotSetId: string;
  hresult: number;
  message: string;
  failedWriter: string;
  failedEvent: string;
  durationMs: number;
  snapshots: { id: string; volume: string; deviceObject: string }[];
  phases: NativeEventRecord[];
  writers: (NativeWriterStatus & { events: NativeEventRecord[] })[];
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
  volumes: string[];
  backupType: string;
  components: string[];
  timeoutMs: number;
  provider: { commitDelayMs: number; failWith: number; holdLimitMs: number };
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

export interface NativeAddon {
  Dispatcher: new (name: string, router: NativeRouter) => NativeDispatcher;
  SimulatedWriter: new (metadata: NativeWriterMetadata) => NativeSimulatedWriter;
  listWriters(): NativeWriterStatus[];
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
    ): void;
  };
  napiVersion: number;
}

const packageRoot = join(__dirname, '..');

/** Where the addon may be: a local build first, then a prebuilt binary for this platform. */
export function addonCandidates(): string[] {
  return [
    join(packageRoot, 'build', 'Release', 'vss_bridge.node'),
    join(packageRoot, 'build', 'Debug', 'vss_bridge.node'),
    join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'vss_bridge.node'),
  ];
}

function load(): NativeAddon {
  const require = createRequire(__filename);
  const override = process.env['VSS_BRIDGE_ADDON'];
  const candidates = override ? [override] : addonCandidates();
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(
      `vss-bridge: no native addon for ${process.platform}-${process.arch} (Node ${process.versions.node}). ` +
        `Looked in:\n  ${candidates.join('\n  ')}\n` +
        'Build it with `npm rebuild vss-bridge` (needs cmake and a C++17 compiler), ' +
        'or install on a platform with a prebuilt binary (win32-x64, win32-arm64).',
    );
  }
  return require(found) as NativeAddon;
}

let addon: NativeAddon | undefined;

/** The addon, loaded on first use so that importing the package never throws. */
export function native(): NativeAddon {
  addon ??= load();
  return addon;
}
