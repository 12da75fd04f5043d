/**
 * What VSS does when one writer misbehaves at one event, written down once for the fault
 * matrix and the soak: the snapshot set's result, whether Abort goes out, and the state each
 * writer is left in. Sources: docs "Aborting VSS Operations" and CVssWriter::OnAbort (Abort
 * after a failure in PrepareForBackup, Freeze or Thaw, after the provider fails, after the
 * requester's AbortBackup; never once PostSnapshot went out; never in a restore), and
 * /work/shared/reference/vss.md.
 */
import type { WriterState } from '../../src/index.js';

export const backupEvents = ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete'] as const;
export const restoreEvents = ['preRestore', 'postRestore'] as const;
export const cleanupEvents = ['abort', 'backupShutdown'] as const;
export const matrixEvents = [...backupEvents, ...cleanupEvents, ...restoreEvents] as const;
export type MatrixEvent = (typeof matrixEvents)[number];
type PhaseEvent = (typeof backupEvents)[number] | (typeof restoreEvents)[number];

export interface PhaseRule {
  /** After a writer failed it. */
  readonly failed: WriterState;
  /** A writer's failure here sends Abort to every writer. */
  readonly abortOnFailure: boolean;
  /** The requester giving up here sends Abort (AbortBackup). */
  readonly abortOnCancel: boolean;
}

export const phaseRules: Record<PhaseEvent, PhaseRule> = {
  prepareBackup: { failed: 'VSS_WS_FAILED_AT_PREPARE_BACKUP', abortOnFailure: true, abortOnCancel: true },
  prepareSnapshot: { failed: 'VSS_WS_FAILED_AT_PREPARE_SNAPSHOT', abortOnFailure: false, abortOnCancel: true },
  freeze: { failed: 'VSS_WS_FAILED_AT_FREEZE', abortOnFailure: true, abortOnCancel: true },
  thaw: { failed: 'VSS_WS_FAILED_AT_THAW', abortOnFailure: true, abortOnCancel: true },
  postSnapshot: { failed: 'VSS_WS_FAILED_AT_POST_SNAPSHOT', abortOnFailure: false, abortOnCancel: false },
  backupComplete: { failed: 'VSS_WS_FAILED_AT_BACKUP_COMPLETE', abortOnFailure: false, abortOnCancel: false },
  preRestore: { failed: 'VSS_WS_FAILED_AT_PRE_RESTORE', abortOnFailure: false, abortOnCancel: false },
  postRestore: { failed: 'VSS_WS_FAILED_AT_POST_RESTORE', abortOnFailure: false, abortOnCancel: false },
};

/**
 * Faults of the faulty writer's handler at the event under test.
 * - throws / rejects: fails the event (rejects uses WriterFailure NONRETRYABLE).
 * - hangs: never settles. settlesLate: resolves after its deadline.
 * - blocksLoop: busy-loops the event loop well past its deadline, then returns.
 * - unsubscribes: the handler unsubscribes its own writer. disposes: the application
 *   unsubscribes the writer and drops it while the handler runs.
 * - secondSet: starts another snapshot set and expects VSS_E_SNAPSHOT_SET_IN_PROGRESS.
 * - cancel: the requester's AbortSignal fires while the event runs.
 */
export const faults = ['throws', 'rejects', 'hangs', 'settlesLate', 'blocksLoop', 'unsubscribes', 'disposes', 'secondSet', 'cancel'] as const;
export type Fault = (typeof faults)[number];

export interface Expected {
  /** The snapshot set's error code, or null when it succeeds. */
  readonly code: string | null;
  /** Whether the faulty writer is the one blamed (VssError.writer). */
  readonly blamesFaulty: boolean;
  readonly abortToFaulty: boolean;
  readonly abortToHealthy: boolean;
  readonly shutdownToFaulty: boolean;
  /** Acceptable final states: the first is the one VSS's rules give. */
  readonly faultyState: readonly WriterState[];
  readonly healthyState: readonly WriterState[];
}

const failureCode: Partial<Record<Fault, string>> = {
  throws: 'VSS_E_WRITERERROR_RETRYABLE',
  rejects: 'VSS_E_WRITERERROR_NONRETRYABLE',
  hangs: 'VSS_E_WRITERERROR_TIMEOUT',
  settlesLate: 'VSS_E_WRITERERROR_TIMEOUT',
  blocksLoop: 'VSS_E_WRITERERROR_TIMEOUT',
  // The dispatcher closes: the event in flight is answered with a transient failure.
  unsubscribes: 'VSS_E_WRITERERROR_RETRYABLE',
  disposes: 'VSS_E_WRITERERROR_RETRYABLE',
};

/** The abort row is reached through a provider veto; that decides the set's result. */
export const abortTrigger = 'VSS_E_PROVIDER_VETO';

export function expectedOutcome(event: MatrixEvent, fault: Fault): Expected {
  const gone = fault === 'unsubscribes' || fault === 'disposes';
  const code = failureCode[fault];
  if (event === 'abort' || event === 'backupShutdown') {
    const shutdownFailed: WriterState = 'VSS_WS_FAILED_AT_BACKUPSHUTDOWN';
    // A failure in Abort changes nothing (the writer returns to stable); one in BackupShutdown
    // marks the writer but not the set. A cancel this late changes nothing either.
    const faultyFails = event === 'backupShutdown' && (code !== undefined || fault === 'cancel');
    return {
      code: event === 'abort' ? abortTrigger : null,
      blamesFaulty: false,
      abortToFaulty: event === 'abort',
      abortToHealthy: event === 'abort',
      shutdownToFaulty: event === 'backupShutdown' || !gone,
      faultyState: gone ? ['VSS_WS_UNKNOWN'] : [faultyFails ? shutdownFailed : 'VSS_WS_STABLE'],
      healthyState: ['VSS_WS_STABLE'],
    };
  }
  const rule = phaseRules[event];
  if (fault === 'secondSet') {
    return { code: null, blamesFaulty: false, abortToFaulty: false, abortToHealthy: false, shutdownToFaulty: true, faultyState: ['VSS_WS_STABLE'], healthyState: ['VSS_WS_STABLE'] };
  }
  if (fault === 'cancel') {
    // The faulty writer's call is abandoned and fails nobody: once the set is over, both
    // writers are stable again.
    const aborted = rule.abortOnCancel;
    return {
      code: 'E_ABORT',
      blamesFaulty: false,
      abortToFaulty: aborted,
      abortToHealthy: aborted,
      shutdownToFaulty: true,
      faultyState: ['VSS_WS_STABLE'],
      healthyState: ['VSS_WS_STABLE'],
    };
  }
  const aborted = rule.abortOnFailure;
  return {
    code: code ?? null,
    blamesFaulty: true,
    abortToFaulty: aborted && !gone,
    abortToHealthy: aborted,
    shutdownToFaulty: !gone,
    faultyState: gone ? ['VSS_WS_UNKNOWN'] : [rule.failed],
    // BackupShutdown ends the set: a writer that did not fail is stable again.
    healthyState: ['VSS_WS_STABLE'],
  };
}
