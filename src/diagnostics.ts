/**
 * What vss-bridge publishes on node:diagnostics_channel, so that APM and metrics tools observe
 * it without parsing its logs (as undici and others do). A message is built only while
 * someone subscribes. docs/DIAGNOSTICS.md documents each channel, with a metrics example.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { FreezeReport } from './gate/write-gate.js';
import type { ShadowCopyResult } from './types.js';

/** One writer's handler answered an event (or ran out of time). */
export interface WriterEventMessage {
  readonly writer: string;
  readonly instanceName: string;
  readonly event: string;
  readonly snapshotSetId: string;
  readonly outcome: 'succeeded' | 'failed' | 'timedOut';
  /** VSS's name of the failure, e.g. VSS_E_WRITERERROR_RETRYABLE; absent on success. */
  readonly code?: string;
  /** The handler's message on failure. */
  readonly message?: string;
  /** From the event reaching JS to the answer (or to the deadline). */
  readonly durationMs: number;
}

/** A snapshot set this process ran (createShadowCopy, a rehearsal, the CLI's checkpoint) ended. */
export interface SnapshotSetMessage {
  readonly snapshotSetId: string;
  readonly outcome: 'succeeded' | 'failed';
  /** VSS's name of the failure; absent on success. */
  readonly code?: string;
  readonly volumes: readonly string[];
  readonly backupType: string;
  readonly restore: boolean;
  readonly durationMs: number;
  /** Phases, every writer's events (also those answered without a handler), the shadow copies. */
  readonly result: ShadowCopyResult;
}

/** A WriteGate froze (drained and stores flushed), or its freeze failed and it reopened. */
export interface GateFreezeMessage {
  readonly gate: string;
  readonly freezeId: number;
  readonly outcome: 'frozen' | 'failed';
  /** How long the writes in flight took to finish; null if the freeze failed before. */
  readonly drainMs: number | null;
  /** freeze() to frozen, or to the failure. */
  readonly durationMs: number;
  readonly error?: string;
}

/** A WriteGate reopened: its FreezeReport (writes held, how long, who reopened it). */
export interface GateThawMessage extends FreezeReport {
  readonly gate: string;
}

export const channelNames = {
  writerEvent: 'vss-bridge:writer:event',
  snapshotSet: 'vss-bridge:snapshot-set',
  gateFreeze: 'vss-bridge:gate:freeze',
  gateThaw: 'vss-bridge:gate:thaw',
} as const;

const writerEvent = diagnosticsChannel.channel(channelNames.writerEvent);
const snapshotSet = diagnosticsChannel.channel(channelNames.snapshotSet);
const gateFreeze = diagnosticsChannel.channel(channelNames.gateFreeze);
const gateThaw = diagnosticsChannel.channel(channelNames.gateThaw);

/** Each takes a function that builds the message: nothing is built without a subscriber. */
export const publish = {
  writerEvent(make: () => WriterEventMessage): void {
    if (writerEvent.hasSubscribers) writerEvent.publish(make());
  },
  snapshotSet(make: () => SnapshotSetMessage): void {
    if (snapshotSet.hasSubscribers) snapshotSet.publish(make());
  },
  gateFreeze(make: () => GateFreezeMessage): void {
    if (gateFreeze.hasSubscribers) gateFreeze.publish(make());
  },
  gateThaw(make: () => GateThawMessage): void {
    if (gateThaw.hasSubscribers) gateThaw.publish(make());
  },
};
