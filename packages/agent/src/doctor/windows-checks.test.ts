import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nodePlatform } from '../platform-node.js';
import { examine } from './checks.js';
import type { RescueFacts } from './checks.js';
import { mountedFiles } from './doctor.js';
import { parseChntpwList, parseChntpwUser, windowsLayout } from './windows-checks.js';
import type { WindowsFacts } from './windows-checks.js';

const trees: string[] = [];
after(() => {
  for (const t of trees) rmSync(t, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'lifeboat-doctor-windows-'));
  trees.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** C: as the lab's Windows disk has it (windows-disk.ts), in the case Windows writes it. */
function windowsVolume(extra: Record<string, string> = {}): string {
  return tree({
    'Windows/System32/config/SAM': 'regf',
    'Windows/System32/config/SYSTEM': 'regf',
    'Windows/System32/drivers/.keep': '',
    'Users/Administrator/Documents/report.txt': 'Quarterly report\r\n',
    ...extra,
  });
}

function esp(files: string[] = ['EFI/Microsoft/Boot/bootmgfw.efi', 'EFI/Microsoft/Boot/BCD', 'EFI/Boot/bootx64.efi']): string {
  return tree(Object.fromEntries(files.map((f) => [f, 'MZ'])));
}

// What chntpw 1.00 prints for the lab's SAM hive (labWindowsUsers), abridged to what the checks read.
const listing = [
  'chntpw version 1.00 140201, (c) Petter N Hagen',
  "Hive <SAM> name (from header): <SAM>",
  '',
  '| RID -|---------- Username ------------| Admin? |- Lock? --|',
  '| 01f4 | Administrator                  | ADMIN  | dis/lock |',
  '| 03e9 | customer                       |        | dis/lock |',
  '| 01f5 | Guest                          |        | dis/lock |',
  '| 03ea | operator                       |        |          |',
  '',
].join('\n');

function userOutput(rid: number, name: string, bits: string, flags: { disabled?: boolean; lockout?: boolean }, failed: number): string {
  const x = (on: boolean | undefined): string => (on ? 'X' : ' ');
  return [
    `RID     : ${String(rid).padStart(4, '0')} [${rid.toString(16).padStart(4, '0')}]`,
    `Username: ${name}`,
    '',
    `Account bits: ${bits} =`,
    `[${x(flags.disabled)}] Disabled        | [ ] Homedir req.    | [ ] Passwd not req. | `,
    '[ ] Temp. duplicate | [X] Normal account  | [ ] NMS account     | ',
    '[ ] Domain trust ac | [ ] Wks trust act.  | [ ] Srv trust act   | ',
    `[ ] Pwd don't expir | [${x(flags.lockout)}] Auto lockout    | [ ] (unknown 0x08)  | `,
    '',
    `Failed login count: ${failed}, while max tries is: 0`,
    'Total  login count: 0',
    '',
  ].join('\n');
}

const sam = '/Windows/System32/config/SAM';
const accounts = (list = listing, users: Record<string, string> = {
  '01f4': userOutput(500, 'Administrator', '0x0011', { disabled: true }, 0),
  '03e9': userOutput(1001, 'customer', '0x0410', { lockout: true }, 5),
  '01f5': userOutput(501, 'Guest', '0x0011', { disabled: true }, 0),
}): WindowsFacts['accounts'] => ({
  list: { command: `chntpw -l ${sam}`, status: 0, output: list },
  users: Object.fromEntries(Object.entries(users).map(([rid, output]) => [rid, { command: `chntpw -u 0x${rid} ${sam}`, status: 0, output }])),
});

function facts(windows: Partial<WindowsFacts> = {}): RescueFacts {
  return {
    // What the Linux checks would read: a nearly full root and a degraded array say nothing on Windows.
    blkid: [],
    deviceExists: () => false,
    nics: [{ kernelName: 'eth0', mac: '52:54:00:12:34:56', link: true, names: ['ens3', 'eth0'], preferredName: 'ens3' }],
    mdstat: 'Personalities : [raid1]\nmd0 : active raid1 vda1[0]\n      1046528 blocks super 1.2 [2/1] [U_]\n\nunused devices: <none>\n',
    df: [{ target: '/', sizeBytes: 1_755_312_128, usedBytes: 1_755_000_000, availBytes: 312_128, inodes: 0, inodesUsed: 0, inodesFree: 0 }],
    sshdTest: null,
    journal: null,
    windows: { hiberfileSignature: null, esp: { device: '/dev/vda1', files: mountedFiles(nodePlatform, esp()) }, accounts: accounts(), ...windows },
  };
}

async function check(root: string, f: RescueFacts = facts()) {
  const { examined, errors } = await examine(mountedFiles(nodePlatform, root), f);
  assert.deepEqual(errors, []);
  return examined.map((e) => e.finding);
}

describe('the doctor on an installed Windows', () => {
  it('knows Windows by Windows/System32, whatever the case; a Linux root is not Windows', async () => {
    assert.deepEqual(await windowsLayout(mountedFiles(nodePlatform, windowsVolume({ 'hiberfil.sys': 'HIBR' }))), {
      system32: '/Windows/System32',
      sam,
      hiberfile: '/hiberfil.sys',
    });
    const upper = tree({ 'WINDOWS/system32/CONFIG/sam': 'regf', 'HIBERFIL.SYS': '' });
    assert.deepEqual(await windowsLayout(mountedFiles(nodePlatform, upper)), { system32: '/WINDOWS/system32', sam: '/WINDOWS/system32/CONFIG/sam', hiberfile: '/HIBERFIL.SYS' });
    assert.equal(await windowsLayout(mountedFiles(nodePlatform, tree({ 'etc/fstab': '', 'windows/notes.txt': '' }))), null);
  });

  it('the lab\'s clean disk: the locked-out customer and every administrator disabled, nothing from the Linux checks', async () => {
    const found = await check(windowsVolume());
    assert.deepEqual(
      found.map((f) => [f.id, f.check, f.severity]),
      [
        ['windows-locked-customer', 'windows-accounts', 'warning'],
        ['windows-admins-disabled', 'windows-accounts', 'warning'],
      ],
    );
    const [locked, admins] = found;
    assert.match(locked?.summary ?? '', /customer is locked out after 5 failed logins.*rescue-winpass customer --unlock/);
    assert.deepEqual(locked?.evidence, [
      { command: `chntpw -l ${sam}`, text: '| 03e9 | customer                       |        | dis/lock |' },
      { command: `chntpw -u 0x03e9 ${sam}`, text: 'Account bits: 0x0410 = Normal account, Auto lockout; failed logins: 5' },
    ]);
    assert.match(admins?.summary ?? '', /\(Administrator\) is disabled or locked out.*rescue-winpass Administrator --unlock/);
    assert.equal(admins?.evidence[1]?.text, 'Account bits: 0x0011 = Disabled, Normal account; failed logins: 0');
    assert.equal(found.some((f) => /Guest|operator/.test(f.summary)), false, 'a disabled Guest and an ordinary account are no finding');
    assert.equal(found.some((f) => f.fix !== undefined), false, 'no one-step fix');
  });

  it('hibernated: C: holds hiberfil.sys starting with HIBR (any case); the way out is in the evidence', async () => {
    const root = windowsVolume({ 'hiberfil.sys': 'HIBR' });
    const found = await check(root, facts({ hiberfileSignature: 'HIBR', accounts: null }));
    assert.deepEqual(found.map((f) => [f.id, f.check, f.severity]), [['windows-hibernated', 'windows-hibernation', 'warning']]);
    assert.match(found[0]?.summary ?? '', /did not shut down fully.*Writing to C: is refused/);
    assert.deepEqual(found[0]?.evidence[0], { file: '/hiberfil.sys', text: 'hiberfil.sys starts with "HIBR": a hibernated session' });
    assert.match(found[0]?.evidence[1]?.text ?? '', /rescue-mount --read-write --remove-hiberfile.*loses the hibernated session/);
    assert.match(found[0]?.evidence[1]?.text ?? '', /fast startup off/);
    assert.equal((await check(root, facts({ hiberfileSignature: 'hibr', accounts: null }))).length, 1);
    // Resumed, or written out by a shutdown without hibernation: not hibernated.
    assert.deepEqual(await check(root, facts({ hiberfileSignature: 'wake', accounts: null })), []);
    assert.deepEqual(await check(root, facts({ hiberfileSignature: '\0\0\0\0', accounts: null })), []);
    // And the accounts' texts then say to deal with the hibernation first.
    const both = await check(root, facts({ hiberfileSignature: 'HIBR' }));
    assert.match(both.find((f) => f.id === 'windows-locked-customer')?.summary ?? '', /C: is hibernated: see windows-hibernated first/);
  });

  it('windows-boot: the ESP without bootmgfw.efi or BCD is critical, with each path checked as evidence', async () => {
    const root = windowsVolume();
    const noBcd = await check(root, facts({ accounts: null, esp: { device: '/dev/vda1', files: mountedFiles(nodePlatform, esp(['EFI/Microsoft/Boot/bootmgfw.efi'])) } }));
    assert.deepEqual(noBcd.map((f) => [f.id, f.check, f.severity]), [['windows-boot-files', 'windows-boot', 'critical']]);
    assert.match(noBcd[0]?.summary ?? '', /\(\/dev\/vda1\) lacks EFI\/Microsoft\/Boot\/BCD: .*Windows cannot boot.*docs\/rescue-image\.md, row BootSect/);
    assert.deepEqual(noBcd[0]?.evidence, [{ text: 'EFI/Microsoft/Boot/bootmgfw.efi on /dev/vda1: present' }, { text: 'EFI/Microsoft/Boot/BCD on /dev/vda1: missing' }]);
    const empty = await check(root, facts({ accounts: null, esp: { device: '/dev/vda1', files: mountedFiles(nodePlatform, esp(['EFI/Boot/bootx64.efi'])) } }));
    assert.match(empty[0]?.summary ?? '', /lacks EFI\/Microsoft\/Boot\/bootmgfw\.efi and EFI\/Microsoft\/Boot\/BCD/);
    // No ESP mounted (a BIOS install keeps its boot files elsewhere): nothing to say.
    assert.deepEqual(await check(root, facts({ accounts: null, esp: null })), []);
  });

  it('windows-accounts: skipped without chntpw; an enabled administrator is enough; no Windows facts at all is no finding', async () => {
    const root = windowsVolume();
    assert.deepEqual(await check(root, facts({ accounts: null })), []);
    const withAdmin = `${listing}| 03eb | admin2                         | ADMIN  |          |\n`;
    assert.deepEqual((await check(root, facts({ accounts: accounts(withAdmin) }))).map((f) => f.id), ['windows-locked-customer']);
    const failed = { list: { command: `chntpw -l ${sam}`, status: 1, output: 'openHive failed' }, users: {} };
    assert.deepEqual(await check(root, facts({ accounts: failed })), []);
    const { windows: _windows, ...linuxOnly } = facts();
    assert.deepEqual(await check(root, linuxOnly), [], 'the Linux checks stay quiet on C:');
  });

  it('parses chntpw -l rows and -u account bits', () => {
    const rows = parseChntpwList(`${listing}| 03ec | Jean Dupont                    |        | *BLANK*  |\n`);
    assert.deepEqual(
      rows.map((r) => [r.rid, r.name, r.admin, r.disabledOrLocked]),
      [
        ['01f4', 'Administrator', true, true],
        ['03e9', 'customer', false, true],
        ['01f5', 'Guest', false, true],
        ['03ea', 'operator', false, false],
        ['03ec', 'Jean Dupont', false, false],
      ],
    );
    assert.deepEqual(parseChntpwUser(userOutput(1001, 'customer', '0x0410', { lockout: true }, 5)), {
      disabled: false,
      lockedOut: true,
      failedLogins: 5,
      summary: 'Account bits: 0x0410 = Normal account, Auto lockout; failed logins: 5',
    });
    assert.deepEqual(parseChntpwUser('nothing'), { disabled: false, lockedOut: false, failedLogins: null, summary: 'Account bits: ? = none' });
  });
});
