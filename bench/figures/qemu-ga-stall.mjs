// 7. What users feel under qemu-ga: the longest time one of the app's writes waited around a
// real qemu-ga freeze and thaw of a loop-mounted ext4, the host holding the freeze 200 ms (as
// a snapshot would): guest-fsfreeze-freeze-list, 200 ms, guest-fsfreeze-thaw. The app writes
// a record every millisecond through a WriteGate bound to its VssWriter (bench/qemu-ga/app.cjs).
// Baseline: the same cycle with no hook, from a second qemu-ga without -F, interleaved with
// the hooked one: the writes are then held by the frozen file system alone. Also with 8 apps.
// Needs root, loop devices, mkfs.ext4 and qemu-ga; skipped with the reason otherwise.
import { execFileSync, fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { figure, percentile, scaled } from '../lib.mjs';

const require = createRequire(import.meta.url);
const dist = new URL('../../dist/', import.meta.url).pathname;
const holdMs = 200;
const qemuGa = ['/usr/sbin/qemu-ga', '/usr/bin/qemu-ga'].find((p) => existsSync(p));
const PATH = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;

function cannotRun() {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (mount, FIFREEZE)';
  if (!existsSync('/dev/loop-control')) return 'needs loop devices';
  if (!qemuGa) return 'needs qemu-ga (apt-get install qemu-guest-agent)';
  for (const tool of ['mkfs.ext4', 'mount', 'umount', 'truncate', 'fsfreeze']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { env: { PATH }, stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  return null;
}

/**
 * Runs qemu-ga under a shell that ends it, and thaws the file system, once this process's end
 * of its stdin closes: also when this process is killed and no finally runs. A qemu-ga that
 * has not exited 5 s after SIGTERM (one was seen stuck on a lock of its own) gets SIGKILL.
 */
const guarded = `"$@" & agent=$!
cat >/dev/null
kill $agent 2>/dev/null
(sleep 5; kill -9 $agent 2>/dev/null) & killer=$!
wait $agent
kill $killer 2>/dev/null
fsfreeze -u "$MNT" 2>/dev/null
exit 0`;

/** qemu-ga over its Unix socket: one command, one JSON line back. */
async function agent(dir, mountPoint, name, hook) {
  const socket = join(dir, `${name}.sock`);
  const args = ['-m', 'unix-listen', '-p', socket, '-t', join(dir, name), '-f', join(dir, `${name}.pid`), ...(hook ? [`-F${hook}`] : [])];
  execFileSync('mkdir', ['-p', join(dir, name)]);
  const child = spawn('sh', ['-c', guarded, 'sh', qemuGa, ...args], {
    env: { ...process.env, PATH, MNT: mountPoint, VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run'), VSS_BRIDGE_HOOK_LOG: join(dir, 'hook.log'), VSS_BRIDGE_HOOK_DIR: join(dir, 'hook') },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  let s;
  for (let i = 0; !s; i += 1) {
    if (child.exitCode !== null || i > 200) {
      child.stdin.end();
      throw new Error(`qemu-ga ${name} did not start`);
    }
    s = await new Promise((resolve) => {
      const c = connect(socket);
      c.once('connect', () => resolve(c));
      c.once('error', () => resolve(undefined));
    });
    if (!s) await new Promise((r) => setTimeout(r, 25));
  }
  let buffered = '';
  let waiting;
  s.on('data', (d) => {
    buffered += d;
    const end = buffered.indexOf('\n');
    if (end >= 0 && waiting) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      const w = waiting;
      waiting = undefined;
      w(JSON.parse(line));
    }
  });
  const execute = (command, args) =>
    new Promise((resolve) => {
      waiting = resolve;
      s.write(`${JSON.stringify({ execute: command, ...(args && { arguments: args }) })}\n`);
    });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    execute,
    // Closing the shell's stdin ends qemu-ga; resolves once it has.
    close: () => {
      s.destroy();
      child.stdin.end();
      return exited;
    },
  };
}

function ask(child, message, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    child.on('message', onMessage);
    const onExit = (code) => reject(new Error(`a bench app exited (${code})`));
    child.once('exit', onExit);
    if (message) child.send(message);
  });
}

/** One freeze/thaw cycle; resolves with the longest write wait of any app and the commands' times. */
async function cycle(qga, mountPoint, apps) {
  await Promise.all(apps.map((a) => ask(a, 'reset', 'reset')));
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  const frozen = await qga.execute('guest-fsfreeze-freeze-list', { mountpoints: [mountPoint] });
  const t1 = performance.now();
  let thawed;
  try {
    if (frozen.error) throw new Error(`guest-fsfreeze-freeze-list: ${frozen.error.desc}`);
    await new Promise((r) => setTimeout(r, holdMs));
  } finally {
    const t2 = performance.now();
    thawed = await qga.execute('guest-fsfreeze-thaw');
    thawed.ms = performance.now() - t2;
  }
  await new Promise((r) => setTimeout(r, 50));
  const longest = Math.max(...(await Promise.all(apps.map((a) => ask(a, 'max', 'max')))).map((m) => m.longest));
  return { longest, freezeMs: t1 - t0, thawMs: thawed.ms };
}

async function measure(dir, mountPoint, hooked, floor, appCount, iterations) {
  const apps = [];
  try {
    for (let i = 0; i < appCount; i += 1) {
      const child = fork(new URL('../qemu-ga/app.cjs', import.meta.url), [join(mountPoint, `app-${i}.log`)], {
        env: { ...process.env, VSS_BRIDGE_RUNTIME_DIR: join(dir, 'run') },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      apps.push(child);
      await ask(child, undefined, 'ready');
    }
    const withHook = [];
    const without = [];
    // Interleaved, so that both see the same machine.
    for (let i = 0; i < iterations; i += 1) {
      without.push(await cycle(floor, mountPoint, apps));
      withHook.push(await cycle(hooked, mountPoint, apps));
    }
    return { withHook, without };
  } finally {
    await Promise.all(apps.map((a) => ask(a, 'stop', 'stopped').catch(() => a.kill('SIGKILL'))));
  }
}

export async function run({ scale }) {
  const reason = cannotRun();
  if (reason) {
    process.stderr.write(`qemu-ga-stall skipped: ${reason}\n`);
    return [];
  }
  const { installHooks } = require(join(dist, 'linux/install.js'));
  const dir = mkdtempSync(join(tmpdir(), 'vss-bridge-bench-qga-'));
  const mountPoint = join(dir, 'mnt');
  const image = join(dir, 'fs.img');
  execFileSync('truncate', ['-s', '64M', image], { env: { PATH } });
  execFileSync('mkfs.ext4', ['-q', '-F', image], { env: { PATH } });
  execFileSync('mkdir', ['-p', mountPoint]);
  execFileSync('mount', ['-o', 'loop', image, mountPoint], { env: { PATH } });
  const agents = [];
  try {
    installHooks(['qemu-ga'], { root: dir, command: [process.execPath, join(dist, 'cli/main.js')] });
    const hooked = await agent(dir, mountPoint, 'hooked', join(dir, 'etc/qemu/vss-bridge-fsfreeze-hook'));
    agents.push(hooked);
    const floor = await agent(dir, mountPoint, 'floor');
    agents.push(floor);
    const iterations = scaled(scale, 15, 1);
    const figures = [];
    for (const appCount of [1, 8]) {
      const { withHook, without } = await measure(dir, mountPoint, hooked, floor, appCount, iterations);
      const p50 = (runs, key) => percentile(runs.map((r) => r[key]), 0.5);
      const note = `p50 guest-fsfreeze-freeze-list ${p50(withHook, 'freezeMs').toFixed(0)} ms (no hook ${p50(without, 'freezeMs').toFixed(0)} ms), guest-fsfreeze-thaw ${p50(withHook, 'thawMs').toFixed(0)} ms (no hook ${p50(without, 'thawMs').toFixed(0)} ms); ${iterations} cycles each, freeze held ${holdMs} ms`;
      const name = `qemuGa.stall.${appCount === 1 ? '1app' : `${appCount}apps`}`;
      figures.push(
        figure(`${name}.p50`, p50(withHook, 'longest'), 'ms', p50(without, 'longest'), { target: { ratioMax: 1.5 }, note }),
        figure(`${name}.max`, Math.max(...withHook.map((r) => r.longest)), 'ms', Math.max(...without.map((r) => r.longest))),
      );
    }
    return figures;
  } finally {
    for (const a of agents) {
      // Whatever happened, nothing stays frozen: a thaw (bounded), then the guard's own thaw.
      await Promise.race([a.execute('guest-fsfreeze-thaw'), new Promise((r) => setTimeout(r, 10_000))]);
      await a.close();
    }
    // Removed only once unmounted: never delete through a mount.
    execFileSync('umount', [mountPoint], { env: { PATH } });
    rmSync(dir, { recursive: true, force: true });
  }
}
