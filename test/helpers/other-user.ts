/**
 * Running code as another user (the tests use uids 65534 and 65533, which need no passwd
 * entry) from a test that runs as root. That user may be unable to enter the checkout (a
 * clone in a 0700 folder, as `mktemp -d` makes) or the folder node lives in, and must not be
 * handed this process's preloads (vitest starts its workers with `--require
 * node_modules/vitest/suppress-warnings.cjs`, which child_process.fork passes on). So what
 * such a process runs is copied once into a folder this process makes and anyone may read,
 * and it starts with no execArgv and no NODE_OPTIONS.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

const checkout = join(__dirname, '..', '..');

let shared: string | undefined;
/** A folder anyone may enter and read, removed after the test file that made it. */
function sharedDir(): string {
  if (shared === undefined) {
    shared = mkdtempSync(join(tmpdir(), 'vss-bridge-users-'));
    chmodSync(shared, 0o755);
  }
  return shared;
}

/** The environment of another user's process: this one's, less what only this one may read. */
export function envForOtherUser(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['NODE_OPTIONS'];
  return env;
}

let node: string | undefined;
/**
 * A node binary other users can run: this one, or a copy where they cannot reach this one
 * (uid 65534 stands for them all: none of them has more rights than "others").
 */
export function nodeForOtherUsers(): string {
  if (node === undefined) {
    const reachable = spawnSync(process.execPath, ['-e', ''], { uid: 65534, gid: 65534, env: envForOtherUser(), stdio: 'ignore' }).status === 0;
    if (reachable) node = process.execPath;
    else {
      node = join(sharedDir(), 'node');
      copyFileSync(process.execPath, node);
      chmodSync(node, 0o755);
    }
  }
  return node;
}

/** The package's runtime dependencies, with theirs, as npm laid them out in node_modules. */
function runtimeModules(): string[] {
  const seen = new Set<string>();
  const read = (dir: string): Record<string, string> => {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    return manifest.dependencies ?? {};
  };
  const queue = Object.keys(read(checkout));
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    if (seen.has(name)) continue;
    seen.add(name);
    queue.push(...Object.keys(read(join(checkout, 'node_modules', name))));
  }
  return [...seen];
}

let copy: string | undefined;
/**
 * A copy of what a process of the package needs, laid out as in the checkout: package.json,
 * dist/, the built addon, the runtime node_modules and test/linux/fixtures/. A fixture
 * started from there finds the package as it would in the checkout.
 */
export function packageForOtherUsers(): string {
  if (copy === undefined) {
    const root = join(sharedDir(), 'package');
    const take = (path: string): void => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      cpSync(join(checkout, path), join(root, path), { recursive: true });
    };
    for (const path of ['package.json', 'dist', 'build/Release/vss_bridge.node', 'test/linux/fixtures']) take(path);
    for (const name of runtimeModules()) take(join('node_modules', name));
    // Readable by anyone whatever the umask the checkout was made with.
    spawnSync('chmod', ['-R', 'a+rX', root]);
    copy = root;
  }
  return copy;
}

// Registered while the importing test file is collected: it runs after that file's tests.
afterAll(() => {
  if (shared !== undefined) rmSync(shared, { recursive: true, force: true });
  shared = node = copy = undefined;
});
