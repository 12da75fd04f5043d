/**
 * Where apps register for Linux-guest quiesce, and where the hook looks for them.
 *
 * An app registers by listening on a Unix socket in a runtime directory:
 *  - VSS_BRIDGE_RUNTIME_DIR when set (e.g. a systemd RuntimeDirectory=vss-bridge/myapp);
 *  - /run/vss-bridge when the app runs as root;
 *  - $XDG_RUNTIME_DIR/vss-bridge (/run/user/UID/vss-bridge) otherwise.
 * The hook (root) looks in /run/vss-bridge, its subdirectories and /run/user/*\/vss-bridge, or
 * only in the directory it is given. A directory counts only when it is a real directory
 * owned by root or by one user and writable by its owner alone: its owner is then the only
 * user whose apps may answer from it (see docs/LINUX.md, "Security model").
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export const runtimeDirVariable = 'VSS_BRIDGE_RUNTIME_DIR';
export const systemRuntimeDir = '/run/vss-bridge';
const userRuntimeRoot = '/run/user';

/** Where this process registers, or null with the reason when it has nowhere to. */
export function registrationDir(env: NodeJS.ProcessEnv = process.env): { dir: string } | { dir: null; reason: string } {
  const override = env[runtimeDirVariable];
  if (override) return { dir: override };
  if (process.getuid?.() === 0) return { dir: systemRuntimeDir };
  const xdg = env['XDG_RUNTIME_DIR'];
  if (xdg) return { dir: join(xdg, 'vss-bridge') };
  return {
    dir: null,
    reason: `neither ${runtimeDirVariable} nor XDG_RUNTIME_DIR is set; set ${runtimeDirVariable} to a directory this user owns (for a systemd service: RuntimeDirectory=vss-bridge/<name> and ${runtimeDirVariable}=/run/vss-bridge/<name>)`,
  };
}

export interface RegistrationDir {
  readonly dir: string;
  /** The only uid (besides root) whose apps may answer from this directory. */
  readonly ownerUid: number;
}

/**
 * Whether `st` (from lstat) is a directory only its owner can change; the reason when not.
 * The one rule both sides apply: the hook before it trusts a directory's sockets, the app
 * (registrationDirProblem) before it listens there.
 */
export function untrustedReason(st: Stats): string | null {
  if (!st.isDirectory()) return 'not a directory (or a symbolic link)';
  if ((st.mode & 0o022) !== 0) return `writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
  return null;
}

/**
 * Why this process must not register in `dir`, or null. Besides the hook's rule, the
 * directory must be this user's or root's: in anyone else's, that user could replace the
 * app's socket with one of their own, and the hook would skip the directory anyway (its
 * owner is the only user it accepts answers from), leaving the app silently out of every
 * snapshot.
 */
export function registrationDirProblem(dir: string): string | null {
  const st = lstatSync(dir);
  const reason = untrustedReason(st);
  if (reason !== null) return reason;
  const uid = process.getuid?.();
  if (st.uid !== uid && st.uid !== 0) return `owned by uid ${st.uid}, not by this user (uid ${String(uid)}) or root`;
  return null;
}

function trusted(dir: string, skipped: string[]): RegistrationDir | null {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch {
    return null;
  }
  const reason = untrustedReason(st);
  if (reason !== null) {
    skipped.push(`${dir}: ${reason}`);
    return null;
  }
  return { dir, ownerUid: st.uid };
}

function subdirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/**
 * The directories the hook searches, each with the uid its apps must run as. `skipped`
 * collects directories refused for their ownership or mode.
 */
export function discoveryDirs(override: string | undefined, skipped: string[] = []): RegistrationDir[] {
  const roots = override ? [override] : [systemRuntimeDir, ...subdirectories(userRuntimeRoot).map((d) => join(d, 'vss-bridge'))];
  const out: RegistrationDir[] = [];
  for (const root of roots) {
    const top = trusted(root, skipped);
    if (top === null) continue;
    out.push(top);
    // One level down: per-service directories (systemd RuntimeDirectory=vss-bridge/<name>).
    for (const sub of subdirectories(root)) {
      const entry = trusted(sub, skipped);
      // A subdirectory of a user's directory is that user's; of root's, its owner's.
      if (entry !== null && (top.ownerUid === 0 || entry.ownerUid === top.ownerUid)) out.push(entry);
    }
  }
  return out;
}
