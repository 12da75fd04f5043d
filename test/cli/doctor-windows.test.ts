/**
 * The Windows checks of `vss-bridge doctor`, as logic: the tools they run are replaced by
 * recorded outputs (test/windows/cli.test.ts runs the real ones on a Windows runner).
 */
import { describe, expect, it } from 'vitest';
import { checkElevation, checkService, tokenRights, type Run } from '../../src/cli/doctor.js';

// `whoami /groups /fo csv /nh` as Windows prints it.
const row = (name: string, type: string, sid: string, attributes: string): string => `"${name}","${type}","${sid}","${attributes}"`;
const everyone = row('Everyone', 'Well-known group', 'S-1-1-0', 'Mandatory group, Enabled by default, Enabled group');
const elevatedAdmin = [
  everyone,
  row('BUILTIN\\Administrators', 'Alias', 'S-1-5-32-544', 'Mandatory group, Enabled by default, Enabled group, Group owner'),
  row('Mandatory Label\\High Mandatory Level', 'Label', 'S-1-16-12288', ''),
].join('\r\n');
const filteredAdmin = [
  everyone,
  row('BUILTIN\\Administrators', 'Alias', 'S-1-5-32-544', 'Group used for deny only'),
  row('Mandatory Label\\Medium Mandatory Level', 'Label', 'S-1-16-8192', ''),
].join('\r\n');
const backupOperator = [
  everyone,
  row('BUILTIN\\Backup Operators', 'Alias', 'S-1-5-32-551', 'Mandatory group, Enabled by default, Enabled group'),
  row('Mandatory Label\\Medium Mandatory Level', 'Label', 'S-1-16-8192', ''),
].join('\r\n');
const localSystem = [everyone, row('Mandatory Label\\System Mandatory Level', 'Label', 'S-1-16-16384', '')].join('\r\n');

/** A Run that answers from a table and records what was run. */
function tools(answers: Record<string, { status: number | null; stdout: string }>): { run: Run; ran: string[] } {
  const ran: string[] = [];
  const run: Run = (file, args) => {
    ran.push(file);
    return answers[file] ?? { status: 1, stdout: '' };
  };
  return { run, ran };
}

describe('doctor on Windows: elevation', () => {
  it('reads elevation and Backup Operators from the token, not from `net session`', () => {
    expect(tokenRights(elevatedAdmin)).toEqual({ elevated: true, backupOperator: false });
    expect(tokenRights(filteredAdmin)).toEqual({ elevated: false, backupOperator: false });
    expect(tokenRights(backupOperator)).toEqual({ elevated: false, backupOperator: true });
    expect(tokenRights(localSystem)).toEqual({ elevated: true, backupOperator: false });
    expect(tokenRights('')).toEqual({ elevated: false, backupOperator: false });
  });

  it('passes a Backup Operator, which VSS allows, and never needs the Server service', () => {
    const { run, ran } = tools({ whoami: { status: 0, stdout: backupOperator }, net: { status: 2, stdout: '' } });
    expect(checkElevation(run, {})).toMatchObject({ status: 'ok', detail: 'running as a Backup Operator' });
    expect(ran).not.toContain('net');
  });

  it('passes an elevated administrator even with the Server service stopped (`net session` would fail)', () => {
    const { run } = tools({ whoami: { status: 0, stdout: elevatedAdmin }, net: { status: 2, stdout: '' } });
    expect(checkElevation(run, {}).status).toBe('ok');
  });

  it('fails an administrator whose token is filtered by UAC, unless VssAccessControl lists the account', () => {
    const env = { USERDOMAIN: 'HOST', USERNAME: 'app' };
    const unlisted = checkElevation(tools({ whoami: { status: 0, stdout: filteredAdmin } }).run, env);
    expect(unlisted).toMatchObject({ status: 'fail', detail: expect.stringMatching(/HOST\\app is not listed under VssAccessControl/) });
    expect(unlisted.fix).toContain('/v "HOST\\app" /t REG_DWORD /d 3');
    // "Security Considerations for Writers" / "... for Requesters": 0 deny, 1 writer, 2 requester, 3 both.
    const withValue = (value: number) => {
      const reg = { status: 0, stdout: `\r\nHKEY_LOCAL_MACHINE\\...\\VssAccessControl\r\n    HOST\\other    REG_DWORD    0x3\r\n    HOST\\app    REG_DWORD    0x${value.toString(16)}\r\n` };
      return checkElevation(tools({ whoami: { status: 0, stdout: filteredAdmin }, reg }).run, env);
    };
    expect(withValue(3)).toMatchObject({ status: 'ok', detail: expect.stringMatching(/grants HOST\\app a writer and a requester \(3\)/) });
    expect(withValue(1)).toMatchObject({ status: 'warn', detail: expect.stringMatching(/a writer \(1\), not a requester/) });
    expect(withValue(2)).toMatchObject({ status: 'warn', detail: expect.stringMatching(/a requester \(2\), not a writer/) });
    expect(withValue(0)).toMatchObject({ status: 'fail', detail: expect.stringMatching(/denies HOST\\app a writer and a requester \(0\)/) });
    expect(withValue(10)).toMatchObject({ status: 'fail', detail: expect.stringMatching(/with 10, which Microsoft documents no meaning for/) });
  });
});

describe('doctor on Windows: the Hyper-V requester service', () => {
  it('does not claim a machine without vmicvss is not a Hyper-V guest', () => {
    const check = checkService('vmicvss', tools({ sc: { status: 1060, stdout: '' } }).run);
    expect(check.status).toBe('skip');
    expect(check.detail).not.toMatch(/not a Hyper-V guest/);
  });
});
