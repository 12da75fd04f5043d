import type { WriterEventContext } from '../../../src/types.js';

export interface SeenEvent {
  event: string;
  snapshotSetId: string;
  backupType: string;
  volumes: readonly string[];
  components: readonly string[];
  dataAffected: boolean;
}

export function seenEvent(ctx: WriterEventContext, dataDir: string): SeenEvent;
