/**
 * What the Windows tests record of each writer event: its context as the handler saw it, and
 * whether the set affects the writer's data folder. Shared by writer-app.cjs (run in Windows
 * node.exe, so plain CommonJS) and real-vss.test.ts.
 */
'use strict';

function seenEvent(ctx, dataDir) {
  return {
    event: ctx.event,
    snapshotSetId: ctx.snapshotSetId,
    backupType: ctx.backupType,
    volumes: ctx.volumes,
    components: ctx.components,
    dataAffected: ctx.isPathAffected(dataDir),
  };
}

module.exports = { seenEvent };
