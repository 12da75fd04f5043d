/**
 * Shadow copies kept past their snapshot set, per backend.
 * - Real VSS keeps them machine-wide until deleted: listing and deleting ask VSS
 *   (IVssBackupComponents::Query / DeleteSnapshots). createShadowCopy makes persistent copies
 *   (a non-persistent one would vanish before the caller could read it), so a set that was not
 *   asked to keep its copies deletes them as it ends.
 * - The simulator lives inside one process, so it keeps them in a state file that every
 *   process of this user reads: $VSS_BRIDGE_STATE_DIR, else $XDG_STATE_HOME/vss-bridge, else
 *   ~/.local/state/vss-bridge. A simulated shadow copy is a record only: no data lies behind
 *   its device path.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { backend } from './backends/backend.js';
import { VssError } from './errors.js';
import { hresultOf } from './hresult.js';
import type { Logger } from './logger.js';
import type { NativeShadowCopy } from './backends/native.js';
import { deleteShadowCopies, queryShadowCopies } from './backends/vss.js';
import { guidSchema, parseOptions } from './schemas.js';
import { backupTypes, type KeptShadowCopy, type ShadowCopyResult } from './types.js';

const storeSchema = z.array(
  z.object({
    id: z.string(),
    volume: z.string(),
    deviceObject: z.string(),
    snapshotSetId: z.string(),
    backupType: z.enum(backupTypes),
    createdAt: z.string(),
  }),
);

export function simulatorStateDir(): string {
  const env = process.env;
  if (env['VSS_BRIDGE_STATE_DIR']) return env['VSS_BRIDGE_STATE_DIR'];
  return join(env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state'), 'vss-bridge');
}

function storePath(): string {
  return join(simulatorStateDir(), 'simulated-shadow-copies.json');
}

function read(): KeptShadowCopy[] {
  let text: string;
  try {
    text = readFileSync(storePath(), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const parsed = storeSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${storePath()} is not a list of shadow copies; delete it to start afresh`);
  return parsed.data;
}

// Write a new file and rename it over the old one, so a reader never sees half a list.
function write(copies: readonly KeptShadowCopy[]): void {
  const path = storePath();
  mkdirSync(simulatorStateDir(), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(copies, null, 2)}\n`);
  renameSync(temp, path);
}

/**
 * The highest HarddiskVolumeShadowCopyN a kept copy holds, so new ones number above it.
 * An unreadable state file must not stop a backup: it then counts as empty.
 */
export function highestKeptDeviceNumber(): number {
  let copies: KeptShadowCopy[];
  try {
    copies = read();
  } catch {
    return 0;
  }
  return copies.reduce((max, c) => Math.max(max, Number(/(\d+)$/.exec(c.deviceObject)?.[1] ?? 0)), 0);
}

/**
 * What becomes of a successful set's shadow copies: when `keep`, the simulator records them
 * (real VSS already keeps them); otherwise real VSS deletes them.
 */
export async function settleShadowCopies(result: ShadowCopyResult, keep: boolean, logger: Logger): Promise<void> {
  if (backend === 'simulated') {
    if (!keep) return;
    const createdAt = new Date().toISOString();
    const copies = result.snapshots.map((s) => ({ ...s, snapshotSetId: result.snapshotSetId, backupType: result.backupType, createdAt }));
    write([...read(), ...copies]);
    return;
  }
  if (keep || result.snapshots.length === 0) return;
  try {
    await deleteShadowCopies(result.snapshotSetId, { wholeSet: true });
  } catch (error) {
    // The set itself succeeded; what is left behind must be said loudly, with the way out.
    logger.error(
      `the shadow copies of snapshot set ${result.snapshotSetId} could not be deleted (${(error as Error).message}); ` +
        `delete them with: vss-bridge snapshots delete ${result.snapshotSetId}`,
    );
  }
}

function fromMachine(c: NativeShadowCopy): KeptShadowCopy {
  return {
    id: c.id,
    volume: c.volume,
    deviceObject: c.deviceObject,
    snapshotSetId: c.snapshotSetId,
    createdAt: new Date(c.createdMs).toISOString(),
  };
}

/** Every kept shadow copy, oldest first (vssadmin list shadows). */
export async function listShadowCopies(): Promise<KeptShadowCopy[]> {
  if (backend === 'vss') return (await queryShadowCopies()).map(fromMachine).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  return read();
}

/**
 * Deletes one kept shadow copy by its id, or every copy of a snapshot set by the set's id.
 * Resolves with what was deleted; rejects with VSS_E_OBJECT_NOT_FOUND when nothing matches.
 */
export async function deleteShadowCopy(id: string): Promise<KeptShadowCopy[]> {
  const wanted = parseOptions(guidSchema, id, 'deleteShadowCopy id');
  const copies = await listShadowCopies();
  const deleted = copies.filter((c) => c.id === wanted || c.snapshotSetId === wanted);
  if (deleted.length === 0) {
    throw new VssError(hresultOf('VSS_E_OBJECT_NOT_FOUND'), `no shadow copy or snapshot set with id ${wanted}`);
  }
  if (backend === 'vss') {
    await deleteShadowCopies(wanted, { wholeSet: !deleted.some((c) => c.id === wanted) });
  } else {
    write(copies.filter((c) => !deleted.includes(c)));
  }
  return deleted;
}
