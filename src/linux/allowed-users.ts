/**
 * Which users' apps the hook asks to freeze: root's decision, not the users'. Any app that is
 * asked can veto a guest snapshot or hold it up until the deadline, so by default only root's
 * apps are asked. Root lets others in by listing them in /etc/vss-bridge/allowed-users: one
 * user name (from /etc/passwd) or numeric uid per line, `#` starting a comment.
 *
 * The file counts only when it is a regular file owned by root that group and others cannot
 * write; otherwise it is ignored with the reason, and only root's apps are asked. The apps of
 * users not listed are skipped and logged: never asked, they can neither fail nor stall a
 * freeze. VSS_BRIDGE_ALLOWED_USERS names another file (the hook inherits its environment
 * from the agent, which runs as root); the same rules apply to it.
 */
import { lstatSync, readFileSync } from 'node:fs';

export const allowedUsersVariable = 'VSS_BRIDGE_ALLOWED_USERS';
export const defaultAllowedUsersFile = '/etc/vss-bridge/allowed-users';

export interface AllowedUsers {
  /** Root and the users the file lists. */
  readonly uids: ReadonlySet<number>;
  /** What was wrong with the file or a line of it, for the log. */
  readonly problems: readonly string[];
}

function passwdUids(): Map<string, number> {
  const byName = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return byName;
  }
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name && uid !== undefined && /^\d+$/.test(uid)) byName.set(name, Number(uid));
  }
  return byName;
}

/** Reads the allowlist; never throws. */
export function allowedUsers(path = process.env[allowedUsersVariable] || defaultAllowedUsersFile): AllowedUsers {
  const uids = new Set<number>([0]);
  const problems: string[] = [];
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return { uids, problems };
  if (!st.isFile()) problems.push(`${path}: not a regular file (or a symbolic link); only root's apps are asked`);
  else if (st.uid !== 0) problems.push(`${path}: owned by uid ${st.uid}, not root; only root's apps are asked`);
  else if ((st.mode & 0o022) !== 0) problems.push(`${path}: writable by group or others (mode ${(st.mode & 0o777).toString(8)}); only root's apps are asked`);
  if (problems.length) return { uids, problems };
  let names: Map<string, number> | undefined;
  for (const [i, raw] of readFileSync(path, 'utf8').split('\n').entries()) {
    const entry = raw.replace(/#.*/, '').trim();
    if (entry === '') continue;
    if (/^\d+$/.test(entry)) {
      uids.add(Number(entry));
      continue;
    }
    names ??= passwdUids();
    const uid = names.get(entry);
    if (uid === undefined) problems.push(`${path}:${i + 1}: no user "${entry}" in /etc/passwd (list the uid instead)`);
    else uids.add(uid);
  }
  return { uids, problems };
}
