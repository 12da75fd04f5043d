/** The Linux-guest pieces that need no frozen file system: protocol, mount choice, installs, peers. */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hookCommand, installHooksCommand, uninstallHooksCommand } from '../../src/linux/commands.js';
import { installHooks, marker, uninstallHooks } from '../../src/linux/install.js';
import { parseMounts, selectForFreeze } from '../../src/linux/mounts.js';
import { LineReader, maxMessageBytes, replySchema, requestSchema } from '../../src/linux/protocol.js';
import { ask, findRegisteredApps } from '../../src/linux/registered-apps.js';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { cli, isLinux, isRoot, newTempDir, refusedByTheApp, startApp, statusAs } from './helpers.js';

const dirs: string[] = [];
const temp = (prefix: string): string => {
  const d = newTempDir(prefix);
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const io = () => {
  const out = { text: '', write: (s: string) => (out.text += s) };
  const err = { text: '', write: (s: string) => (err.text += s) };
  return { stdout: out, stderr: err };
};

describe('protocol', () => {
  it('refuses an oversized line, a foreign version and a bad field, naming each', () => {
    expect(() => new LineReader(requestSchema, 'request').push('x'.repeat(maxMessageBytes + 1))).toThrow(/longer than 4096 bytes/);
    expect(() => new LineReader(requestSchema, 'request').push('{"v":2,"op":"status"}\n')).toThrow(/protocol version 2/);
    expect(() =>
      new LineReader(requestSchema, 'request').push('{"v":1,"op":"freeze","id":"not-a-uuid","timeoutMs":5,"backupType":"copy","source":"t"}\n'),
    ).toThrow(/invalid request: id: must be a UUID/);
    expect(() => new LineReader(replySchema, 'reply').push('{"v":1,"op":"thawed","extra":1}\n')).toThrow(/invalid reply/);
    const reader = new LineReader(requestSchema, 'request');
    expect(reader.push('{"v":1,')).toBeUndefined();
    expect(reader.push('"op":"status"}\n')).toEqual({ v: 1, op: 'status' });
  });
});

describe('file systems a Hyper-V FREEZE freezes', () => {
  const table = parseMounts(
    [
      '/dev/sda1 / ext4 rw,relatime 0 0',
      'proc /proc proc rw 0 0',
      '/dev/sda2 /data xfs rw 0 0',
      '/dev/sda3 /boot/efi vfat rw 0 0',
      '/dev/sda4 /ro ext4 ro 0 0',
      '/dev/loop0 /mnt/img ext4 rw 0 0',
      '/dev/sda5 /with\\040space ext4 rw 0 0',
    ].join('\n'),
  );
  const isLoop = (d: string) => d.startsWith('/dev/loop');

  it('follows hv_vss_daemon: /dev/ only, no loop, read-only or vfat, / last', () => {
    const s = selectForFreeze(table, { includeLoop: false, isLoop });
    expect(s.mountPoints).toEqual(['/data', '/with space', '/']);
    expect(s.skipped.map((x) => x.reason)).toEqual(['vfat', 'read-only', 'loop device']);
  });

  it('puts loop-backed file systems first when included', () => {
    expect(selectForFreeze(table, { includeLoop: true, isLoop }).mountPoints).toEqual(['/mnt/img', '/data', '/with space', '/']);
  });
});

describe('install-hooks', () => {
  it('installs for every platform into a root, chains existing scripts, and uninstall restores them', async () => {
    const root = temp('vss-bridge-install-');
    mkdirSync(join(root, 'etc/google/snapshots'), { recursive: true });
    writeFileSync(join(root, 'etc/google/snapshots/pre.sh'), '#!/bin/sh\necho theirs\n', { mode: 0o755 });
    mkdirSync(join(root, 'etc/azure'), { recursive: true });
    const azure = join(root, 'etc/azure/VMSnapshotScriptPluginConfig.json');
    const theirs = JSON.stringify({ pluginName: 'ScriptRunner', preScriptLocation: '/opt/theirs/pre.sh', postScriptLocation: '/opt/theirs/post.sh', timeoutInSeconds: 60, continueBackupOnFailure: true });
    writeFileSync(azure, theirs);

    const exec = `${process.execPath} ${cli}`;
    const o = io();
    expect(await installHooksCommand(['all', '--root', root, '--exec', exec], o)).toBe(0);
    const pre = readFileSync(join(root, 'etc/google/snapshots/pre.sh'), 'utf8');
    expect(pre).toContain(marker);
    expect(pre).toContain(`${exec} hook freeze --source gcp`);
    expect(readFileSync(join(root, 'etc/google/snapshots/pre.sh.vss-bridge-chained'), 'utf8')).toContain('echo theirs');
    const config = JSON.parse(readFileSync(azure, 'utf8')) as Record<string, unknown>;
    expect(config['preScriptLocation']).toBe(join(root, 'etc/azure/vss-bridge-pre.sh'));
    expect(config['continueBackupOnFailure']).toBe(true);
    expect(readFileSync(join(root, 'etc/azure/vss-bridge-pre.sh'), 'utf8')).toContain("chained=/opt/theirs/pre.sh");
    expect(readFileSync(join(root, 'etc/azure/vss-bridge-pre.sh'), 'utf8')).toContain('--timeout 55000');
    for (const f of ['etc/qemu/fsfreeze-hook.d/vss-bridge', 'etc/qemu/vss-bridge-fsfreeze-hook', 'etc/vmware-tools/backupScripts.d/vss-bridge', 'etc/vss-bridge/aws/pre-script']) {
      expect(existsSync(join(root, f)), f).toBe(true);
    }
    // Installing again replaces our own files and keeps the chain as it was.
    expect(await installHooksCommand(['gcp', 'azure', '--root', root, '--exec', exec], io())).toBe(0);
    expect(readFileSync(join(root, 'etc/google/snapshots/pre.sh.vss-bridge-chained'), 'utf8')).toContain('echo theirs');

    expect(await uninstallHooksCommand(['all', '--root', root], io())).toBe(0);
    expect(readFileSync(join(root, 'etc/google/snapshots/pre.sh'), 'utf8')).toBe('#!/bin/sh\necho theirs\n');
    expect(existsSync(join(root, 'etc/google/snapshots/post.sh'))).toBe(false);
    expect(readFileSync(azure, 'utf8')).toBe(theirs);
    expect(existsSync(join(root, 'etc/qemu/fsfreeze-hook.d/vss-bridge'))).toBe(false);
  });

  it("caps the Azure hook's deadline at the 1800 s Azure itself allows a script, and says so", async () => {
    const root = temp('vss-bridge-install-');
    mkdirSync(join(root, 'etc/azure'), { recursive: true });
    writeFileSync(join(root, 'etc/azure/VMSnapshotScriptPluginConfig.json'), JSON.stringify({ pluginName: 'ScriptRunner', timeoutInSeconds: 3000 }));
    const o = io();
    expect(await installHooksCommand(['azure', '--root', root, '--exec', `${process.execPath} ${cli}`], o)).toBe(0);
    expect(readFileSync(join(root, 'etc/azure/vss-bridge-pre.sh'), 'utf8')).toContain('--timeout 1795000');
    expect(readFileSync(join(root, 'etc/azure/vss-bridge-post.sh'), 'utf8')).toContain('--timeout 1795000');
    expect(o.stdout.text).toMatch(/at most 1800 s, not the 3000 s of timeoutInSeconds/);
  });

  it("runs the lean hook entry when the command is this package's CLI, and the command as given otherwise", () => {
    const root = temp('vss-bridge-install-');
    // dist/ copied where only root may change it: in a checkout made with umask 002 it is
    // group-writable, and install-hooks rightly refuses that.
    const dist = join(temp('vss-bridge-dist-'), 'dist');
    cpSync(join(__dirname, '..', '..', 'dist'), dist, { recursive: true });
    spawnSync('chmod', ['-R', 'go-w', dist]);
    installHooks(['vmware'], { root, command: [process.execPath, join(dist, 'cli', 'main.js')] });
    const script = readFileSync(join(root, 'etc/vmware-tools/backupScripts.d/vss-bridge'), 'utf8');
    expect(script).toContain(`exec ${process.execPath} ${join(dist, 'linux', 'hook-main.js')} "$1" --source vmware`);
    // And that entry is the hook command itself.
    const help = spawnSync(process.execPath, [join(__dirname, '..', '..', 'dist', 'linux', 'hook-main.js'), '--help'], { encoding: 'utf8' });
    expect(help.stdout).toMatch(/hook freeze\|thaw\|freezeFail/);
    installHooks(['gcp'], { root, command: [process.execPath, cli] });
    expect(readFileSync(join(root, 'etc/google/snapshots/pre.sh'), 'utf8')).toContain(`${process.execPath} ${cli} hook freeze --source gcp`);
  });

  it('tells AWS users to set ExecuteOperationOnScriptFailure to false, and qemu-ga users that a thaw does not mean a snapshot', async () => {
    const o = io();
    expect(await installHooksCommand(['aws', '--root', temp('vss-bridge-install-'), '--exec', `${process.execPath} ${cli}`], o)).toBe(0);
    expect(o.stdout.text).toMatch(/set ExecuteOperationOnScriptFailure to false .*defaults to true/);
    const docs = readFileSync(join(__dirname, '..', '..', 'docs', 'LINUX.md'), 'utf8');
    expect(docs).toMatch(/\*\*Set `ExecuteOperationOnScriptFailure` to\s+`false`\*\*/);
    expect(docs).toMatch(/under qemu-ga a `thaw` does \*\*not\*\* mean a snapshot was taken/);
  });

  it('refuses to overwrite a file it did not write', () => {
    const root = temp('vss-bridge-install-');
    mkdirSync(join(root, 'etc/vmware-tools/backupScripts.d'), { recursive: true });
    writeFileSync(join(root, 'etc/vmware-tools/backupScripts.d/vss-bridge'), '#!/bin/sh\n');
    expect(() => installHooks(['vmware'], { root, command: [process.execPath] })).toThrow(/was not written by vss-bridge: refusing to overwrite/);
    uninstallHooks(['vmware'], root);
    expect(readFileSync(join(root, 'etc/vmware-tools/backupScripts.d/vss-bridge'), 'utf8')).toBe('#!/bin/sh\n');
  });

  it('the qemu-ga dispatcher fails the freeze on a failing script and thaws the ones before it', () => {
    const root = temp('vss-bridge-install-');
    // A stand-in for vss-bridge that succeeds: its freeze reports 0 on fd 3, as the hook does.
    const fake = join(root, 'fake-hook');
    writeFileSync(fake, `printf '0\\n' 2>/dev/null >&3\nexit 0\n`, { mode: 0o644 });
    installHooks(['qemu-ga'], { root, command: ['/bin/sh', fake] });
    const d = join(root, 'etc/qemu/fsfreeze-hook.d');
    const trace = join(root, 'trace');
    writeFileSync(join(d, '10-first'), `#!/bin/sh\necho "first $1" >> ${trace}\n`, { mode: 0o755 });
    writeFileSync(join(d, 'zz-veto'), `#!/bin/sh\necho "veto $1" >> ${trace}\n[ "$1" = thaw ]\n`, { mode: 0o755 });
    const r = spawnSync(join(root, 'etc/qemu/vss-bridge-fsfreeze-hook'), ['freeze'], { env: { ...process.env, VSS_BRIDGE_HOOK_DIR: join(root, 'hook') } });
    expect(r.status).toBe(1);
    // The failed script is told to undo (a hook killed mid-freeze leaves apps that froze), then the ones before it thaw.
    expect(readFileSync(trace, 'utf8')).toBe('first freeze\nveto freeze\nveto freezeFail\nfirst thaw\n');
  });

  it("the qemu-ga hook's freeze fails when the hook reports no status (died, or not vss-bridge)", () => {
    const root = temp('vss-bridge-install-');
    installHooks(['qemu-ga'], { root, command: ['/bin/true'] });
    const r = spawnSync(join(root, 'etc/qemu/fsfreeze-hook.d/vss-bridge'), ['freeze'], { env: { ...process.env, VSS_BRIDGE_HOOK_DIR: join(root, 'hook') } });
    expect(r.status).toBe(1);
  });

  it('installs where RHEL-family qemu-ga looks (/etc/qemu-ga, -F from /etc/sysconfig/qemu-ga), and says what to set', async () => {
    const root = temp('vss-bridge-install-');
    mkdirSync(join(root, 'etc/qemu-ga/fsfreeze-hook.d'), { recursive: true });
    writeFileSync(join(root, 'etc/qemu-ga/fsfreeze-hook'), '#!/bin/sh\n# the stock hook\n', { mode: 0o755 });
    mkdirSync(join(root, 'etc/sysconfig'), { recursive: true });
    writeFileSync(join(root, 'etc/sysconfig/qemu-ga'), 'FSFREEZE_HOOK_PATHNAME=/etc/qemu-ga/fsfreeze-hook\n');
    const o = io();
    expect(await installHooksCommand(['qemu-ga', '--root', root, '--exec', `${process.execPath} ${cli}`], o)).toBe(0);
    expect(readFileSync(join(root, 'etc/qemu-ga/fsfreeze-hook.d/vss-bridge'), 'utf8')).toContain('hook "$1" --source qemu-ga');
    expect(existsSync(join(root, 'etc/qemu-ga/vss-bridge-fsfreeze-hook'))).toBe(true);
    // Only the layout that is there: no /etc/qemu made up on a RHEL guest.
    expect(existsSync(join(root, 'etc/qemu'))).toBe(false);
    expect(o.stdout.text).toContain('FSFREEZE_HOOK_PATHNAME=/etc/qemu-ga/vss-bridge-fsfreeze-hook in /etc/sysconfig/qemu-ga');
    // The stock files are left as they were; uninstall removes only ours.
    expect(readFileSync(join(root, 'etc/qemu-ga/fsfreeze-hook'), 'utf8')).toBe('#!/bin/sh\n# the stock hook\n');
    expect(await uninstallHooksCommand(['qemu-ga', '--root', root], io())).toBe(0);
    expect(readdirSync(join(root, 'etc/qemu-ga')).sort()).toEqual(['fsfreeze-hook', 'fsfreeze-hook.d']);
    expect(readdirSync(join(root, 'etc/qemu-ga/fsfreeze-hook.d'))).toEqual([]);
  });

  it('installs into both layouts when both are there, and into Debian\'s when neither is', async () => {
    const both = temp('vss-bridge-install-');
    mkdirSync(join(both, 'etc/qemu'), { recursive: true });
    mkdirSync(join(both, 'etc/qemu-ga'), { recursive: true });
    installHooks(['qemu-ga'], { root: both, command: ['/bin/true'] });
    for (const f of ['etc/qemu/fsfreeze-hook.d/vss-bridge', 'etc/qemu-ga/fsfreeze-hook.d/vss-bridge']) expect(existsSync(join(both, f)), f).toBe(true);
    const none = temp('vss-bridge-install-');
    installHooks(['qemu-ga'], { root: none, command: ['/bin/true'] });
    expect(existsSync(join(none, 'etc/qemu/fsfreeze-hook.d/vss-bridge'))).toBe(true);
    expect(existsSync(join(none, 'etc/qemu-ga'))).toBe(false);
  });
});

describe('usage errors name the option and the rule', () => {
  it.each([
    [['freeze', '--timeout', 'soon'], /--timeout: must be a duration such as 500ms, 30s or 2m \(a bare number is milliseconds\)/],
    [['freeze', '--timeout', '2h'], /--timeout: must be a duration/],
    [['freeze', '--timeout', '61m'], /--timeout: must be at most 1 hour/],
    [['freeze', '--tiemout', '5s'], /Unknown option '--tiemout'; did you mean --timeout\?/],
    [['melt'], /the action must be freeze, thaw or freezeFail/],
    [['freeze', '--backup-type', 'weekly'], /--backup-type: must be one of full, copy/],
    [['freeze', '--bogus'], /Unknown option '--bogus'/],
  ])('hook %j', async (args, message) => {
    const o = io();
    expect(await hookCommand(args, o)).toBe(2);
    expect(o.stderr.text).toMatch(message);
    expect(o.stderr.text).toContain('usage: vss-bridge hook');
  });

  it('install-hooks names an unknown platform', async () => {
    const o = io();
    expect(await installHooksCommand(['openstack', '--root', '/nonexistent'], o)).toBe(2);
    expect(o.stderr.text).toMatch(/unknown platform "openstack": one of qemu-ga, vmware, gcp, azure, aws, all/);
  });
});

const peerSkip = skipUnlessRunnable('peer-credential test', !isLinux ? 'needs Linux' : !isRoot ? 'needs root (to connect as another user)' : null);

describe.skipIf(peerSkip !== null)('the app socket', () => {
  it('answers root, and refuses a user who is neither root nor the app\'s own', async () => {
    const dir = temp('vss-bridge-peer-');
    const run = join(dir, 'run');
    const app = await startApp(join(dir, 'data.log'), { VSS_BRIDGE_RUNTIME_DIR: run });
    try {
      const [registered] = findRegisteredApps(run);
      expect(registered?.pid).toBe(app.child.pid);
      const status = await ask(registered!, { v: 1, op: 'status' }, 10_000);
      expect(status).toMatchObject({ op: 'status', pid: app.child.pid, phase: 'idle' });

      // Let anyone reach the socket, so only the credential check stands in the way.
      chmodSync(dir, 0o755);
      chmodSync(run, 0o755);
      chmodSync(registered!.socketPath, 0o666);
      // Reachable now, and refused by the app itself: cut off without an answer.
      expect(statusAs(65534, registered!.socketPath)).toMatch(refusedByTheApp);
    } finally {
      await app.stop();
    }
  });
});
