/**
 * ctx.isPathAffected's logic (src/paths.ts). On Windows the set's volumes come with their
 * unique names and the path is resolved to its own volume (native volumeOf), so a folder with
 * another volume mounted on it is not taken for its parent volume. The real resolution runs on
 * Windows (test/windows) and under Wine on the emulated VSS.
 */
import { describe, expect, it } from 'vitest';
import { isPathOnVolumes } from '../src/paths.js';

const c = '\\\\?\\Volume{aaaaaaaa-0000-0000-0000-000000000001}\\';
const sqlData = '\\\\?\\Volume{bbbbbbbb-0000-0000-0000-000000000002}\\';
// C:\SQLData is a mount point of its own volume.
const volumeOf = (path: string): string => (path.toLowerCase().startsWith('c:\\sqldata') ? sqlData : c);

describe('isPathOnVolumes', () => {
  it('answers false for a file on a volume mounted inside a volume of the set', () => {
    expect(isPathOnVolumes('C:\\SQLData\\db.mdf', ['C:\\', c], 'win32', volumeOf)).toBe(false);
    expect(isPathOnVolumes('C:\\SQLData\\db.mdf', ['C:\\SQLData\\', sqlData], 'win32', volumeOf)).toBe(true);
    expect(isPathOnVolumes('c:/app/data.db', ['C:\\', c], 'win32', volumeOf)).toBe(true);
  });

  it('falls back to the mount points when the path cannot be resolved or the set has no unique names', () => {
    expect(isPathOnVolumes('C:\\app\\data.db', ['C:\\', c], 'win32', () => '')).toBe(true);
    expect(isPathOnVolumes('D:\\app\\data.db', ['C:\\', c], 'win32', () => '')).toBe(false);
    // The simulator's volumes are plain paths: resolving real volumes would not match them.
    expect(isPathOnVolumes('C:\\SQLData\\db.mdf', ['C:\\'], 'win32', volumeOf)).toBe(true);
    expect(isPathOnVolumes('/data/app/db', ['/data'], 'linux')).toBe(true);
    expect(isPathOnVolumes('/database', ['/data'], 'linux')).toBe(false);
  });
});
