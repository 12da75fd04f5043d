/**
 * What VSS refuses before a snapshot set starts, refused by the simulator too, with VSS's
 * codes, so that an app's tests fail here where its backups would fail on Windows. The list,
 * with what the simulator does not check, is in docs/ARCHITECTURE.md ("What the simulator
 * checks").
 */
import { realpathSync, statSync } from 'node:fs';
import { OptionsError, VssError } from '../errors.js';
import { hresultOf } from '../hresult.js';
import type { NativeSnapshotSetConfig, NativeWriterListing } from './native.js';
import { isAbsoluteForPlatform } from '../schemas.js';

function refuse(code: string, message: string): never {
  throw new VssError(hresultOf(code), message);
}

/** A Windows volume name: a drive letter, a volume GUID path or a UNC share. */
const windowsVolume = /^([A-Za-z]:([\\/]|$)|\\\\)/;

/**
 * The volume `volume` names, as a key that is the same for every name of it (AddToSnapshotSet).
 * The simulator takes any existing directory as a volume, as VSS takes a mounted folder.
 */
function volumeKey(volume: string, platform: NodeJS.Platform): string {
  const call = `AddToSnapshotSet("${volume}")`;
  if (platform !== 'win32' && windowsVolume.test(volume)) {
    refuse('VSS_E_VOLUME_NOT_SUPPORTED', `${call}: a Windows volume name; on ${platform} the simulator's volumes are directories such as "/"`);
  }
  if (!isAbsoluteForPlatform(volume, platform)) {
    const example = platform === 'win32' ? 'C:\\' : '/';
    refuse('VSS_E_OBJECT_NOT_FOUND', `${call}: a relative path names no volume; name it from the root, e.g. "${example}"`);
  }
  let real: string;
  try {
    real = realpathSync(volume);
  } catch (error) {
    refuse('VSS_E_OBJECT_NOT_FOUND', `${call}: no such volume (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  if (!statSync(real).isDirectory()) refuse('VSS_E_OBJECT_NOT_FOUND', `${call}: a file, not a volume`);
  return platform === 'win32' ? real.toLowerCase() : real;
}

export function checkVolumes(volumes: readonly string[], platform: NodeJS.Platform = process.platform): void {
  const seen = new Map<string, string>();
  for (const volume of volumes) {
    const key = volumeKey(volume, platform);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      refuse(
        'VSS_E_OBJECT_ALREADY_EXISTS',
        `AddToSnapshotSet("${volume}"): the volume is already in the snapshot set${earlier === volume ? '' : ` as "${earlier}"`}`,
      );
    }
    seen.set(key, volume);
  }
}

/**
 * Components are named as VShadow and the Windows requester name them: "logical path\name",
 * or the name alone when the logical path is empty; letter case does not count. One no writer
 * has cannot be selected (AddComponent).
 */
export function checkComponents(components: readonly string[], writers: readonly NativeWriterListing[]): void {
  const known = writers.flatMap((w) =>
    (w.metadata?.components ?? []).map((c) => (c.logicalPath ? `${c.logicalPath}\\${c.name}` : c.name)),
  );
  const lower = new Set(known.map((k) => k.toLowerCase()));
  for (const wanted of components) {
    if (lower.has(wanted.toLowerCase())) continue;
    refuse(
      'VSS_E_OBJECT_NOT_FOUND',
      `no writer has a component named "${wanted}"; components: ${known.map((k) => `"${k}"`).join(', ') || 'none'}`,
    );
  }
}

/**
 * An injected fault must name a writer that takes part, or it would inject nothing and the
 * test asserting on it would pass for the wrong reason. `field` and `what` name the option.
 */
export function checkWriterFailures(
  failures: readonly { writer: string; instanceName?: string | undefined }[],
  writers: readonly NativeWriterListing[],
  field = 'simulation.writerFailures',
  what = 'createShadowCopy options',
): void {
  const issues = failures.flatMap((f, i) => {
    const matches = writers.filter((w) => w.name === f.writer);
    if (matches.length === 0) {
      const names = [...new Set(writers.map((w) => `"${w.name}"`))].join(', ') || 'none';
      return [{ path: `${field}[${i}].writer`, message: `names no writer taking part ("${f.writer}"); subscribed: ${names}` }];
    }
    if (f.instanceName !== undefined && !matches.some((w) => w.instanceName === f.instanceName)) {
      const names = matches.map((w) => `"${w.instanceName}"`).join(', ');
      return [{ path: `${field}[${i}].instanceName`, message: `writer "${f.writer}" has no instance "${f.instanceName}"; instances: ${names}` }];
    }
    return [];
  });
  if (issues.length > 0) throw new OptionsError(what, issues);
}

/**
 * Everything above, in the order VSS meets it: volumes, then components, then the faults.
 * `listWriters` is called only when a component or a fault needs the writers: listing every
 * writer with its metadata costs more than a whole set's events reaching 64 writers.
 */
export function checkSnapshotSet(config: NativeSnapshotSetConfig, listWriters: () => readonly NativeWriterListing[]): void {
  checkVolumes(config.volumes);
  const failures = config.writerFailures ?? [];
  if (config.components.length === 0 && failures.length === 0) return;
  const writers = listWriters();
  checkComponents(config.components, writers);
  checkWriterFailures(failures, writers);
}
