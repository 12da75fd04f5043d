/**
 * The systemd unit that runs the hv_vss daemon (scripts/systemd/vss-bridge-hv-vss.service):
 * systemd itself checks it (`systemd-analyze verify`, where systemd is installed), and it
 * keeps what docs/LINUX.md promises: it runs the package's own CLI, replaces the stock
 * daemons the switch-over names, logs to the journal only, and gives a stop while frozen the
 * time to thaw.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { newTempDir } from './helpers.js';

const repo = join(__dirname, '..', '..');
const unitName = 'vss-bridge-hv-vss.service';
const unitFile = join(repo, 'scripts', 'systemd', unitName);
/** Where the unit expects the package; the unit says to adjust it to the installation. */
const packagePrefix = '/usr/lib/node_modules/vss-bridge/';
const docs = readFileSync(join(repo, 'docs', 'LINUX.md'), 'utf8');

/** Section -> key -> values, as systemd reads a unit: comments dropped, keys may repeat. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq < 1) throw new Error(`${unitName}: cannot read line "${raw}"`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

const unit = parseUnit(readFileSync(unitFile, 'utf8'));
const directive = (section: string, key: string): string => {
  const values = unit.get(section)?.get(key);
  if (values === undefined || values.length !== 1) throw new Error(`${unitName}: [${section}] ${key}= must appear once; found ${JSON.stringify(values)}`);
  return values[0]!;
};

const execStart = directive('Service', 'ExecStart').split(/\s+/);
const [node, script, command] = execStart;

/** The daemon's own usage text: the defaults the unit runs with. */
function daemonUsage(): string {
  return execFileSync(process.execPath, [join(repo, script!.slice(packagePrefix.length)), 'hv-vss-daemon', '--help']).toString();
}

describe('the systemd unit for the hv_vss daemon', () => {
  it('is where docs/LINUX.md copies it from, and is shipped in the package', () => {
    const copied = /cp node_modules\/vss-bridge\/(\S+) \/etc\/systemd\/system\//.exec(docs)?.[1];
    expect(copied).toBe(`scripts/systemd/${unitName}`);
    const files = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { files: string[] }).files;
    // Shipped: some entry of "files" covers scripts/systemd/<unit>.
    expect(files.filter((f) => `scripts/systemd/${unitName}` === f || (f.endsWith('/') && `scripts/systemd/${unitName}`.startsWith(f)))).not.toEqual([]);
  });

  it("runs the package's own CLI: the hv-vss-daemon command of dist/cli/main.js", () => {
    expect(node).toMatch(/^\/\S+\/node$/);
    expect(script?.startsWith(packagePrefix), `ExecStart's script ${script} is not under ${packagePrefix}`).toBe(true);
    const inPackage = script!.slice(packagePrefix.length);
    expect(inPackage).toBe('dist/cli/main.js');
    // dist/ is built by the test setup, and shipped (package.json "files").
    expect(existsSync(join(repo, inPackage))).toBe(true);
    expect(command).toBe('hv-vss-daemon');
    expect(daemonUsage()).toMatch(/^Usage: vss-bridge hv-vss-daemon /);
  });

  it('is bound to the device the daemon opens: started when it appears, stopped when it goes, as the stock unit', () => {
    const device = /--device .*\(default (\/dev\/\S+?)[;)]/.exec(daemonUsage())?.[1];
    expect(device).toBe('/dev/vmbus/hv_vss');
    // The kernel's misc device "vmbus/hv_vss" is /sys/devices/virtual/misc/vmbus!hv_vss, whose
    // unit name systemd escapes ("!" is \x21), exactly as Debian's hv-vss-daemon.service binds it.
    const sysName = device!.slice('/dev/'.length).replace(/\//g, '!');
    const deviceUnit = `sys-devices-virtual-misc-${sysName.replace(/!/g, '\\x21')}.device`;
    expect(deviceUnit).toBe('sys-devices-virtual-misc-vmbus\\x21hv_vss.device');
    expect(directive('Unit', 'BindsTo')).toBe(deviceUnit);
    expect(directive('Unit', 'After')).toBe(deviceUnit);
    expect(directive('Install', 'WantedBy')).toBe(deviceUnit);
    // Not a condition checked once at boot: the device may appear later, and udev starts the stock unit then.
    expect(unit.get('Unit')?.has('ConditionPathExists')).toBe(false);
  });

  it('conflicts with every stock unit name, and the switch-over masks each (disable does not stop udev starting them)', () => {
    const stockNames = ['hv-vss-daemon.service', 'hyperv-daemons.hv-vss-daemon.service', 'hypervvssd.service'];
    expect(directive('Unit', 'Conflicts').split(/\s+/).sort()).toEqual(stockNames);
    const named = [...new Set([...docs.matchAll(/\b([\w.-]+\.service)\b/g)].map((m) => m[1]!))].filter((name) => name !== unitName);
    expect(named.sort()).toEqual(stockNames);
    const switchOver = /Switch over:\n\n```sh\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
    expect(switchOver).toMatch(/systemctl mask --now hv-vss-daemon\.service hyperv-daemons\.hv-vss-daemon\.service hypervvssd\.service/);
    expect(switchOver).not.toMatch(/systemctl disable[^\n]*hv-vss-daemon/);
  });

  it('logs to the journal, never to a file that a freeze could block', () => {
    expect(directive('Service', 'StandardOutput')).toBe('journal');
    expect(directive('Service', 'StandardError')).toBe('journal');
  });

  it('stops with SIGTERM (the daemon thaws first) and waits longer than the apps may take to abort', () => {
    expect(directive('Service', 'KillSignal')).toBe('SIGTERM');
    const stop = /^(\d+)s$/.exec(directive('Service', 'TimeoutStopSec'));
    expect(stop, 'TimeoutStopSec must be whole seconds, e.g. 30s').not.toBeNull();
    const thawDefault = /--thaw-timeout .*\(default (\d+)s/.exec(daemonUsage())?.[1];
    expect(thawDefault).toBeDefined();
    // Stopping while frozen thaws the file systems, then gives the apps up to --thaw-timeout
    // to abort: systemd must not SIGKILL the daemon before that.
    expect(Number(stop![1])).toBeGreaterThan(Number(thawDefault));
  });
});

const systemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const verifySkip = skipUnlessRunnable(`systemd-analyze verify of ${unitName}`, systemdAnalyze ? null : 'needs systemd-analyze (apt-get install systemd)');

describe.skipIf(verifySkip !== null)('systemd-analyze verify', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('accepts the unit as installed here (ExecStart pointed at this node and this package), with no warning', () => {
    dir = newTempDir('vss-bridge-unit-');
    const installed = join(dir, unitName);
    const text = readFileSync(unitFile, 'utf8');
    const adjusted = text.replace(`ExecStart=${node} ${script}`, `ExecStart=${process.execPath} ${join(repo, script!.slice(packagePrefix.length))}`);
    expect(adjusted).not.toBe(text);
    writeFileSync(installed, adjusted);
    const r = spawnSync('systemd-analyze', ['verify', installed], { encoding: 'utf8' });
    // Only what it says about this unit: a machine's own units may draw warnings of their own.
    const aboutThisUnit = `${r.stdout}${r.stderr}`.split('\n').filter((line) => line.includes(unitName));
    expect(aboutThisUnit).toEqual([]);
    expect(r.status, r.stderr).toBe(0);
  });
});
