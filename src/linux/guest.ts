/** What this Linux machine offers for guest quiesce, for `vss-bridge doctor`. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultAllowedUsersFile } from './allowed-users.js';
import { marker } from './install.js';
import { findRegisteredApps } from './registered-apps.js';

export interface GuestFinding {
  readonly name: string;
  /** ok: present and hooked; warn: present, hook missing or a problem; skip: not on this machine. */
  readonly status: 'ok' | 'warn' | 'skip';
  readonly detail: string;
  readonly fix?: string;
}

const ours = (path: string): boolean => {
  try {
    return readFileSync(path, 'utf8').includes(marker);
  } catch {
    return false;
  }
};

export function describeLinuxGuest(root = '/', runtimeDir?: string): { checks: GuestFinding[] } {
  const p = (...parts: string[]): string => join(root, ...parts);
  const agent = (name: string, markers: string[], hook: string, where: string, fix: string): GuestFinding => {
    const found = markers.filter((m) => existsSync(p(m))).map((m) => join('/', m));
    if (found.length === 0) return { name, status: 'skip', detail: `not found (${where})` };
    if (ours(p(hook))) return { name, status: 'ok', detail: `${found.join(', ')}; hook installed: ${join('/', hook)}` };
    return { name, status: 'warn', detail: `${found.join(', ')}; no vss-bridge hook in ${where}`, fix };
  };
  const checks: GuestFinding[] = [
    // RHEL and kin keep qemu-ga's hooks in /etc/qemu-ga, Debian and Ubuntu in /etc/qemu (install.ts).
    existsSync(p('etc/qemu-ga'))
      ? agent('qemu-ga', ['usr/sbin/qemu-ga', 'usr/bin/qemu-ga'], 'etc/qemu-ga/fsfreeze-hook.d/vss-bridge', '/etc/qemu-ga/fsfreeze-hook.d', 'vss-bridge install-hooks qemu-ga')
      : agent('qemu-ga', ['usr/sbin/qemu-ga', 'usr/bin/qemu-ga'], 'etc/qemu/fsfreeze-hook.d/vss-bridge', '/etc/qemu/fsfreeze-hook.d', 'vss-bridge install-hooks qemu-ga'),
    agent('vmware', ['usr/bin/vmtoolsd', 'etc/vmware-tools'], 'etc/vmware-tools/backupScripts.d/vss-bridge', '/etc/vmware-tools/backupScripts.d', 'vss-bridge install-hooks vmware'),
    agent('hyper-v', ['dev/vmbus/hv_vss'], 'etc/systemd/system/vss-bridge-hv-vss.service', '/etc/systemd/system', 'install scripts/systemd/vss-bridge-hv-vss.service (docs/LINUX.md)'),
    agent('azure', ['var/lib/waagent', 'etc/azure'], 'etc/azure/vss-bridge-pre.sh', '/etc/azure/VMSnapshotScriptPluginConfig.json', 'vss-bridge install-hooks azure'),
    agent('aws', ['usr/bin/amazon-ssm-agent', 'snap/amazon-ssm-agent'], 'etc/vss-bridge/aws/pre-script', 'the DLM pre/post scripts', 'vss-bridge install-hooks aws'),
    agent('gcp', ['usr/bin/google_guest_agent', 'etc/default/instance_configs.cfg'], 'etc/google/snapshots/pre.sh', '/etc/google/snapshots', 'vss-bridge install-hooks gcp'),
  ];
  if (process.platform === 'linux') {
    const refused: string[] = [];
    const notAllowed: string[] = [];
    const apps = findRegisteredApps(runtimeDir, refused, notAllowed);
    checks.push({ name: 'registered apps', status: 'ok', detail: `${apps.length} app(s) registered for quiesce` });
    for (const r of refused) checks.push({ name: 'runtime directory', status: 'warn', detail: `ignored ${r}`, fix: 'make it a directory writable by its owner only' });
    for (const r of notAllowed) {
      checks.push({ name: 'allowed users', status: 'warn', detail: `ignored ${r}`, fix: `root lists the users whose apps may take part in ${defaultAllowedUsersFile}, a root-owned file others cannot write` });
    }
  }
  return { checks };
}
