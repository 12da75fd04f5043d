/**
 * An app that runs as an ordinary user (nobody) registers in its own runtime directory,
 * $XDG_RUNTIME_DIR/vss-bridge; the hook, run as root by the guest agent, finds it there and
 * freezes and thaws it; a second ordinary user can neither reach its socket nor, once the
 * permissions are loosened on purpose, get an answer from it.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { isLinux, isRoot, newTempDir, refusedByTheApp, runCli, startApp, statusAs, until, waitForStatus, type TestApp } from './helpers.js';

const skipReason = skipUnlessRunnable('non-root app test', !isLinux ? 'needs Linux (apps register for guest quiesce only there)' : !isRoot ? 'needs root (to run the app as another user)' : null);

/** The app's user, and a second ordinary user (a uid needs no passwd entry to run). */
const appUid = 65534;
const otherUid = 65533;

describe.skipIf(skipReason !== null)('an app running as an ordinary user', () => {
  let base: string | undefined;
  let app: TestApp | undefined;

  afterEach(() => {
    app?.child.kill('SIGKILL');
    app = undefined;
    if (base) rmSync(base, { recursive: true, force: true });
    base = undefined;
  });

  it('registers under $XDG_RUNTIME_DIR/vss-bridge; root\'s hook freezes and thaws it; another user is kept out', async () => {
    base = newTempDir('vss-bridge-user-');
    // Only the runtime directory is the user's: the test's temp directory just lets it through.
    chmodSync(base, 0o755);
    const xdg = join(base, 'xdg');
    mkdirSync(xdg, { mode: 0o700 });
    chownSync(xdg, appUid, appUid);
    app = await startApp(join(xdg, 'records.log'), { XDG_RUNTIME_DIR: xdg, VSS_BRIDGE_RUNTIME_DIR: undefined }, { uid: appUid, gid: appUid });

    // Registered in the user's own directory: 0700 and the user's, the socket 0600 and the user's.
    const run = join(xdg, 'vss-bridge');
    const dir = lstatSync(run);
    expect(dir.isDirectory()).toBe(true);
    expect([dir.uid, dir.mode & 0o777]).toEqual([appUid, 0o700]);
    const names = readdirSync(run);
    expect(names).toEqual([expect.stringMatching(new RegExp(`^\\d+-${app.child.pid}\\.sock$`))]);
    const socketPath = join(run, names[0]!);
    const socket = lstatSync(socketPath);
    expect(socket.isSocket()).toBe(true);
    expect([socket.uid, socket.mode & 0o777]).toEqual([appUid, 0o600]);

    // The hook, as root, trusts the directory (the user's alone), the socket (the directory
    // owner's) and the app behind it (running as that owner), and freezes and thaws it.
    // Root allows the user's apps to take part (docs/LINUX.md, "Who may veto").
    const allowed = join(base, 'allowed-users');
    writeFileSync(allowed, `${appUid}\n`, { mode: 0o644 });
    const hook = (action: string) => runCli(['hook', action, '--runtime-dir', run, '--log', '-', '--source', 'test'], { VSS_BRIDGE_ALLOWED_USERS: allowed });
    const freeze = await hook('freeze');
    expect(freeze.code, `${freeze.stdout}${freeze.stderr}`).toBe(0);
    expect(freeze.stdout).toBe('frozen: 1 app(s)\n');
    expect((await app.status()).events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    const thaw = await hook('thaw');
    expect(thaw.code, `${thaw.stdout}${thaw.stderr}`).toBe(0);
    expect(thaw.stdout).toBe('thaw: 1 of 1 app(s) ok\n');
    await waitForStatus(app, (s) => s.events.includes('thaw'), 'the app to thaw');

    // Its own user is answered.
    expect(JSON.parse(statusAs(appUid, socketPath))).toMatchObject({ op: 'status', pid: app.child.pid, phase: 'idle' });
    // Another user cannot even reach the socket.
    expect(statusAs(otherUid, socketPath)).toBe('error EACCES');
    // Nor get an answer once the permissions let them through: the app checks who connects.
    chmodSync(xdg, 0o755);
    chmodSync(run, 0o755);
    chmodSync(socketPath, 0o666);
    expect(statusAs(otherUid, socketPath)).toMatch(refusedByTheApp);
    await until(
      () => app!.output(),
      (out) => out.includes(`coordinator: refused a connection from uid ${otherUid}`),
      (out) => `the app to log the refused connection; its output:\n${out}`,
    );
    await app.stop();
  });
});
