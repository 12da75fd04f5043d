export { VssWriter } from './writer.js';
export type { VssWriterOptions } from './writer.js';
export { listWriters, gatherWriterMetadata, createShadowCopy } from './requester.js';
export { listShadowCopies, deleteShadowCopy } from './shadow-copies.js';
export type { ShadowCopyOptions } from './requester.js';
export { VssError, WriterFailure, OptionsError } from './errors.js';
export type { FailedSetCopies } from './errors.js';
export { WriteGate, GateError } from './gate/write-gate.js';
export type { GateState, StoreAdapter, StoreFreezeContext, StorePrepareContext, FreezeReport, WriteGateStats, WriteGateOptions, GateFreezeOptions, GatePrepareOptions } from './gate/write-gate.js';
export { sqliteStore } from './gate/adapters/sqlite.js';
export type { SqliteDatabase, SqliteStore, SqliteStoreOptions, SqlitePreparation, CheckpointResult } from './gate/adapters/sqlite.js';
export { nodeSqliteStore } from './gate/adapters/node-sqlite.js';
export type { NodeSqliteDatabase, NodeSqliteStoreOptions } from './gate/adapters/node-sqlite.js';
export { fileStore } from './gate/adapters/file-store.js';
export type { FileStore, FileStoreOptions } from './gate/adapters/file-store.js';
export { backend } from './backends/backend.js';
export type { BackendName } from './backends/backend.js';
export { describeHresult, writerErrorCodes, providerErrorCodes } from './hresult.js';
export type { HresultInfo, WriterErrorCode, ProviderErrorCode } from './hresult.js';
export { writerStates, writerEvents, backupTypes } from './types.js';
export type {
  WriterState,
  WriterEvent,
  BackupType,
  WriterEventContext,
  ErrorInfo,
  EventOutcome,
  EventRecord,
  WriterInfo,
  WriterMetadataInfo,
  ComponentInfo,
  FileGroupInfo,
  KeptShadowCopy,
  WriterReport,
  ShadowCopy,
  ShadowCopyResult,
  Progress,
  CommitContext,
} from './types.js';
export { channelNames } from './diagnostics.js';
export type { WriterEventMessage, SnapshotSetMessage, GateFreezeMessage, GateThawMessage } from './diagnostics.js';
