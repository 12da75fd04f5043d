/** VSS_WRITER_STATE, by the names `vssadmin list writers` documents. */
export const writerStates = [
  'VSS_WS_UNKNOWN',
  'VSS_WS_STABLE',
  'VSS_WS_WAITING_FOR_FREEZE',
  'VSS_WS_WAITING_FOR_THAW',
  'VSS_WS_WAITING_FOR_POST_SNAPSHOT',
  'VSS_WS_WAITING_FOR_BACKUP_COMPLETE',
  'VSS_WS_FAILED_AT_IDENTIFY',
  'VSS_WS_FAILED_AT_PREPARE_BACKUP',
  'VSS_WS_FAILED_AT_PREPARE_SNAPSHOT',
  'VSS_WS_FAILED_AT_FREEZE',
  'VSS_WS_FAILED_AT_THAW',
  'VSS_WS_FAILED_AT_POST_SNAPSHOT',
  'VSS_WS_FAILED_AT_BACKUP_COMPLETE',
  'VSS_WS_FAILED_AT_PRE_RESTORE',
  'VSS_WS_FAILED_AT_POST_RESTORE',
  'VSS_WS_FAILED_AT_BACKUPSHUTDOWN',
] as const;
export type WriterState = (typeof writerStates)[number];

export function writerStateName(value: number): WriterState {
  return writerStates[value] ?? 'VSS_WS_UNKNOWN';
}

/** The events a writer's handlers answer, in the order a backup sends them. */
export const writerEvents = [
  'prepareBackup',
  'prepareSnapshot',
  'freeze',
  'thaw',
  'postSnapshot',
  'abort',
  'backupComplete',
  'backupShutdown',
  'preRestore',
  'postRestore',
] as const;
export type WriterEvent = (typeof writerEvents)[number];

/** VSS_BACKUP_TYPE. Hyper-V's guest requester does not document which it asks for: read it. */
export const backupTypes = ['full', 'copy', 'incremental', 'differential', 'log', 'other'] as const;
export type BackupType = (typeof backupTypes)[number];

/** What a handler receives. */
export interface WriterEventContext {
  readonly event: WriterEvent;
  readonly snapshotSetId: string;
  readonly backupType: BackupType;
  /** Volumes in the snapshot set. */
  readonly volumes: readonly string[];
  /** Logical paths of the components the requester selected (empty: whole writer). */
  readonly components: readonly string[];
  /** Whether `path` lies on a volume of the snapshot set (IsPathAffected). */
  isPathAffected(path: string): boolean;
  /** Epoch milliseconds by which the handler must settle. */
  readonly deadline: number;
  /** Fires at the deadline, or when the writer is unsubscribed while the handler runs. */
  readonly signal: AbortSignal;
}

export interface ErrorInfo {
  readonly hresult: number;
  readonly code: string;
  readonly message: string;
}

export type EventOutcome = 'succeeded' | 'failed' | 'timedOut' | 'closed' | 'abandoned';

export interface EventRecord {
  /** A writer event, or for phases also 'identify' and 'commit'. */
  readonly event: string;
  /** Milliseconds since the snapshot set started. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly outcome: EventOutcome;
  readonly error?: ErrorInfo;
}

export interface WriterInfo {
  readonly name: string;
  readonly id: string;
  readonly instanceName: string;
  readonly instanceId: string;
  readonly state: WriterState;
  readonly lastError: ErrorInfo | null;
}

export interface FileGroupInfo {
  readonly path: string;
  readonly filespec: string;
  readonly recursive: boolean;
}

export interface ComponentInfo {
  readonly logicalPath: string;
  readonly name: string;
  readonly caption: string;
  readonly files: readonly FileGroupInfo[];
}

/** What a writer reports about itself (GatherWriterMetadata), with its current status. */
export interface WriterMetadataInfo extends WriterInfo {
  /** Absent when the writer failed at Identify and described nothing. */
  readonly usage?: 'bootableSystemState' | 'systemService' | 'userData' | 'other';
  readonly sourceType?: 'transactedDb' | 'nonTransactedDb' | 'other';
  /** Known for writers of this process's simulator; VSS does not report another process's. */
  readonly freezeTimeoutMs?: number;
  readonly handlerTimeoutMs?: number;
  readonly components: readonly ComponentInfo[];
}

export interface WriterReport extends WriterInfo {
  readonly events: readonly EventRecord[];
}

export interface ShadowCopy {
  readonly id: string;
  readonly volume: string;
  /** Where the shadow copy can be read, e.g. \\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy3. */
  readonly deviceObject: string;
}

/** A shadow copy kept past its snapshot set (createShadowCopy with keep: true). */
export interface KeptShadowCopy extends ShadowCopy {
  readonly snapshotSetId: string;
  /** Known for copies this library made; VSS does not record it. */
  readonly backupType?: BackupType;
  /** ISO 8601. */
  readonly createdAt: string;
}

export interface ShadowCopyResult {
  readonly snapshotSetId: string;
  readonly backupType: BackupType;
  readonly snapshots: readonly ShadowCopy[];
  readonly phases: readonly EventRecord[];
  readonly writers: readonly WriterReport[];
  readonly durationMs: number;
}

export interface Progress {
  readonly phase: string;
  /** start and end of a phase, or writer when one writer answered. */
  readonly status: 'start' | 'end' | 'writer';
  readonly writer?: { readonly name: string; readonly instanceId: string };
  readonly outcome?: EventOutcome;
  readonly elapsedMs: number;
}

/** What the provider's commit callback receives: it runs inside the freeze window. */
export interface CommitContext {
  readonly snapshotSetId: string;
  readonly volumes: readonly string[];
  readonly deadline: number;
  readonly signal: AbortSignal;
}
