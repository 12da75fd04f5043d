/**
 * The gaps docs/SECURITY.md names for Linux guests, each closed and proven here: the app
 * refuses a registration directory it cannot trust, its socket is never connectable by
 * another user (not even for a moment), and nothing unvalidated reaches a root-run hook
 * script or the hook's log.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Server } from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installHooksCommand } from '../../src/linux/commands.js';
import { describeLinuxGuest } from '../../src/linux/guest.js';
import { registerWithCoordinator, type Registration } from '../../src/linux/coordinator.js';
import { hookLog } from '../../src/linux/hook-log.js';
import { installHooks, marker } from '../../src/linux/install.js';
import { runtimeDirVariable } from '../../src/linux/runtime-dir.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { envForOtherUser, nodeForOtherUsers } from '../helpers/other-user.js';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { cli, isLinux, isRoot, newTempDir, runCli, startApp, type TestApp } from './helpers.js';

const dirs: string[] = [];
const temp = (prefix: string): string => {
  const d = newTempDir(prefix);
  dirs.push(d);
  return d;
};
const savedRuntimeDir = process.env[runtimeDirVariable];
afterEach(() => {
  if (savedRuntimeDir === undefined) delete process.env[runtimeDirVariable];
  else process.env[runtimeDirVariable] = savedRuntimeDir;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const io = () => {
  const out = { text: '', write: (s: string) => (out.text += s) };
  const err = { text: '', write: (s: string) => (err.text += s) };
  return { stdout: out, stderr: err };
};

/** Registers a writer of this process with the coordinator, as a subscribed VssWriter does. */
async function register(runtimeDir: string): Promise<{ registration: Registration | undefined; errors: string[] }> {
  process.env[runtimeDirVariable] = runtimeDir;
  const { logger, entries } = memoryLogger();
  const registration = await registerWithCoordinator({ label: 'security-test', logger });
  // Said as a warning: the writer still works, only guest agents' freezes miss it.
  return { registration, errors: entries.filter((e) => e.level === 'warn' || e.level === 'error').map((e) => e.message) };
}

const linuxSkip = skipUnlessRunnable('Linux-guest security tests', isLinux ? null : 'needs Linux (the coordinator registers only there)');
const rootSkip = skipUnlessRunnable('a directory owned by another user', isRoot ? null : 'needs root to make one');

describe.skipIf(linuxSkip !== null)('the app refuses a registration directory it cannot trust', () => {
  it('registers in a directory only its user can change', async () => {
    const dir = join(temp('vss-bridge-sec-'), 'run');
    const { registration, errors } = await register(dir);
    try {
      expect(errors).toEqual([]);
      expect(registration?.socketPath.startsWith(`${dir}/`)).toBe(true);
      expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    } finally {
      await registration?.release();
    }
  });

  it.each([
    ['writable by others', (dir: string) => chmodSync(dir, 0o777), /writable by group or others \(mode 777\)/],
    ['writable by its group', (dir: string) => chmodSync(dir, 0o770), /writable by group or others \(mode 770\)/],
  ])('refuses an existing directory %s, and says why', async (_, loosen, reason) => {
    const dir = join(temp('vss-bridge-sec-'), 'run');
    mkdirSync(dir, { mode: 0o700 });
    loosen(dir);
    const { registration, errors } = await register(dir);
    expect(registration).toBeUndefined();
    expect(errors.join('\n')).toMatch(/not registered for Linux guest quiesce: .*registration directory/);
    expect(errors.join('\n')).toMatch(reason);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a symbolic link in place of the directory', async () => {
    const base = temp('vss-bridge-sec-');
    mkdirSync(join(base, 'real'), { mode: 0o700 });
    symlinkSync(join(base, 'real'), join(base, 'run'));
    const { registration, errors } = await register(join(base, 'run'));
    expect(registration).toBeUndefined();
    expect(errors.join('\n')).toMatch(/not a directory \(or a symbolic link\)/);
    expect(readdirSync(join(base, 'real'))).toEqual([]);
  });

  it.skipIf(rootSkip !== null)('refuses a directory owned by another user (needs root to make one)', async () => {
    const dir = join(temp('vss-bridge-sec-'), 'run');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 65534, 65534);
    const { registration, errors } = await register(dir);
    expect(registration).toBeUndefined();
    expect(errors.join('\n')).toMatch(/owned by uid 65534, not by this user \(uid 0\) or root/);
  });
});

describe.skipIf(linuxSkip !== null)('the app socket is never connectable by another user', () => {
  it('is bound where others cannot reach it, even under umask 0 in a directory others may search', async () => {
    const dir = join(temp('vss-bridge-sec-'), 'run');
    // Searchable by everyone: only the socket's own mode (and how it came to be) protects it.
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    chmodSync(dirname(dir), 0o755);
    // Observe the socket at the instant it is bound, before anything else of the app runs.
    const original = Server.prototype.listen;
    const atBind: { path: string; mode: number; dirMode: number; otherConnected: boolean | null }[] = [];
    const canConnectAsNobody = (path: string): boolean => {
      const script = `const s=require('net').connect(${JSON.stringify(path)});s.on('connect',()=>{process.stdout.write('connected');s.destroy()});s.on('error',e=>process.stdout.write(e.code))`;
      return execFileSync(nodeForOtherUsers(), ['-e', script], { uid: 65534, gid: 65534, env: envForOtherUser() }).toString() === 'connected';
    };
    Server.prototype.listen = function (this: Server, ...args: unknown[]) {
      const [path, callback] = args as [string, () => void];
      return original.call(this, path, () => {
        atBind.push({
          path,
          mode: lstatSync(path).mode & 0o777,
          dirMode: lstatSync(dirname(path)).mode & 0o777,
          otherConnected: isRoot ? canConnectAsNobody(path) : null,
        });
        callback();
      });
    } as typeof Server.prototype.listen;
    const umask = process.umask(0);
    let registration: Registration | undefined;
    try {
      ({ registration } = await register(dir));
    } finally {
      process.umask(umask);
      Server.prototype.listen = original;
    }
    try {
      expect(registration).toBeDefined();
      expect(atBind).toHaveLength(1);
      const bound = atBind[0]!;
      // Reaching a socket takes search permission on its directory and write permission on it.
      const reachable = (bound.dirMode & 0o011) !== 0 && (bound.mode & 0o022) !== 0;
      expect(reachable, `bound at ${bound.path} with mode ${bound.mode.toString(8)} in a directory of mode ${bound.dirMode.toString(8)}`).toBe(false);
      if (bound.otherConnected !== null) expect(bound.otherConnected).toBe(false);
      // In place, it is the app's user's alone, and nothing of the binding is left behind.
      expect(lstatSync(registration!.socketPath).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir)).toEqual([registration!.socketPath.slice(dir.length + 1)]);
      if (isRoot) expect(canConnectAsNobody(registration!.socketPath)).toBe(false);
    } finally {
      await registration?.release();
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('install-hooks writes only validated commands into root-run scripts', () => {
  /** An executable and a script, in a directory only root may change, as --exec wants them. */
  function program(): { node: string; script: string; base: string } {
    const base = temp('vss-bridge-exec-');
    const script = join(base, 'main.js');
    writeFileSync(script, '// the CLI\n', { mode: 0o644 });
    return { node: process.execPath, script, base };
  }

  it('writes each word of --exec shell-quoted, and runs nothing else', async () => {
    const { node, script, base } = program();
    const o = io();
    expect(await installHooksCommand(['vmware', '--root', join(base, 'root'), '--exec', `${node} ${script}`], o), o.stderr.text).toBe(0);
    const hook = readFileSync(join(base, 'root/etc/vmware-tools/backupScripts.d/vss-bridge'), 'utf8');
    expect(hook).toContain(marker);
    expect(hook).toContain(`exec ${node} ${script} hook "$1" --source vmware --timeout 60000\n`);
  });

  it.each([
    ['a relative path', () => 'node main.js', /--exec: "node" is not an absolute path/],
    ['a quote', () => `${process.execPath} '/tmp/x'`, /--exec: "'\/tmp\/x'" may hold only letters, digits and _@%\+=:,\.\/- \(no spaces, quotes, newlines or shell metacharacters\)/],
    ['a command substitution', () => `${process.execPath} /tmp/$(id)`, /--exec: "\/tmp\/\$\(id\)" may hold only/],
    ['a second command', () => `${process.execPath};/bin/sh`, /may hold only/],
    ['a newline', () => `${process.execPath}\n/bin/sh`, /may hold only/],
    ['a backtick', () => '/bin/`id`', /may hold only/],
    ['nothing', () => ' ', /--exec: name the program that runs vss-bridge/],
    ['a missing file', () => `${process.execPath} /nonexistent/vss-bridge.js`, /--exec: \/nonexistent\/vss-bridge\.js does not exist/],
  ])('refuses %s, naming --exec and the rule', async (_, exec, message) => {
    const o = io();
    expect(await installHooksCommand(['vmware', '--root', temp('vss-bridge-exec-'), '--exec', exec()], o)).toBe(2);
    expect(o.stderr.text).toMatch(message);
    expect(o.stderr.text).toContain('usage: vss-bridge install-hooks');
  });

  it('refuses a program that is not executable', async () => {
    const { script, base } = program();
    const o = io();
    expect(await installHooksCommand(['vmware', '--root', join(base, 'root'), '--exec', script], o)).toBe(2);
    expect(o.stderr.text).toMatch(/--exec: .*main\.js is not an executable file/);
  });

  it('refuses a file, or a directory above it, that others may change', async () => {
    const { node, script, base } = program();
    chmodSync(script, 0o666);
    let o = io();
    expect(await installHooksCommand(['vmware', '--root', join(base, 'root'), '--exec', `${node} ${script}`], o)).toBe(2);
    expect(o.stderr.text).toMatch(/--exec: .*main\.js is writable by group or others \(mode 666\): whoever can change it would run as root/);

    chmodSync(script, 0o644);
    const loose = join(base, 'loose');
    mkdirSync(loose);
    chmodSync(loose, 0o777);
    writeFileSync(join(loose, 'main.js'), '', { mode: 0o644 });
    o = io();
    expect(await installHooksCommand(['vmware', '--root', join(base, 'root'), '--exec', `${node} ${join(loose, 'main.js')}`], o)).toBe(2);
    expect(o.stderr.text).toMatch(/--exec: .*loose is writable by group or others \(mode 777\)/);
    // A sticky directory such as /tmp lets no one replace another user's entry: accepted.
    chmodSync(loose, 0o1777);
    expect(await installHooksCommand(['vmware', '--root', join(base, 'root'), '--exec', `${node} ${join(loose, 'main.js')}`], io())).toBe(0);
  });

  it('refuses an unsafe command given to installHooks directly, before writing anything', () => {
    const root = temp('vss-bridge-exec-');
    expect(() => installHooks(['vmware', 'qemu-ga'], { root, command: [process.execPath, '/tmp/a b'] })).toThrow(/command: "\/tmp\/a b" may hold only/);
    expect(readdirSync(root)).toEqual([]);
  });

  it('the default command (this node and this CLI) passes the same checks', async () => {
    // The CLI as the hooks would run it: the test fixture is what process.argv[1] names there.
    const base = temp('vss-bridge-exec-');
    const r = execFileSync(process.execPath, [cli, 'install-hooks', 'vmware', '--root', base]).toString();
    expect(r).toContain('wrote');
    const hook = readFileSync(join(base, 'etc/vmware-tools/backupScripts.d/vss-bridge'), 'utf8');
    expect(hook).toContain(`exec ${process.execPath} ${cli} hook "$1"`);
  });

  it.each([
    ['Infinity', '1e999'],
    ['a fraction', '30.5'],
    ['zero', '0'],
    ['more than an hour', '4000'],
  ])('refuses an Azure timeoutInSeconds of %s, which would reach the scripts as --timeout', async (_, value) => {
    const { node, script, base } = program();
    const root = join(base, 'root');
    mkdirSync(join(root, 'etc/azure'), { recursive: true });
    writeFileSync(join(root, 'etc/azure/VMSnapshotScriptPluginConfig.json'), `{"pluginName":"ScriptRunner","timeoutInSeconds":${value}}`);
    const o = io();
    expect(await installHooksCommand(['azure', '--root', root, '--exec', `${node} ${script}`], o)).toBe(1);
    expect(o.stderr.text).toMatch(/VMSnapshotScriptPluginConfig\.json: timeoutInSeconds must be a whole number of seconds from 6 to 3600/);
    expect(readdirSync(join(root, 'etc/azure'))).toEqual(['VMSnapshotScriptPluginConfig.json']);
  });
});

describe('the hook log', () => {
  it('never follows a symbolic link planted in place of the log file', () => {
    const base = temp('vss-bridge-log-');
    const target = join(base, 'precious');
    writeFileSync(target, 'untouched\n');
    const log = join(base, 'hook.log');
    symlinkSync(target, log);
    const o = io();
    hookLog(log, o.stderr, 'hook freeze (test)')('a line');
    expect(readFileSync(target, 'utf8')).toBe('untouched\n');
    expect(o.stderr.text).toMatch(/a line\n/);
    expect(o.stderr.text).toMatch(/cannot write the log .*hook\.log/);
  });

  it('appends to a real log file', () => {
    const log = join(temp('vss-bridge-log-'), 'sub', 'hook.log');
    const o = io();
    const write = hookLog(log, o.stderr, 'hook thaw (test)');
    write('one');
    write('two');
    expect(readFileSync(log, 'utf8')).toMatch(/hook thaw \(test\): one\n.*hook thaw \(test\): two\n$/);
    expect(lstatSync(log).mode & 0o777).toBe(0o640);
  });
});

const vetoSkip = skipUnlessRunnable('who-may-veto tests', !isLinux ? 'needs Linux' : !isRoot ? 'needs root (to run an app as another user)' : null);

describe.skipIf(vetoSkip !== null)('only apps of root and of the users root allowed are asked', () => {
  let apps: TestApp[] = [];
  afterEach(() => {
    for (const app of apps) app.child.kill('SIGKILL');
    apps = [];
  });

  /** Root's app in run/, and a vetoing app of nobody (65534) in run/nobody, as a service's own runtime directory. */
  async function setUp(): Promise<{ base: string; run: string; rootApp: TestApp; userApp: TestApp }> {
    const base = temp('vss-bridge-veto-');
    chmodSync(base, 0o755);
    const run = join(base, 'run');
    mkdirSync(run, { mode: 0o755 });
    const own = join(run, 'nobody');
    mkdirSync(own, { mode: 0o700 });
    chownSync(own, 65534, 65534);
    const rootApp = await startApp(join(base, 'root.log'), { VSS_BRIDGE_RUNTIME_DIR: run });
    apps.push(rootApp);
    const userApp = await startApp(join(own, 'user.log'), { VSS_BRIDGE_RUNTIME_DIR: own }, { mode: 'veto', uid: 65534, gid: 65534 });
    apps.push(userApp);
    return { base, run, rootApp, userApp };
  }

  const hook = (action: string, run: string, allowed: string) =>
    runCli(['hook', action, '--runtime-dir', run, '--log', '-', '--source', 'test', '--timeout', '5000'], { VSS_BRIDGE_ALLOWED_USERS: allowed });

  it("an ordinary user's vetoing app is skipped and logged, and root's freeze goes on", async () => {
    const { base, run, rootApp, userApp } = await setUp();
    const freeze = await hook('freeze', run, join(base, 'no-allowed-users'));
    expect(freeze.code, `${freeze.stdout}${freeze.stderr}`).toBe(0);
    expect(freeze.stdout).toBe('frozen: 1 app(s)\n');
    expect(freeze.stderr).toMatch(/skipped .*\/run\/nobody\/\d+-\d+\.sock: uid 65534 is not an allowed user .*not asked/);
    expect((await rootApp.status()).events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    // Never asked, so it could not have failed or held up anything.
    expect((await userApp.status()).events).toEqual([]);
    const thaw = await hook('thaw', run, join(base, 'no-allowed-users'));
    expect(thaw.stdout).toBe('thaw: 1 of 1 app(s) ok\n');
    // `vss-bridge doctor` says the same, and what root can do about it.
    process.env['VSS_BRIDGE_ALLOWED_USERS'] = join(base, 'no-allowed-users');
    try {
      const { checks } = describeLinuxGuest('/', run);
      expect(checks).toContainEqual(expect.objectContaining({ name: 'registered apps', detail: '1 app(s) registered for quiesce' }));
      expect(checks).toContainEqual(
        expect.objectContaining({ name: 'allowed users', status: 'warn', detail: expect.stringMatching(/uid 65534 is not an allowed user/), fix: expect.stringContaining('/etc/vss-bridge/allowed-users') }),
      );
    } finally {
      delete process.env['VSS_BRIDGE_ALLOWED_USERS'];
    }
  });

  it('a user root lists in a root-owned allowlist is asked, and its veto counts', async () => {
    const { base, run, rootApp } = await setUp();
    const allowed = join(base, 'allowed-users');
    writeFileSync(allowed, '# users whose apps may veto\n65534\n', { mode: 0o644 });
    const freeze = await hook('freeze', run, allowed);
    expect(freeze.code, `${freeze.stdout}${freeze.stderr}`).toBe(1);
    expect(freeze.stdout).toMatch(/^freeze vetoed: pid \d+: .*the test app refuses to freeze/);
    // Root's app is aborted, or was never asked: it is not thawed as if a snapshot were taken.
    expect((await rootApp.status()).events).not.toContain('thaw');
  });

  it('an allowlist others may change is ignored, with the reason', async () => {
    const { base, run } = await setUp();
    const allowed = join(base, 'allowed-users');
    writeFileSync(allowed, '65534\n');
    chmodSync(allowed, 0o666);
    const freeze = await hook('freeze', run, allowed);
    expect(freeze.code, `${freeze.stdout}${freeze.stderr}`).toBe(0);
    expect(freeze.stderr).toMatch(/allowed-users: writable by group or others \(mode 666\); only root's apps are asked/);
    await hook('thaw', run, allowed);
  });
});
