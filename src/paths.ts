/** Whether a path lies on one of the volumes of a snapshot set (IVssComponent IsPathAffected). */
export function isPathOnVolumes(path: string, volumes: readonly string[], platform: NodeJS.Platform = process.platform): boolean {
  const windows = platform === 'win32' || /^[A-Za-z]:/.test(path);
  const sep = windows ? '\\' : '/';
  const norm = (p: string): string => {
    let out = windows ? p.replace(/\//g, '\\').toLowerCase() : p;
    if (!out.endsWith(sep)) out += sep;
    return out;
  };
  const target = norm(path);
  return volumes.some((volume) => target.startsWith(norm(volume)));
}
