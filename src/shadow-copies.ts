/**
 * Shadow copies kept past their snapshot set (createShadowCopy with keep: true): listed and
 * deleted through the backend, which knows where they are kept (src/backends/).
 */
import { getBackend } from './backends/backend.js';
import { VssError } from './errors.js';
import { hresultOf } from './hresult.js';
import { guidSchema, parseOptions } from './schemas.js';
import type { KeptShadowCopy } from './types.js';

/** Every kept shadow copy, oldest first (vssadmin list shadows). */
export function listShadowCopies(): Promise<KeptShadowCopy[]> {
  return getBackend().listShadowCopies();
}

/**
 * Deletes one kept shadow copy by its id, or every copy of a snapshot set by the set's id.
 * Resolves with what was deleted; rejects with VSS_E_OBJECT_NOT_FOUND when nothing matches.
 */
export async function deleteShadowCopy(id: string): Promise<KeptShadowCopy[]> {
  const wanted = parseOptions(guidSchema, id, 'deleteShadowCopy id');
  const backend = getBackend();
  const deleted = (await backend.listShadowCopies()).filter((c) => c.id === wanted || c.snapshotSetId === wanted);
  if (deleted.length === 0) {
    throw new VssError(hresultOf('VSS_E_OBJECT_NOT_FOUND'), `no shadow copy or snapshot set with id ${wanted}`);
  }
  await backend.deleteShadowCopies(wanted, !deleted.some((c) => c.id === wanted));
  return deleted;
}
