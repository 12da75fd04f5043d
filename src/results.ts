/**
 * What the backends report (native/ and native/win/ results), as the public API's types.
 * The writer and the requester both use these; they sit below both.
 */
import type { NativeSnapshotSetResult, NativeWriterStatus } from './backends/native.js';
import { describeHresult } from './hresult.js';
import { writerStateName, type BackupType, type EventOutcome, type EventRecord, type ShadowCopyResult, type WriterInfo } from './types.js';

export function toWriterInfo(s: NativeWriterStatus): WriterInfo {
  return {
    name: s.name,
    id: s.id,
    instanceName: s.instanceName,
    instanceId: s.instanceId,
    state: writerStateName(s.state),
    lastError:
      s.lastError === 0 ? null : { hresult: s.lastError >>> 0, code: describeHresult(s.lastError).code, message: s.lastErrorMessage },
  };
}

/** `count` records of raw.records from record `first` (see NativeSnapshotSetResult). */
function toRecords(raw: NativeSnapshotSetResult, first: number, count: number): EventRecord[] {
  const { records: packed, strings } = raw;
  const records: EventRecord[] = [];
  for (let i = 6 * first; i < 6 * (first + count); i += 6) {
    const record: { -readonly [K in keyof EventRecord]: EventRecord[K] } = {
      event: strings[packed[i]!]!,
      startMs: packed[i + 1]!,
      durationMs: packed[i + 2]!,
      outcome: strings[packed[i + 3]!] as EventOutcome,
    };
    const hresult = packed[i + 4]!;
    if (hresult !== 0) {
      record.error = { hresult: hresult >>> 0, code: describeHresult(hresult).code, message: strings[packed[i + 5]!]! };
    }
    records.push(record);
  }
  return records;
}

export function toResult(raw: NativeSnapshotSetResult, backupType: BackupType): ShadowCopyResult {
  const phases = toRecords(raw, 0, raw.phases);
  let next = raw.phases;
  const writers = raw.writers.map((w) => {
    const events = toRecords(raw, next, w.events);
    next += w.events;
    return { ...toWriterInfo(w), events };
  });
  return { snapshotSetId: raw.snapshotSetId, backupType, snapshots: raw.snapshots, phases, writers, durationMs: raw.durationMs };
}
