/**
 * Installs the hook where each guest agent looks for one, and removes it again. Nothing that
 * was there before is overwritten: a single pre/post script slot (GCP, Azure) keeps the
 * existing script and runs it from ours (chained), and uninstall puts it back. Every file we
 * write carries `marker`, which is how we recognise our own files.
 *
 *  qemu-ga  etc/qemu/fsfreeze-hook.d/vss-bridge (Debian) and/or etc/qemu-ga/fsfreeze-hook.d/
 *           vss-bridge (RHEL and kin), plus vss-bridge-fsfreeze-hook beside it: a dispatcher
 *           for that directory which, unlike the stock one, fails the freeze when a script
 *           fails (qemu-ga must be pointed at it with -F to honour vetoes)
 *  vmware   etc/vmware-tools/backupScripts.d/vss-bridge (freeze, thaw, freezeFail)
 *  gcp      etc/google/snapshots/pre.sh and post.sh
 *  azure    etc/azure/vss-bridge-pre.sh and -post.sh, named in VMSnapshotScriptPluginConfig.json
 *  aws      etc/vss-bridge/aws/pre-script and post-script, run by the SSM document
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';

export const platforms = ['qemu-ga', 'vmware', 'gcp', 'azure', 'aws'] as const;
export type Platform = (typeof platforms)[number];

export const marker = '# vss-bridge hook: written by `vss-bridge install-hooks`; remove with `vss-bridge uninstall-hooks`';
const chainedSuffix = '.vss-bridge-chained';
const savedSuffix = '.vss-bridge-saved';

export interface InstallOptions {
  /** Prefix of every path (/ on a real guest; a temp dir in tests). */
  readonly root: string;
  /**
   * The program that runs `vss-bridge` and the files it is given, each an absolute path, e.g.
   * ['/usr/bin/node', '/usr/lib/node_modules/vss-bridge/dist/cli/main.js'] (see hookCommandProblem).
   */
  readonly command: readonly string[];
}

export interface InstallReport {
  readonly written: string[];
  readonly removed: string[];
  readonly restored: string[];
  /** What the administrator still has to do. */
  readonly notes: string[];
}

/** Characters that mean nothing special to sh: a word of only these needs no quotes. */
const plainWord = /^[\w@%+=:,./-]+$/;

/** Quotes a word for sh. */
export const shellQuote = (s: string): string => (plainWord.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The first of `path` and the directories above it that someone besides its owner may change. */
function changeableByOthers(path: string): string | null {
  for (let p = path; ; p = dirname(p)) {
    const st = lstatSync(p);
    // A link's own mode means nothing (its target is checked through the real path); in a
    // sticky directory (/tmp) no one may rename or remove another user's entry.
    const sticky = st.isDirectory() && (st.mode & 0o1000) !== 0;
    if (!st.isSymbolicLink() && !sticky && (st.mode & 0o022) !== 0) return `${p} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
    if (dirname(p) === p) return null;
  }
}

/**
 * Why `words` may not be written into hook scripts that root runs, or null. Each word is an
 * absolute path (agents run hooks with a minimal PATH) of plain characters only, so nothing
 * in it can end the command or start another, whatever the quoting; the first is an
 * executable and the others files it is given (node and the CLI script). Neither they nor a
 * directory above them may be writable by anyone but their owner: whoever can change them
 * runs as root at the next snapshot.
 */
export function hookCommandProblem(words: readonly string[]): string | null {
  if (words.length === 0) return 'name the program that runs vss-bridge, e.g. /usr/bin/node /usr/lib/node_modules/vss-bridge/dist/cli/main.js';
  for (const [i, word] of words.entries()) {
    if (!plainWord.test(word)) return `${JSON.stringify(word)} may hold only letters, digits and _@%+=:,./- (no spaces, quotes, newlines or shell metacharacters)`;
    if (!isAbsolute(word)) return `${JSON.stringify(word)} is not an absolute path (agents run hooks with a minimal PATH)`;
    let real: string;
    try {
      real = realpathSync(word);
    } catch {
      return `${word} does not exist`;
    }
    const st = statSync(real);
    if (i === 0 ? !st.isFile() || (st.mode & 0o111) === 0 : !st.isFile()) return `${word} is not ${i === 0 ? 'an executable file' : 'a file'}`;
    const loose = changeableByOthers(word) ?? changeableByOthers(real);
    if (loose !== null) return `${loose}: whoever can change it would run as root`;
  }
  return null;
}

const isOurs = (path: string): boolean => existsSync(path) && readFileSync(path, 'utf8').includes(marker);

class Plan {
  readonly report: InstallReport = { written: [], removed: [], restored: [], notes: [] };
  constructor(readonly root: string) {}
  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }
  /** Writes a file of ours; refuses to replace someone else's. */
  write(path: string, text: string, mode: number): void {
    if (existsSync(path) && !isOurs(path)) {
      throw new Error(`${path} exists and was not written by vss-bridge: refusing to overwrite it`);
    }
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(path, text, { mode });
    chmodSync(path, mode);
    this.report.written.push(path);
  }
  /** Moves someone else's script aside so ours can take its slot and run it. */
  chain(path: string): void {
    if (existsSync(path) && !isOurs(path)) {
      if (existsSync(path + chainedSuffix)) throw new Error(`${path + chainedSuffix} already exists: refusing to overwrite it`);
      renameSync(path, path + chainedSuffix);
      this.report.written.push(`${path + chainedSuffix} (the previous ${path}, run by ours)`);
    }
  }
  remove(path: string): void {
    if (!isOurs(path)) return;
    unlinkSync(path);
    this.report.removed.push(path);
  }
  /** Removes ours and puts back what chain() moved aside. */
  unchain(path: string): void {
    this.remove(path);
    if (existsSync(path + chainedSuffix) && !existsSync(path)) {
      renameSync(path + chainedSuffix, path);
      this.report.restored.push(path);
    }
  }
}

/**
 * The hook's command line. When the command is this package's own CLI (dist/cli/main.js),
 * the hooks run the lean entry beside it (dist/linux/hook-main.js), which starts in about
 * half the time: the thaw hook's start-up is part of every write stall under qemu-ga.
 */
function hookLine(o: InstallOptions, action: string, source: string, timeoutMs: number): string {
  const script = o.command[o.command.length - 1];
  const lean = script !== undefined && basename(script) === 'main.js' && basename(dirname(script)) === 'cli' ? join(dirname(script), '..', 'linux', 'hook-main.js') : undefined;
  const program = lean !== undefined && o.command.length > 1 && existsSync(lean) ? [...o.command.slice(0, -1), lean] : [...o.command, 'hook'];
  // `action` is a word of ours (freeze, or "$1" for the script's own argument): not quoted.
  return `${program.map(shellQuote).join(' ')} ${action} --source ${source} --timeout ${timeoutMs}`;
}

/** A script run with freeze/thaw/freezeFail as $1 that hands it to the hook. */
function passThroughScript(o: InstallOptions, source: string, timeoutMs: number, why: string): string {
  return `#!/bin/sh\n${marker}\n# ${why}\nexec ${hookLine(o, '"$1"', source, timeoutMs)}\n`;
}

/**
 * qemu-ga's hook. The freeze runs in the background with its status on fd 3 and, once every
 * app froze, stays as their resident holder (resident-holder.ts); this script exits with that
 * status as soon as it is known, so qemu-ga freezes while the holder waits. The thaw signals
 * the holder through a FIFO, opened non-blocking (dd oflag=nonblock: it fails at once when no
 * holder is there) and waits for its status; with no holder, or no status within half the
 * deadline, the thaw hook runs in full with the other half. So a thaw costs a few ms of sh,
 * not a start of node, and nothing is left frozen when the holder is gone.
 */
function qemuGaScript(o: InstallOptions, timeoutMs: number): string {
  const half = Math.floor(timeoutMs / 2);
  return `#!/bin/sh
${marker}
# qemu-ga runs this with "freeze" before it freezes the file systems and "thaw" after.
dir=\${VSS_BRIDGE_HOOK_DIR:-/run/vss-bridge-hook}
case "$1" in
  freeze)
    status=$( (exec 3>&1 >/dev/null 2>&1 </dev/null; exec ${hookLine(o, 'freeze', 'qemu-ga', timeoutMs)} --resident) & )
    case "$status" in
      0) exit 0 ;;
      [1-9]) exit "$status" ;;
      *) exit 1 ;;
    esac
    ;;
  thaw)
    if [ -d "$dir" ] && [ ! -L "$dir" ] && [ -p "$dir/thaw" ] && [ -p "$dir/result" ]; then
      # result is opened (read-write: never blocks) before the signal, so no status is missed.
      status=$( { printf 'thaw\\n' | dd of="$dir/thaw" oflag=nonblock conv=notrunc,nocreat status=none && timeout ${Math.ceil(half / 1000)} head -n 1; } <>"$dir/result" 2>/dev/null)
      case "$status" in
        0) exit 0 ;;
        1) exit 1 ;;
      esac
    fi
    exec ${hookLine(o, 'thaw', 'qemu-ga', half)}
    ;;
esac
exec ${hookLine(o, '"$1"', 'qemu-ga', timeoutMs)}
`;
}

/** A pre-snapshot script: freeze the apps, then run the chained script (abort the apps if it fails). */
function preScript(o: InstallOptions, source: string, timeoutMs: number, chained: string): string {
  return `#!/bin/sh
${marker}
# Before the snapshot: the apps freeze first; a non-zero exit vetoes the snapshot.
${hookLine(o, 'freeze', source, timeoutMs)} || exit $?
chained=${shellQuote(chained)}
if [ -x "$chained" ]; then
  "$chained" "$@"
  status=$?
  if [ $status -ne 0 ]; then
    ${hookLine(o, 'freezeFail', source, timeoutMs)}
    exit $status
  fi
fi
exit 0
`;
}

/** A post-snapshot script: run the chained script, then thaw the apps (reverse order). */
function postScript(o: InstallOptions, source: string, timeoutMs: number, chained: string): string {
  return `#!/bin/sh
${marker}
# After the snapshot: the chained script first, then the apps thaw.
status=0
chained=${shellQuote(chained)}
if [ -x "$chained" ]; then
  "$chained" "$@" || status=$?
fi
${hookLine(o, 'thaw', source, timeoutMs)} || status=$?
exit $status
`;
}

const qemuDispatcher = `#!/bin/sh
${marker}
# qemu-ga's fsfreeze hook (-F). Runs every executable in fsfreeze-hook.d, as Debian's
# stock hook does, but a failing freeze script fails the freeze: it gets "freezeFail" (to
# undo what it did before failing: vss-bridge's hook aborts the apps it froze), the scripts
# that already froze get "thaw" in reverse order, and the exit status reaches qemu-ga, which
# then does not freeze. "thaw" runs the scripts in reverse order and reports the first failure.
set -f
IFS='
'
dir=$(dirname -- "$0")/fsfreeze-hook.d
[ -d "$dir" ] || exit 0
set +f
scripts=
for f in "$dir"/*; do
  case "$f" in
    *~ | *.bak | *.orig | *.rpmnew | *.rpmorig | *.rpmsave | *.sample | *.dpkg-*) continue ;;
  esac
  [ -f "$f" ] && [ -x "$f" ] && scripts="$scripts$f
"
done
set -f
reversed=
for f in $scripts; do reversed="$f
$reversed"; done
case "$1" in
  freeze)
    done=
    for f in $scripts; do
      "$f" freeze
      status=$?
      if [ $status -ne 0 ]; then
        "$f" freezeFail
        for g in $done; do "$g" thaw; done
        exit $status
      fi
      done="$f
$done"
    done
    ;;
  thaw)
    result=0
    for f in $reversed; do
      "$f" thaw || { status=$?; [ $result -eq 0 ] && result=$status; }
    done
    exit $result
    ;;
esac
exit 0
`;

/**
 * Where a distribution's qemu-ga looks for hooks. Debian and Ubuntu: /etc/qemu/fsfreeze-hook,
 * which runs /etc/qemu/fsfreeze-hook.d/*, used when qemu-ga gets -F (fsfreeze-hook= in
 * /etc/qemu/qemu-ga.conf). RHEL, Fedora, CentOS and their kin: /etc/qemu-ga/fsfreeze-hook and
 * /etc/qemu-ga/fsfreeze-hook.d/, with qemu-ga started as -F${FSFREEZE_HOOK_PATHNAME} from
 * /etc/sysconfig/qemu-ga (a -F on the command line wins over qemu-ga.conf).
 */
interface QemuGaLayout {
  readonly dir: string;
  /** How to point qemu-ga at our dispatcher there. */
  readonly pointAt: (dispatcher: string) => string;
}
const qemuGaDebian: QemuGaLayout = {
  dir: 'etc/qemu',
  pointAt: (d) => `fsfreeze-hook=${d} under [general] in /etc/qemu/qemu-ga.conf (or -F${d} in its unit), then restart qemu-guest-agent`,
};
const qemuGaRedHat: QemuGaLayout = {
  dir: 'etc/qemu-ga',
  pointAt: (d) => `FSFREEZE_HOOK_PATHNAME=${d} in /etc/sysconfig/qemu-ga (qemu-ga runs with -F\${FSFREEZE_HOOK_PATHNAME}, which wins over qemu-ga.conf), then restart qemu-guest-agent`,
};
const dispatcherName = 'vss-bridge-fsfreeze-hook';

/** The layouts present under the root; Debian's when neither is. */
function qemuGaLayouts(plan: Plan): QemuGaLayout[] {
  const redHat = existsSync(plan.path('etc/qemu-ga')) || existsSync(plan.path('etc/sysconfig/qemu-ga'));
  const debian = existsSync(plan.path('etc/qemu')) || !redHat;
  return [...(debian ? [qemuGaDebian] : []), ...(redHat ? [qemuGaRedHat] : [])];
}

function installQemuGa(plan: Plan, o: InstallOptions, layout: QemuGaLayout): void {
  const hook = plan.path(layout.dir, 'fsfreeze-hook.d/vss-bridge');
  plan.write(hook, qemuGaScript(o, 60_000), 0o755);
  plan.write(plan.path(layout.dir, dispatcherName), qemuDispatcher, 0o755);
  const dispatcher = join('/', layout.dir, dispatcherName);
  plan.report.notes.push(
    `qemu-ga runs hooks only with -F. Point it at ${dispatcher} so that a veto fails the freeze: ${layout.pointAt(dispatcher)}. The stock ${join('/', layout.dir, 'fsfreeze-hook')} also runs ${join('/', layout.dir, 'fsfreeze-hook.d/vss-bridge')} but ignores its exit status.`,
  );
}

const azureConfig = 'etc/azure/VMSnapshotScriptPluginConfig.json';
/** ScriptRunner.get_config: min(timeoutInSeconds, the plugin host's 1800 s). */
const azureMaxTimeoutSeconds = 1800;

function installAzure(plan: Plan, o: InstallOptions): void {
  const configPath = plan.path(azureConfig);
  const pre = plan.path('etc/azure/vss-bridge-pre.sh');
  const post = plan.path('etc/azure/vss-bridge-post.sh');
  let previous: Record<string, unknown> = {};
  /** The configuration to keep for uninstall, written once the new one is known to be sound. */
  let toSave: string | undefined;
  if (existsSync(configPath)) {
    const text = readFileSync(configPath, 'utf8');
    try {
      previous = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`${configPath} is not JSON: fix or remove it first`);
    }
    if (previous['preScriptLocation'] !== pre) {
      if (existsSync(configPath + savedSuffix)) throw new Error(`${configPath + savedSuffix} already exists: refusing to overwrite it`);
      toSave = text;
    } else {
      // A reinstall: chain what was there before our first install.
      previous = existsSync(configPath + savedSuffix) ? (JSON.parse(readFileSync(configPath + savedSuffix, 'utf8')) as Record<string, unknown>) : {};
    }
  }
  const str = (k: string): string => (typeof previous[k] === 'string' ? (previous[k] as string) : '');
  const timeoutSeconds = previous['timeoutInSeconds'] ?? 30;
  // It reaches the scripts as --timeout: a number the hook accepts, or no install at all.
  if (typeof timeoutSeconds !== 'number' || !Number.isInteger(timeoutSeconds) || timeoutSeconds < 6 || timeoutSeconds > 3600) {
    throw new Error(`${configPath}: timeoutInSeconds must be a whole number of seconds from 6 to 3600 (found ${typeof timeoutSeconds === 'number' ? String(timeoutSeconds) : JSON.stringify(timeoutSeconds)})`);
  }
  if (toSave !== undefined) {
    writeFileSync(configPath + savedSuffix, toSave, { mode: 0o600 });
    plan.report.written.push(`${configPath + savedSuffix} (the previous configuration)`);
  }
  // The hook must finish inside the extension's own limit, which ScriptRunner caps at the
  // plugin host's timeoutInSeconds (1800 in VMSnapshotPluginHost.conf) whatever this says.
  const hookMs = (Math.min(timeoutSeconds, azureMaxTimeoutSeconds) - 5) * 1000;
  if (timeoutSeconds > azureMaxTimeoutSeconds) {
    plan.report.notes.push(`Azure runs pre and post scripts for at most ${azureMaxTimeoutSeconds} s, not the ${timeoutSeconds} s of timeoutInSeconds: the hook's deadline is ${hookMs / 1000} s.`);
  }
  plan.write(pre, preScript(o, 'azure', hookMs, str('preScriptLocation')), 0o700);
  plan.write(post, postScript(o, 'azure', hookMs, str('postScriptLocation')), 0o700);
  const config = {
    pluginName: 'ScriptRunner',
    preScriptLocation: pre,
    postScriptLocation: post,
    preScriptParams: previous['preScriptParams'] ?? [],
    postScriptParams: previous['postScriptParams'] ?? [],
    preScriptNoOfRetries: previous['preScriptNoOfRetries'] ?? 0,
    postScriptNoOfRetries: previous['postScriptNoOfRetries'] ?? 0,
    timeoutInSeconds: timeoutSeconds,
    // A veto must stop the backup, unless the administrator chose otherwise before.
    continueBackupOnFailure: previous['continueBackupOnFailure'] ?? false,
    fsFreezeEnabled: previous['fsFreezeEnabled'] ?? true,
    vssBridge: marker,
  };
  mkdirSync(dirname(configPath), { recursive: true, mode: 0o755 });
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(configPath, 0o600);
  plan.report.written.push(configPath);
}

function uninstallAzure(plan: Plan): void {
  const configPath = plan.path(azureConfig);
  plan.remove(plan.path('etc/azure/vss-bridge-pre.sh'));
  plan.remove(plan.path('etc/azure/vss-bridge-post.sh'));
  if (!isOurs(configPath)) return;
  if (existsSync(configPath + savedSuffix)) {
    renameSync(configPath + savedSuffix, configPath);
    plan.report.restored.push(configPath);
  } else {
    unlinkSync(configPath);
    plan.report.removed.push(configPath);
  }
}

export function installHooks(targets: readonly Platform[], o: InstallOptions): InstallReport {
  const problem = hookCommandProblem(o.command);
  if (problem !== null) throw new Error(`command: ${problem}`);
  const plan = new Plan(o.root);
  for (const target of targets) {
    switch (target) {
      case 'qemu-ga':
        for (const layout of qemuGaLayouts(plan)) installQemuGa(plan, o, layout);
        break;
      case 'vmware':
        plan.write(
          plan.path('etc/vmware-tools/backupScripts.d/vss-bridge'),
          passThroughScript(o, 'vmware', 60_000, 'vmtoolsd runs this with freeze, thaw or freezeFail around a quiesced snapshot.'),
          0o755,
        );
        break;
      case 'gcp': {
        const pre = plan.path('etc/google/snapshots/pre.sh');
        const post = plan.path('etc/google/snapshots/post.sh');
        plan.chain(pre);
        plan.chain(post);
        plan.write(pre, preScript(o, 'gcp', 50_000, pre + chainedSuffix), 0o755);
        plan.write(post, postScript(o, 'gcp', 50_000, post + chainedSuffix), 0o755);
        plan.report.notes.push('Enable guest flush: [Snapshots] enabled = true in /etc/default/instance_configs.cfg, and snapshot with --guest-flush.');
        break;
      }
      case 'azure':
        installAzure(plan, o);
        break;
      case 'aws':
        plan.write(plan.path('etc/vss-bridge/aws/pre-script'), preScript(o, 'aws', 25_000, ''), 0o755);
        plan.write(plan.path('etc/vss-bridge/aws/post-script'), postScript(o, 'aws', 25_000, ''), 0o755);
        plan.report.notes.push(
          'Run /etc/vss-bridge/aws/pre-script and post-script from your DLM pre/post SSM document with executionTimeout of at least 30, and set ExecuteOperationOnScriptFailure to false in the policy: it defaults to true, and DLM then snapshots anyway after a veto (see docs/LINUX.md).',
        );
        break;
    }
  }
  return plan.report;
}

export function uninstallHooks(targets: readonly Platform[], root: string): InstallReport {
  const plan = new Plan(root);
  for (const target of targets) {
    switch (target) {
      case 'qemu-ga':
        for (const layout of [qemuGaDebian, qemuGaRedHat]) {
          plan.remove(plan.path(layout.dir, 'fsfreeze-hook.d/vss-bridge'));
          plan.remove(plan.path(layout.dir, dispatcherName));
        }
        plan.report.notes.push(
          `If qemu-ga was pointed at ${dispatcherName} (-F, fsfreeze-hook= in /etc/qemu/qemu-ga.conf, or FSFREEZE_HOOK_PATHNAME in /etc/sysconfig/qemu-ga), point it back.`,
        );
        break;
      case 'vmware':
        plan.remove(plan.path('etc/vmware-tools/backupScripts.d/vss-bridge'));
        break;
      case 'gcp':
        plan.unchain(plan.path('etc/google/snapshots/pre.sh'));
        plan.unchain(plan.path('etc/google/snapshots/post.sh'));
        break;
      case 'azure':
        uninstallAzure(plan);
        break;
      case 'aws':
        plan.remove(plan.path('etc/vss-bridge/aws/pre-script'));
        plan.remove(plan.path('etc/vss-bridge/aws/post-script'));
        break;
    }
  }
  return plan.report;
}
