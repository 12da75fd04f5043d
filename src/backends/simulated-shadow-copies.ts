/**
 * The simulator's kept shadow copies. The simulator lives inside one process, so it keeps them
 * in a state file that every process of this user reads: $VSS_BRIDGE_STATE_DIR, else
 * $XDG_STATE_HOME/vss-bridge, else ~/.local/state/vss-bridge. A simulated shadow copy is a
 * record only: no data lies behind its device path.
 *
 * Device paths are numbered here, not in the addon: HarddiskVolumeShadowCopyN numbers are
 * never reused while their copy exists, and only this side knows which ones the kept copies
 * of earlier runs hold.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { backupTypes, type KeptShadowCopy, type ShadowCopyResult } from '../types.js';
import type { NativeSnapshotSetResult } from './native.js';

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

function stateDir(): string {
  const env = process.env;
  if (env['VSS_BRIDGE_STATE_DIR']) return env['VSS_BRIDGE_STATE_DIR'];
  return join(env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state'), 'vss-bridge');
}

function storePath(): string {
  return join(stateDir(), 'simulated-shadow-copies.json');
}

/** Every kept simulated shadow copy, oldest first. */
export function readKept(): KeptShadowCopy[] {
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
export function writeKept(copies: readonly KeptShadowCopy[]): void {
  const path = storePath();
  mkdirSync(stateDir(), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(copies, null, 2)}\n`);
  renameSync(temp, path);
}

/** Records a successful set's shadow copies as kept. */
export function keep(result: ShadowCopyResult): void {
  const createdAt = new Date().toISOString();
  const copies = result.snapshots.map((s) => ({ ...s, snapshotSetId: result.snapshotSetId, backupType: result.backupType, createdAt }));
  writeKept([...readKept(), ...copies]);
}

const devicePrefix = '\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy';

/** The last number this process gave out: a set's copies number above it and the kept ones. */
let lastNumber = 0;

/**
 * The highest HarddiskVolumeShadowCopyN a kept copy holds. An unreadable state file must not
 * stop a backup: it then counts as empty.
 */
function highestKept(): number {
  let copies: KeptShadowCopy[];
  try {
    copies = readKept();
  } catch {
    return 0;
  }
  return copies.reduce((max, c) => Math.max(max, Number(/(\d+)$/.exec(c.deviceObject)?.[1] ?? 0)), 0);
}

/** Gives each new shadow copy of a finished set its device path. */
export function numberShadowCopies(result: NativeSnapshotSetResult): void {
  if (result.snapshots.length === 0) return;
  lastNumber = Math.max(lastNumber, highestKept());
  for (const s of result.snapshots) s.deviceObject = `${devicePrefix}${++lastNumber}`;
}
