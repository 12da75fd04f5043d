/**
 * Whether a path lies on one of the volumes of a snapshot set (CVssWriter::IsPathAffected).
 *
 * On Windows a folder can have another volume mounted on it (C:\SQLData on its own disk), so a
 * prefix of a mount point proves nothing. When `volumeOf` resolves the path to its volume's
 * unique name (\\?\Volume{...}\, from GetVolumePathNameW and GetVolumeNameForVolumeMountPointW)
 * and the set's volumes include such names, as real VSS gives them, the names are compared.
 * Otherwise (the simulator, a path that cannot be resolved) the path must lie under one of the
 * volumes' mount points.
 */
export function isPathOnVolumes(
  path: string,
  volumes: readonly string[],
  platform: NodeJS.Platform = process.platform,
  volumeOf?: (path: string) => string,
): boolean {
  const windows = platform === 'win32' || /^[A-Za-z]:/.test(path);
  const sep = windows ? '\\' : '/';
  const norm = (p: string): string => {
    let out = windows ? p.replace(/\//g, '\\').toLowerCase() : p;
    if (!out.endsWith(sep)) out += sep;
    return out;
  };
  const unique = volumes.map(norm).filter((v) => v.startsWith('\\\\?\\volume{'));
  if (windows && volumeOf && unique.length > 0) {
    const volume = volumeOf(path);
    if (volume) return unique.includes(norm(volume));
  }
  const target = norm(path);
  return volumes.some((v) => target.startsWith(norm(v)));
}
